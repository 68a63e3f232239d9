#include "workmonitor/agent/daemon.h"

#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "workmonitor/agent/config.h"
#include "workmonitor/agent/control_server.h"
#include "workmonitor/agent/report.h"
#include "workmonitor/agent/sync_service.h"
#include "workmonitor/agent/tracker.h"
#include "workmonitor/agent/website_usage.h"
#include "workmonitor/platform/foreground.h"
#include "workmonitor/platform/idle.h"
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
  void applyConfig(const AgentConfig& c);

  DaemonOptions options_;
  SyncServiceOptions sync_options_;
  SystemClock clock_;
  UuidV7Generator ids_{clock_};
  asio::io_context io_;
  asio::steady_timer timer_{io_};
  LoadedConfig config_;
  std::unique_ptr<sync::Outbox> outbox_;
  std::unique_ptr<OutboxSink> sink_;
  std::unique_ptr<Tracker> tracker_;
  std::unique_ptr<WebsiteTracker> web_;  // website spans from the browsers' `tab` messages
  std::unique_ptr<SyncService> sync_;    // after the outbox: stopped and destroyed before it
  std::unique_ptr<ControlServer> server_;
  std::unique_ptr<platform::IdleWatcher> idle_;
  std::unique_ptr<platform::ForegroundWatcher> foreground_;
  std::string idle_problem_, window_problem_;
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

  tracker_ = std::make_unique<Tracker>(clock_, ids_, *sink_, config_.config.tracker,
                                       [this](const std::string& name, const json& data) {
                                         if (server_) server_->broadcast(name, data);
                                         if (name == "state" && web_) web_->refresh();  // working or not
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
  web_ = std::make_unique<WebsiteTracker>(clock_, ids_, *sink_, websiteConfig(config_.config),
                                          [this] { return tracker_->collecting(); });
  sync_ = std::make_unique<SyncService>(sync_options_, *outbox_, clock_, io_, config_.config,
                                        [this](const AgentConfig& c) { applyConfig(c); });

  server_ =
      std::make_unique<ControlServer>(io_, paths.socket, [this](const protocol::Request& r) { return handle(r); });
  if (auto ok = server_->start(); !ok) {
    spdlog::error("{}", ok.error().message);
    tracker_->shutdown();
    (void)outbox_->flush();
    return 1;
  }
  startWatchers();
  sync_->start();
  asio::signal_set signals(io_, SIGINT, SIGTERM);
  signals.async_wait([this](boost::system::error_code ec, int sig) {
    if (ec) return;
    spdlog::info("signal {} received, shutting down", sig);
    shutdown();
  });
  scheduleTick();
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
void Daemon::applyConfig(const AgentConfig& c) {
  if (stopping_) return;
  const bool new_threshold = c.tracker.idle_threshold != config_.config.tracker.idle_threshold;
  config_.config = c;  // what `doctor` shows is what is in force
  tracker_->setConfig(c.tracker);
  web_->setConfig(websiteConfig(c));
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
  if (!config_.problems.empty()) agent["config_problems"] = config_.problems;
  s["agent"] = agent;
  if (auto st = outbox_->stats()) {
    s["outbox"] = {{"records", st->records},
                   {"pending", st->pending},
                   {"bytes", st->bytes},
                   {"dropped", st->dropped},
                   {"quarantined", st->quarantined}};
  }
  s["sync"] = sync_->statusJson();
  s["website"] = web_->status();
  return s;
}

json Daemon::doctorJson() {
  json checks = json::array();
  auto add = [&](const std::string& name, bool ok, const std::string& detail) {
    checks.push_back({{"check", name}, {"ok", ok}, {"detail", detail}});
  };
  add("idle detection", idle_ != nullptr, idle_ ? "working" : idle_problem_);
  add("foreground window", foreground_ != nullptr, foreground_ ? "working" : window_problem_);
  add("state directory", true, options_.paths.state_dir.string() + " (0700)");
  add("control socket", true, options_.paths.socket.string() + " (0600)");
  auto st = outbox_->stats();
  add("outbox", st.has_value(),
      st ? std::to_string(st->records) + " records, " + std::to_string(st->pending) + " not yet uploaded"
         : st.error().message);
  add("configuration", config_.problems.empty(), config_.problems.empty() ? config_.source : config_.problems.front());
  const auto [sync_ok, sync_detail] = sync_->doctorCheck();
  add("server", sync_ok, sync_detail);
  return json{{"checks", checks}, {"config", configToJson(config_.config)}};
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
    auto r = tracker_->startTimer(spec);
    scheduleTick();
    return r;
  }
  if (req.cmd == "stop") return tracker_->stopTimer();
  if (req.cmd == "break_start") return tracker_->startBreak();
  if (req.cmd == "break_end") return tracker_->endBreak();
  if (req.cmd == "idle_decision") {
    Error err;
    const std::string name = requireString(a, "decision", 64, &err);
    const std::string id = requireString(a, "idle_id", 64, &err);
    if (!err.message.empty()) return std::unexpected(err);
    auto d = decisionFromName(name);
    if (!d) return fail(Errc::kInvalidInput, "decision must be keep, discard, discard_continue or break");
    auto r = tracker_->decideIdle(*d, id);
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
    return buildReport(*records, q.from_ms, q.to_ms, toUnixMs(clock_.wall()));
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
