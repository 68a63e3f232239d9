// The agent daemon's private parts, shared by its source files: daemon.cpp (start, watchers, config,
// status, the control socket's requests), daemon_collectors.cpp (activity counts, lock and sleep) and
// daemon_person.cpp (consent, settings, today's time, screenshots for the report).
#pragma once

#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <ctime>
#include <fstream>
#include <future>
#include <map>
#include <sstream>
#include <thread>
#include "workmonitor/agent/activity.h"
#include "workmonitor/agent/config.h"
#include "workmonitor/agent/consent.h"
#include "workmonitor/agent/control_server.h"
#include "workmonitor/agent/daemon.h"
#include "workmonitor/agent/machine_policy.h"
#include "workmonitor/agent/report.h"
#include "workmonitor/agent/screenshots.h"
#include "workmonitor/agent/sync_service.h"
#include "workmonitor/agent/tracker.h"
#include "workmonitor/agent/usb_events.h"
#include "workmonitor/agent/website_usage.h"
#include "workmonitor/platform/foreground.h"
#include "workmonitor/platform/idle.h"
#include "workmonitor/platform/input_counts.h"
#include "workmonitor/platform/session_events.h"
#include "workmonitor/sync/outbox.h"
#include "workmonitor/sync/transport.h"

namespace wm::agent {

namespace asio = boost::asio;
using nlohmann::json;

namespace daemon_detail {

// Records go to the outbox; a failed write is logged loudly (the outbox keeps its own incident trail).
class OutboxSink final : public RecordSink {
 public:
  explicit OutboxSink(sync::Outbox& outbox) : outbox_(outbox) {}
  void put(const api::Record& r) override {
    outbox_.put(r, [id = r.id](Result<void> ok) {
      if (!ok) spdlog::error("outbox write of {} failed: {}", id, ok.error().message);
    });
  }
  void setState(const std::string& key, const std::string& value) override {
    if (auto ok = outbox_.setState(key, value); !ok) spdlog::error("saving {} failed: {}", key, ok.error().message);
  }

 private:
  sync::Outbox& outbox_;
};

WebsiteConfig websiteConfig(const AgentConfig& c);

/// args[key] as a string of at most `max` bytes; absent or null: "". Otherwise *err says what is wrong.
inline std::string requireString(const json& args, const char* key, size_t max, Error* err) {
  auto it = args.find(key);
  if (it == args.end() || it->is_null()) return {};
  if (!it->is_string() || it->get_ref<const std::string&>().size() > max) {
    *err =
        Error{Errc::kInvalidInput, std::string(key) + " must be a string of at most " + std::to_string(max) + " bytes"};
    return {};
  }
  return it->get<std::string>();
}

class Daemon {
 public:
  Daemon(const DaemonOptions& o, const SyncServiceOptions& s) : options_(o), sync_options_(s) {}
  ~Daemon() {
    if (notice_thread_.joinable()) notice_thread_.join();
  }
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;
  int run();

 private:
  Result<json> handle(const protocol::Request& req);
  json statusJson();
  json doctorJson();
  void scheduleTick();
  void startWatchers();
  Result<void> startIdleWatcher();
  void shutdown();
  void applyConfig(const AgentConfig& c, const json& profile_settings);
  // --- service mode (issue 13) ---
  void applyPolicyServer();
  void tellPreapproval();
  /// Which layer set `key`: "policy", "profile", "user" (agent.json) or "default" — the rule `settings` and
  /// `doctor` share.
  const char* settingSource(const std::string& key, const json& user_json) const;
  /// {key: source} for every value in force (doctor), local-only keys included.
  json settingSources();
  std::thread notice_thread_;  // the desktop notification of a pre-approval (sd-bus call, up to a few seconds)
  // --- end service mode ---
  // --- consent, settings, today (issue 7) ---
  bool allowed(const char* category) const { return consent_ && consent_->allows(category); }
  TrackerConfig trackerConfigFor(const AgentConfig& c) const;
  void applyGates();
  Result<json> decideConsent(const json& args);
  json settingsJson();
  Result<json> setSetting(const json& args);
  int64_t todayMs();
  Result<json> screenshotList(int64_t from_ms, int64_t to_ms);
  std::unique_ptr<Consent> consent_;
  json profile_settings_ = json::object();  // the company profile's settings in force: locked in `settings`
  // --- end consent, settings, today ---

  DaemonOptions options_;
  SyncServiceOptions sync_options_;
  SystemClock clock_;
  UuidV7Generator ids_{clock_};
  asio::io_context io_;
  asio::steady_timer timer_{io_};
  LoadedConfig config_;
  MachinePolicy policy_;  // the administrator's locked settings, applied over everything else
  std::unique_ptr<sync::Outbox> outbox_;
  std::unique_ptr<OutboxSink> sink_;
  std::unique_ptr<Tracker> tracker_;
  std::unique_ptr<WebsiteTracker> web_;  // website spans from the browsers' `tab` messages
  std::unique_ptr<UsbCollector> usb_;    // USB device events (issue 6)
  std::unique_ptr<SyncService> sync_;    // after the outbox: stopped and destroyed before it
  std::unique_ptr<ControlServer> server_;
  std::unique_ptr<platform::IdleWatcher> idle_;
  std::unique_ptr<platform::ForegroundWatcher> foreground_;
  std::string idle_problem_, window_problem_;
  // The foreground window as the platform reported it; the tracker gets appWindow(), which withholds the
  // title of a private or unrecorded browser window (WebsiteTracker::withholdsTitle).
  platform::WindowInfo raw_window_;
  platform::WindowInfo appWindow(platform::WindowInfo w) const;
  void rejudgeWindowTitle(const std::string& browser);
  std::map<std::string, MonoTime> tab_reported_;  // each browser's last `tab` message
  // --- lock, unlock, sleep, resume (issue 6) ---
  void startSessionWatcher();
  void onSessionEvent(platform::SessionEvent e);
  std::unique_ptr<platform::SessionWatcher> session_;  // logind; its thread posts onto io_
  std::string session_problem_;
  std::atomic<bool> session_closing_{false};  // shutdown: a sleeping sink stops waiting for io_
  // --- end session events ---
  // --- keyboard/mouse activity counts (issue 6) ---
  void setActivityCounting(bool on);
  void armActivityTimer();
  std::unique_ptr<platform::InputCounter> input_;  // the platform counter thread; posts onto io_
  std::unique_ptr<ActivityAggregator> activity_;   // per-minute activity records, gated by collecting()
  asio::steady_timer activity_timer_{io_};         // closes the open minute at its end
  std::string activity_problem_;
  // --- end activity counts ---
  std::unique_ptr<ScreenshotService> shots_;  // screenshots (issue 6): spooled in <state>/screenshots
  WallTime started_at_;
  bool stopping_ = false;
};

}  // namespace daemon_detail
}  // namespace wm::agent
