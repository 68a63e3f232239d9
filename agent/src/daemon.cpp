#include "workmonitor/agent/daemon.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <ctime>
#include <fstream>
#include <future>
#include <sstream>

#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "workmonitor/agent/activity.h"
#include "workmonitor/agent/config.h"
#include "workmonitor/agent/consent.h"
#include "workmonitor/agent/control_server.h"
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

namespace {

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

std::string requireString(const json& args, const char* key, size_t max, Error* err) {
  auto it = args.find(key);
  if (it == args.end() || it->is_null()) return {};
  if (!it->is_string() || it->get_ref<const std::string&>().size() > max) {
    *err =
        Error{Errc::kInvalidInput, std::string(key) + " must be a string of at most " + std::to_string(max) + " bytes"};
    return {};
  }
  return it->get<std::string>();
}

WebsiteConfig websiteConfig(const AgentConfig& c) {
  return WebsiteConfig{c.collectors.website_usage, c.collectors.website_domain_only, c.tracker.pulse};
}

class Daemon {
 public:
  Daemon(const DaemonOptions& o, const SyncServiceOptions& s) : options_(o), sync_options_(s) {}
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

void setUpLogging(const DaemonOptions& o) {
  std::vector<spdlog::sink_ptr> sinks;
  try {
    sinks.push_back(std::make_shared<spdlog::sinks::rotating_file_sink_mt>((o.paths.logs() / "agent.log").string(),
                                                                           5 * 1024 * 1024, 3));
  } catch (const spdlog::spdlog_ex& e) {
    // Without a log file the agent still runs; stderr says why.
    std::fprintf(stderr, "workmonitor-agent: cannot open the log file: %s\n", e.what());
  }
  if (o.log_to_stderr) sinks.push_back(std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  auto logger = std::make_shared<spdlog::logger>("agent", sinks.begin(), sinks.end());
  logger->set_level(spdlog::level::info);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

int Daemon::run() {
  const AgentPaths& paths = options_.paths;
  if (auto ok = ensurePrivateDir(paths.state_dir); !ok) {
    std::fprintf(stderr, "workmonitor-agent: %s\n", ok.error().message.c_str());
    return 1;
  }
  (void)ensurePrivateDir(paths.logs());
  setUpLogging(options_);
  auto lock = InstanceLock::acquire(paths.lock());
  if (!lock) {
    spdlog::error("{}", lock.error().message);
    return 3;
  }
  started_at_ = clock_.wall();
  config_ = loadConfig(paths.config);
  for (const auto& p : config_.problems) spdlog::warn("config: {}", p);
  policy_ = loadMachinePolicy(machinePolicyPath());
  for (const auto& p : policy_.problems) spdlog::warn("machine policy: {}", p);
  if (!policy_.empty()) spdlog::info("machine policy {} locks: {}", policy_.source, policy_.settings.dump());
  config_.config = applyMachinePolicy(config_.config, policy_);

  sync::OutboxOptions oo;
  oo.path = paths.outbox();
  oo.max_bytes = config_.config.outbox_max_bytes;
  oo.max_age = config_.config.outbox_max_age;
  auto outbox = sync::Outbox::open(oo, clock_);
  if (!outbox) {
    spdlog::error("cannot open the outbox {}: {}", oo.path.string(), outbox.error().message);
    return 1;
  }
  outbox_ = std::move(*outbox);
  for (const auto& inc : outbox_->startupIncidents()) spdlog::warn("outbox: {} ({})", inc.what, inc.detail);
  sink_ = std::make_unique<OutboxSink>(*outbox_);
  // Consent (issue 7): nothing but the timer runs until the person has granted what the settings collect.
  consent_ = std::make_unique<Consent>(clock_, ids_, *sink_);
  if (auto saved = outbox_->getState(Consent::kStateKey); saved && *saved) consent_->restore(**saved);
  (void)consent_->setConfig(config_.config);

  tracker_ = std::make_unique<Tracker>(clock_, ids_, *sink_, trackerConfigFor(config_.config),
                                       [this](const std::string& name, const json& data) {
                                         if (server_) server_->broadcast(name, data);
                                         if (name == "state" && web_) web_->refresh();  // working or not
                                         if (name == "state" && activity_) {  // activity counts: gate may have moved
                                           activity_->refresh();
                                           armActivityTimer();
                                         }
                                         if (name == "idle_return") spdlog::info("back from idle: {}", data.dump());
                                       });
  RestoredState restored;
  sync::RecordQuery open_q;
  open_q.open_only = true;
  if (auto open = outbox_->query(open_q))
    restored.open_records = std::move(*open);
  else
    spdlog::error("reading open spans failed: {}", open.error().message);
  if (auto saved = outbox_->getState(Tracker::kStateKey); saved && *saved) {
    restored.saved = **saved;
    json s = json::parse(**saved, nullptr, false);
    if (s.is_object() && s.contains("timer") && s["timer"].is_object()) {
      if (auto e = outbox_->get(s["timer"].value("entry_id", "")); e && *e) restored.last_timer_entry = **e;
    }
  }
  tracker_->restore(restored);
  if (consent_->declined() && tracker_->currentEntryId()) (void)tracker_->stopTimer();  // declined: timer off
  web_ = std::make_unique<WebsiteTracker>(clock_, ids_, *sink_, websiteConfig(config_.config),
                                          [this] { return tracker_->collecting() && allowed("website_usage"); });
  sync_options_.screenshot_dir = paths.state_dir / "screenshots";  // screenshots (issue 6): the uploader's queue
  sync_ = std::make_unique<SyncService>(sync_options_, *outbox_, clock_, io_, config_.config,
                                        [this](const AgentConfig& c, const json& ps) { applyConfig(c, ps); });
  sync_->setBroadcast([this](const std::string& name, const json& data) {
    if (server_ && !stopping_) server_->broadcast(name, data);
  });

  server_ =
      std::make_unique<ControlServer>(io_, paths.socket, [this](const protocol::Request& r) { return handle(r); });
  if (auto ok = server_->start(); !ok) {
    spdlog::error("{}", ok.error().message);
    tracker_->shutdown();
    (void)outbox_->flush();
    return 1;
  }
  startWatchers();
  startSessionWatcher();  // lock/sleep (issue 6)
  // --- keyboard/mouse activity counts (issue 6): counted only while tracker_->collecting() ---
  activity_ = std::make_unique<ActivityAggregator>(clock_, ids_, *sink_,
                                                   [this] { return tracker_->collecting() && allowed("activity"); });
  setActivityCounting(config_.config.collectors.activity_counts && allowed("activity"));
  // --- end activity counts ---
  // --- USB device events (issue 6): recorded whenever the agent runs and usb_events is on, timer or not ---
  usb_ = std::make_unique<UsbCollector>(
      platform::makeUsbWatcher(), clock_, ids_, *sink_,
      [this](const std::string& name, const json& data) {
        if (server_) server_->broadcast(name, data);
      },
      [this](std::function<void()> fn) { asio::post(io_, std::move(fn)); });
  if (auto ok = usb_->setEnabled(config_.config.collectors.usb_events && allowed("usb")); !ok)
    spdlog::warn("USB events off: {}", ok.error().message);
  // --- end USB device events ---
  // --- screenshots (issue 6): random moments per interval, taken only while tracker_->collecting() ---
  shots_ = std::make_unique<ScreenshotService>(
      io_, clock_, ids_, *sink_, platform::makeScreenCapturer(), paths.state_dir / "screenshots",
      config_.config.screenshots, [this] { return tracker_->collecting() && allowed("screenshots"); },
      [this] { return tracker_->currentEntryId(); },
      [this](const std::string& name, const json& data) {
        if (server_) server_->broadcast(name, data);
      });
  // --- end screenshots ---
  sync_->start();
  asio::signal_set signals(io_, SIGINT, SIGTERM);
  signals.async_wait([this](boost::system::error_code ec, int sig) {
    if (ec) return;
    spdlog::info("signal {} received, shutting down", sig);
    shutdown();
  });
  scheduleTick();
  if (consent_->required())
    spdlog::info("consent: waiting for the person's answer (version {}); only the timer runs until then",
                 consent_->version());
  spdlog::info("workmonitor-agent {} running (pid {}), {}; state in {}, control socket {}", WM_VERSION, ::getpid(),
               sync_->enabled() ? "syncing to " + sync::redactUrl(sync_options_.server_url) : "local-only",
               paths.state_dir.string(), paths.socket.string());
  io_.run();
  spdlog::info("stopped cleanly");
  return 0;
}

Result<void> Daemon::startIdleWatcher() {
  return idle_->start(config_.config.tracker.idle_threshold, [this](const platform::IdleEvent& e) {
    asio::post(io_, [this, e] {
      if (stopping_) return;
      if (e.idle)
        tracker_->onIdle(e.since_last_input);
      else
        tracker_->onActive(e.since_last_input);
      scheduleTick();
    });
  });
}

void Daemon::startWatchers() {
  idle_ = platform::makeIdleWatcher();
  auto ok = startIdleWatcher();
  if (!ok) {
    idle_problem_ = ok.error().message;
    idle_.reset();
    spdlog::warn("idle detection off: {}", idle_problem_);
  }
  foreground_ = platform::makeForegroundWatcher();
  auto fok = foreground_->start([this](const platform::WindowInfo& w) {
    asio::post(io_, [this, w] {
      if (stopping_) return;
      tracker_->onWindow(w);
      web_->onWindow(w);
    });
  });
  if (!fok) {
    window_problem_ = fok.error().message;
    foreground_.reset();
    // No display is one fact, said once (above), not once per capability.
    if (idle_problem_.empty() || fok.error().code != Errc::kUnavailable)
      spdlog::warn("app tracking off: {}", window_problem_);
  }
}

// A company profile the sync service accepted; the tracker reads it from the next event on.
void Daemon::applyConfig(const AgentConfig& merged, const json& profile_settings) {
  if (stopping_) return;
  const AgentConfig c = applyMachinePolicy(merged, policy_);  // the administrator's policy wins over the profile
  const bool new_threshold = c.tracker.idle_threshold != config_.config.tracker.idle_threshold;
  config_.config = c;  // what `doctor` shows is what is in force
  profile_settings_ = profile_settings.is_object() ? profile_settings : json::object();
  const bool consent_changed = consent_->setConfig(c);  // a changed set asks again before it runs
  tracker_->setConfig(trackerConfigFor(c));
  web_->setConfig(websiteConfig(c));
  // Activity counts on/off.
  setActivityCounting(c.collectors.activity_counts && allowed("activity"));
  if (usb_) {  // USB device events on/off
    if (auto ok = usb_->setEnabled(c.collectors.usb_events && allowed("usb")); !ok)
      spdlog::warn("USB events off: {}", ok.error().message);
  }
  if (consent_changed) {
    if (consent_->required())
      spdlog::info("consent: what is collected changed (version {}); the changed parts wait for an answer",
                   consent_->version());
    if (server_) server_->broadcast("consent", consent_->status());
  }
  if (shots_) shots_->setConfig(c.screenshots);  // screenshots (issue 6): applies at once
  if (new_threshold && idle_) {
    // The watcher sleeps until the old threshold could be reached; restart it with the new one.
    idle_->stop();
    if (auto ok = startIdleWatcher(); !ok) spdlog::warn("idle detection restart failed: {}", ok.error().message);
  }
  spdlog::info("settings now in force: {}", configToJson(c).dump());
  scheduleTick();
}

// --- keyboard/mouse activity counts (issue 6) ---
// The platform counter runs only while activity_counts is on; without it (no display, no XInput2) the
// aggregator is off too, so no empty minutes are recorded for input nobody could count.
void Daemon::setActivityCounting(bool on) {
  if (!activity_ || stopping_) return;
  if (on && !input_) {
    auto counter = platform::makeInputCounter();
    auto ok = counter->start([this](const platform::InputCounts& c) {
      asio::post(io_, [this, c] {
        if (stopping_ || !activity_) return;
        activity_->add(c);
        armActivityTimer();
      });
    });
    if (ok) {
      input_ = std::move(counter);
      activity_problem_.clear();
    } else {
      activity_problem_ = ok.error().message;
      // No display is one fact, said once (by idle detection), not once per capability.
      if (idle_problem_.empty() || ok.error().code != Errc::kUnavailable)
        spdlog::warn("activity counts off: {}", activity_problem_);
    }
  } else if (!on && input_) {
    input_->stop();
    input_.reset();
  }
  if (!on) activity_problem_.clear();
  activity_->setEnabled(on && input_ != nullptr);
  activity_->refresh();
  armActivityTimer();
}

void Daemon::armActivityTimer() {
  if (stopping_ || !activity_) return;
  const auto wait = activity_->untilNextDeadline();
  if (!wait) {
    activity_timer_.cancel();  // not working: nothing to wake up for
    return;
  }
  activity_timer_.expires_after(*wait + Millis(1));
  activity_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec || stopping_) return;
    activity_->refresh();
    armActivityTimer();
  });
}
// --- end activity counts ---

// --- lock, unlock, sleep, resume (issue 6) ---
// Events go to the tracker on the io thread. For a sleep the watcher's thread waits (a few seconds at most)
// until the tracker has closed the spans and the outbox has committed them: logind holds the suspend for us
// only while that thread has not returned.
void Daemon::startSessionWatcher() {
  session_ = platform::makeSessionWatcher();
  auto ok = session_->start([this](platform::SessionEvent e) {
    if (e != platform::SessionEvent::kSleeping) {
      asio::post(io_, [this, e] { onSessionEvent(e); });
      return;
    }
    auto done = std::make_shared<std::promise<void>>();
    auto handled = done->get_future();
    asio::post(io_, [this, e, done] {
      onSessionEvent(e);
      done->set_value();
    });
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(4);
    while (handled.wait_for(std::chrono::milliseconds(50)) != std::future_status::ready) {
      if (session_closing_ || std::chrono::steady_clock::now() >= give_up) break;
    }
  });
  if (!ok) {
    session_problem_ = ok.error().message;
    session_.reset();
    spdlog::warn("lock and sleep events off: {}", session_problem_);
  }
}

void Daemon::onSessionEvent(platform::SessionEvent e) {
  if (stopping_) return;
  switch (e) {
    case platform::SessionEvent::kLocked:
      spdlog::info("screen locked ({})", config_.config.collectors.lock_as_break ? "a break" : "idle");
      tracker_->onLock(config_.config.collectors.lock_as_break);
      break;
    case platform::SessionEvent::kUnlocked:
      spdlog::info("screen unlocked");
      tracker_->onUnlock();
      break;
    case platform::SessionEvent::kSleeping:
      spdlog::info("going to sleep: spans end now");
      tracker_->onSuspend();
      if (auto ok = outbox_->flush(); !ok) spdlog::error("outbox commit before sleep failed: {}", ok.error().message);
      break;
    case platform::SessionEvent::kResumed:
      spdlog::info("resumed from sleep");
      tracker_->onResume();
      break;
  }
  scheduleTick();
}
// --- end session events ---

void Daemon::scheduleTick() {
  if (stopping_) return;
  const auto deadline = std::min(tracker_->nextDeadline(), clock_.mono() + config_.config.tracker.heartbeat_interval);
  const auto wait = std::max(Millis(0), deadline - clock_.mono());
  timer_.expires_after(wait);
  timer_.async_wait([this](boost::system::error_code ec) {
    if (ec || stopping_) return;
    std::optional<Millis> since;
    if (idle_) {
      if (auto t = idle_->idleTime()) since = *t;
    }
    tracker_->tick(since);
    scheduleTick();
  });
}

void Daemon::shutdown() {
  if (stopping_) return;
  stopping_ = true;
  if (idle_) idle_->stop();
  if (foreground_) foreground_->stop();
  session_closing_ = true;  // lock/sleep (issue 6)
  if (session_) session_->stop();
  if (input_) input_->stop();
  if (activity_) activity_->setEnabled(false);  // activity counts: flushes the open minute, then stays off
  activity_timer_.cancel();
  if (usb_) usb_->stop();
  if (shots_) shots_->stop();  // screenshots (issue 6): a shot not yet delivered is dropped
  web_->shutdown();
  tracker_->shutdown();
  sync_->stop();  // cancels a request in flight; what was not acknowledged stays queued for the next run
  if (auto ok = outbox_->flush(); !ok) spdlog::error("final outbox commit failed: {}", ok.error().message);
  timer_.cancel();
  server_->stop();
  io_.stop();
}

json Daemon::statusJson() {
  json s = tracker_->status();
  json agent{{"version", WM_VERSION},
             {"pid", ::getpid()},
             {"started_at", formatUtc(started_at_)},
             {"state_dir", options_.paths.state_dir.string()},
             {"mode", sync_->enabled() ? "sync" : "local-only"}};
  agent["display"] = idle_problem_.empty() && window_problem_.empty()
                         ? json("ok")
                         : json(idle_problem_.empty() ? window_problem_ : idle_problem_);
  agent["session_events"] = session_ ? json("ok") : json(session_problem_);  // lock/sleep (issue 6)
  if (!config_.problems.empty()) agent["config_problems"] = config_.problems;
  if (!policy_.source.empty())
    agent["machine_policy"] = {{"path", policy_.source}, {"locks", policy_.settings}, {"problems", policy_.problems}};
  agent["allow_quit"] = config_.config.allow_quit;  // issue 7: whether the tray offers Quit
  s["agent"] = agent;
  s["consent"] = consent_->status();  // issue 7
  s["today_ms"] = todayMs();
  if (auto st = outbox_->stats()) {
    s["outbox"] = {{"records", st->records},
                   {"pending", st->pending},
                   {"bytes", st->bytes},
                   {"dropped", st->dropped},
                   {"quarantined", st->quarantined}};
  }
  s["sync"] = sync_->statusJson();
  s["website"] = web_->status();
  if (activity_) s["activity"] = activity_->status();
  if (usb_) s["usb"] = usb_->status();
  if (shots_) s["screenshots"] = shots_->status();  // screenshots (issue 6)
  return s;
}

json Daemon::doctorJson() {
  json checks = json::array();
  auto add = [&](const std::string& name, bool ok, const std::string& detail) {
    checks.push_back({{"check", name}, {"ok", ok}, {"detail", detail}});
  };
  add("idle detection", idle_ != nullptr, idle_ ? "working" : idle_problem_);
  add("foreground window", foreground_ != nullptr, foreground_ ? "working" : window_problem_);
  if (session_) {  // lock/sleep (issue 6)
    auto locked = session_->isLocked();
    add("lock and sleep", true,
        locked ? (*locked ? "working (logind); the screen is locked" : "working (logind)")
               : "sleep only (logind): " + locked.error().message);
  } else {
    add("lock and sleep", false, session_problem_);
  }
  add("activity counts", input_ != nullptr || !config_.config.collectors.activity_counts,
      input_ ? "counting keyboard/mouse events (counts only, never which keys)"
             : (config_.config.collectors.activity_counts ? activity_problem_ : "off (activity_counts)"));
  if (usb_) {
    const auto [usb_ok, usb_detail] = usb_->doctorCheck();
    add("usb devices", usb_ok, usb_detail);
  }
  if (shots_) {  // screenshots (issue 6)
    const auto [shots_ok, shots_detail] = shots_->doctorCheck();
    add("screenshots", shots_ok, shots_detail);
  }
  {  // consent (issue 7)
    const json c = consent_->status();
    std::string detail = c.value("preapproved", false) ? "pre-approved by the administrator (consent_preapproved)"
                         : consent_->declined()        ? "declined: nothing is monitored and the timer stays off"
                         : c.value("required", true)   ? "waiting for the person's answer: only the timer runs"
                                                       : "granted (version " + consent_->version() + ")";
    add("consent", !consent_->required(), detail);
  }
  add("state directory", true, options_.paths.state_dir.string() + " (0700)");
  add("control socket", true, options_.paths.socket.string() + " (0600)");
  auto st = outbox_->stats();
  add("outbox", st.has_value(),
      st ? std::to_string(st->records) + " records, " + std::to_string(st->pending) + " not yet uploaded"
         : st.error().message);
  add("configuration", config_.problems.empty(), config_.problems.empty() ? config_.source : config_.problems.front());
  if (!policy_.source.empty())
    add("machine policy", policy_.problems.empty(),
        policy_.problems.empty()
            ? policy_.source + ": " + std::to_string(policy_.settings.size()) + " locked setting(s)"
            : policy_.problems.front());
  const auto [sync_ok, sync_detail] = sync_->doctorCheck();
  add("server", sync_ok, sync_detail);
  return json{{"checks", checks}, {"config", configToJson(config_.config)}};
}

// --- consent, settings, today (issue 7) ---

// The tracker runs automatic tracking and app spans only with the person's consent to them.
TrackerConfig Daemon::trackerConfigFor(const AgentConfig& c) const {
  TrackerConfig t = c.tracker;
  t.auto_tracking = t.auto_tracking && allowed("auto_tracking");
  t.monitoring_allowed = allowed("app_usage");
  return t;
}

// After a consent decision: every collector's gate is looked at again.
void Daemon::applyGates() {
  tracker_->setConfig(trackerConfigFor(config_.config));
  web_->refresh();
  setActivityCounting(config_.config.collectors.activity_counts && allowed("activity"));
  if (usb_) {
    if (auto ok = usb_->setEnabled(config_.config.collectors.usb_events && allowed("usb")); !ok)
      spdlog::warn("USB events off: {}", ok.error().message);
  }
  scheduleTick();
}

Result<json> Daemon::decideConsent(const json& a) {
  Error err;
  const std::string decision = requireString(a, "decision", 16, &err);
  const std::string version = requireString(a, "version", 64, &err);
  if (!err.message.empty()) return std::unexpected(err);
  if (decision != "grant" && decision != "decline")
    return fail(Errc::kInvalidInput, "decision must be grant or decline");
  const bool grant = decision == "grant";
  if (auto ok = consent_->decide(grant, version); !ok) return std::unexpected(ok.error());
  spdlog::info("consent {} for version {}", grant ? "granted" : "declined", version);
  if (!grant && tracker_->currentEntryId()) (void)tracker_->stopTimer();  // declined: the timer stays off
  applyGates();
  if (server_) server_->broadcast("consent", consent_->status());
  return statusJson();
}

namespace {

// The user's agent.json as JSON: an empty object when there is none; an error when it cannot be used.
Result<json> readUserConfig(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return json::object();
  std::ifstream in(path);
  if (!in) return fail(Errc::kIo, path.string() + " cannot be read");
  std::stringstream ss;
  ss << in.rdbuf();
  json j = json::parse(ss.str(), nullptr, false);
  if (!j.is_object()) return fail(Errc::kInvalidInput, path.string() + " is not a JSON object; fix or remove it first");
  return j;
}

// Replaces the file atomically (temp + fsync + rename), readable by the user alone.
Result<void> writeUserConfig(const std::filesystem::path& path, const json& j) {
  std::error_code ec;
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
  const std::filesystem::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out) return fail(Errc::kIo, "cannot write " + tmp.string());
    out << j.dump(2) << "\n";
    out.flush();
    if (!out) return fail(Errc::kIo, "cannot write " + tmp.string());
  }
  std::filesystem::permissions(tmp, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write, ec);
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    return fail(Errc::kIo, "cannot replace " + path.string() + ": " + ec.message());
  }
  return {};
}

}  // namespace

json Daemon::settingsJson() {
  auto user = readUserConfig(options_.paths.config);
  const json user_json = user ? *user : json::object();
  const json defaults = configToJson(AgentConfig{});
  json list = json::array();
  const json effective = configToJson(config_.config);
  for (const auto& [key, value] : effective.items()) {
    if (localOnlySetting(key)) continue;  // an administrator's key, not the person's
    const char* source = policy_.settings.contains(key)    ? "policy"
                         : profile_settings_.contains(key) ? "profile"
                         : user_json.contains(key)         ? "user"
                                                           : "default";
    list.push_back({{"key", key},
                    {"value", value},
                    {"locked", std::string(source) == "policy" || std::string(source) == "profile"},
                    {"source", source},
                    {"default", defaults.value(key, json())}});
  }
  json out{{"settings", list}, {"path", options_.paths.config.string()}};
  if (!user) out["problem"] = user.error().message;
  return out;
}

Result<json> Daemon::setSetting(const json& a) {
  auto k = a.find("key");
  if (k == a.end() || !k->is_string()) return fail(Errc::kInvalidInput, "set_setting needs a key");
  const std::string key = k->get<std::string>();
  if (!a.contains("value")) return fail(Errc::kInvalidInput, "set_setting needs a value");
  const json& value = a["value"];
  if (!configToJson(AgentConfig{}).contains(key) || localOnlySetting(key))
    return fail(Errc::kInvalidInput, "'" + key + "' is not a setting that can be changed here");
  if (policy_.settings.contains(key))
    return fail(Errc::kInvalidInput,
                "'" + key + "' is locked by this computer's administrator (machine policy " + policy_.source + ")");
  if (profile_settings_.contains(key))
    return fail(Errc::kInvalidInput, "'" + key + "' is set by your company's profile and cannot be changed here");
  LoadedConfig checked = configFromJson(json{{key, value}});
  if (!checked.problems.empty()) return fail(Errc::kInvalidInput, checked.problems.front());
  auto user = readUserConfig(options_.paths.config);
  if (!user) return std::unexpected(user.error());
  (*user)[key] = value;
  if (auto ok = writeUserConfig(options_.paths.config, *user); !ok) return std::unexpected(ok.error());
  LoadedConfig loaded = configFromJson(*user);
  loaded.source = options_.paths.config.string();
  spdlog::info("setting {} = {} (agent.json)", key, value.dump());
  const json ps = profile_settings_;
  AgentConfig effective = sync_->setLocal(loaded.config);
  config_.problems = loaded.problems;
  config_.source = loaded.source;
  applyConfig(effective, ps);
  return settingsJson();
}

// Tracked time since local midnight: the time entries overlapping today, the running one up to now.
int64_t Daemon::todayMs() {
  const int64_t now = toUnixMs(clock_.wall());
  std::time_t t = static_cast<std::time_t>(now / 1000);
  std::tm tm{};
  ::localtime_r(&t, &tm);
  tm.tm_hour = 0;
  tm.tm_min = 0;
  tm.tm_sec = 0;
  tm.tm_isdst = -1;
  const int64_t midnight = static_cast<int64_t>(std::mktime(&tm)) * 1000;
  sync::RecordQuery q;
  q.kinds = {api::RecordKind::kTimeEntry};
  q.from_ms = midnight;
  q.to_ms = now + 1;
  auto records = outbox_->query(q);
  if (!records) return 0;
  return buildReport(*records, q.from_ms, q.to_ms, now).value("tracked_ms", int64_t{0});
}

// The screenshots taken in a range, with the local thumbnail (an unchanged screen shows its earlier shot's).
Result<json> Daemon::screenshotList(int64_t from_ms, int64_t to_ms) {
  sync::RecordQuery q;
  q.kinds = {api::RecordKind::kScreenshot};
  q.from_ms = from_ms;
  q.to_ms = to_ms;
  auto records = outbox_->query(q);
  if (!records) return std::unexpected(records.error());
  const std::filesystem::path thumbs = ScreenshotTaker::thumbnailDirFor(options_.paths.state_dir / "screenshots");
  json list = json::array();
  for (const auto& r : *records) {
    const bool unchanged = r.data.value("unchanged", false);
    const std::string image_id = unchanged ? r.data.value("same_as", r.id) : r.id;
    const std::filesystem::path thumb = thumbs / (image_id + ".jpg");
    std::error_code ec;
    list.push_back({{"id", r.id},
                    {"taken_at", formatUtc(fromUnixMs(r.start_ms))},
                    {"monitor", r.data.value("monitor", "")},
                    {"unchanged", unchanged},
                    {"thumbnail", std::filesystem::exists(thumb, ec) ? json(thumb.string()) : json(nullptr)}});
  }
  return list;
}
// --- end consent, settings, today ---

Result<json> Daemon::handle(const protocol::Request& req) {
  const json& a = req.args;
  if (req.cmd == "status") return statusJson();
  if (req.cmd == "version") return json{{"version", WM_VERSION}, {"protocol", protocol::kVersion}};
  if (req.cmd == "start") {
    Error err;
    TimerSpec spec{requireString(a, "project_id", 256, &err), requireString(a, "task_id", 256, &err),
                   requireString(a, "note", 4096, &err)};
    if (!err.message.empty()) return std::unexpected(err);
    if (consent_->declined())
      return fail(Errc::kInvalidInput,
                  "monitoring was declined on this computer, so the timer stays off; grant consent to start it");
    auto r = tracker_->startTimer(spec);
    scheduleTick();
    return r;
  }
  if (req.cmd == "consent") return decideConsent(a);
  if (req.cmd == "settings") return settingsJson();
  if (req.cmd == "set_setting") return setSetting(a);
  if (req.cmd == "stop") return tracker_->stopTimer();
  if (req.cmd == "break_start") return tracker_->startBreak();
  if (req.cmd == "break_end") return tracker_->endBreak();
  if (req.cmd == "idle_decision") {
    Error err;
    const std::string name = requireString(a, "decision", 64, &err);
    const std::string id = requireString(a, "idle_id", 64, &err);
    std::optional<TimerSpec> to;
    if (name == "reassign")
      to = TimerSpec{requireString(a, "project_id", 256, &err), requireString(a, "task_id", 256, &err),
                     requireString(a, "note", 4096, &err)};
    if (!err.message.empty()) return std::unexpected(err);
    auto d = decisionFromName(name);
    if (!d) return fail(Errc::kInvalidInput, "decision must be keep, discard, discard_continue, reassign or break");
    auto r = tracker_->decideIdle(*d, id, to);
    scheduleTick();
    return r;
  }
  if (req.cmd == "report") {
    auto from = a.find("from_ms");
    auto to = a.find("to_ms");
    if (from == a.end() || to == a.end() || !from->is_number_integer() || !to->is_number_integer() ||
        from->get<int64_t>() >= to->get<int64_t>())
      return fail(Errc::kInvalidInput, "report needs integer from_ms < to_ms");
    sync::RecordQuery q;
    q.kinds = {api::RecordKind::kTimeEntry, api::RecordKind::kAppUsage, api::RecordKind::kIdlePeriod,
               api::RecordKind::kBreak, api::RecordKind::kWebsiteUsage};
    q.from_ms = from->get<int64_t>();
    q.to_ms = to->get<int64_t>();
    auto records = outbox_->query(q);
    if (!records) return std::unexpected(records.error());
    json report = buildReport(*records, q.from_ms, q.to_ms, toUnixMs(clock_.wall()));
    auto shots = screenshotList(q.from_ms, q.to_ms);  // issue 7: the employee's own view of their screenshots
    if (!shots) return std::unexpected(shots.error());
    report["screenshots"] = std::move(*shots);
    return report;
  }
  if (req.cmd == "doctor") return doctorJson();
  if (req.cmd == "tab") {
    auto tab = tabFromJson(a);
    if (!tab) return std::unexpected(tab.error());
    return web_->onTab(*tab);
  }
  if (auto r = sync_->handle(req)) return std::move(*r);
  return fail(Errc::kInvalidInput, "unknown command '" + req.cmd + "'");
}

}  // namespace

int runDaemon(const DaemonOptions& options, const SyncServiceOptions& sync) {
  ::umask(077);  // everything the agent writes (outbox, logs, socket, secrets) is the user's alone
  Daemon d(options, sync);
  return d.run();
}

int runDaemon(const DaemonOptions& options) { return runDaemon(options, SyncServiceOptions{}); }

}  // namespace wm::agent
