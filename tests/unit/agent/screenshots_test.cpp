// ScreenshotTaker (issue 6): random moments inside each interval, the collecting gate, unchanged screens,
// the spooled file (0600) and its metadata record, the pushed event, live config. Time is a ManualClock; the
// pixels go through the real on-device pipeline (processMonitor, OpenCV). The screen itself is a fake.
#include <openssl/evp.h>
#include <sys/stat.h>

#include <deque>
#include <fstream>
#include <mutex>
#include <random>
#include <set>

#include <gtest/gtest.h>

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

}  // namespace wm::agent
