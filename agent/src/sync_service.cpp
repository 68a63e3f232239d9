#include "workmonitor/agent/sync_service.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>

#include "workmonitor/agent/machine_policy.h"
#include "workmonitor/platform/secrets.h"
#include "workmonitor/sync/sync_engine.h"
#include "workmonitor/sync/transport.h"

namespace wm::agent {

using nlohmann::json;

namespace {

constexpr const char* kRefreshKey = "refresh_token";
constexpr size_t kMaxJobs = 64;

// The sync module's CredentialStore on top of the platform's SecretStore.
class SecretCredentials final : public sync::CredentialStore {
 public:
  explicit SecretCredentials(std::unique_ptr<platform::SecretStore> store) : store_(std::move(store)) {}
  Result<std::optional<std::string>> load() override { return store_->get(kRefreshKey); }
  Result<void> save(const std::string& token) override { return store_->put(kRefreshKey, token); }
  Result<void> erase() override { return store_->erase(kRefreshKey); }

 private:
  std::unique_ptr<platform::SecretStore> store_;
};

json deviceInfo() {
  char host[256] = {0};
  (void)::gethostname(host, sizeof host - 1);
  struct utsname u {};
  (void)::uname(&u);
  return json{{"hostname", host}, {"os", u.sysname}, {"os_version", u.release}, {"agent_version", WM_VERSION}};
}

std::string stringArg(const json& args, const char* key) {
  auto it = args.find(key);
  return it != args.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string utcOrEmpty(int64_t ms) { return ms > 0 ? formatUtc(fromUnixMs(ms)) : std::string(); }

// The profile's settings that are the agent's (known keys, not local-only): what `settings` shows as locked.
json profileSettingsOf(const json& profile) {
  json ours = json::object();
  if (!profile.is_object() || !profile.contains("settings") || !profile["settings"].is_object()) return ours;
  const json known_keys = configToJson(AgentConfig{});
  for (const auto& [key, value] : profile["settings"].items())
    if (known_keys.contains(key) && !localOnlySetting(key)) ours[key] = value;
  return ours;
}

}  // namespace

Result<AgentConfig> applyProfile(const AgentConfig& local, const json& profile) {
  if (!profile.is_object() || !profile.contains("settings") || !profile["settings"].is_object())
    return fail(Errc::kInvalidInput, "the profile has no settings object");
  // A bad value refuses the profile; keys this agent does not know (a newer agent's) and local-only ones are
  // left out, as the validator's kinds say.
  std::string why;
  for (const auto& p : profileSettingsProblems(profile["settings"]))
    if (p.kind == SettingProblem::Kind::kBadValue) why += (why.empty() ? "" : "; ") + p.key + ": " + p.message;
  if (!why.empty()) return fail(Errc::kInvalidInput, why);
  const json ours = profileSettingsOf(profile);
  json merged = configToJson(local);
  merged.update(ours);
  return configFromJson(merged).config;
}

SyncService::SyncService(SyncServiceOptions options, sync::Outbox& outbox, const Clock& clock,
                         boost::asio::io_context& io, AgentConfig local, ApplyConfig apply)
    : options_(std::move(options)), outbox_(outbox), clock_(clock), io_(io), local_(local), apply_(std::move(apply)) {
  if (options_.server_url.empty()) return;
  sync::TransportOptions to;
  to.ca_bundle = options_.ca_bundle;
  transport_ = sync::makeCurlTransport(to);
  auto store = platform::makeSecretStore(options_.secrets_dir);
  store_description_ = store->describe();
  credentials_ = std::make_unique<SecretCredentials>(std::move(store));

  sync::SyncOptions so;
  so.server_url = options_.server_url;
  so.device = deviceInfo();
  so.screenshot_dir = options_.screenshot_dir;
  so.auto_enroll_token = options_.auto_enroll_token;
  so.os_account = options_.os_account;
  // The cached profile counts only if it still passes today's rules; its ETag then saves a download.
  if (auto cached = outbox_.getState(kProfileKey); cached && *cached) {
    json c = json::parse(**cached, nullptr, false);
    if (c.is_object() && applyProfile(local_, c.value("profile", json())).has_value())
      so.profile_etag = c.contains("etag") && c["etag"].is_string() ? c["etag"].get<std::string>() : "";
  }
  engine_ = std::make_unique<sync::SyncEngine>(
      so, outbox_, *transport_, *credentials_, clock_,
      [this](const json& profile, const std::string& etag) { return onProfile(profile, etag); });
  if (!secureServerUrl(options_.server_url))
    spdlog::warn("the server URL {} is not https: passwords and tokens would cross the network unencrypted",
                 sync::redactUrl(options_.server_url));
}

SyncService::~SyncService() { stop(); }

void SyncService::start() {
  if (!engine_) return;
  if (auto cached = outbox_.getState(kProfileKey); cached && *cached) {
    json c = json::parse(**cached, nullptr, false);
    if (c.is_object()) {
      auto cfg = applyProfile(local_, c.value("profile", json()));
      if (cfg) {
        spdlog::info("applying the cached company profile");
        boost::asio::post(
            io_, [this, config = *cfg, ps = profileSettingsOf(c.value("profile", json()))] { apply_(config, ps); });
      } else {
        spdlog::warn("the cached company profile is no longer valid ({}); using local settings", cfg.error().message);
      }
    }
  }
  engine_->start();
}

void SyncService::stop() {
  if (engine_) engine_->stop();
}

Result<void> SyncService::onProfile(const json& profile, const std::string& etag) {
  AgentConfig local;
  {
    std::lock_guard lk(mu_);
    local = local_;
  }
  auto cfg = applyProfile(local, profile);
  if (!cfg) return std::unexpected(cfg.error());
  if (auto r = outbox_.setState(kProfileKey, json{{"etag", etag}, {"profile", profile}}.dump()); !r)
    spdlog::warn("cannot cache the company profile: {}", r.error().message);
  boost::asio::post(io_, [this, config = *cfg, ps = profileSettingsOf(profile)] { apply_(config, ps); });
  return {};
}

AgentConfig SyncService::setLocal(const AgentConfig& local) {
  {
    std::lock_guard lk(mu_);
    local_ = local;
  }
  if (!engine_) return local;
  if (auto cached = outbox_.getState(kProfileKey); cached && *cached) {
    json c = json::parse(**cached, nullptr, false);
    if (c.is_object()) {
      if (auto cfg = applyProfile(local, c.value("profile", json()))) return *cfg;
    }
  }
  return local;
}

json SyncService::cachedProjects() {
  json out{{"projects", json::array()}, {"fetched_at", nullptr}};
  if (!engine_) return out;  // local-only: there is no company to have projects
  if (auto cached = outbox_.getState(kProjectsKey); cached && *cached) {
    json c = json::parse(**cached, nullptr, false);
    if (c.is_object() && c.contains("projects") && c["projects"].is_array()) {
      out["projects"] = c["projects"];
      const int64_t at = c.value("fetched_at_ms", int64_t{0});
      if (at > 0) out["fetched_at"] = formatUtc(fromUnixMs(at));
    }
  }
  return out;
}

int64_t SyncService::refreshProjects() {
  {
    std::lock_guard lk(mu_);
    if (projects_job_ != 0 && jobs_.contains(projects_job_) && !jobs_[projects_job_]) return projects_job_;
  }
  const int64_t id = newJob();
  {
    std::lock_guard lk(mu_);
    projects_job_ = id;
  }
  engine_->fetchJson("/api/v1/agent/projects", [this, id](Result<json> r) {
    // The engine's thread. The server's {project_id, name, tasks: [{task_id, name}]} becomes the control
    // protocol's {id, name, tasks: [{id, name}]}.
    if (r && r->is_object() && r->contains("projects") && (*r)["projects"].is_array()) {
      json list = json::array();
      for (const auto& p : (*r)["projects"]) {
        if (!p.is_object()) continue;
        json tasks = json::array();
        if (p.contains("tasks") && p["tasks"].is_array()) {
          for (const auto& t : p["tasks"])
            if (t.is_object())
              tasks.push_back({{"id", t.value("task_id", t.value("id", ""))}, {"name", t.value("name", "")}});
        }
        list.push_back(
            {{"id", p.value("project_id", p.value("id", ""))}, {"name", p.value("name", "")}, {"tasks", tasks}});
      }
      const int64_t now = toUnixMs(clock_.wall());
      if (auto ok = outbox_.setState(kProjectsKey, json{{"projects", list}, {"fetched_at_ms", now}}.dump()); !ok)
        spdlog::warn("cannot cache the projects: {}", ok.error().message);
      json reply{{"projects", list}, {"fetched_at", formatUtc(fromUnixMs(now))}, {"offline", false}};
      finishJob(id, reply);
      boost::asio::post(io_, [this, reply] {
        if (broadcast_) broadcast_("projects", reply);
      });
      return;
    }
    json reply = cachedProjects();
    reply["offline"] = true;
    reply["error"] = r ? std::string("the server's projects reply was not understood") : r.error().message;
    if (r) spdlog::warn("projects: {}", reply["error"].get<std::string>());
    finishJob(id, reply);
  });
  return id;
}

int64_t SyncService::newJob() {
  std::lock_guard lk(mu_);
  // Jobs nobody asked about again (a CLI that was interrupted) do not pile up.
  while (jobs_.size() >= kMaxJobs) jobs_.erase(jobs_.begin());
  const int64_t id = next_job_++;
  jobs_[id] = std::nullopt;
  return id;
}

void SyncService::finishJob(int64_t id, Result<json> r) {
  std::lock_guard lk(mu_);
  if (auto it = jobs_.find(id); it != jobs_.end()) it->second = std::move(r);
}

std::optional<Result<json>> SyncService::handle(const protocol::Request& req) {
  static const char* kOurs[] = {"login", "enroll", "logout", "sync", "sync_job", "projects"};
  if (std::find(std::begin(kOurs), std::end(kOurs), req.cmd) == std::end(kOurs)) return std::nullopt;
  if (req.cmd == "projects") {
    json reply = cachedProjects();
    if (!engine_) {
      reply["offline"] = true;
      return reply;
    }
    const sync::SyncStatus st = engine_->status();
    reply["offline"] = st.auth != sync::AuthState::kSignedIn || !st.online;
    if (st.auth == sync::AuthState::kSignedIn) {
      reply["job"] = refreshProjects();
      reply["refreshing"] = true;
    }
    return reply;
  }
  if (!engine_)
    return fail(Errc::kUnavailable,
                "this agent runs local-only: start it with `workmonitor-agent run --server URL` (or set "
                "WORKMONITOR_SERVER) to sign in and upload");
  const json& a = req.args;
  if (req.cmd == "sync_job") {
    if (!a.contains("job") || !a["job"].is_number_integer()) return fail(Errc::kInvalidInput, "sync_job needs a job");
    std::lock_guard lk(mu_);
    auto it = jobs_.find(a["job"].get<int64_t>());
    if (it == jobs_.end()) return fail(Errc::kNotFound, "no such job (finished and collected, or never started)");
    if (!it->second) return json{{"done", false}};
    Result<json> r = std::move(*it->second);
    jobs_.erase(it);
    if (!r) return std::unexpected(r.error());
    return json{{"done", true}, {"result", *r}};
  }
  const int64_t id = newJob();
  auto done = [this, id, signs_in = req.cmd == "login" || req.cmd == "enroll"](Result<json> r) {
    const bool ok = r.has_value();
    finishJob(id, std::move(r));
    if (ok && signs_in) (void)refreshProjects();  // the tray's project list is ready when it asks
  };
  if (req.cmd == "login") {
    const std::string email = stringArg(a, "email"), password = stringArg(a, "password");
    if (email.empty() || password.empty() || email.size() > 320 || password.size() > 4096) {
      finishJob(id, fail(Errc::kInvalidInput, "login needs an email and a password"));
    } else {
      engine_->login(email, password, done);
    }
  } else if (req.cmd == "enroll") {
    const std::string token = stringArg(a, "token");
    if (token.empty() || token.size() > 4096)
      finishJob(id, fail(Errc::kInvalidInput, "enroll needs the enrolment token from your administrator"));
    else
      engine_->enroll(token, done);
  } else if (req.cmd == "logout") {
    engine_->logout(done);
  } else {
    engine_->syncNow(done);
  }
  return json{{"job", id}};
}

json SyncService::statusJson() {
  if (!engine_) return json{{"mode", "local-only"}};
  const sync::SyncStatus s = engine_->status();
  json j{{"mode", "sync"},        {"server", s.server},           {"auth", sync::authStateName(s.auth)},
         {"online", s.online},    {"backing_off", s.backing_off}, {"uploaded", s.uploaded},
         {"failures", s.failures}};
  if (!options_.screenshot_dir.empty()) {
    j["screenshots_pending"] = s.screenshots_pending;
    j["screenshots_uploaded"] = s.screenshots_uploaded;
    if (s.screenshots_rejected) j["screenshots_rejected"] = s.screenshots_rejected;
  }
  if (!s.account.empty()) j["account"] = s.account;
  if (!s.device_id.empty()) j["device_id"] = s.device_id;
  if (!s.auth_problem.empty()) j["auth_problem"] = s.auth_problem;
  if (!s.last_error.empty()) j["last_error"] = s.last_error;
  if (s.next_retry_ms) j["next_retry_at"] = utcOrEmpty(s.next_retry_ms);
  if (s.last_upload_ms) j["last_upload_at"] = utcOrEmpty(s.last_upload_ms);
  if (!s.profile.empty()) j["profile"] = s.profile;
  if (!s.profile_problem.empty()) j["profile_problem"] = s.profile_problem;
  if (options_.locked_by_policy) j["server_source"] = "machine_policy";
  if (s.auto_enroll) {
    json ae{{"os_account", options_.os_account}};
    if (!s.auto_enroll_error.empty()) ae["error"] = s.auto_enroll_error;
    if (s.auto_enroll_next_ms) ae["next_attempt_at"] = utcOrEmpty(s.auto_enroll_next_ms);
    j["auto_enroll"] = ae;
  }
  if (auto q = outbox_.quarantined(3)) {
    json recent = json::array();
    for (const auto& r : *q)
      recent.push_back({{"id", r.id},
                        {"kind", r.kind},
                        {"revision", r.revision},
                        {"reason", r.reason},
                        {"at", utcOrEmpty(r.at_ms)}});
    if (!recent.empty()) j["recent_quarantine"] = recent;
  }
  return j;
}

std::pair<bool, std::string> SyncService::doctorCheck() {
  if (!engine_) return {true, "local-only: nothing is uploaded (no --server / WORKMONITOR_SERVER)"};
  const sync::SyncStatus s = engine_->status();
  std::string detail = s.server + (options_.locked_by_policy ? " (machine policy)" : "") + " via " +
                       transport_->describe() + "; secrets in " + store_description_ + "; " +
                       sync::authStateName(s.auth);
  if (!s.last_error.empty()) detail += "; last error: " + s.last_error;
  return {s.auth == sync::AuthState::kSignedIn && s.last_error.empty(), detail};
}

}  // namespace wm::agent
