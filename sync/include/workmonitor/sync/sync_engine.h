// The uploader: one thread that signs in, fetches the company profile (ETag) and drains the outbox in
// batches to workmonitor-server, backing off with full jitter when the server or the network fails.
// libcurl is blocking: this thread does every exchange but the batches, which go from short-lived helper
// threads while it waits for their answers (up to max_in_flight at once), and another helper prepares the
// next batch meanwhile. All state stays on this thread; the helpers use only the transport and the outbox's
// thread-safe API.
#pragma once

#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "workmonitor/common/uuid.h"
#include "workmonitor/sync/auth.h"
#include "workmonitor/sync/backoff.h"
#include "workmonitor/sync/batch.h"
#include "workmonitor/sync/outbox.h"
#include "workmonitor/sync/transport.h"

namespace wm::sync {

struct SyncOptions {
  std::string server_url;                    // e.g. https://wm.example.com (no trailing path needed)
  size_t batch_max_records = 500;            // the server's limit is 1,000 (HTTP_API.md)
  size_t batch_max_bytes = 2 * 1024 * 1024;  // uncompressed JSON; the server's limit is 32 MiB decompressed
  /// Batches on the wire at once, at most the transport's concurrency(). A batch goes alongside others only
  /// when none of its records refers to one of theirs; 1 sends strictly one after another.
  size_t max_in_flight = 2;
  /// zlib level of batch bodies. On 500 typical records (147 KB of JSON): level 1 gives 25.2 KB in 0.56 ms,
  /// 3 gives 23.2 KB in 0.63 ms, 6 (zlib's default) 21.0 KB in 1.7 ms, 9 19.9 KB in 3.2 ms: 3 keeps most of
  /// the saving for a third of the CPU, which the agent shares with everything else on the machine.
  int batch_gzip_level = 3;
  Millis backoff_base{2'000};
  Millis backoff_cap{300'000};
  /// The cap while the server cannot be reached at all (no connection, reset, timeout, DNS): the attempt
  /// costs the server nothing, and data should arrive within a minute of the network coming back, not five.
  /// Replies that ask for time (5xx, 429, Retry-After) keep backoff_cap.
  Millis offline_backoff_cap{60'000};
  Millis retry_after_cap{3'600'000};  // a Retry-After beyond this is taken as this
  Millis poll_interval{15'000};       // how often to look for new records when the queue was empty
  /// How often the profile is asked for when the server's reply names no max-age (an older server). The
  /// server's `Cache-Control: max-age=N` on the profile reply decides otherwise, within [1 s, 1 h].
  Millis profile_interval{300'000};
  uint64_t seed = 0;  // the jitter generator's seed; 0 = from std::random_device
  std::string agent_version = WM_VERSION;
  nlohmann::json device = nlohmann::json::object();  // sent with enroll: hostname, os, os_version, agent_version
  std::string profile_etag;                          // the cached profile's ETag, sent as If-None-Match
  /// Service mode (machine policy): while no sign-in is held the engine enrols by itself with this token
  /// and `os_account`, retrying under the backoff; a refusal that no retry can fix (invalid_token,
  /// no_account_match, invalid_request) waits auto_enroll_refused_wait. Never logged.
  std::string auto_enroll_token;
  std::string os_account;
  Millis auto_enroll_refused_wait{3'600'000};
  /// The agent's screenshot spool: `<id>.jpg` / `<id>.webp`, one per metadata record (kind screenshot, same
  /// id, data.sha256). The directory is the image queue: a file still there has not been uploaded. Empty =
  /// no screenshots. Images the server will never take are moved to `<dir>/rejected/`.
  std::filesystem::path screenshot_dir;
  int screenshots_per_round = 8;    // images PUT per round at most, after the records (which go first)
  Millis screenshot_retry{60'000};  // an image the server has no metadata for yet (409) is offered again after this
  Millis screenshot_orphan_age{600'000};  // an image without a metadata record in the outbox is rejected after this
};

/// The max-age of a Cache-Control value ("private, max-age=60" -> 60 s), clamped to [1 s, 1 h]; nullopt
/// when there is none or it is not a number.
std::optional<Millis> cacheMaxAge(std::string_view cache_control);

/// A snapshot for `status`.
struct SyncStatus {
  std::string server;  // redacted URL
  AuthState auth = AuthState::kSignedOut;
  std::string auth_problem;
  std::string account;  // the signed-in user's email, when known
  std::string device_id;
  bool online = false;  // the last exchange reached the server
  bool backing_off = false;
  std::string last_error;            // why the last attempt failed (empty after a success)
  int64_t next_retry_ms = 0;         // UTC ms of the next attempt while backing off
  int64_t last_upload_ms = 0;        // UTC ms of the last batch the server acknowledged
  int64_t uploaded = 0;              // records acknowledged since the agent started
  int failures = 0;                  // consecutive failed attempts
  std::string profile;               // "<profile_id> v<version>" of the profile in force from the server
  std::string profile_problem;       // why the last profile fetched was rejected
  int64_t screenshots_pending = 0;   // images in the spool not yet uploaded (as of the last round)
  int64_t screenshots_uploaded = 0;  // images the server stored since the agent started
  int64_t screenshots_rejected = 0;  // images moved to the rejected folder since the agent started
  bool auto_enroll = false;          // service mode: the engine enrols by itself (SyncOptions::auto_enroll_token)
  std::string auto_enroll_error;     // the server's code and message of the last failed automatic enrolment
  int64_t auto_enroll_next_ms = 0;   // UTC ms of the next automatic enrolment attempt (0: none planned)
};

class SyncEngine {
 public:
  /// Validates and applies a profile (the whole 200 body); an error rejects it and keeps the last good one.
  using ProfileHandler = std::function<Result<void>(const nlohmann::json& profile, const std::string& etag)>;
  /// Runs on the engine's thread when a job (login, enroll, logout, sync) has finished.
  using JobDone = std::function<void(Result<nlohmann::json>)>;

  static constexpr const char* kAccountKey = "sync.account";  // outbox state: {email, user_id, device_id}

  SyncEngine(SyncOptions options, Outbox& outbox, HttpTransport& transport, CredentialStore& credentials,
             const Clock& clock, ProfileHandler on_profile);
  ~SyncEngine();
  SyncEngine(const SyncEngine&) = delete;
  SyncEngine& operator=(const SyncEngine&) = delete;

  /// Starts the thread. Without start() nothing runs by itself: tests call runOnce().
  void start();
  /// Cancels the request in flight, stops the thread, fails the jobs still queued. Idempotent.
  void stop();

  void login(std::string email, std::string password, JobDone done);
  void enroll(std::string enrollment_token, JobDone done);
  void logout(JobDone done);
  /// Uploads now, ignoring the backoff; `done` gets {uploaded, quarantined, pending} or the failure.
  void syncNow(JobDone done);
  /// GET `path` (e.g. /api/v1/agent/projects) with the access token on the engine's thread; `done` gets the
  /// reply's JSON body, or kUnavailable when not signed in, or the failure (kUnavailable when offline).
  void fetchJson(std::string path, JobDone done);

  SyncStatus status() const;

  /// One round: queued jobs, then (when due) the profile and the uploads. Returns how long to wait before
  /// the next round. Reads time only through the Clock.
  Millis runOnce();

 private:
  /// Sends with the access token; a 401 gets one refresh and one retry.
  ApiResult<ApiReply> authedCall(HttpRequest req);
  /// The 401 path of authedCall: refreshes and sends `req` (without an Authorization header) again.
  ApiResult<ApiReply> retryUnauthorized(HttpRequest req);
  /// A 401 `device_revoked` (an administrator revoked this device): no refresh can help. The device id is
  /// forgotten, the sign-in ended, records stay queued; returns the error as kSignInNeeded. Other errors pass.
  ApiError deviceRevoked(ApiError e);
  HttpRequest batchRequest(const Batch& b, const std::string& device) const;
  ApiResult<void> fetchProfile();
  /// Sends batches until the queue is empty or one fails; the failed batch is kept for an identical resend.
  /// The next batch is read, built and compressed (and the previous answers written to the outbox) while
  /// batches are on the wire, and up to max_in_flight batches that do not refer to each other's records are
  /// on the wire at once; see sync_engine.cpp.
  ApiResult<void> uploadPending(bool* more);
  /// PUTs spooled images whose metadata the server has acknowledged, at most screenshots_per_round; sets
  /// *more when eligible images are left for the next round.
  void uploadScreenshots(bool* more);
  enum class ShotResult { kUploaded, kLater, kRejected, kStop };
  ShotResult uploadScreenshot(const std::filesystem::path& file, const std::string& id, const api::Record& meta);
  void rejectScreenshot(const std::filesystem::path& file, const std::string& id, const std::string& why);
  void onFailure(const ApiError& e);
  /// Service mode: one automatic enrolment when it is due; returns the wait until the next round.
  Millis autoEnroll();
  void runJobs();
  void finishWaiters(const Result<nlohmann::json>& r);
  void afterSignIn(const nlohmann::json& reply, const std::string& email);
  void publish();

  SyncOptions options_;
  Outbox& outbox_;
  HttpTransport& transport_;
  const Clock& clock_;
  ProfileHandler on_profile_;
  AuthSession auth_;
  Backoff backoff_;
  UuidV7Generator ids_;

  // Engine-thread state.
  std::optional<Batch> resend_;        // a batch whose upload failed, sent again as it was (same key, same body)
  std::set<std::string> acked_shots_;  // screenshot ids the server acknowledged this run, image not yet sent
  std::map<std::string, MonoTime> shot_retry_at_;  // images the server had no metadata for (409): not before
  bool queue_drained_ = false;  // the last uploadPending emptied the record queue (all records acknowledged)
  size_t limit_records_;
  int since_shrink_ = 0;
  MonoTime next_attempt_{};
  MonoTime next_profile_{};
  std::optional<Millis> profile_refresh_;  // the server's max-age for the profile, once it has sent one
  MonoTime next_enroll_{};
  std::string profile_etag_, rejected_etag_;
  nlohmann::json account_ = nlohmann::json::object();
  SyncStatus st_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  std::vector<JobDone> waiters_;
  bool force_ = false;
  bool stop_ = false;
  SyncStatus published_;
  std::thread thread_;
};

}  // namespace wm::sync
