// The agent's side of sync: builds the uploader (sync::SyncEngine) with the libcurl transport and the
// platform secret store, answers the control commands login/enroll/logout/sync/sync_job, validates the
// company profile against the agent's settings rules and applies it on the daemon's io_context.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "workmonitor/agent/config.h"
#include "workmonitor/agent/daemon.h"
#include "workmonitor/agent/protocol.h"
#include "workmonitor/common/clock.h"
#include "workmonitor/sync/outbox.h"

namespace wm::sync {
class SyncEngine;
class HttpTransport;
class CredentialStore;
}  // namespace wm::sync

namespace wm::agent {

struct SyncServiceOptions {
  std::string server_url;                          // empty: local-only
  std::optional<std::filesystem::path> ca_bundle;  // extra trust anchors for a private CA
  std::filesystem::path secrets_dir;               // the file secret store's directory
  std::filesystem::path screenshot_dir;            // the screenshot spool the uploader empties (empty: none)
  // Service mode: the machine policy's server. The engine enrols by itself with the token (never logged)
  // and the computer's account name while no sign-in is held.
  std::string auto_enroll_token;
  std::string os_account;
  bool locked_by_policy = false;  // the server comes from the machine policy: a person cannot change it
};

/// `workmonitor-agent run` with sync settings: the daemon of daemon.h, uploading when sync.server_url is set
/// (runDaemon(options) is this with no server). Defined in daemon.cpp.
int runDaemon(const DaemonOptions& options, const SyncServiceOptions& sync);

/// Validates a profile's settings with the agent.json rules: unknown keys are ignored, any bad value
/// rejects the whole profile. On success returns `local` with the profile's values over it.
Result<AgentConfig> applyProfile(const AgentConfig& local, const nlohmann::json& profile);

class SyncService {
 public:
  /// Runs on the io_context thread with the effective configuration after a profile was accepted, and the
  /// profile's settings that are in force (the keys a person cannot change: `settings` shows them locked).
  using ApplyConfig = std::function<void(const AgentConfig&, const nlohmann::json& profile_settings)>;
  /// Pushes an event to the control socket's subscribers (called on the io_context thread).
  using Broadcast = std::function<void(const std::string& event, const nlohmann::json& data)>;
  static constexpr const char* kProfileKey = "sync.profile";    // outbox state: {etag, profile}
  static constexpr const char* kProjectsKey = "sync.projects";  // outbox state: {projects, fetched_at_ms}

  SyncService(SyncServiceOptions options, sync::Outbox& outbox, const Clock& clock, boost::asio::io_context& io,
              AgentConfig local, ApplyConfig apply);
  ~SyncService();
  SyncService(const SyncService&) = delete;
  SyncService& operator=(const SyncService&) = delete;

  bool enabled() const { return engine_ != nullptr; }
  void setBroadcast(Broadcast b) { broadcast_ = std::move(b); }
  /// The user's own settings changed (set_setting): returns the effective settings, with the cached company
  /// profile over them when there is one (the caller applies them).
  AgentConfig setLocal(const AgentConfig& local);
  /// Applies the cached profile (posted to the io_context) and starts the uploader thread.
  void start();
  void stop();

  /// The sync control commands; nullopt when `req` is not one of them. Network work never runs on the
  /// caller's (io_context) thread: login/enroll/logout/sync return {"job": N} at once and the client polls
  /// `sync_job` {"job": N} until it answers {"done": true, ...} or with the job's error.
  /// `projects` answers at once from the cache ({projects, fetched_at, offline}); when signed in it also
  /// starts a refresh ({job, refreshing: true}) whose result is the fresh list (or the cache with offline:
  /// true when the server cannot be reached), and pushes a `projects` event when the list was fetched.
  std::optional<Result<nlohmann::json>> handle(const protocol::Request& req);
  nlohmann::json statusJson();
  /// One line for `doctor`.
  std::pair<bool, std::string> doctorCheck();

 private:
  Result<void> onProfile(const nlohmann::json& profile, const std::string& etag);
  nlohmann::json cachedProjects();
  /// Starts a fetch of the projects list; returns its job id (an existing one when a fetch is in flight).
  int64_t refreshProjects();
  int64_t newJob();
  void finishJob(int64_t id, Result<nlohmann::json> r);

  SyncServiceOptions options_;
  sync::Outbox& outbox_;
  const Clock& clock_;
  boost::asio::io_context& io_;
  AgentConfig local_;
  ApplyConfig apply_;
  std::string store_description_;
  std::unique_ptr<sync::HttpTransport> transport_;
  std::unique_ptr<sync::CredentialStore> credentials_;
  std::unique_ptr<sync::SyncEngine> engine_;

  Broadcast broadcast_;
  std::mutex mu_;             // also guards local_ (read on the engine's thread by onProfile)
  int64_t projects_job_ = 0;  // the projects fetch in flight (0: none)
  int64_t next_job_ = 1;
  std::map<int64_t, std::optional<Result<nlohmann::json>>> jobs_;
};

}  // namespace wm::agent
