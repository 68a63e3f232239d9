// The screenshot pipeline on synthetic monitor images: sizes, colours, redaction (also through a downscale),
// blur, hashes, formats and input checks. Results are decoded with OpenCV and their pixels sampled.
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <cstring>
#include <memory>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <random>

#include "workmonitor/agent/screenshot_pipeline.h"

namespace wm::agent {
namespace {

using platform::MonitorImage;
using platform::Rect;
using platform::WindowRect;

/// A BGRX buffer owned by the MonitorImage, as a capturer would hand it out; `mat` views the same pixels.
struct TestImage {
  MonitorImage image;
  cv::Mat mat;  // CV_8UC4 over image.pixels
};

TestImage makeImage(Rect geometry, cv::Scalar bgr, int extra_stride = 0) {
  const int stride = geometry.width * 4 + extra_stride;
  auto buffer = std::make_shared<std::vector<uint8_t>>(static_cast<size_t>(stride) * geometry.height, 0xAB);
  TestImage t;
  t.mat = cv::Mat(geometry.height, geometry.width, CV_8UC4, buffer->data(), static_cast<size_t>(stride));
  t.mat.setTo(cv::Scalar(bgr[0], bgr[1], bgr[2], 0));  // X = 0, as X servers commonly leave it
  t.image.monitor_name = "TEST-1";
  t.image.geometry = geometry;
  t.image.stride = stride;
  t.image.pixels = buffer->data();
  t.image.owner = buffer;
  return t;
}

cv::Mat decode(const Shot& shot) {
  cv::Mat img = cv::imdecode(shot.encoded, cv::IMREAD_COLOR);
  EXPECT_FALSE(img.empty()) << "the encoded " << shot.format << " does not decode";
  return img;
}

/// Some lines of "text": what blur must destroy and the hash must see.
void drawText(cv::Mat& m, int seed) {
  std::mt19937 rng(static_cast<unsigned>(seed));
  for (int y = 30; y < m.rows - 10; y += 22) {
    std::string line;
    for (int i = 0; i < 60; ++i) line.push_back(static_cast<char>('a' + rng() % 26));
    cv::putText(m, line, cv::Point(10, y), cv::FONT_HERSHEY_SIMPLEX, 0.55, cv::Scalar(20, 20, 20, 0), 1, cv::LINE_AA);
  }
}

double sharpness(const cv::Mat& bgr) {
  cv::Mat gray, lap;
  cv::cvtColor(bgr, gray, cv::COLOR_BGR2GRAY);
  cv::Laplacian(gray, lap, CV_64F);
  cv::Scalar mean, stddev;
  cv::meanStdDev(lap, mean, stddev);
  return stddev[0] * stddev[0];
}

std::string sha256Of(const std::vector<uint8_t>& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  std::string hex;
  char buf[3];
  for (unsigned i = 0; i < len; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", md[i]);
    hex += buf;
  }
  return hex;
}

TEST(ScreenshotPipeline, NarrowImageKeepsItsSizeAndMetadata) {
  auto t = makeImage({1920, 0, 1280, 720}, cv::Scalar(10, 200, 30));
  auto shot = processMonitor(t.image, {}, ShotOptions{});
  ASSERT_TRUE(shot) << shot.error().message;
  EXPECT_EQ(shot->monitor, "TEST-1");
  EXPECT_EQ(shot->geometry.x, 1920);
  EXPECT_EQ(shot->geometry.width, 1280);
  EXPECT_EQ(shot->width, 1280);
  EXPECT_EQ(shot->height, 720);
  EXPECT_EQ(shot->format, "jpeg");
  EXPECT_FALSE(shot->blurred);
  EXPECT_EQ(shot->redacted_windows, 0);
  cv::Mat img = decode(*shot);
  EXPECT_EQ(img.cols, 1280);
  EXPECT_EQ(img.rows, 720);
  EXPECT_EQ(shot->sha256_hex, sha256Of(shot->encoded));
  EXPECT_EQ(shot->sha256_hex.size(), 64u);
}

TEST(ScreenshotPipeline, WideImageIsDownscaledKeepingAspect) {
  struct Case {
    int w, h, max_w, want_w, want_h;
  };
  for (const Case& c : {Case{3840, 2160, 1920, 1920, 1080}, Case{2560, 1024, 1280, 1280, 512},
                        Case{1920, 1080, 1280, 1280, 720}, Case{1000, 3, 10, 10, 1}}) {
    auto t = makeImage({0, 0, c.w, c.h}, cv::Scalar(90, 90, 90));
    ShotOptions o;
    o.max_width = c.max_w;
    auto shot = processMonitor(t.image, {}, o);
    ASSERT_TRUE(shot) << shot.error().message;
    EXPECT_EQ(shot->width, c.want_w) << c.w << "x" << c.h;
    EXPECT_EQ(shot->height, c.want_h) << c.w << "x" << c.h;
    cv::Mat img = decode(*shot);
    EXPECT_EQ(img.cols, c.want_w);
    EXPECT_EQ(img.rows, c.want_h);
  }
}

TEST(ScreenshotPipeline, ChannelOrderIsBgrxAndPaddedStridesWork) {
  auto t = makeImage({0, 0, 400, 200}, cv::Scalar(0, 0, 255), /*extra_stride=*/64);  // red
  t.mat(cv::Rect(200, 0, 200, 200)).setTo(cv::Scalar(255, 0, 0, 0));                 // blue right half
  for (const char* format : {"jpeg", "webp"}) {
    ShotOptions o;
    o.format = format;
    o.quality = 90;
    auto shot = processMonitor(t.image, {}, o);
    ASSERT_TRUE(shot) << shot.error().message;
    EXPECT_EQ(shot->format, format);
    cv::Mat img = decode(*shot);
    ASSERT_EQ(img.size(), cv::Size(400, 200));
    const auto red = img.at<cv::Vec3b>(100, 100);
    const auto blue = img.at<cv::Vec3b>(100, 300);
    EXPECT_GT(red[2], 230) << format;
    EXPECT_LT(red[0], 25) << format;
    EXPECT_GT(blue[0], 230) << format;
    EXPECT_LT(blue[2], 25) << format;
    // WebP keeps a fourth channel as alpha: an X byte of 0 must not have made the image transparent.
    cv::Mat raw = cv::imdecode(shot->encoded, cv::IMREAD_UNCHANGED);
    if (raw.channels() == 4) {
      EXPECT_EQ(raw.at<cv::Vec4b>(100, 100)[3], 255) << format;
    }
  }
}

TEST(ScreenshotPipeline, ExcludedWindowIsBlackClippedToTheMonitorAndTheCaptureIsUntouched) {
  // The monitor sits at x=1000 on the virtual desktop; the excluded window hangs off its left edge.
  auto t = makeImage({1000, 0, 800, 600}, cv::Scalar(255, 255, 255));
  const std::vector<WindowRect> windows{
      {"KeePassXC", {900, 100, 300, 200}, "keepassxc", "/usr/bin/keepassxc"},
      {"firefox", {1400, 300, 200, 200}, "Navigator", "/usr/lib/firefox/firefox"},
      {"KeePassXC", {0, 0, 500, 500}, "keepassxc", ""},  // on another monitor entirely
  };
  ShotOptions o;
  o.excluded_apps = {"  keepassxc "};
  o.quality = 95;
  auto shot = processMonitor(t.image, windows, o);
  ASSERT_TRUE(shot) << shot.error().message;
  EXPECT_EQ(shot->redacted_windows, 1);
  cv::Mat img = decode(*shot);
  auto level = [&](int x, int y) {
    const auto p = img.at<cv::Vec3b>(y, x);
    return (p[0] + p[1] + p[2]) / 3;
  };
  EXPECT_LT(level(5, 105), 16);  // monitor-local (0..199, 100..299) is the visible part of the window
  EXPECT_LT(level(100, 200), 16);
  EXPECT_LT(level(195, 295), 16);
  EXPECT_GT(level(100, 50), 240);   // above it
  EXPECT_GT(level(260, 200), 240);  // right of it
  EXPECT_GT(level(500, 400), 240);  // firefox is not excluded
  // Redaction worked on a copy: the capture buffer still holds only white.
  cv::Mat channels[4];
  cv::split(t.mat, channels);
  for (int c = 0; c < 3; ++c) EXPECT_EQ(cv::countNonZero(channels[c] != 255), 0) << "channel " << c;
}

TEST(ScreenshotPipeline, ExclusionMatchesClassInstanceOrExecutable) {
  auto t = makeImage({0, 0, 200, 100}, cv::Scalar(255, 255, 255));
  const Rect everywhere{0, 0, 200, 100};
  struct Case {
    WindowRect w;
    bool excluded;
  };
  const Case cases[] = {
      {{"Bitwarden", everywhere, "", ""}, true},
      {{"", everywhere, "BITWARDEN", ""}, true},
      {{"Electron", everywhere, "electron", "/opt/Bitwarden/bitwarden"}, true},
      {{"Bitwarden-Helper", everywhere, "helper", "/usr/bin/bitwarden-helper"}, false},
      {{"", everywhere, "", ""}, false},
  };
  ShotOptions o;
  o.excluded_apps = {"bitwarden"};
  for (const Case& c : cases) {
    auto shot = processMonitor(t.image, {c.w}, o);
    ASSERT_TRUE(shot) << shot.error().message;
    EXPECT_EQ(shot->redacted_windows, c.excluded ? 1 : 0) << c.w.app << "/" << c.w.wm_class << "/" << c.w.exe_path;
  }
}

TEST(ScreenshotPipeline, RedactionThroughADownscaleLetsNothingBleed) {
  // Mid-grey desktop, a white excluded window at awkward coordinates, scaled by 1/3: without widening, the
  // area resampler would mix the window's white into the pixels along its edges.
  auto t = makeImage({0, 0, 3000, 1200}, cv::Scalar(128, 128, 128));
  const cv::Rect win(1001, 334, 517, 211);
  t.mat(win).setTo(cv::Scalar(255, 255, 255, 0));
  ShotOptions o;
  o.max_width = 1000;
  o.quality = 100;
  o.excluded_apps = {"secret"};
  auto shot = processMonitor(t.image, {{"secret", {win.x, win.y, win.width, win.height}, "", ""}}, o);
  ASSERT_TRUE(shot) << shot.error().message;
  ASSERT_EQ(shot->width, 1000);
  ASSERT_EQ(shot->height, 400);
  cv::Mat gray;
  cv::cvtColor(decode(*shot), gray, cv::COLOR_BGR2GRAY);
  // Every output pixel whose source area touches the window: at most JPEG noise, never white or grey-plus.
  const cv::Rect touched(1001 / 3, 334 / 3, (1001 + 517 + 2) / 3 - 1001 / 3 + 1, (334 + 211 + 2) / 3 - 334 / 3 + 1);
  double max_inside = 0;
  cv::minMaxLoc(gray(touched), nullptr, &max_inside);
  EXPECT_LT(max_inside, 20) << "window pixels survived the downscale";
  // The grey far from the window is intact.
  EXPECT_NEAR(gray.at<uint8_t>(50, 50), 128, 4);
  EXPECT_NEAR(gray.at<uint8_t>(350, 900), 128, 4);
}

TEST(ScreenshotPipeline, BlurDestroysDetailButKeepsTheSize) {
  auto t = makeImage({0, 0, 1600, 900}, cv::Scalar(250, 250, 250));
  drawText(t.mat, 1);
  ShotOptions plain;
  plain.quality = 90;
  ShotOptions blurred = plain;
  blurred.blur = true;
  auto a = processMonitor(t.image, {}, plain);
  auto b = processMonitor(t.image, {}, blurred);
  ASSERT_TRUE(a && b);
  EXPECT_FALSE(a->blurred);
  EXPECT_TRUE(b->blurred);
  EXPECT_EQ(b->width, 1600);
  EXPECT_EQ(b->height, 900);
  const double sharp = sharpness(decode(*a));
  const double soft = sharpness(decode(*b));
  EXPECT_GT(sharp, 100.0) << "the test image has no text to blur";
  EXPECT_LT(soft, sharp * 0.01) << "sharp " << sharp << " blurred " << soft;
  EXPECT_NE(a->sha256_hex, b->sha256_hex);
  // Lines of text and the gaps between them (11 px apart) differ clearly before the blur, hardly after it.
  auto lineContrast = [](const cv::Mat& bgr) {
    cv::Mat gray, rows;
    cv::cvtColor(bgr, gray, cv::COLOR_BGR2GRAY);
    cv::reduce(gray(cv::Rect(10, 60, 600, 700)), rows, 1, cv::REDUCE_AVG, CV_64F);
    double sum = 0;
    for (int y = 0; y + 11 < rows.rows; ++y) sum += std::abs(rows.at<double>(y) - rows.at<double>(y + 11));
    return sum / (rows.rows - 11);
  };
  const double before = lineContrast(decode(*a));
  const double after = lineContrast(decode(*b));
  EXPECT_LT(after, before * 0.1) << "line contrast before " << before << " after " << after;
}

TEST(ScreenshotPipeline, PerceptualHashSeesChangesButNotNoise) {
  auto base = makeImage({0, 0, 1280, 800}, cv::Scalar(240, 240, 240));
  drawText(base.mat, 7);
  base.mat(cv::Rect(0, 0, 1280, 40)).setTo(cv::Scalar(120, 60, 20, 0));  // a title bar

  auto noisy = makeImage({0, 0, 1280, 800}, cv::Scalar(0, 0, 0));
  base.mat.copyTo(noisy.mat);
  cv::Mat noise(noisy.mat.size(), CV_8UC4);
  cv::randu(noise, 0, 6);
  cv::add(noisy.mat, noise, noisy.mat);

  auto changed = makeImage({0, 0, 1280, 800}, cv::Scalar(0, 0, 0));
  base.mat.copyTo(changed.mat);
  changed.mat(cv::Rect(640, 100, 600, 650)).setTo(cv::Scalar(40, 40, 40, 0));  // a dark window opened

  ShotOptions o;
  auto s1 = processMonitor(base.image, {}, o);
  auto s2 = processMonitor(base.image, {}, o);
  auto s3 = processMonitor(noisy.image, {}, o);
  auto s4 = processMonitor(changed.image, {}, o);
  ASSERT_TRUE(s1 && s2 && s3 && s4);
  EXPECT_EQ(s1->phash, s2->phash);
  EXPECT_EQ(s1->sha256_hex, s2->sha256_hex);
  EXPECT_LE(phashDistance(s1->phash, s3->phash), kSameScreenDistance);
  EXPECT_GT(phashDistance(s1->phash, s4->phash), kSameScreenDistance);
  EXPECT_NE(s1->phash, 0u);
}

TEST(ScreenshotPipeline, PhashDistanceCountsDifferingBits) {
  EXPECT_EQ(phashDistance(0, 0), 0);
  EXPECT_EQ(phashDistance(~uint64_t{0}, 0), 64);
  EXPECT_EQ(phashDistance(0b1011, 0b0001), 2);
  EXPECT_EQ(phashDistance(uint64_t{1} << 63, 1), 2);
}

TEST(ScreenshotPipeline, AppExcludedIgnoresCaseButNotPartialNames) {
  const std::vector<std::string> list{"KeePassXC", "1password", ""};
  EXPECT_TRUE(appExcluded("keepassxc", list));
  EXPECT_TRUE(appExcluded("KEEPASSXC", list));
  EXPECT_TRUE(appExcluded("1Password", list));
  EXPECT_FALSE(appExcluded("keepass", list));
  EXPECT_FALSE(appExcluded("keepassxc2", list));
  EXPECT_FALSE(appExcluded("", list));
  EXPECT_FALSE(appExcluded("firefox", {}));
}

TEST(ScreenshotPipeline, BadInputIsRejected) {
  auto t = makeImage({0, 0, 64, 32}, cv::Scalar(1, 2, 3));
  auto expectInvalid = [](const Result<Shot>& r, const char* what) {
    ASSERT_FALSE(r) << what;
    EXPECT_EQ(r.error().code, Errc::kInvalidInput) << what;
    EXPECT_FALSE(r.error().message.empty());
  };
  MonitorImage none = t.image;
  none.pixels = nullptr;
  expectInvalid(processMonitor(none, {}, {}), "null pixels");
  MonitorImage narrow = t.image;
  narrow.stride = 64 * 4 - 1;
  expectInvalid(processMonitor(narrow, {}, {}), "short stride");
  MonitorImage empty = t.image;
  empty.geometry.width = 0;
  expectInvalid(processMonitor(empty, {}, {}), "zero width");
  ShotOptions png;
  png.format = "png";
  expectInvalid(processMonitor(t.image, {}, png), "png");
  ShotOptions q0;
  q0.quality = 0;
  expectInvalid(processMonitor(t.image, {}, q0), "quality 0");
  ShotOptions q101;
  q101.quality = 101;
  expectInvalid(processMonitor(t.image, {}, q101), "quality 101");
  ShotOptions w0;
  w0.max_width = 0;
  expectInvalid(processMonitor(t.image, {}, w0), "max_width 0");
  ShotOptions jpg;
  jpg.format = "JPG";
  auto ok = processMonitor(t.image, {}, jpg);
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->format, "jpeg");
}

}  // namespace
}  // namespace wm::agent
