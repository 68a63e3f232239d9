// Screenshot scheduling and spooling (see screenshots.h).
#include "workmonitor/agent/screenshots.h"

#include <fcntl.h>
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>

#include "workmonitor/agent/paths.h"
#include "workmonitor/agent/screenshot_pipeline.h"

namespace wm::agent {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// A capture that has not come back after this is taken as lost, so one hung capture cannot end screenshots.
constexpr Millis kLostCapture{std::chrono::minutes(2)};

// Writes bytes to `path` (created, 0600, must not exist) and makes them durable.
Result<void> writePrivateFile(const fs::path& path, const std::vector<uint8_t>& bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return fail(Errc::kIo, "cannot create " + path.string() + ": " + std::strerror(errno));
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string why = std::strerror(errno);
      ::close(fd);
      ::unlink(path.c_str());
      return fail(Errc::kIo, "cannot write " + path.string() + ": " + why);
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    const std::string why = std::strerror(errno);
    ::unlink(path.c_str());
    return fail(Errc::kIo, "cannot write " + path.string() + ": " + why);
  }
  return {};
}

ShotOptions shotOptions(const ScreenshotConfig& c) {
  ShotOptions o;
  o.max_width = c.max_width;
  o.blur = c.blur;
  o.format = c.format;
  o.quality = c.quality;
  o.excluded_apps = c.excluded_apps;
  o.thumbnail_width = ScreenshotTaker::kThumbnailWidth;
  return o;
}

// The creation time (Unix ms) in a UUIDv7's first 48 bits, or nullopt for another name.
std::optional<int64_t> uuidV7Millis(const std::string& id) {
  if (id.size() < 13 || id[8] != '-') return std::nullopt;
  const std::string hex = id.substr(0, 8) + id.substr(9, 4);
  int64_t ms = 0;
  for (char c : hex) {
    int v = 0;
    if (c >= '0' && c <= '9')
      v = c - '0';
    else if (c >= 'a' && c <= 'f')
      v = c - 'a' + 10;
    else
      return std::nullopt;
    ms = ms * 16 + v;
  }
  return ms;
}

}  // namespace

const char* screenshotExtension(const std::string& format) { return format == "webp" ? "webp" : "jpg"; }

fs::path ScreenshotTaker::thumbnailDirFor(const fs::path& spool_dir) { return spool_dir.parent_path() / "thumbnails"; }

struct ScreenshotTaker::Job {
  WallTime taken_at;
  std::optional<std::string> entry_id;
  ShotOptions options;
  bool notify = false;
  uint64_t generation = 0;
  std::vector<platform::WindowRect> windows;
  struct Out {
    api::Record record;
    fs::path temp, final_path;              // empty for an unchanged screen
    fs::path thumb_temp, thumb_final_path;  // empty for an unchanged screen or without a thumbnail
  };
  std::vector<Out> outs;
  std::vector<std::string> errors;
};

ScreenshotTaker::ScreenshotTaker(const Clock& clock, UuidV7Generator& ids, RecordSink& sink,
                                 platform::ScreenCapturer& capturer, fs::path spool_dir, ScreenshotConfig config,
                                 Hooks hooks, uint64_t seed)
    : clock_(clock),
      ids_(ids),
      sink_(sink),
      capturer_(capturer),
      spool_(std::move(spool_dir)),
      thumbs_(thumbnailDirFor(spool_)),
      config_(std::move(config)),
      hooks_(std::move(hooks)),
      rng_(seed ? seed : (uint64_t{std::random_device{}()} << 32) ^ std::random_device{}()) {
  if (auto ok = ensurePrivateDir(spool_); !ok) spdlog::error("screenshots: {}", ok.error().message);
  // Images a previous run wrote but never delivered (it stopped in between) have no record: not kept.
  std::error_code ec;
  for (fs::directory_iterator it(spool_, ec), end; !ec && it != end; it.increment(ec))
    if (it->path().extension() == ".tmp") fs::remove(it->path(), ec);
  if (auto ok = ensurePrivateDir(thumbs_); !ok) spdlog::warn("screenshot thumbnails: {}", ok.error().message);
  for (fs::directory_iterator it(thumbs_, ec), end; !ec && it != end; it.increment(ec))
    if (it->path().extension() == ".tmp") fs::remove(it->path(), ec);
  pruneThumbnailsIfDue();
  planInterval(clock_.mono());
  worker_ = std::thread([this] { workerLoop(); });
}

ScreenshotTaker::~ScreenshotTaker() { stop(); }

void ScreenshotTaker::stop() {
  {
    std::lock_guard lk(mu_);
    if (stop_ && !worker_.joinable()) return;
    stop_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
  alive_.reset();
}

void ScreenshotTaker::planInterval(MonoTime start) {
  interval_start_ = start;
  moments_.clear();
  next_moment_ = 0;
  const int64_t span = std::max<int64_t>(1, config_.interval.count());
  std::uniform_int_distribution<int64_t> offset(0, span - 1);
  for (int i = 0; i < std::max(1, config_.per_interval); ++i) moments_.push_back(start + Millis(offset(rng_)));
  std::sort(moments_.begin(), moments_.end());
}

MonoTime ScreenshotTaker::nextDeadline() const {
  if (!config_.enabled) return MonoTime::max();
  if (next_moment_ < moments_.size()) return moments_[next_moment_];
  return interval_start_ + config_.interval;  // the next interval is planned then
}

void ScreenshotTaker::setConfig(const ScreenshotConfig& config) {
  const bool replan = config.enabled != config_.enabled || config.interval != config_.interval ||
                      config.per_interval != config_.per_interval;
  config_ = config;
  ++generation_;  // other image options: the previous images no longer compare (size, blur)
  if (replan) planInterval(clock_.mono());
}

void ScreenshotTaker::tick() {
  if (!config_.enabled) return;
  const MonoTime now = clock_.mono();
  if (in_flight_ && now - in_flight_since_ > kLostCapture) {
    spdlog::warn("screenshots: the capture started {} s ago never came back; taking the next one",
                 std::chrono::duration_cast<std::chrono::seconds>(now - in_flight_since_).count());
    in_flight_ = false;
  }
  const Millis interval = std::max(config_.interval, Millis(1));
  if (now >= interval_start_ + interval) {
    // The intervals that passed (the owner was busy, the machine slept) are not made up for.
    const auto passed = (now - interval_start_) / interval;
    planInterval(interval_start_ + passed * interval);
  }
  int due = 0;
  while (next_moment_ < moments_.size() && moments_[next_moment_] <= now) {
    ++next_moment_;
    ++due;
  }
  if (due == 0) return;
  if (due > 1) {
    skipped_ += due - 1;
    spdlog::debug("screenshots: {} moments passed together; one shot taken for them", due);
  }
  if (!hooks_.gate || !hooks_.gate()) {
    ++skipped_;
    spdlog::debug("screenshots: moment skipped (not collecting: idle, break, locked, asleep or not tracking)");
    return;
  }
  if (in_flight_) {
    ++skipped_;
    spdlog::debug("screenshots: moment skipped (the previous shot is still being processed)");
    return;
  }
  startShot(clock_.wall());
}

void ScreenshotTaker::startShot(WallTime taken_at) {
  auto job = std::make_shared<Job>();
  job->taken_at = taken_at;
  if (hooks_.entry_id) job->entry_id = hooks_.entry_id();
  job->options = shotOptions(config_);
  if (hooks_.private_apps)
    for (auto& app : hooks_.private_apps()) job->options.excluded_apps.push_back(std::move(app));
  job->notify = config_.notify;
  job->generation = generation_;
  in_flight_ = true;
  in_flight_since_ = clock_.mono();
  enqueue([this, job] { runJob(job); });
}

void ScreenshotTaker::enqueue(std::function<void()> fn) {
  {
    std::lock_guard lk(mu_);
    if (stop_) return;
    queue_.push_back(std::move(fn));
  }
  cv_.notify_all();
}

void ScreenshotTaker::workerLoop() {
  std::unique_lock lk(mu_);
  for (;;) {
    cv_.wait(lk, [this] { return stop_ || !queue_.empty(); });
    if (stop_) return;
    auto fn = std::move(queue_.front());
    queue_.pop_front();
    ++running_;
    lk.unlock();
    try {
      fn();
    } catch (const std::exception& e) {
      spdlog::error("screenshots: {}", e.what());
    }
    lk.lock();
    --running_;
    cv_.notify_all();
  }
}

bool ScreenshotTaker::waitIdle(Millis timeout) {
  std::unique_lock lk(mu_);
  return cv_.wait_for(lk, timeout, [this] { return stop_ || (queue_.empty() && running_ == 0); });
}

// Worker thread: windows first (for redaction), then the pixels.
void ScreenshotTaker::runJob(const std::shared_ptr<Job>& job) {
  auto windows = capturer_.visibleWindows();
  if (windows) {
    job->windows = std::move(*windows);
  } else if (!job->options.excluded_apps.empty()) {
    // Without the window list the excluded apps cannot be blacked out: no image rather than an unredacted one.
    job->errors.push_back("cannot list the windows to redact: " + windows.error().message);
    deliver(job);
    return;
  }
  {
    std::lock_guard lk(mu_);
    ++running_;  // the capture's answer is still to come
  }
  capturer_.captureAll([this, job](Result<std::vector<platform::MonitorImage>> images) {
    enqueue([this, job, images = std::move(images)] { process(job, images); });
    std::lock_guard lk(mu_);
    --running_;
    cv_.notify_all();
  });
}

void ScreenshotTaker::process(const std::shared_ptr<Job>& job,
                              const Result<std::vector<platform::MonitorImage>>& images) {
  if (!images) {
    job->errors.push_back("capture failed: " + images.error().message);
    deliver(job);
    return;
  }
  if (worker_generation_ != job->generation) {
    previous_.clear();
    worker_generation_ = job->generation;
  }
  for (const auto& image : *images) {
    auto shot = processMonitor(image, job->windows, job->options);
    if (!shot) {
      job->errors.push_back("monitor " + image.monitor_name + ": " + shot.error().message);
      continue;
    }
    Job::Out out;
    api::Record& r = out.record;
    r.id = ids_.next();
    r.kind = api::RecordKind::kScreenshot;
    r.start_ms = toUnixMs(job->taken_at);
    r.end_ms = r.start_ms;
    r.duration_ms = 0;
    const std::string monitor = shot->monitor.empty() ? image.monitor_name : shot->monitor;
    r.data = json{{"monitor", monitor},
                  {"x", shot->geometry.x},
                  {"y", shot->geometry.y},
                  {"monitor_width", shot->geometry.width},
                  {"monitor_height", shot->geometry.height},
                  {"width", shot->width},
                  {"height", shot->height},
                  {"format", shot->format},
                  {"blurred", shot->blurred},
                  {"redacted_windows", shot->redacted_windows}};
    if (job->entry_id) r.data["time_entry_id"] = *job->entry_id;
    auto prev = previous_.find(monitor);
    if (prev != previous_.end() && phashDistance(prev->second.phash, shot->phash) <= kSameScreenDistance) {
      // The same screen as the last image of this monitor: a record says so, and no second copy is kept.
      r.data["unchanged"] = true;
      r.data["same_as"] = prev->second.id;
    } else {
      r.data["sha256"] = shot->sha256_hex;
      r.data["bytes"] = shot->encoded.size();
      out.final_path = spool_ / (r.id + "." + screenshotExtension(shot->format));
      out.temp = out.final_path.string() + ".tmp";
      if (auto ok = writePrivateFile(out.temp, shot->encoded); !ok) {
        job->errors.push_back(ok.error().message);
        continue;
      }
      if (!shot->thumbnail.empty()) {
        out.thumb_final_path = thumbs_ / (r.id + ".jpg");
        out.thumb_temp = out.thumb_final_path.string() + ".tmp";
        if (auto ok = writePrivateFile(out.thumb_temp, shot->thumbnail); !ok) {
          spdlog::debug("screenshots: no thumbnail: {}", ok.error().message);  // the shot itself is fine
          out.thumb_temp.clear();
          out.thumb_final_path.clear();
        }
      }
      previous_[monitor] = Previous{shot->phash, r.id};
    }
    job->outs.push_back(std::move(out));
  }
  ::malloc_trim(0);  // the shot's freed buffers go back to the system now, not whenever glibc next trims
  deliver(job);
}

// Worker thread: hands the job to the owner's thread, where records are written and files put in place.
void ScreenshotTaker::deliver(const std::shared_ptr<Job>& job) {
  auto finish = [this, alive = std::weak_ptr<int>(alive_), job] {
    if (!alive.lock()) return;
    in_flight_ = false;
    if (!job->errors.empty()) {
      ++failed_;
      if (last_error_ != job->errors.front()) spdlog::warn("screenshots: {}", job->errors.front());
      last_error_ = job->errors.front();
      for (size_t i = 1; i < job->errors.size(); ++i) spdlog::debug("screenshots: {}", job->errors[i]);
    } else {
      last_error_.clear();
    }
    for (auto& out : job->outs) {
      const bool unchanged = out.final_path.empty();
      // The record first, then the file: the uploader never finds an image whose record is not queued.
      sink_.put(out.record);
      if (!unchanged) {
        std::error_code ec;
        fs::rename(out.temp, out.final_path, ec);
        if (ec) {
          spdlog::error("screenshots: cannot move {} into place: {}", out.temp.string(), ec.message());
          fs::remove(out.temp, ec);
          if (!out.thumb_temp.empty()) fs::remove(out.thumb_temp, ec);
          ++failed_;
          continue;
        }
        if (!out.thumb_temp.empty()) {
          fs::rename(out.thumb_temp, out.thumb_final_path, ec);
          if (ec) fs::remove(out.thumb_temp, ec);
        }
      }
      ++taken_;
      if (unchanged) ++unchanged_;
      if (!unchanged) pruneSpool();
      last_taken_ = job->taken_at;
      const json& d = out.record.data;
      spdlog::debug("screenshots: {} of {} ({}x{}){}", out.record.id, d.value("monitor", ""), d.value("width", 0),
                    d.value("height", 0), unchanged ? ", unchanged" : "");
      if (job->notify && hooks_.on_shot)
        hooks_.on_shot(json{{"id", out.record.id},
                            {"monitor", d.value("monitor", "")},
                            {"width", d.value("width", 0)},
                            {"height", d.value("height", 0)},
                            {"taken_at", formatUtc(job->taken_at)},
                            {"unchanged", unchanged},
                            {"path", unchanged ? std::string() : out.final_path.string()}});
    }
  };
  if (hooks_.post)
    hooks_.post(std::move(finish));
  else
    finish();
}

int ScreenshotTaker::pruneThumbnails() {
  const int64_t cutoff = toUnixMs(clock_.wall()) - kThumbnailKeep.count();
  int removed = 0;
  std::error_code ec;
  for (fs::directory_iterator it(thumbs_, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::path& p = it->path();
    if (p.extension() != ".jpg") continue;
    const auto made = uuidV7Millis(p.stem().string());
    std::error_code rec;
    if (made && *made < cutoff && fs::remove(p, rec)) ++removed;
  }
  if (removed > 0) spdlog::info("screenshots: {} thumbnail(s) older than 7 days deleted", removed);
  return removed;
}

void ScreenshotTaker::pruneThumbnailsIfDue() {
  const MonoTime now = clock_.mono();
  if (next_thumb_prune_ != MonoTime{} && now < next_thumb_prune_) return;
  next_thumb_prune_ = now + kThumbnailPruneEvery;
  (void)pruneThumbnails();
}

// Owner's thread, after a file was put in place. Image names are UUIDv7 ids, so name order is time order.
void ScreenshotTaker::pruneSpool() {
  std::error_code ec;
  std::vector<std::pair<fs::path, uintmax_t>> rejected, queued;
  uintmax_t total = 0;
  for (const fs::path& dir : {spool_ / "rejected", spool_}) {
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      if (!e.is_regular_file(ec) || e.path().extension() == ".tmp") continue;
      const uintmax_t size = e.file_size(ec);
      if (ec) continue;
      total += size;
      (dir == spool_ ? queued : rejected).emplace_back(e.path(), size);
    }
  }
  if (total <= spool_max_) return;
  std::sort(rejected.begin(), rejected.end());
  std::sort(queued.begin(), queued.end());
  int64_t removed = 0;
  for (auto* list : {&rejected, &queued}) {
    for (const auto& [path, size] : *list) {
      if (total <= spool_max_) break;
      if (fs::remove(path, ec)) {
        total -= size;
        ++removed;
      }
    }
  }
  dropped_ += removed;
  spdlog::warn(
      "screenshots: the spool was over {} MiB; the {} oldest image(s) not yet uploaded were deleted "
      "(their records stay)",
      kSpoolMaxBytes / (1024 * 1024), removed);
}

json ScreenshotTaker::status() const {
  json s{{"enabled", config_.enabled},
         {"interval_s", config_.interval.count() / 1000},
         {"per_interval", config_.per_interval},
         {"taken", taken_},
         {"unchanged", unchanged_},
         {"skipped", skipped_},
         {"failed", failed_},
         {"dropped", dropped_},
         {"spool", spool_.string()}};
  if (config_.enabled) {
    const MonoTime next = nextDeadline();
    s["next_at"] = formatUtc(clock_.wall() + std::chrono::duration_cast<Millis>(next - clock_.mono()));
  }
  if (last_taken_ != WallTime{}) s["last_taken_at"] = formatUtc(last_taken_);
  if (!last_error_.empty()) s["last_error"] = last_error_;
  int64_t files = 0, bytes = 0;
  std::error_code ec;
  for (fs::directory_iterator it(spool_, ec), end; !ec && it != end; it.increment(ec)) {
    const auto ext = it->path().extension();
    std::error_code fec;
    if ((ext == ".jpg" || ext == ".webp") && it->is_regular_file(fec)) {
      ++files;
      bytes += static_cast<int64_t>(it->file_size(fec));
    }
  }
  s["spooled_files"] = files;
  s["spooled_bytes"] = bytes;
  return s;
}

// ---- the daemon's wrapper -------------------------------------------------------------------------------

ScreenshotService::ScreenshotService(boost::asio::io_context& io, const Clock& clock, UuidV7Generator& ids,
                                     RecordSink& sink, std::unique_ptr<platform::ScreenCapturer> capturer,
                                     fs::path spool_dir, ScreenshotConfig config, std::function<bool()> gate,
                                     std::function<std::optional<std::string>()> entry_id, Broadcast broadcast,
                                     std::function<std::vector<std::string>()> private_apps)
    : io_(io), clock_(clock), capturer_(std::move(capturer)), timer_(io) {
  ScreenshotTaker::Hooks hooks;
  hooks.gate = std::move(gate);
  hooks.entry_id = std::move(entry_id);
  hooks.private_apps = std::move(private_apps);
  hooks.post = [&io](std::function<void()> fn) { boost::asio::post(io, std::move(fn)); };
  hooks.on_shot = [broadcast = std::move(broadcast)](const json& data) {
    if (broadcast) broadcast("screenshot", data);
  };
  taker_ = std::make_unique<ScreenshotTaker>(clock, ids, sink, *capturer_, std::move(spool_dir), std::move(config),
                                             std::move(hooks));
  arm();
}

ScreenshotService::~ScreenshotService() {
  stop();
  // The capturer goes first: a capture it still owes an answer to ends (or is answered into the stopped
  // taker) before the taker is destroyed.
  capturer_.reset();
  taker_.reset();
}

void ScreenshotService::arm() {
  if (stopped_) return;
  timer_.cancel();
  // The next moment, or the daily thumbnail pruning (which also runs while screenshots are off).
  const MonoTime next = std::min(taker_->nextDeadline(), taker_->nextThumbnailPrune());
  timer_.expires_after(std::max(Millis(0), std::chrono::duration_cast<Millis>(next - clock_.mono())));
  timer_.async_wait([this](boost::system::error_code ec) {
    if (ec || stopped_) return;
    taker_->pruneThumbnailsIfDue();
    taker_->tick();
    arm();
  });
}

void ScreenshotService::setConfig(const ScreenshotConfig& config) {
  if (stopped_) return;
  taker_->setConfig(config);
  arm();
}

void ScreenshotService::stop() {
  if (stopped_) return;
  stopped_ = true;
  timer_.cancel();
  taker_->stop();
}

json ScreenshotService::status() const { return taker_->status(); }

std::pair<bool, std::string> ScreenshotService::doctorCheck() const {
  const ScreenshotConfig& c = taker_->config();
  if (!c.enabled) return {true, "off (screenshots_enabled is false)"};
  const json s = taker_->status();
  std::string detail = std::to_string(c.per_interval) + " per " + std::to_string(c.interval.count() / 1000) + " s, " +
                       c.format + ", max width " + std::to_string(c.max_width) + (c.blur ? ", blurred" : "") + "; " +
                       std::to_string(s.value("spooled_files", 0)) + " images waiting in " +
                       taker_->spoolDir().string();
  if (s.contains("last_error")) return {false, s["last_error"].get<std::string>() + " (" + detail + ")"};
  return {true, detail};
}

}  // namespace wm::agent
