// ScreenshotTaker (issue 6): random moments inside each interval, the collecting gate, unchanged screens,
// the spooled file (0600) and its metadata record, the pushed event, live config. Time is a ManualClock; the
// pixels go through the real on-device pipeline (processMonitor, OpenCV). The screen itself is a fake.
// Also the pipeline's streaming: a monitor read band by band (as the X11 capturer hands it out) gives the same
// shot as the whole picture, redaction across band boundaries, the exact area resampler, read errors.
#include <openssl/evp.h>
#include <sys/stat.h>

#include <cmath>
#include <cstdio>
#include <deque>
#include <fstream>
#include <mutex>
#include <random>
#include <set>

// clang-format off
#include <jpeglib.h>  // needs <cstdio> first
// clang-format on
#include <gtest/gtest.h>

#include "workmonitor/agent/screenshot_pipeline.h"
#include "workmonitor/agent/screenshots.h"

namespace wm::agent {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string sha256Hex(const std::string& bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(bytes.data(), bytes.size(), md, &n, EVP_sha256(), nullptr);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < n; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

std::string readFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

enum class Pattern { kHorizontalStripes, kVerticalStripes, kCheckerboard };

// A monitor's BGRX pixels drawn with a pattern, owned by the image (as the platform hands them over).
platform::MonitorImage makeImage(const std::string& name, platform::Rect g, Pattern pattern) {
  auto buf = std::make_shared<std::vector<uint8_t>>(static_cast<size_t>(g.width) * g.height * 4);
  for (int y = 0; y < g.height; ++y)
    for (int x = 0; x < g.width; ++x) {
      bool on = false;
      switch (pattern) {
        case Pattern::kHorizontalStripes:
          on = (y / (g.height / 8)) % 2 == 0;
          break;
        case Pattern::kVerticalStripes:
          on = (x / (g.width / 8)) % 2 == 0;
          break;
        case Pattern::kCheckerboard:
          on = ((x / (g.width / 4)) + (y / (g.height / 4))) % 2 == 0;
          break;
      }
      uint8_t* px = buf->data() + (static_cast<size_t>(y) * g.width + x) * 4;
      px[0] = on ? 230 : 20;
      px[1] = on ? 220 : 40;
      px[2] = on ? 210 : 60;
      px[3] = 0;
    }
  platform::MonitorImage img;
  img.monitor_name = name;
  img.geometry = g;
  img.stride = g.width * 4;
  img.pixels = buf->data();
  img.owner = buf;
  return img;
}

// A FAKE screen: the real X11 capturer needs a display (tested under Xvfb in tests/platform). This one
// answers with the monitors and windows a test sets, and counts how often it was asked.
class FakeCapturer final : public platform::ScreenCapturer {
 public:
  void captureAll(Done done) override {
    std::vector<platform::MonitorImage> images;
    std::optional<Error> refuse;
    {
      std::lock_guard lk(mu);
      ++captures;
      images = monitors;
      refuse = refusal;
    }
    if (refuse)
      done(std::unexpected(*refuse));
    else
      done(std::move(images));
  }
  Result<std::vector<platform::WindowRect>> visibleWindows() override {
    std::lock_guard lk(mu);
    if (windows_fail) return fail(Errc::kUnavailable, "no window list");
    return windows;
  }
  void show(std::vector<platform::MonitorImage> m) {
    std::lock_guard lk(mu);
    monitors = std::move(m);
  }
  int captureCount() {
    std::lock_guard lk(mu);
    return captures;
  }

  std::mutex mu;
  std::vector<platform::MonitorImage> monitors;
  std::vector<platform::WindowRect> windows;
  std::optional<Error> refusal;
  bool windows_fail = false;
  int captures = 0;
};

class RecordingSink final : public RecordSink {
 public:
  void put(const api::Record& r) override { records.push_back(r); }
  void setState(const std::string&, const std::string&) override {}
  std::vector<api::Record> records;
};

class ScreenshotTakerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = fs::temp_directory_path() / ("wm-shots-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    spool_ = dir_ / "screenshots";
    config_.interval = Millis(10min);
    config_.per_interval = 1;
    config_.max_width = 640;
    capturer_.show({makeImage("DP-1", {0, 0, 800, 600}, Pattern::kHorizontalStripes),
                    makeImage("HDMI-1", {800, 0, 640, 480}, Pattern::kCheckerboard)});
  }
  void TearDown() override {
    taker_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  ScreenshotTaker& taker(uint64_t seed = 42) {
    ScreenshotTaker::Hooks h;
    h.private_apps = [this] { return private_apps_; };
    h.gate = [this] { return collecting_; };
    h.entry_id = [this] { return entry_; };
    h.post = [this](std::function<void()> fn) {
      std::lock_guard lk(mu_);
      posted_.push_back(std::move(fn));
    };
    h.on_shot = [this](const json& e) { events_.push_back(e); };
    taker_ = std::make_unique<ScreenshotTaker>(clock_, ids_, sink_, capturer_, spool_, config_, h, seed);
    return *taker_;
  }
  // The owner's thread: runs what the worker posted back, once it is done.
  void deliver() {
    ASSERT_TRUE(taker_->waitIdle(Millis(20'000)));
    std::deque<std::function<void()>> fns;
    {
      std::lock_guard lk(mu_);
      fns.swap(posted_);
    }
    for (auto& f : fns) f();
  }
  // Moves the clock to the next moment and lets the taker act on it.
  void untilNextMoment() {
    const MonoTime next = taker_->nextDeadline();
    ASSERT_NE(next, MonoTime::max());
    if (next > clock_.mono()) clock_.advance(std::chrono::duration_cast<Millis>(next - clock_.mono()));
    taker_->tick();
    deliver();
  }
  std::vector<fs::path> spooled() {
    std::vector<fs::path> out;
    for (const auto& e : fs::directory_iterator(spool_)) out.push_back(e.path());
    return out;
  }

  ManualClock clock_;
  UuidV7Generator ids_{clock_};
  RecordingSink sink_;
  FakeCapturer capturer_;
  ScreenshotConfig config_;
  fs::path dir_, spool_;
  bool collecting_ = true;
  std::optional<std::string> entry_ = "019b76da-a800-7000-8000-000000000001";
  std::mutex mu_;
  std::deque<std::function<void()>> posted_;
  std::vector<json> events_;
  std::vector<std::string> private_apps_;
  std::unique_ptr<ScreenshotTaker> taker_;
};

TEST_F(ScreenshotTakerTest, MomentsAreRandomAndInsideEachInterval) {
  config_.per_interval = 3;
  const MonoTime start = clock_.mono();
  auto& t = taker(7);
  ASSERT_EQ(t.plannedMoments().size(), 3u);
  for (MonoTime m : t.plannedMoments()) {
    EXPECT_GE(m, start);
    EXPECT_LT(m, start + Millis(10min));
  }
  EXPECT_EQ(t.nextDeadline(), t.plannedMoments().front());
  // Every moment of the interval is taken, then the next interval has moments of its own.
  std::set<int64_t> offsets;
  for (int i = 0; i < 3; ++i) untilNextMoment();
  EXPECT_EQ(capturer_.captureCount(), 3);
  EXPECT_EQ(t.nextDeadline(), start + Millis(10min));
  clock_.advance(std::chrono::duration_cast<Millis>(t.nextDeadline() - clock_.mono()));
  t.tick();
  deliver();
  for (MonoTime m : t.plannedMoments()) {
    EXPECT_GE(m, start + Millis(10min));
    EXPECT_LT(m, start + Millis(20min));
    offsets.insert((m - start).count());
  }
  EXPECT_EQ(offsets.size(), 3u);
  // Another seed, other moments: they are not a fixed schedule.
  ScreenshotTaker other(clock_, ids_, sink_, capturer_, dir_ / "other", config_, {}, 8);
  EXPECT_NE(other.plannedMoments(), t.plannedMoments());
}

TEST_F(ScreenshotTakerTest, AShotWritesAPrivateImageAndItsRecordAndAnnouncesIt) {
  capturer_.windows = {platform::WindowRect{"KeePassXC", {100, 100, 200, 150}, "keepassxc", "/usr/bin/keepassxc"}};
  config_.excluded_apps = {"keepassxc"};
  auto& t = taker();
  const MonoTime moment = t.nextDeadline();
  clock_.advance(std::chrono::duration_cast<Millis>(moment - clock_.mono()));
  const int64_t taken_ms = toUnixMs(clock_.wall());
  t.tick();
  deliver();
  ASSERT_EQ(sink_.records.size(), 2u);  // one per monitor
  ASSERT_EQ(events_.size(), 2u);
  std::set<std::string> monitors;
  for (size_t i = 0; i < 2; ++i) {
    const api::Record& r = sink_.records[i];
    EXPECT_EQ(r.kind, api::RecordKind::kScreenshot);
    EXPECT_TRUE(isUuidV7(r.id));
    EXPECT_EQ(r.start_ms, taken_ms);
    ASSERT_TRUE(r.end_ms);
    EXPECT_EQ(*r.end_ms, taken_ms);
    const json& d = r.data;
    const std::string monitor = d.at("monitor");
    monitors.insert(monitor);
    const fs::path file = spool_ / (r.id + ".jpg");
    ASSERT_TRUE(fs::exists(file)) << file;
    struct stat st {};
    ASSERT_EQ(::stat(file.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    const std::string bytes = readFile(file);
    EXPECT_EQ(d.at("sha256"), sha256Hex(bytes));
    EXPECT_EQ(d.at("bytes"), bytes.size());
    EXPECT_EQ(bytes.substr(0, 2), std::string("\xff\xd8"));  // a JPEG
    EXPECT_EQ(d.at("format"), "jpeg");
    EXPECT_EQ(d.at("blurred"), false);
    EXPECT_EQ(d.at("time_entry_id"), *entry_);
    EXPECT_FALSE(d.contains("unchanged"));
    if (monitor == "DP-1") {
      EXPECT_EQ(d.at("x"), 0);
      EXPECT_EQ(d.at("monitor_width"), 800);
      EXPECT_EQ(d.at("monitor_height"), 600);
      EXPECT_EQ(d.at("width"), 640);  // downscaled to max_width, aspect kept
      EXPECT_EQ(d.at("height"), 480);
      EXPECT_EQ(d.at("redacted_windows"), 1);
    } else {
      EXPECT_EQ(d.at("x"), 800);
      EXPECT_EQ(d.at("width"), 640);
      EXPECT_EQ(d.at("height"), 480);
      EXPECT_EQ(d.at("redacted_windows"), 0);
    }
    const json& e = events_[i];
    EXPECT_EQ(e.at("id"), r.id);
    EXPECT_EQ(e.at("monitor"), monitor);
    EXPECT_EQ(e.at("width"), d.at("width"));
    EXPECT_EQ(e.at("height"), d.at("height"));
    EXPECT_EQ(e.at("taken_at"), formatUtc(fromUnixMs(taken_ms)));
    EXPECT_EQ(e.at("unchanged"), false);
    EXPECT_EQ(e.at("path"), file.string());
  }
  EXPECT_EQ(monitors, (std::set<std::string>{"DP-1", "HDMI-1"}));
  EXPECT_EQ(spooled().size(), 2u);  // no temp file left over
  struct stat st {};
  ASSERT_EQ(::stat(spool_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_EQ(t.status().at("taken"), 2);
}

// Issue 16: a browser showing a private window in front is blacked out like an excluded app, for that shot only.
TEST_F(ScreenshotTakerTest, APrivateBrowserWindowInFrontIsBlackedOut) {
  capturer_.windows = {platform::WindowRect{"Chromium", {50, 50, 300, 200}, "chromium", "/usr/lib/chromium/chromium"}};
  auto& t = taker();
  private_apps_ = {"Chromium"};
  untilNextMoment();
  private_apps_.clear();
  clock_.advance(std::chrono::duration_cast<Millis>(t.nextDeadline() - clock_.mono()));
  t.tick();  // the interval's end: the next one is planned
  untilNextMoment();
  std::vector<int> redacted;
  for (const auto& r : sink_.records)
    if (r.data.at("monitor") == "DP-1") redacted.push_back(r.data.at("redacted_windows"));
  EXPECT_EQ(redacted, (std::vector<int>{1, 0}));
}

// Issue 7: a small private JPEG per image for the employee's own view, next to the spool, kept 7 days.
TEST_F(ScreenshotTakerTest, EachImageGetsASmallPrivateThumbnailKeptForSevenDays) {
  auto& t = taker();
  untilNextMoment();
  ASSERT_EQ(sink_.records.size(), 2u);
  const fs::path thumbs = dir_ / "thumbnails";
  EXPECT_EQ(t.thumbnailDir(), thumbs);
  for (const auto& r : sink_.records) {
    const fs::path thumb = thumbs / (r.id + ".jpg");
    ASSERT_TRUE(fs::exists(thumb)) << thumb;
    struct stat st {};
    ASSERT_EQ(::stat(thumb.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    const std::string bytes = readFile(thumb);
    ASSERT_GT(bytes.size(), 4u);
    EXPECT_EQ(bytes.substr(0, 2), std::string("\xff\xd8"));
    // The frame header (SOF0/SOF2) holds the size: at most 320 wide, aspect kept.
    size_t sof = std::string::npos;
    for (size_t i = 2; i + 9 < bytes.size(); ++i) {
      const auto m = static_cast<unsigned char>(bytes[i + 1]);
      if (static_cast<unsigned char>(bytes[i]) == 0xff && (m == 0xc0 || m == 0xc2)) {
        sof = i;
        break;
      }
    }
    ASSERT_NE(sof, std::string::npos);
    auto u16 = [&](size_t at) {
      return (static_cast<unsigned char>(bytes[at]) << 8) | static_cast<unsigned char>(bytes[at + 1]);
    };
    const int height = u16(sof + 5), width = u16(sof + 7);
    EXPECT_EQ(width, 320);
    EXPECT_EQ(height, 240);
    EXPECT_LT(bytes.size(), readFile(spool_ / (r.id + ".jpg")).size());
  }
  // Not in the spool (never uploaded), and gone after 7 days while the spool keeps its images.
  for (const auto& f : spooled()) EXPECT_NE(f.filename(), "thumbnails");
  clock_.advance(std::chrono::hours(24 * 6));
  t.pruneThumbnailsIfDue();
  EXPECT_EQ(std::distance(fs::directory_iterator(thumbs), fs::directory_iterator()), 2);
  clock_.advance(std::chrono::hours(24 * 2));
  t.pruneThumbnailsIfDue();
  EXPECT_EQ(std::distance(fs::directory_iterator(thumbs), fs::directory_iterator()), 0);
  EXPECT_TRUE(fs::exists(spool_ / (sink_.records[0].id + ".jpg")));
}

TEST_F(ScreenshotTakerTest, AMomentWhileNotCollectingIsSkipped) {
  const MonoTime start = clock_.mono();
  auto& t = taker();
  collecting_ = false;  // idle, on a break, locked, asleep or no timer
  untilNextMoment();
  EXPECT_EQ(capturer_.captureCount(), 0);
  EXPECT_TRUE(sink_.records.empty());
  EXPECT_EQ(t.status().at("skipped"), 1);
  // The skipped moment is not made up for later in the interval: nothing until the interval ends.
  EXPECT_EQ(t.nextDeadline(), start + Millis(10min));
  collecting_ = true;
  clock_.advance(std::chrono::duration_cast<Millis>(t.nextDeadline() - clock_.mono()));
  t.tick();  // the interval's end: the next one is planned
  deliver();
  EXPECT_EQ(capturer_.captureCount(), 0);
  untilNextMoment();
  EXPECT_EQ(capturer_.captureCount(), 1);
}

TEST_F(ScreenshotTakerTest, AnUnchangedScreenGetsARecordButNoSecondImage) {
  config_.notify = true;
  auto& t = taker();
  untilNextMoment();
  ASSERT_EQ(sink_.records.size(), 2u);
  std::map<std::string, std::string> first;  // monitor -> id
  for (const auto& r : sink_.records) first[r.data.at("monitor")] = r.id;
  // Next interval: DP-1 changed, HDMI-1 did not.
  capturer_.show({makeImage("DP-1", {0, 0, 800, 600}, Pattern::kVerticalStripes),
                  makeImage("HDMI-1", {800, 0, 640, 480}, Pattern::kCheckerboard)});
  clock_.advance(std::chrono::duration_cast<Millis>(t.nextDeadline() - clock_.mono()));
  t.tick();
  untilNextMoment();
  ASSERT_EQ(sink_.records.size(), 4u);
  for (size_t i = 2; i < 4; ++i) {
    const api::Record& r = sink_.records[i];
    const bool file = fs::exists(spool_ / (r.id + ".jpg"));
    if (r.data.at("monitor") == "HDMI-1") {
      EXPECT_EQ(r.data.value("unchanged", false), true);
      EXPECT_EQ(r.data.at("same_as"), first["HDMI-1"]);
      EXPECT_FALSE(r.data.contains("sha256"));
      EXPECT_FALSE(file);
      EXPECT_EQ(events_[i].at("unchanged"), true);
      EXPECT_EQ(events_[i].at("path"), "");
    } else {
      EXPECT_FALSE(r.data.contains("unchanged"));
      EXPECT_TRUE(file);
    }
  }
  EXPECT_EQ(spooled().size(), 3u);
  EXPECT_EQ(t.status().at("unchanged"), 1);
}

TEST_F(ScreenshotTakerTest, DisabledTakesNothingAndEnablingLiveStartsAnInterval) {
  config_.enabled = false;
  auto& t = taker();
  EXPECT_EQ(t.nextDeadline(), MonoTime::max());
  for (int i = 0; i < 5; ++i) {
    clock_.advance(Millis(10min));
    t.tick();
  }
  ASSERT_TRUE(t.waitIdle(Millis(5000)));
  EXPECT_EQ(capturer_.captureCount(), 0);
  EXPECT_FALSE(fs::exists(spool_) && !spooled().empty());

  ScreenshotConfig on = config_;
  on.enabled = true;
  on.interval = Millis(2min);
  const MonoTime now = clock_.mono();
  t.setConfig(on);
  EXPECT_GE(t.nextDeadline(), now);
  EXPECT_LT(t.nextDeadline(), now + Millis(2min));
  untilNextMoment();
  EXPECT_EQ(capturer_.captureCount(), 1);
  EXPECT_EQ(sink_.records.size(), 2u);

  // Off again, live: the coming moments are dropped.
  t.setConfig(config_);
  EXPECT_EQ(t.nextDeadline(), MonoTime::max());
  clock_.advance(Millis(10min));
  t.tick();
  ASSERT_TRUE(t.waitIdle(Millis(5000)));
  EXPECT_EQ(capturer_.captureCount(), 1);
}

TEST_F(ScreenshotTakerTest, WithoutNotifyNoEventIsPushed) {
  config_.notify = false;
  taker();
  untilNextMoment();
  EXPECT_EQ(sink_.records.size(), 2u);
  EXPECT_TRUE(events_.empty());
}

TEST_F(ScreenshotTakerTest, ARefusedCaptureOrAMissingWindowListRecordsNothing) {
  auto& t = taker();
  capturer_.refusal = Error{Errc::kUnavailable, "the portal said no"};
  untilNextMoment();
  EXPECT_TRUE(sink_.records.empty());
  EXPECT_NE(t.status().value("last_error", "").find("the portal said no"), std::string::npos);
  // Excluded apps cannot be blacked out without the window list: no image rather than an unredacted one.
  capturer_.refusal.reset();
  capturer_.windows_fail = true;
  clock_.advance(std::chrono::duration_cast<Millis>(t.nextDeadline() - clock_.mono()));
  t.tick();
  untilNextMoment();
  EXPECT_EQ(capturer_.captureCount(), 1);
  EXPECT_TRUE(sink_.records.empty());
  EXPECT_TRUE(spooled().empty());
  EXPECT_EQ(t.status().at("failed"), 2);
}

TEST_F(ScreenshotTakerTest, WebpImagesAreSpooledAsWebp) {
  config_.format = "webp";
  config_.max_width = 320;
  taker();
  untilNextMoment();
  ASSERT_EQ(sink_.records.size(), 2u);
  for (const auto& r : sink_.records) {
    EXPECT_EQ(r.data.at("format"), "webp");
    EXPECT_TRUE(fs::exists(spool_ / (r.id + ".webp")));
    EXPECT_LE(r.data.at("width").get<int>(), 320);
  }
}

TEST_F(ScreenshotTakerTest, TempFilesOfAnInterruptedRunAreRemovedAtStart) {
  fs::create_directories(spool_);
  std::ofstream(spool_ / "019b76da-a800-7000-8000-00000000000a.jpg.tmp") << "half";
  std::ofstream(spool_ / "019b76da-a800-7000-8000-00000000000b.jpg") << "a finished image";
  taker();
  const auto files = spooled();
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0].extension(), ".jpg");
}

}  // namespace
TEST_F(ScreenshotTakerTest, TheSpoolIsBoundedOldestImagesFirstAndRecordsStay) {
  auto& t = taker();
  const Pattern patterns[] = {Pattern::kVerticalStripes, Pattern::kCheckerboard};
  capturer_.show({makeImage("DP-1", {0, 0, 800, 600}, patterns[0])});
  untilNextMoment();
  ASSERT_EQ(spooled().size(), 1u);
  const uintmax_t one = fs::file_size(spooled().front());
  t.setSpoolLimit(one * 5 / 2);  // room for two images, not three
  for (int i = 1; i < 5; ++i) {
    capturer_.show({makeImage("DP-1", {0, 0, 800, 600}, patterns[i % 2])});
    clock_.advance(std::chrono::duration_cast<Millis>(t.nextDeadline() - clock_.mono()));
    t.tick();
    untilNextMoment();
  }
  ASSERT_EQ(sink_.records.size(), 5u) << "every shot keeps its metadata record";
  auto files = spooled();
  uintmax_t total = 0;
  std::set<std::string> names;
  for (const auto& f : files) {
    total += fs::file_size(f);
    names.insert(f.stem().string());
  }
  EXPECT_LE(total, one * 5 / 2);
  EXPECT_EQ(files.size(), 2u);
  EXPECT_TRUE(names.count(sink_.records[4].id) && names.count(sink_.records[3].id)) << "the newest stay";
  EXPECT_EQ(t.status().at("dropped"), 3);
}

// --- The streamed pipeline ---

namespace {

/// Detail everywhere (gradients, a grid of lines, noise): what a resampler or a band seam would get wrong.
std::shared_ptr<std::vector<uint8_t>> detailedPixels(int w, int h, int stride, unsigned seed) {
  auto buf = std::make_shared<std::vector<uint8_t>>(static_cast<size_t>(stride) * h, 0xAB);
  std::mt19937 rng(seed);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      uint8_t* px = buf->data() + static_cast<size_t>(y) * stride + static_cast<size_t>(x) * 4;
      const bool line = x % 37 == 0 || y % 23 == 0;
      px[0] = static_cast<uint8_t>(line ? 10 : (x * 255 / w + rng() % 24) % 256);
      px[1] = static_cast<uint8_t>(line ? 10 : (y * 255 / h + rng() % 24) % 256);
      px[2] = static_cast<uint8_t>(line ? 200 : ((x + y) % 97) * 2);
      px[3] = 0;
    }
  }
  return buf;
}

platform::MonitorImage wholeImage(platform::Rect g, std::shared_ptr<std::vector<uint8_t>> buf, int stride) {
  platform::MonitorImage img;
  img.monitor_name = "DP-1";
  img.geometry = g;
  img.stride = stride;
  img.pixels = buf->data();
  img.owner = std::move(buf);
  return img;
}

/// What processMonitor asked the reader for.
struct BandLog {
  std::vector<std::pair<int, int>> calls;  // (y, count)
  std::string misuse;                      // the first request outside the contract
};

/// The same monitor handed out band by band, as the X11 capturer does: every band is copied into one reused
/// buffer of the reader's own (so nothing can lean on the whole picture), each request is checked and logged,
/// and reading from row `fail_from` on fails as a lost X server would.
platform::MonitorImage streamedImage(const platform::MonitorImage& whole, int band_rows,
                                     const std::shared_ptr<BandLog>& log, int fail_from = -1) {
  platform::MonitorImage img = whole;
  img.pixels = nullptr;
  img.band_rows = band_rows;
  auto band = std::make_shared<std::vector<uint8_t>>(static_cast<size_t>(whole.stride) * band_rows);
  img.rows = [whole, band, band_rows, log, fail_from](int32_t y, int32_t count) -> Result<const uint8_t*> {
    log->calls.emplace_back(y, count);
    if (fail_from >= 0 && y + count > fail_from) return fail(Errc::kUnavailable, "the X server went away");
    if ((y < 0 || count <= 0 || count > band_rows || y + count > whole.geometry.height) && log->misuse.empty()) {
      log->misuse = "rows " + std::to_string(y) + "+" + std::to_string(count);
    }
    std::fill(band->begin(), band->end(), uint8_t{0x5A});
    const size_t bytes = static_cast<size_t>(whole.stride) * static_cast<size_t>(std::max(0, count));
    std::memcpy(band->data(), whole.pixels + static_cast<size_t>(y) * whole.stride, std::min(bytes, band->size()));
    return band->data();
  };
  return img;
}

struct Decoded {
  int width = 0, height = 0;
  std::vector<uint8_t> bgr;
  int level(int x, int y) const {  // mean of B, G, R
    const uint8_t* p = bgr.data() + (static_cast<size_t>(y) * width + x) * 3;
    return (p[0] + p[1] + p[2]) / 3;
  }
};

/// libjpeg-turbo's decoder, B,G,R out. (libjpeg's default error handler ends the program on a broken file.)
Decoded decodeJpeg(const std::vector<uint8_t>& bytes) {
  Decoded d;
  if (bytes.size() < 4 || bytes[0] != 0xFF || bytes[1] != 0xD8) {
    ADD_FAILURE() << "not a JPEG";
    return d;
  }
  jpeg_decompress_struct cinfo;
  jpeg_error_mgr err;
  cinfo.err = jpeg_std_error(&err);
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, bytes.data(), static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&cinfo, TRUE);
  cinfo.out_color_space = JCS_EXT_BGR;
  jpeg_start_decompress(&cinfo);
  d.width = static_cast<int>(cinfo.output_width);
  d.height = static_cast<int>(cinfo.output_height);
  d.bgr.resize(static_cast<size_t>(d.width) * d.height * 3);
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = d.bgr.data() + static_cast<size_t>(cinfo.output_scanline) * d.width * 3;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return d;
}

/// The area average computed the slow, obvious way (floating point, pixel by pixel), for comparison.
std::vector<uint8_t> referenceArea(const uint8_t* px, int w, int h, size_t stride, int ch, int ow, int oh) {
  std::vector<uint8_t> out(static_cast<size_t>(ow) * oh * 3);
  const double sx = double(w) / ow, sy = double(h) / oh;
  for (int oy = 0; oy < oh; ++oy) {
    const double y0 = oy * sy, y1 = (oy + 1) * sy;
    for (int ox = 0; ox < ow; ++ox) {
      const double x0 = ox * sx, x1 = (ox + 1) * sx;
      double sum[3] = {0, 0, 0};
      for (int y = static_cast<int>(y0); y < h && y < y1; ++y) {
        const double wy = std::min<double>(y + 1, y1) - std::max<double>(y, y0);
        for (int x = static_cast<int>(x0); x < w && x < x1; ++x) {
          const double wgt = wy * (std::min<double>(x + 1, x1) - std::max<double>(x, x0));
          const uint8_t* p = px + static_cast<size_t>(y) * stride + static_cast<size_t>(x) * ch;
          for (int c = 0; c < 3; ++c) sum[c] += wgt * p[c];
        }
      }
      for (int c = 0; c < 3; ++c) {
        out[(static_cast<size_t>(oy) * ow + ox) * 3 + c] = static_cast<uint8_t>(std::lround(sum[c] / (sx * sy)));
      }
    }
  }
  return out;
}

TEST(ScreenshotStreaming, AreaDownscaleIsTheExactAreaAverage) {
  struct Case {
    int w, h, ch, ow, oh;
  };
  std::mt19937 rng(3);
  for (const Case& c : {Case{400, 300, 4, 200, 150}, Case{300, 120, 4, 100, 40}, Case{1001, 333, 3, 640, 212},
                        Case{333, 211, 4, 320, 180}, Case{7, 5, 3, 3, 2}, Case{100, 3, 4, 10, 1},
                        Case{64, 48, 4, 64, 48}, Case{640, 360, 3, 1, 1}}) {
    const size_t stride = static_cast<size_t>(c.w) * c.ch + 12;  // padded rows
    std::vector<uint8_t> px(stride * c.h);
    for (auto& b : px) b = static_cast<uint8_t>(rng());
    const auto got = detail::areaDownscale(px.data(), c.w, c.h, stride, c.ch, c.ow, c.oh);
    const auto want = referenceArea(px.data(), c.w, c.h, stride, c.ch, c.ow, c.oh);
    ASSERT_EQ(got.size(), want.size());
    int worst = 0;
    size_t off = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      const int d = std::abs(int(got[i]) - int(want[i]));
      worst = std::max(worst, d);
      off += d != 0;
    }
    // Exact sums, rounded once: only a value within rounding error of .5 may land on the other side.
    EXPECT_LE(worst, 1) << c.w << "x" << c.h << " -> " << c.ow << "x" << c.oh;
    EXPECT_LE(off, got.size() / 1000 + 1) << c.w << "x" << c.h << " -> " << c.ow << "x" << c.oh;
    if (c.w == c.ow && c.h == c.oh) {  // the same size: the B,G,R of the input, untouched
      for (int y = 0; y < c.h; ++y)
        for (int x = 0; x < c.w; ++x)
          for (int k = 0; k < 3; ++k)
            ASSERT_EQ(got[(static_cast<size_t>(y) * c.w + x) * 3 + k], px[y * stride + x * c.ch + k]);
    }
  }
}

TEST(ScreenshotStreaming, BandByBandGivesTheSameShotAsTheWholePicture) {
  const platform::Rect g{0, 0, 1000, 700};
  const int stride = g.width * 4 + 32;
  const auto whole = wholeImage(g, detailedPixels(g.width, g.height, stride, 1), stride);
  const std::vector<platform::WindowRect> windows{{"vault", {310, 90, 200, 301}, "", ""},
                                                  {"vault", {-50, 640, 120, 200}, "", ""}};
  struct Variant {
    const char* name;
    ShotOptions o;
  };
  std::vector<Variant> variants;
  auto add = [&](const char* name, auto&& change) {
    ShotOptions o;
    o.thumbnail_width = 320;
    change(o);
    variants.push_back({name, o});
  };
  add("full size", [](ShotOptions&) {});
  add("fractional downscale", [](ShotOptions& o) { o.max_width = 640; });
  add("halved", [](ShotOptions& o) { o.max_width = 500; });
  add("redacted", [](ShotOptions& o) { o.excluded_apps = {"vault"}; });
  add("redacted and downscaled", [](ShotOptions& o) {
    o.excluded_apps = {"vault"};
    o.max_width = 777;
  });
  add("blurred", [](ShotOptions& o) { o.blur = true; });
  add("blurred and downscaled", [](ShotOptions& o) {
    o.blur = true;
    o.max_width = 640;
  });
  add("webp", [](ShotOptions& o) {
    o.format = "webp";
    o.excluded_apps = {"vault"};
  });
  for (const Variant& v : variants) {
    auto want = processMonitor(whole, windows, v.o);
    ASSERT_TRUE(want) << v.name << ": " << want.error().message;
    for (int band : {1, 13, 64, 699, 700}) {
      auto log = std::make_shared<BandLog>();
      auto got = processMonitor(streamedImage(whole, band, log), windows, v.o);
      ASSERT_TRUE(got) << v.name << ", bands of " << band << ": " << got.error().message;
      EXPECT_EQ(got->width, want->width) << v.name;
      EXPECT_EQ(got->height, want->height) << v.name;
      EXPECT_EQ(got->sha256_hex, want->sha256_hex) << v.name << ", bands of " << band;
      EXPECT_EQ(got->encoded, want->encoded) << v.name << ", bands of " << band;
      EXPECT_EQ(got->phash, want->phash) << v.name << ", bands of " << band;
      EXPECT_EQ(got->thumbnail, want->thumbnail) << v.name << ", bands of " << band;
      EXPECT_EQ(got->redacted_windows, want->redacted_windows);
      EXPECT_TRUE(log->misuse.empty()) << v.name << ": " << log->misuse;
    }
  }
}

TEST(ScreenshotStreaming, TheMonitorIsReadOnceTopToBottomInBandsItAllows) {
  const platform::Rect g{0, 0, 300, 250};
  const auto whole = wholeImage(g, detailedPixels(g.width, g.height, g.width * 4, 2), g.width * 4);
  for (int band : {1, 64, 100, 249, 250, 1000}) {
    auto log = std::make_shared<BandLog>();
    ShotOptions o;
    o.max_width = 200;
    o.blur = true;
    ASSERT_TRUE(processMonitor(streamedImage(whole, band, log), {}, o));
    EXPECT_TRUE(log->misuse.empty()) << log->misuse;
    int next = 0;
    for (const auto& [y, count] : log->calls) {
      EXPECT_EQ(y, next) << "bands of " << band;
      EXPECT_EQ(count, std::min(band, g.height - y)) << "bands of " << band;
      next = y + count;
    }
    EXPECT_EQ(next, g.height);
  }
}

TEST(ScreenshotStreaming, AWindowAcrossBandBoundariesIsBlackEverywhere) {
  // White everywhere, so any pixel of a window that escaped redaction shows. Bands of 64 rows: one window spans
  // four bands, one is two rows straddling a seam, one starts and ends exactly on seams.
  const platform::Rect g{100, 0, 800, 600};
  auto buf = std::make_shared<std::vector<uint8_t>>(static_cast<size_t>(g.width) * g.height * 4, 255);
  const auto whole = wholeImage(g, buf, g.width * 4);
  const std::vector<platform::WindowRect> windows{{"vault", {200, 100, 300, 200}, "", ""},  // rows 100..299
                                                  {"vault", {600, 127, 250, 2}, "", ""},    // rows 127..128
                                                  {"vault", {150, 192, 40, 128}, "", ""}};  // rows 192..319
  for (int max_width : {800, 500}) {
    ShotOptions o;
    o.excluded_apps = {"vault"};
    o.quality = 100;
    o.max_width = max_width;
    o.thumbnail_width = 320;
    auto log = std::make_shared<BandLog>();
    auto shot = processMonitor(streamedImage(whole, 64, log), windows, o);
    ASSERT_TRUE(shot) << shot.error().message;
    EXPECT_EQ(shot->redacted_windows, 3);
    const Decoded img = decodeJpeg(shot->encoded);
    ASSERT_EQ(img.width, shot->width);
    const double s = double(shot->width) / g.width;
    for (const auto& w : windows) {
      // Every output pixel whose source area touches the window's part on this monitor.
      const int x0 = std::max(0, w.geometry.x - g.x), x1 = std::min(g.width, w.geometry.x - g.x + w.geometry.width);
      const int y0 = w.geometry.y, y1 = w.geometry.y + w.geometry.height;
      const int ox0 = static_cast<int>(std::floor(x0 * s)), ox1 = static_cast<int>(std::ceil(x1 * s));
      const int oy0 = static_cast<int>(std::floor(y0 * s)), oy1 = static_cast<int>(std::ceil(y1 * s));
      int brightest = 0;
      for (int y = oy0; y < oy1; ++y)
        for (int x = ox0; x < ox1; ++x) brightest = std::max(brightest, img.level(x, y));
      EXPECT_LT(brightest, 20) << "window at y " << y0 << ".." << y1 - 1 << ", max_width " << max_width;
      EXPECT_GT(img.level(ox0, std::max(0, oy0 - 3)), 235) << "above the window is untouched";
    }
    // The thumbnail is made from the redacted rows too.
    const Decoded thumb = decodeJpeg(shot->thumbnail);
    ASSERT_EQ(thumb.width, 320);
    const double ts = 320.0 / g.width;
    EXPECT_LT(thumb.level(static_cast<int>(350 * ts), static_cast<int>(200 * ts)), 20);
    EXPECT_GT(thumb.level(static_cast<int>(700 * ts), static_cast<int>(500 * ts)), 235);
  }
}

TEST(ScreenshotStreaming, BlurIsTheSameUpsideDown) {
  // Grey, bright bands along the top and bottom edges (16 rows: about one sigma, so the blurred picture still
  // changes steeply at the edges), dark in between, the picture its own mirror image: the blur (area-averaged by 6
  // here, blurred, scaled back up) must keep it so, edge rows included.
  const platform::Rect g{0, 0, 1536, 768};
  auto buf = std::make_shared<std::vector<uint8_t>>(static_cast<size_t>(g.width) * g.height * 4, 0);
  for (int y = 0; y < g.height; ++y) {
    const int d = std::min(y, g.height - 1 - y);  // distance from the nearer edge
    const auto v = static_cast<uint8_t>(d < 16 ? 240 : 80);
    for (int x = 0; x < g.width; ++x) std::memset(buf->data() + (static_cast<size_t>(y) * g.width + x) * 4, v, 3);
  }
  ShotOptions o;
  o.blur = true;
  o.quality = 100;
  auto log = std::make_shared<BandLog>();
  auto shot = processMonitor(streamedImage(wholeImage(g, buf, g.width * 4), 64, log), {}, o);
  ASSERT_TRUE(shot) << shot.error().message;
  const Decoded img = decodeJpeg(shot->encoded);
  ASSERT_EQ(img.height, g.height);
  int worst = 0;
  for (int y = 0; y < g.height / 2; ++y)
    worst = std::max(worst, std::abs(img.level(700, y) - img.level(700, g.height - 1 - y)));
  EXPECT_LE(worst, 1);
  EXPECT_LT(img.level(700, 384), img.level(700, 0) - 50) << "blurred, not flattened";
  EXPECT_GT(img.level(700, 0), 160);
}

TEST(ScreenshotStreaming, ABandThatCannotBeReadFailsTheShot) {
  const platform::Rect g{0, 0, 400, 300};
  const auto whole = wholeImage(g, detailedPixels(g.width, g.height, g.width * 4, 4), g.width * 4);
  for (const char* format : {"jpeg", "webp"}) {
    ShotOptions o;
    o.format = format;
    auto log = std::make_shared<BandLog>();
    auto shot = processMonitor(streamedImage(whole, 64, log, /*fail_from=*/150), {}, o);
    ASSERT_FALSE(shot);
    EXPECT_EQ(shot.error().code, Errc::kUnavailable);
    EXPECT_NE(shot.error().message.find("the X server went away"), std::string::npos) << shot.error().message;
    EXPECT_NE(shot.error().message.find("DP-1"), std::string::npos) << shot.error().message;
  }
}

TEST(ScreenshotStreaming, AnImageWithNeitherPixelsNorAReaderIsRejected) {
  platform::MonitorImage img;
  img.monitor_name = "DP-1";
  img.geometry = {0, 0, 64, 32};
  img.stride = 64 * 4;
  auto none = processMonitor(img, {}, {});
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, Errc::kInvalidInput);
  img.rows = [](int32_t, int32_t) -> Result<const uint8_t*> { return fail(Errc::kInternal, "never called"); };
  img.band_rows = 0;  // a reader that allows no rows
  auto zero = processMonitor(img, {}, {});
  ASSERT_FALSE(zero);
  EXPECT_EQ(zero.error().code, Errc::kInvalidInput);
}

}  // namespace

// The taker with a screen read band by band spools exactly what it spools for the whole picture.
TEST_F(ScreenshotTakerTest, MonitorsReadBandByBandAreSpooledLikeWholeOnes) {
  const platform::Rect g{0, 0, 800, 600};
  const auto whole = wholeImage(g, detailedPixels(g.width, g.height, g.width * 4, 5), g.width * 4);
  capturer_.windows = {platform::WindowRect{"KeePassXC", {100, 100, 200, 150}, "keepassxc", ""}};
  config_.excluded_apps = {"keepassxc"};
  auto log = std::make_shared<BandLog>();
  capturer_.show({streamedImage(whole, 48, log)});
  ShotOptions o;
  o.max_width = config_.max_width;
  o.excluded_apps = config_.excluded_apps;
  o.thumbnail_width = ScreenshotTaker::kThumbnailWidth;
  auto want = processMonitor(whole, capturer_.windows, o);
  ASSERT_TRUE(want) << want.error().message;
  taker();
  untilNextMoment();
  ASSERT_EQ(sink_.records.size(), 1u);
  const api::Record& r = sink_.records[0];
  EXPECT_EQ(r.data.at("sha256"), want->sha256_hex);
  EXPECT_EQ(r.data.at("redacted_windows"), 1);
  EXPECT_EQ(readFile(spool_ / (r.id + ".jpg")), std::string(want->encoded.begin(), want->encoded.end()));
  EXPECT_TRUE(log->misuse.empty()) << log->misuse;
  EXPECT_FALSE(log->calls.empty());
}

}  // namespace wm::agent
