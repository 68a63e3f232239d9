// Screen capture against a real X server: a 2560×1024 Xvfb split into two RandR monitors, xterms with known
// colours and classes under openbox, captured and run through the on-device pipeline, the results decoded
// and their pixels sampled. The capture hands out bands read from a copy frozen on the server at capture time.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <future>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include "workmonitor/agent/screenshot_pipeline.h"
#include "workmonitor/platform/screen_capture.h"
#include "xvfb_fixture.h"

namespace wm::platform {
namespace {

using namespace std::chrono_literals;
using agent::processMonitor;
using agent::Shot;
using agent::ShotOptions;

std::unique_ptr<test::XvfbSession> startDesktop(test::XvfbSession::Options options = {}) {
  auto session = test::XvfbSession::start(std::move(options));
  if (!session) {
    ADD_FAILURE() << "test desktop did not start: " << session.error().message;
    return nullptr;
  }
  return std::move(*session);
}

/// Splits the 2560×1024 screen into monitors L (owning the real output) and R, as a two-head desktop has.
bool splitIntoTwoMonitors(test::XvfbSession& s) {
  const bool ok = s.run({"xrandr", "--setmonitor", "L", "1280/338x1024/270+0+0", "screen"}).ok() &&
                  s.run({"xrandr", "--setmonitor", "R", "1280/338x1024/270+1280+0", "none"}).ok();
  const auto listed = s.run({"xrandr", "--listmonitors"});
  EXPECT_NE(listed.out.find("Monitors: 2"), std::string::npos) << listed.out;
  return ok;
}

Result<std::vector<MonitorImage>> captureNow(ScreenCapturer& capturer) {
  std::promise<Result<std::vector<MonitorImage>>> promise;
  auto future = promise.get_future();
  capturer.captureAll([&](Result<std::vector<MonitorImage>> r) { promise.set_value(std::move(r)); });
  if (future.wait_for(10s) != std::future_status::ready) return fail(Errc::kInternal, "capture never completed");
  return future.get();
}

const MonitorImage* byName(const std::vector<MonitorImage>& images, const std::string& name) {
  for (const auto& i : images) {
    if (i.monitor_name == name) return &i;
  }
  return nullptr;
}

/// An xterm with a given WM_CLASS, background and geometry (characters; position in pixels); waits until mapped.
std::optional<uint64_t> openTerm(test::XvfbSession& s, const std::string& klass, const std::string& title,
                                 const std::string& bg, const std::string& geometry,
                                 const std::string& command = "sleep 600") {
  if (s.spawn({"xterm", "-class", klass, "-T", title, "-bg", bg, "-fg", "black", "-geometry", geometry, "-e", "sh",
               "-c", command}) < 0) {
    return std::nullopt;
  }
  return s.waitForWindow(title);
}

const WindowRect* windowOf(const std::vector<WindowRect>& windows, const std::string& app) {
  for (const auto& w : windows) {
    if (w.app == app) return &w;
  }
  return nullptr;
}

/// Waits until visibleWindows() reports a window of each app.
std::vector<WindowRect> windowsOnceSettled(ScreenCapturer& capturer, const std::vector<std::string>& apps) {
  std::vector<WindowRect> windows;
  test::waitUntil(
      [&] {
        auto w = capturer.visibleWindows();
        if (!w) return false;
        windows = *w;
        for (const auto& app : apps) {
          if (windowOf(windows, app) == nullptr) return false;
        }
        return true;
      },
      10s, 50ms);
  return windows;
}

cv::Vec3b pixelAt(const cv::Mat& img, int x, int y) { return img.at<cv::Vec3b>(y, x); }
int level(const cv::Vec3b& p) { return (p[0] + p[1] + p[2]) / 3; }

cv::Mat decoded(const Shot& shot) {
  cv::Mat img = cv::imdecode(shot.encoded, cv::IMREAD_COLOR);
  EXPECT_FALSE(img.empty());
  return img;
}

/// The line of /proc/self/maps whose range holds `address`.
std::string mappingOf(const void* address) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  const auto a = reinterpret_cast<uintptr_t>(address);
  while (std::getline(maps, line)) {
    uintptr_t lo = 0, hi = 0;
    char dash = 0;
    std::istringstream in(line);
    in >> std::hex >> lo >> dash >> hi;
    if (a >= lo && a < hi) return line;
  }
  return {};
}

TEST(X11ScreenCapture, TwoMonitorsTwoShotsWithTheirGeometry) {
  test::XvfbSession::Options o;
  o.screen = "2560x1024x24";
  auto s = startDesktop(o);
  ASSERT_TRUE(s);
  ASSERT_TRUE(splitIntoTwoMonitors(*s));
  auto capturer = makeScreenCapturer();
  auto images = captureNow(*capturer);
  ASSERT_TRUE(images) << images.error().message;
  ASSERT_EQ(images->size(), 2u);
  const MonitorImage* l = byName(*images, "L");
  const MonitorImage* r = byName(*images, "R");
  ASSERT_TRUE(l && r);
  EXPECT_EQ(l->geometry.x, 0);
  EXPECT_EQ(r->geometry.x, 1280);
  const uint8_t* band = nullptr;
  for (const MonitorImage* m : {l, r}) {
    EXPECT_EQ(m->geometry.y, 0);
    EXPECT_EQ(m->geometry.width, 1280);
    EXPECT_EQ(m->geometry.height, 1024);
    EXPECT_EQ(m->stride, 1280 * 4);
    // Read band by band: no full-size copy of the screen in this process.
    EXPECT_EQ(m->pixels, nullptr);
    ASSERT_TRUE(m->rows);
    EXPECT_GT(m->band_rows, 0);
    EXPECT_LT(m->band_rows, 1024 / 4);
    auto first = m->rows(0, m->band_rows);
    ASSERT_TRUE(first) << first.error().message;
    // MIT-SHM into our memfd: the band is the shared segment itself, not a copy on the heap; one band long.
    band = *first;
    const std::string mapping = mappingOf(band);
    EXPECT_NE(mapping.find("memfd:workmonitor-screen"), std::string::npos) << mapping;
    uintptr_t lo = 0, hi = 0;
    char dash = 0;
    std::istringstream(mapping) >> std::hex >> lo >> dash >> hi;
    EXPECT_LE(hi - lo, static_cast<uintptr_t>(m->stride) * m->band_rows + 4096) << mapping;
    auto last = m->rows(1024 - 7, 7);  // any band, the last one shorter
    ASSERT_TRUE(last) << last.error().message;
    EXPECT_EQ(*last, band) << "one segment reused for every band";
    for (auto [y, count] : {std::pair{-1, 1}, std::pair{0, 0}, std::pair{1020, 5}, std::pair{0, m->band_rows + 1}}) {
      auto bad = m->rows(y, count);
      ASSERT_FALSE(bad) << y << "+" << count;
      EXPECT_EQ(bad.error().code, Errc::kInvalidInput);
    }
  }
  for (int max_width : {1920, 640}) {
    ShotOptions opts;
    opts.max_width = max_width;
    for (const MonitorImage* m : {l, r}) {
      auto shot = processMonitor(*m, {}, opts);
      ASSERT_TRUE(shot) << shot.error().message;
      EXPECT_EQ(shot->monitor, m->monitor_name);
      EXPECT_EQ(shot->geometry.x, m->geometry.x);
      EXPECT_EQ(shot->width, max_width >= 1280 ? 1280 : 640);
      EXPECT_EQ(shot->height, max_width >= 1280 ? 1024 : 512);
      cv::Mat img = decoded(*shot);
      EXPECT_EQ(img.cols, shot->width);
      EXPECT_EQ(img.rows, shot->height);
    }
  }
  // Releasing the images releases the segments.
  images->clear();
  EXPECT_EQ(mappingOf(band).find("memfd:workmonitor-screen"), std::string::npos);
}

TEST(X11ScreenCapture, TheShotIsTheMomentOfCaptureEvenWhenReadLater) {
  test::XvfbSession::Options o;
  o.screen = "1280x1024x24";
  auto s = startDesktop(o);
  ASSERT_TRUE(s);
  auto capturer = makeScreenCapturer();
  ASSERT_TRUE(captureNow(*capturer));  // connected, so the window below is certainly newer than the capture
  auto before = captureNow(*capturer);
  ASSERT_TRUE(before) << before.error().message;
  ASSERT_EQ(before->size(), 1u);
  // A red window opens after the capture and before its pixels are read.
  ASSERT_TRUE(openTerm(*s, "RedTerm", "red-late", "#ff0000", "60x20+300+300"));
  auto windows = windowsOnceSettled(*capturer, {"RedTerm"});
  const WindowRect* red = windowOf(windows, "RedTerm");
  ASSERT_NE(red, nullptr);
  const int cx = red->geometry.x + red->geometry.width / 2, cy = red->geometry.y + red->geometry.height / 2;
  ShotOptions opts;
  opts.quality = 90;
  test::waitUntil(
      [&] {
        auto now = captureNow(*capturer);
        if (!now) return false;
        auto shot = processMonitor((*now)[0], {}, opts);
        return shot && pixelAt(decoded(*shot), cx, cy)[2] > 200;
      },
      10s, 100ms);
  auto after = captureNow(*capturer);
  ASSERT_TRUE(after);
  auto late = processMonitor((*before)[0], {}, opts);
  auto now = processMonitor((*after)[0], {}, opts);
  ASSERT_TRUE(late && now);
  const auto then_px = pixelAt(decoded(*late), cx, cy);
  const auto now_px = pixelAt(decoded(*now), cx, cy);
  EXPECT_GT(now_px[2], 200) << "the window is on screen now";
  EXPECT_LT(now_px[1], 60);
  EXPECT_FALSE(then_px[2] > 200 && then_px[1] < 60 && then_px[0] < 60) << "the earlier capture shows the red window";
}

TEST(X11ScreenCapture, ExcludedAppIsBlackOnWhicheverMonitorItIs) {
  test::XvfbSession::Options o;
  o.screen = "2560x1024x24";
  auto s = startDesktop(o);
  ASSERT_TRUE(s);
  ASSERT_TRUE(splitIntoTwoMonitors(*s));
  // A white excluded window on R, another straddling L and R, and a red ordinary one on L.
  ASSERT_TRUE(openTerm(*s, "SecretVault", "vault-right", "#ffffff", "50x20+1700+300"));
  ASSERT_TRUE(openTerm(*s, "SecretVault", "vault-middle", "#ffffff", "50x15+1100+700"));
  ASSERT_TRUE(openTerm(*s, "PlainTerm", "plain-left", "#ff0000", "40x10+200+200"));
  auto capturer = makeScreenCapturer();
  auto windows = windowsOnceSettled(*capturer, {"SecretVault", "PlainTerm"});
  std::vector<WindowRect> vaults;
  for (const auto& w : windows) {
    if (w.app == "SecretVault") vaults.push_back(w);
  }
  ASSERT_EQ(vaults.size(), 2u);
  const WindowRect* plain = windowOf(windows, "PlainTerm");
  ASSERT_NE(plain, nullptr);
  EXPECT_EQ(plain->wm_class, "xterm");
  EXPECT_NE(plain->exe_path.find("xterm"), std::string::npos) << plain->exe_path;
  const WindowRect& right = vaults[0].geometry.x > vaults[1].geometry.x ? vaults[0] : vaults[1];
  const WindowRect& middle = vaults[0].geometry.x > vaults[1].geometry.x ? vaults[1] : vaults[0];
  ASSERT_GE(right.geometry.x, 1280) << "openbox did not place the window on monitor R";
  ASSERT_LT(middle.geometry.x, 1280);
  ASSERT_GT(middle.geometry.x + middle.geometry.width, 1280) << "the middle window should straddle L and R";
  std::this_thread::sleep_for(300ms);  // let the xterms paint their backgrounds

  auto images = captureNow(*capturer);
  ASSERT_TRUE(images) << images.error().message;
  const MonitorImage* l = byName(*images, "L");
  const MonitorImage* r = byName(*images, "R");
  ASSERT_TRUE(l && r);

  ShotOptions redact;
  redact.quality = 90;
  redact.excluded_apps = {"secretvault"};
  ShotOptions keep = redact;
  keep.excluded_apps = {};
  auto l_red = processMonitor(*l, windows, redact);
  auto r_red = processMonitor(*r, windows, redact);
  auto l_keep = processMonitor(*l, windows, keep);
  auto r_keep = processMonitor(*r, windows, keep);
  ASSERT_TRUE(l_red && r_red && l_keep && r_keep);
  EXPECT_EQ(l_red->redacted_windows, 1);  // the middle one
  EXPECT_EQ(r_red->redacted_windows, 2);  // the right one and the middle one
  EXPECT_EQ(l_keep->redacted_windows, 0);

  const cv::Mat lr = decoded(*l_red), rr = decoded(*r_red), lk = decoded(*l_keep), rk = decoded(*r_keep);
  // Sample points inside each vault, in monitor-local pixels: centre, near the corners, on the title bar.
  auto samples = [](const WindowRect& w, int monitor_x) {
    const int x = w.geometry.x - monitor_x, y = w.geometry.y;
    const int wd = w.geometry.width, ht = w.geometry.height;
    return std::vector<cv::Point>{
        {x + wd / 2, y + ht / 2}, {x + 3, y + 3}, {x + wd - 4, y + ht - 4}, {x + wd / 2, y + 8}};
  };
  const auto right_points = samples(right, 1280);
  for (const cv::Point& p : right_points) EXPECT_LT(level(pixelAt(rr, p.x, p.y)), 16) << "redacted R at " << p;
  EXPECT_GT(level(pixelAt(rk, right_points[0].x, right_points[0].y)), 230) << "the vault is white unredacted";
  const int mid_y = middle.geometry.y + middle.geometry.height / 2;
  EXPECT_LT(level(pixelAt(lr, 1275, mid_y)), 16) << "the straddling window's left part on L";
  EXPECT_LT(level(pixelAt(rr, 5, mid_y)), 16) << "the straddling window's right part on R";
  EXPECT_GT(level(pixelAt(lk, 1275, mid_y)), 230);
  EXPECT_GT(level(pixelAt(rk, 5, mid_y)), 230);
  // The ordinary window stays red.
  const auto red =
      pixelAt(lr, plain->geometry.x + plain->geometry.width / 2, plain->geometry.y + plain->geometry.height / 2);
  EXPECT_GT(red[2], 200);
  EXPECT_LT(red[1], 60);
  EXPECT_LT(red[0], 60);
}

TEST(X11ScreenCapture, BlurAndPerceptualHashOnARealScreen) {
  test::XvfbSession::Options o;
  o.screen = "2560x1024x24";
  auto s = startDesktop(o);
  ASSERT_TRUE(s);
  ASSERT_TRUE(splitIntoTwoMonitors(*s));
  ASSERT_TRUE(openTerm(*s, "TextTerm", "text-left", "#ffffff", "150x60+20+20",
                       "ls -l /usr/bin /usr/lib | head -n 200; sleep 600"));
  auto capturer = makeScreenCapturer();
  // Wait until the listing is on screen: the left monitor's shot grows while xterm draws text.
  ShotOptions opts;
  opts.quality = 90;
  std::optional<Shot> first;
  test::waitUntil(
      [&] {
        auto images = captureNow(*capturer);
        if (!images) return false;
        const MonitorImage* l = byName(*images, "L");
        if (l == nullptr) return false;
        auto shot = processMonitor(*l, {}, opts);
        if (!shot) return false;
        const bool settled = first && first->sha256_hex == shot->sha256_hex && shot->encoded.size() > 150'000;
        first = std::move(*shot);
        return settled;
      },
      10s, 200ms);
  ASSERT_TRUE(first);
  ASSERT_GT(first->encoded.size(), 150'000u) << "no text on screen";

  auto images = captureNow(*capturer);
  ASSERT_TRUE(images) << images.error().message;
  const MonitorImage* l = byName(*images, "L");
  ASSERT_NE(l, nullptr);
  auto again = processMonitor(*l, {}, opts);
  ShotOptions blur_opts = opts;
  blur_opts.blur = true;
  auto blurred = processMonitor(*l, {}, blur_opts);
  ASSERT_TRUE(again && blurred);

  // Unchanged screen: the same hash (and here even the same bytes).
  EXPECT_LE(agent::phashDistance(first->phash, again->phash), agent::kSameScreenDistance);
  EXPECT_EQ(first->sha256_hex, again->sha256_hex);

  // Blur: the text's fine detail is gone.
  auto sharpness = [](const cv::Mat& bgr) {
    cv::Mat gray, lap;
    cv::cvtColor(bgr, gray, cv::COLOR_BGR2GRAY);
    cv::Laplacian(gray, lap, CV_64F);
    cv::Scalar mean, dev;
    cv::meanStdDev(lap, mean, dev);
    return dev[0] * dev[0];
  };
  EXPECT_TRUE(blurred->blurred);
  const double sharp = sharpness(decoded(*again));
  const double soft = sharpness(decoded(*blurred));
  EXPECT_LT(soft, sharp * 0.01) << "sharp " << sharp << ", blurred " << soft;
  EXPECT_LT(blurred->encoded.size(), again->encoded.size() / 4);

  // The streamed steps give what the whole-picture OpenCV chain gives on the same pixels (INTER_AREA downscale;
  // blur as area-down by sigma / 2.5, Gaussian, INTER_LINEAR up): apart from JPEG's own loss, the same picture.
  cv::Mat bgr(l->geometry.height, l->geometry.width, CV_8UC3);
  for (int y = 0; y < l->geometry.height; y += l->band_rows) {
    const int count = std::min(l->band_rows, l->geometry.height - y);
    auto band = l->rows(y, count);
    ASSERT_TRUE(band) << band.error().message;
    cv::cvtColor(cv::Mat(count, l->geometry.width, CV_8UC4, const_cast<uint8_t*>(*band), l->stride),
                 bgr.rowRange(y, y + count), cv::COLOR_BGRA2BGR);
  }
  auto meanDiff = [](const cv::Mat& a, const cv::Mat& b) {  // mean absolute difference over B, G and R
    cv::Mat d;
    cv::absdiff(a, b, d);
    const cv::Scalar m = cv::mean(d);
    return (m[0] + m[1] + m[2]) / 3;
  };
  auto jpegLoss = [&](const cv::Mat& m) {  // what JPEG at the same quality alone costs this picture
    std::vector<uint8_t> bytes;
    cv::imencode(".jpg", m, bytes, {cv::IMWRITE_JPEG_QUALITY, opts.quality});
    return meanDiff(cv::imdecode(bytes, cv::IMREAD_COLOR), m);
  };
  ShotOptions half = opts;
  half.max_width = 640;
  auto small = processMonitor(*l, {}, half);
  ASSERT_TRUE(small);
  cv::Mat want_small;
  cv::resize(bgr, want_small, cv::Size(640, 512), 0, 0, cv::INTER_AREA);
  EXPECT_LT(meanDiff(decoded(*small), want_small), jpegLoss(want_small) + 0.5);
  const double sigma = bgr.cols / 96.0;
  const int factor = static_cast<int>(sigma / 2.5);
  cv::Mat tiny, want_blur;
  cv::resize(bgr, tiny, cv::Size(bgr.cols / factor, bgr.rows / factor), 0, 0, cv::INTER_AREA);
  cv::GaussianBlur(tiny, tiny, cv::Size(0, 0), sigma / factor, sigma / factor, cv::BORDER_REPLICATE);
  cv::resize(tiny, want_blur, bgr.size(), 0, 0, cv::INTER_LINEAR);
  EXPECT_LT(meanDiff(decoded(*blurred), want_blur), jpegLoss(want_blur) + 0.5);
  EXPECT_LT(meanDiff(decoded(*again), bgr), jpegLoss(bgr) + 0.01) << "full size: the captured pixels themselves";

  if (const char* dir = std::getenv("WM_SHOT_DUMP_DIR")) {  // for a human look at what blur leaves
    cv::imwrite(std::string(dir) + "/plain.jpg", decoded(*again));
    cv::imwrite(std::string(dir) + "/blurred.jpg", decoded(*blurred));
  }

  // A changed screen: a big dark window opens on L.
  ASSERT_TRUE(openTerm(*s, "DarkTerm", "dark-left", "#202020", "120x45+500+300"));
  std::optional<Shot> changed;
  test::waitUntil(
      [&] {
        auto now = captureNow(*capturer);
        if (!now) return false;
        const MonitorImage* nl = byName(*now, "L");
        if (nl == nullptr) return false;
        auto shot = processMonitor(*nl, {}, opts);
        if (!shot) return false;
        changed = std::move(*shot);
        return changed->sha256_hex != first->sha256_hex;
      },
      10s, 100ms);
  ASSERT_TRUE(changed);
  std::this_thread::sleep_for(300ms);  // the background fill may trail the map
  auto final_images = captureNow(*capturer);
  ASSERT_TRUE(final_images);
  auto final_shot = processMonitor(*byName(*final_images, "L"), {}, opts);
  ASSERT_TRUE(final_shot);
  EXPECT_GT(agent::phashDistance(first->phash, final_shot->phash), agent::kSameScreenDistance);
  // The other monitor did not change.
  auto r_before = processMonitor(*byName(*images, "R"), {}, opts);
  auto r_after = processMonitor(*byName(*final_images, "R"), {}, opts);
  ASSERT_TRUE(r_before && r_after);
  EXPECT_LE(agent::phashDistance(r_before->phash, r_after->phash), agent::kSameScreenDistance);
}

TEST(X11ScreenCapture, PseudoMonitorsInsideOthersAreSkipped) {
  test::XvfbSession::Options o;
  o.screen = "2560x1024x24";
  auto s = startDesktop(o);
  ASSERT_TRUE(s);
  // The output's own monitor covers the whole screen; these lie inside it or duplicate it.
  ASSERT_TRUE(s->run({"xrandr", "--setmonitor", "HalfL", "1280/338x1024/270+0+0", "none"}).ok());
  ASSERT_TRUE(s->run({"xrandr", "--setmonitor", "HalfR", "1280/338x1024/270+1280+0", "none"}).ok());
  ASSERT_TRUE(s->run({"xrandr", "--setmonitor", "Twin", "2560/677x1024/271+0+0", "none"}).ok());
  EXPECT_NE(s->run({"xrandr", "--listmonitors"}).out.find("Monitors: 4"), std::string::npos);
  auto capturer = makeScreenCapturer();
  auto images = captureNow(*capturer);
  ASSERT_TRUE(images) << images.error().message;
  ASSERT_EQ(images->size(), 1u);
  EXPECT_EQ((*images)[0].geometry.width, 2560);
  EXPECT_EQ((*images)[0].geometry.height, 1024);
}

TEST(X11ScreenCapture, WithoutMitShmPlainGetImageIsUsed) {
  test::XvfbSession::Options o;
  o.screen = "1280x1024x24";
  o.extra_args = {"-extension", "MIT-SHM"};
  auto s = startDesktop(o);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->run({"sh", "-c", "xdpyinfo | grep -c MIT-SHM"}).out, "0\n") << "MIT-SHM still there";
  ASSERT_TRUE(openTerm(*s, "BlueTerm", "blue", "#0000ff", "40x10+300+300"));
  auto capturer = makeScreenCapturer();
  auto windows = windowsOnceSettled(*capturer, {"BlueTerm"});
  const WindowRect* blue = windowOf(windows, "BlueTerm");
  ASSERT_NE(blue, nullptr);
  std::this_thread::sleep_for(300ms);
  auto images = captureNow(*capturer);
  ASSERT_TRUE(images) << images.error().message;
  ASSERT_EQ(images->size(), 1u);
  const MonitorImage& m = (*images)[0];
  EXPECT_EQ(m.geometry.width, 1280);
  ASSERT_TRUE(m.rows);
  auto band = m.rows(0, m.band_rows);
  ASSERT_TRUE(band) << band.error().message;
  EXPECT_EQ(mappingOf(*band).find("memfd:"), std::string::npos) << "no shared memory without MIT-SHM";
  auto shot = processMonitor(m, windows, ShotOptions{});
  ASSERT_TRUE(shot) << shot.error().message;
  const auto p = pixelAt(decoded(*shot), blue->geometry.x + blue->geometry.width / 2,
                         blue->geometry.y + blue->geometry.height / 2);
  EXPECT_GT(p[0], 200);
  EXPECT_LT(p[2], 60);
}

TEST(X11ScreenCapture, WithoutRandrTheRootIsOneMonitor) {
  test::XvfbSession::Options o;
  o.screen = "1600x900x24";
  o.extra_args = {"-extension", "RANDR"};
  auto s = startDesktop(o);
  ASSERT_TRUE(s);
  auto capturer = makeScreenCapturer();
  auto images = captureNow(*capturer);
  ASSERT_TRUE(images) << images.error().message;
  ASSERT_EQ(images->size(), 1u);
  EXPECT_EQ((*images)[0].monitor_name, "screen");
  EXPECT_EQ((*images)[0].geometry.width, 1600);
  EXPECT_EQ((*images)[0].geometry.height, 900);
}

/// Sets or unsets DISPLAY for one test and puts the old value back.
class DisplayEnv {
 public:
  explicit DisplayEnv(const char* value) {
    if (const char* old = std::getenv("DISPLAY")) old_ = old;
    if (value == nullptr) {
      unsetenv("DISPLAY");
    } else {
      setenv("DISPLAY", value, 1);
    }
  }
  ~DisplayEnv() {
    if (old_) {
      setenv("DISPLAY", old_->c_str(), 1);
    } else {
      unsetenv("DISPLAY");
    }
  }

 private:
  std::optional<std::string> old_;
};

TEST(X11ScreenCapture, NoDisplayIsAClearError) {
  for (const char* display : {static_cast<const char*>(nullptr), ":4093"}) {
    DisplayEnv env(display);
    auto capturer = makeScreenCapturer();
    auto images = captureNow(*capturer);
    ASSERT_FALSE(images);
    EXPECT_EQ(images.error().code, Errc::kUnavailable);
    EXPECT_NE(images.error().message.find("no X display"), std::string::npos) << images.error().message;
    EXPECT_NE(images.error().message.find("screen capture"), std::string::npos) << images.error().message;
    auto windows = capturer->visibleWindows();
    ASSERT_FALSE(windows);
    EXPECT_EQ(windows.error().code, Errc::kUnavailable);
  }
}

TEST(X11ScreenCapture, ServerGoneIsAnErrorNotACrash) {
  auto s = startDesktop();
  ASSERT_TRUE(s);
  auto capturer = makeScreenCapturer();
  auto images = captureNow(*capturer);
  ASSERT_TRUE(images) << images.error().message;
  s->killServer();
  auto after = captureNow(*capturer);
  ASSERT_FALSE(after);
  EXPECT_EQ(after.error().code, Errc::kUnavailable) << after.error().message;
  // The earlier capture's pixels are on the dead server: reading them is an error too.
  ASSERT_FALSE(images->empty());
  auto late = processMonitor((*images)[0], {}, ShotOptions{});
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().code, Errc::kUnavailable) << late.error().message;
  images->clear();  // segments and pixmaps of the dead connection go quietly
  EXPECT_FALSE(capturer->visibleWindows());
}

}  // namespace
}  // namespace wm::platform
