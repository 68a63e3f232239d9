// The agent daemon: start-up, the platform watchers, settings in force, status and doctor, the control
// socket's requests. Collectors' wiring: daemon_collectors.cpp; the person's side: daemon_person.cpp.
#include "daemon_impl.h"

#include <sys/stat.h>
#include <unistd.h>

namespace wm::agent {
namespace daemon_detail {

WebsiteConfig websiteConfig(const AgentConfig& c) {
  return WebsiteConfig{c.collectors.website_usage, c.collectors.website_domain_only, c.tracker.pulse,
                       c.collectors.website_excluded_sites};
}

namespace {

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

}  // namespace

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
  policy_ = withLastGoodCopy(loadMachinePolicy(machinePolicyPath()), paths.state_dir / "machine-policy.last-good.json");
  for (const auto& p : policy_.problems) spdlog::warn("machine policy: {}", p);
  if (policy_.from_last_good)
    spdlog::warn("machine policy {}: refused, so its last good copy applies until it is fixed and the agent restarts",
                 policy_.source);
  if (!policy_.empty()) spdlog::info("machine policy {} locks: {}", policy_.source, policy_.settings.dump());
  if (policy_.source.empty())
    spdlog::info("machine policy: none installed ({})", machinePolicyPath().string());
  else if (policy_.empty())
    spdlog::warn("machine policy {}: refused, so no machine policy applies until it is fixed and the agent restarts",
                 policy_.source);
  config_.config = applyMachinePolicy(config_.config, policy_);
  applyPolicyServer();  // service mode: the administrator's server wins over --server

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
  tellPreapproval();

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

  // Before the control socket tells anyone the agent is up: a stop (systemd, the tray, a test) that arrives
  // while the collectors still start must end in a clean shutdown, not the default kill. The handler runs
  // once io_.run() does, with everything started.
  asio::signal_set signals(io_, SIGINT, SIGTERM);
  signals.async_wait([this](boost::system::error_code ec, int sig) {
    if (ec) return;
    spdlog::info("signal {} received, shutting down", sig);
    shutdown();
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
      },
      [this] {
        // A private browser window in front: every window of that browser is blacked out in the shot.
        std::vector<std::string> apps;
        if (!raw_window_.app.empty() && web_->privateWindow(raw_window_))
          apps = {raw_window_.app, raw_window_.wm_class};
        return apps;
      });
  // --- end screenshots ---
  sync_->start();
  scheduleTick();
  if (consent_->required())
    spdlog::info("consent: waiting for the person's answer (version {}); only the timer runs until then",
                 consent_->version());
  spdlog::info("workmonitor-agent {} running (pid {}), {}; state in {}, control socket {}; service mode {}", WM_VERSION,
               ::getpid(),
               sync_->enabled() ? "syncing to " + sync::redactUrl(sync_options_.server_url) +
                                      (sync_options_.locked_by_policy ? " (machine policy)" : "")
                                : "local-only",
               paths.state_dir.string(), paths.socket.string(), options_.service_mode ? "on" : "off");
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

platform::WindowInfo Daemon::appWindow(platform::WindowInfo w) const {
  if (web_->withholdsTitle(w))
    w.title.clear();
  else
    w.title = titleWithoutUrlQueries(w.title);
  return w;
}

void Daemon::rejudgeWindowTitle(const std::string& browser) {
  // A browser's report comes a moment after its window's title: what it says applies to the spans shown since
  // its previous report.
  const MonoTime now = clock_.mono();
  auto [it, first] = tab_reported_.try_emplace(browser, now);
  const MonoTime since = first ? MonoTime::min() : it->second;
  it->second = now;
  if (raw_window_.app.empty() || !tracker_->retitleWindow(appWindow(raw_window_), since)) return;
  // A title already written is withheld now: its old page images must not stay in the outbox's files.
  outbox_->scrub([](Result<void> r) {
    if (!r) spdlog::warn("outbox: a withheld title may stay in the write-ahead log: {}", r.error().message);
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
      raw_window_ = w;
      tracker_->onWindow(appWindow(w));
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
  if (!raw_window_.app.empty()) tracker_->onWindow(appWindow(raw_window_));  // from now on, no retitling
  // Activity counts on/off.
  setActivityCounting(c.collectors.activity_counts && allowed("activity"));
  if (usb_) {  // USB device events on/off
    if (auto ok = usb_->setEnabled(c.collectors.usb_events && allowed("usb")); !ok)
      spdlog::warn("USB events off: {}", ok.error().message);
  }
  if (consent_changed) {
    tellPreapproval();
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
  if (notice_thread_.joinable()) notice_thread_.join();
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
    agent["machine_policy"] = {{"path", policy_.source},
                               {"locks", policy_.settings},
                               {"problems", policy_.problems},
                               {"applies", !policy_.empty()},
                               {"last_good_copy", policy_.from_last_good}};
  agent["allow_quit"] = config_.config.allow_quit;  // issue 7: whether the tray offers Quit
  agent["service_mode"] = options_.service_mode;    // issue 13: `run --service`
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
    // A failed check always says why: an empty reason would leave the person nothing to act on (issue 13).
    const std::string why = !ok && detail.empty() ? "failed without a reason (a bug): see the agent's log" : detail;
    checks.push_back({{"check", name}, {"ok", ok}, {"detail", why}});
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
  add("activity counts", input_ != nullptr || !config_.config.collectors.activity_counts || !allowed("activity"),
      input_ ? "counting keyboard/mouse events (counts only, never which keys)"
             : (config_.config.collectors.activity_counts ? activity_problem_ : "off (activity_counts)"));
  if (usb_) {
    const auto [usb_ok, usb_detail] = usb_->doctorCheck();
    const std::string withheld = consent_->withheldReason("usb");  // on in the settings, off until consent
    add("usb devices", usb_ok, withheld.empty() ? usb_detail : withheld);
  }
  if (shots_) {  // screenshots (issue 6)
    const auto [shots_ok, shots_detail] = shots_->doctorCheck();
    const std::string withheld = consent_->withheldReason("screenshots");
    add("screenshots", shots_ok, withheld.empty() ? shots_detail : withheld + " (" + shots_detail + ")");
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
  if (!policy_.source.empty()) {
    std::string detail = policy_.empty()
                             ? "no machine policy applies: " + policy_.problems.front()
                             : policy_.source + ": " + std::to_string(policy_.settings.size()) + " locked setting(s)" +
                                   (policy_.server ? ", server " + sync::redactUrl(policy_.server->url) : "");
    if (!policy_.empty() && !policy_.problems.empty()) {
      detail += policy_.from_last_good ? "; the file is refused, its last good copy applies: " : "; skipped: ";
      for (size_t i = 0; i < policy_.problems.size(); ++i) detail += (i ? " | " : "") + policy_.problems[i];
    }
    add("machine policy", policy_.problems.empty(), detail);
  }
  add("service mode", true, options_.service_mode ? "on (started by the OS service manager; no tray needed)" : "off");
  const auto [sync_ok, sync_detail] = sync_->doctorCheck();
  add("server", sync_ok, sync_detail);
  return json{{"checks", checks}, {"config", configToJson(config_.config)}, {"sources", settingSources()}};
}

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
    q.kinds = {api::RecordKind::kTimeEntry, api::RecordKind::kAppUsage,     api::RecordKind::kIdlePeriod,
               api::RecordKind::kBreak,     api::RecordKind::kWebsiteUsage, api::RecordKind::kDowntime,
               api::RecordKind::kActivity,  api::RecordKind::kUsbEvent};
    q.from_ms = from->get<int64_t>();
    q.to_ms = to->get<int64_t>();
    auto records = outbox_->query(q);
    if (!records) return std::unexpected(records.error());
    json report =
        buildReport(*records, q.from_ms, q.to_ms, toUnixMs(clock_.wall()), ReportContext{tracker_->firstStartMs()});
    auto shots = screenshotList(q.from_ms, q.to_ms);  // issue 7: the employee's own view of their screenshots
    if (!shots) return std::unexpected(shots.error());
    report["screenshots"] = std::move(*shots);
    return report;
  }
  if (req.cmd == "doctor") return doctorJson();
  if (req.cmd == "tab") {
    auto tab = tabFromJson(a);
    if (!tab) return std::unexpected(tab.error());
    json reply = web_->onTab(*tab);
    rejudgeWindowTitle(tab->browser);
    return reply;
  }
  if (auto r = sync_->handle(req)) return std::move(*r);
  return fail(Errc::kInvalidInput, "unknown command '" + req.cmd + "'");
}

}  // namespace daemon_detail

int runDaemon(const DaemonOptions& options, const SyncServiceOptions& sync) {
  ::umask(077);  // everything the agent writes (outbox, logs, socket, secrets) is the user's alone
  daemon_detail::Daemon d(options, sync);
  return d.run();
}

int runDaemon(const DaemonOptions& options) { return runDaemon(options, SyncServiceOptions{}); }

}  // namespace wm::agent
