// Screenshots (issue 6): when to take them, and what becomes of each one.
//
// ScreenshotTaker picks `per_interval` random moments inside each interval (on the injected Clock's monotonic
// time). At a moment the gate (the tracker's collecting(): false while idle, on a break, locked, asleep or not
// tracking) may say no, and the moment is skipped. Otherwise a worker thread asks the ScreenCapturer for every
// monitor and the visible windows, runs the on-device pipeline (processMonitor: redaction, downscale, blur,
// encoding) per monitor and writes each image to `<spool>/<id>.<jpg|webp>` (0600, temp + fsync + rename). A
// monitor whose picture has not changed since its previous image (perceptual hash) gets a metadata record
// saying so (`unchanged`, `same_as`) and no file. Results come back to the owner's thread through `post`,
// where the records are written and the `screenshot` event is announced. The sync engine uploads the images
// from the spool once their records are acknowledged.
//
// ScreenshotService is the daemon's wrapper: the platform capturer, a steady_timer on the io_context for
// the next moment, and status/doctor lines.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include "workmonitor/agent/config.h"
#include "workmonitor/agent/tracker.h"
#include "workmonitor/common/clock.h"
#include "workmonitor/common/uuid.h"
#include "workmonitor/platform/screen_capture.h"

namespace wm::agent {

/// File name extension of an image format: "jpg" for jpeg, "webp" for webp.
const char* screenshotExtension(const std::string& format);

class ScreenshotTaker {
 public:
  /// The spool's bound: images not yet uploaded (local-only mode, a long time offline) are deleted oldest
  /// first beyond it — set-aside (rejected) images before queued ones — logged and counted in `dropped`.
  /// Their metadata records stay.
  static constexpr uintmax_t kSpoolMaxBytes = 512ull * 1024 * 1024;
  /// Thumbnails for the employee's own "my activity" view: `<spool>/../thumbnails/<id>.jpg`, at most this wide,
  /// kept kThumbnailKeep (by the id's UUIDv7 time) and never uploaded. Pruned at start and daily.
  static constexpr int kThumbnailWidth = 320;
  static constexpr Millis kThumbnailKeep{std::chrono::hours(24 * 7)};
  static constexpr Millis kThumbnailPruneEvery{std::chrono::hours(24)};
  /// The thumbnail directory that belongs to a spool directory.
  static std::filesystem::path thumbnailDirFor(const std::filesystem::path& spool_dir);
  struct Hooks {
    std::function<bool()> gate;                            // may a shot be taken now (tracker.collecting())
    std::function<std::optional<std::string>()> entry_id;  // the running time entry, for time_entry_id
    /// Runs a function on the owner's thread (the daemon's io_context). Results, records and events go
    /// through it; nothing else of the taker runs on the worker thread.
    std::function<void(std::function<void()>)> post;
    /// The `screenshot` event ({id, monitor, width, height, taken_at, unchanged, path}), when config.notify.
    std::function<void(const nlohmann::json&)> on_shot;
    /// Apps whose windows are private at this moment (a browser showing a private or excluded page in front,
    /// WebsiteTracker::privateWindow): blacked out in this shot like config.excluded_apps.
    std::function<std::vector<std::string>()> private_apps;
  };

  /// seed 0 = from std::random_device. The spool directory is created (0700) when missing.
  ScreenshotTaker(const Clock& clock, UuidV7Generator& ids, RecordSink& sink, platform::ScreenCapturer& capturer,
                  std::filesystem::path spool_dir, ScreenshotConfig config, Hooks hooks, uint64_t seed = 0);
  ~ScreenshotTaker();
  ScreenshotTaker(const ScreenshotTaker&) = delete;
  ScreenshotTaker& operator=(const ScreenshotTaker&) = delete;

  /// Owner's thread: takes the shot whose moment has come (at most one per call; moments missed while the
  /// owner was busy are skipped, not bunched up).
  void tick();
  /// When tick() next has something to do; MonoTime::max() while disabled.
  MonoTime nextDeadline() const;
  /// Applies at once: a changed interval or count starts a new interval now; disabled stops taking shots.
  void setConfig(const ScreenshotConfig& config);
  const ScreenshotConfig& config() const { return config_; }
  /// Lets the capture in flight finish its work and stops the worker; results not yet delivered are dropped
  /// (their temp files are removed at the next start). Idempotent.
  void stop();
  /// For tests: waits until the worker has nothing queued or running; false on timeout.
  bool waitIdle(Millis timeout);

  /// The spool bound (kSpoolMaxBytes unless changed; tests use a small one).
  void setSpoolLimit(uintmax_t bytes) { spool_max_ = bytes; }
  nlohmann::json status() const;
  const std::filesystem::path& spoolDir() const { return spool_; }
  const std::filesystem::path& thumbnailDir() const { return thumbs_; }
  /// Deletes thumbnails older than kThumbnailKeep (by the wall clock); returns how many.
  int pruneThumbnails();
  /// Prunes when a day has passed since the last pruning. Owner's thread.
  void pruneThumbnailsIfDue();
  MonoTime nextThumbnailPrune() const { return next_thumb_prune_; }
  /// The moments planned for the current interval (tests check them).
  const std::vector<MonoTime>& plannedMoments() const { return moments_; }

 private:
  struct Job;
  void planInterval(MonoTime start);
  void startShot(WallTime taken_at);
  void runJob(const std::shared_ptr<Job>& job);
  void process(const std::shared_ptr<Job>& job, const Result<std::vector<platform::MonitorImage>>& images);
  void deliver(const std::shared_ptr<Job>& job);
  void enqueue(std::function<void()> fn);
  void workerLoop();
  void pruneSpool();

  const Clock& clock_;
  UuidV7Generator& ids_;
  RecordSink& sink_;
  platform::ScreenCapturer& capturer_;
  std::filesystem::path spool_;
  std::filesystem::path thumbs_;
  MonoTime next_thumb_prune_{};
  ScreenshotConfig config_;
  Hooks hooks_;
  std::mt19937_64 rng_;

  // Owner's thread.
  MonoTime interval_start_{};
  std::vector<MonoTime> moments_;  // still to come in this interval, ascending
  size_t next_moment_ = 0;
  bool in_flight_ = false;
  MonoTime in_flight_since_{};
  uint64_t generation_ = 0;  // bumped by setConfig: the worker forgets its previous images
  int64_t taken_ = 0, unchanged_ = 0, skipped_ = 0, failed_ = 0, dropped_ = 0;
  uintmax_t spool_max_ = kSpoolMaxBytes;
  std::string last_error_;
  WallTime last_taken_{};

  // Worker thread only.
  struct Previous {
    uint64_t phash = 0;
    std::string id;
  };
  std::map<std::string, Previous> previous_;  // per monitor name: the last shot that has an image
  uint64_t worker_generation_ = 0;

  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // posted results check it before touching `this`
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  int running_ = 0;  // jobs running plus captures the capturer has not answered yet
  bool stop_ = false;
  std::thread worker_;
};

/// The daemon's screenshot collector: the platform capturer, the taker and a timer of its own.
class ScreenshotService {
 public:
  using Broadcast = std::function<void(const std::string& event, const nlohmann::json& data)>;

  ScreenshotService(boost::asio::io_context& io, const Clock& clock, UuidV7Generator& ids, RecordSink& sink,
                    std::unique_ptr<platform::ScreenCapturer> capturer, std::filesystem::path spool_dir,
                    ScreenshotConfig config, std::function<bool()> gate,
                    std::function<std::optional<std::string>()> entry_id, Broadcast broadcast,
                    std::function<std::vector<std::string>()> private_apps = {});
  ~ScreenshotService();
  void setConfig(const ScreenshotConfig& config);
  void stop();
  nlohmann::json status() const;
  std::pair<bool, std::string> doctorCheck() const;

 private:
  void arm();

  boost::asio::io_context& io_;
  const Clock& clock_;
  std::unique_ptr<platform::ScreenCapturer> capturer_;
  boost::asio::steady_timer timer_;
  std::unique_ptr<ScreenshotTaker> taker_;
  bool stopped_ = false;
};

}  // namespace wm::agent
