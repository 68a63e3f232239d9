// The uploader's rounds (see sync_engine.h). Every decision about time reads the injected Clock; only the
// idle wait between rounds uses a real condition variable, and anything queued for the thread cuts it short.
#include "workmonitor/sync/sync_engine.h"

#include <algorithm>
#include <deque>
#include <fstream>
#include <future>
#include <random>
#include <sstream>

#include "json_fields.h"
#include "sync_log.h"
#include "workmonitor/sync/gzip.h"

namespace wm::sync {

using nlohmann::json;

namespace {

constexpr int kMaxBatchesPerRound = 50;  // then jobs (login, sync, stop) get a turn

Error toError(const ApiError& e) {
  switch (e.kind) {
    case ApiErrc::kOffline:
      return Error{Errc::kUnavailable, "cannot reach the server (" + e.code + "): " + e.message};
    case ApiErrc::kUnauthorized:
    case ApiErrc::kSignInNeeded:
      return Error{Errc::kInvalidInput, e.message};
    case ApiErrc::kRetryLater:
      return Error{Errc::kBusy, e.message};
    default:
      return Error{Errc::kIo, e.message};
  }
}

// The spool's image files: `<uuid>.jpg` or `<uuid>.webp` (a temp file being written has another suffix).
const char* imageType(const std::filesystem::path& file) {
  const std::string ext = file.extension().string();
  if (ext == ".jpg") return "image/jpeg";
  if (ext == ".webp") return "image/webp";
  return nullptr;
}

bool isSha256Hex(const std::string& s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
         });
}

// The creation time a UUIDv7 carries (its first 48 bits, unix ms).
int64_t uuidV7Ms(const std::string& id) {
  std::string hex;
  for (char c : id.substr(0, 13))
    if (c != '-') hex += c;
  return static_cast<int64_t>(std::stoull(hex, nullptr, 16));
}

uint64_t seedOf(uint64_t seed) {
  return seed ? seed : (uint64_t{std::random_device{}()} << 32) ^ std::random_device{}();
}

ApiError outboxError(const Error& e) { return ApiError{ApiErrc::kProtocol, 0, "outbox", e.message, {}}; }

// The server's answer to a batch, written to the outbox: the acknowledged revisions are marked sent (a later
// revision of the same record stays pending), the rejected ones quarantined.
Result<void> settle(Outbox& outbox, const BatchOutcome& answer) {
  if (!answer.acknowledged.empty()) {
    if (auto m = outbox.markSent(answer.acknowledged); !m)
      return fail(m.error().code, "cannot record the upload: " + m.error().message);
  }
  if (!answer.rejected.empty()) {
    if (auto q = outbox.quarantine(answer.rejected); !q)
      return fail(q.error().code, "cannot quarantine: " + q.error().message);
  }
  return {};
}

// The next batch: the oldest pending records but those in `exclude` (the batches on the wire), its JSON and
// its gzip body. Nothing pending: nullopt.
Result<std::optional<Batch>> prepareBatch(Outbox& outbox, const std::unordered_set<std::string>& exclude,
                                          size_t max_records, size_t max_bytes, int gzip_level,
                                          const std::string& batch_id, const BatchHeader& header) {
  auto pending = outbox.pendingExcept(max_records, exclude);
  if (!pending) return fail(pending.error().code, "cannot read the outbox: " + pending.error().message);
  if (pending->empty()) return std::optional<Batch>();
  Batch b = buildBatch(*pending, max_records, max_bytes, batch_id, header);
  // Compressed here, not in the transport, so that it happens while the previous batch is on the wire.
  // Should it fail, the transport compresses the body itself.
  if (auto gz = gzipCompress(b.body, gzip_level)) b.gzipped = std::move(*gz);
  return std::optional<Batch>(std::move(b));
}

// What a helper does while batches are on the wire (see uploadPending).
struct Ahead {
  Result<void> settled;                                        // the answers received so far, in the outbox
  Result<std::optional<Batch>> next = std::optional<Batch>();  // the next batch, without the records on the wire
};

}  // namespace

std::optional<Millis> cacheMaxAge(std::string_view cc) {
  for (size_t at = 0; (at = cc.find("max-age", at)) != std::string_view::npos; at += 7) {
    // Whole directive only: "s-maxage" is another one, and "x-max-age" is not this.
    if (at > 0 && cc[at - 1] != ' ' && cc[at - 1] != ',' && cc[at - 1] != '\t') continue;
    size_t i = at + 7;
    if (i >= cc.size() || cc[i] != '=') continue;
    ++i;
    long long seconds = 0;
    size_t digits = 0;
    for (; i < cc.size() && cc[i] >= '0' && cc[i] <= '9'; ++i, ++digits)
      seconds = std::min<long long>(seconds * 10 + (cc[i] - '0'), 1'000'000'000);
    if (digits == 0 || (i < cc.size() && cc[i] != ',' && cc[i] != ' ' && cc[i] != ';')) return std::nullopt;
    return std::clamp(Millis(seconds * 1000), Millis(1'000), Millis(3'600'000));
  }
  return std::nullopt;
}

SyncEngine::SyncEngine(SyncOptions options, Outbox& outbox, HttpTransport& transport, CredentialStore& credentials,
                       const Clock& clock, ProfileHandler on_profile)
    : options_(std::move(options)),
      outbox_(outbox),
      transport_(transport),
      clock_(clock),
      on_profile_(std::move(on_profile)),
      auth_(options_.server_url, transport, credentials, clock),
      backoff_(options_.backoff_base, options_.backoff_cap, seedOf(options_.seed)),
      ids_(clock),
      limit_records_(std::max<size_t>(1, options_.batch_max_records)),
      profile_etag_(options_.profile_etag) {
  auth_.load();
  if (auto saved = outbox_.getState(kAccountKey); saved && *saved) {
    json a = json::parse(**saved, nullptr, false);
    if (a.is_object()) account_ = std::move(a);
  }
  st_.server = redactUrl(options_.server_url);
  st_.auto_enroll = !options_.auto_enroll_token.empty();
  next_attempt_ = clock_.mono();
  next_enroll_ = clock_.mono();
  next_profile_ = clock_.mono();
  publish();
}

SyncEngine::~SyncEngine() { stop(); }

void SyncEngine::start() {
  thread_ = std::thread([this] {
    std::unique_lock lk(mu_);
    while (!stop_) {
      lk.unlock();
      Millis wait{1000};
      // Nothing may leave this thread: an escaped exception would end the agent.
      try {
        wait = runOnce();
      } catch (const std::exception& e) {
        // A bug or an unexpected reply: answer whoever waits, and back off like any failure so a repeating
        // error can never become a busy loop that floods the log.
        detail::syncLogger()->error("sync round failed: {}", e.what());
        finishWaiters(fail(Errc::kInternal, std::string("sync failed: ") + e.what()));
        wait = std::max(options_.poll_interval, Millis(5000));
      }
      lk.lock();
      cv_.wait_for(lk, std::max(wait, Millis(0)), [this] { return stop_ || force_ || !jobs_.empty(); });
    }
  });
}

void SyncEngine::stop() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  transport_.cancelAll();
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::deque<std::function<void()>> jobs;
  std::vector<JobDone> waiters;
  {
    std::lock_guard lk(mu_);
    jobs.swap(jobs_);
    waiters.swap(waiters_);
  }
  // Each job answers its caller; with the transport cancelled they end at once.
  for (auto& j : jobs) j();
  for (auto& w : waiters) w(fail(Errc::kUnavailable, "the agent is stopping"));
}

void SyncEngine::login(std::string email, std::string password, JobDone done) {
  std::lock_guard lk(mu_);
  jobs_.push_back([this, email = std::move(email), password = std::move(password), done = std::move(done)] {
    auto r = auth_.login(email, password, detail::stringField(account_, "device_id"));
    if (!r) {
      const ApiError& e = r.error();
      done(std::unexpected(
          e.kind == ApiErrc::kUnauthorized ? Error{Errc::kInvalidInput, "sign-in refused: " + e.message} : toError(e)));
      return;
    }
    afterSignIn(*r, email);
    done(json{{"signed_in", true}, {"user", r->value("user", json::object())}});
  });
  cv_.notify_all();
}

void SyncEngine::enroll(std::string enrollment_token, JobDone done) {
  std::lock_guard lk(mu_);
  jobs_.push_back([this, token = std::move(enrollment_token), done = std::move(done)] {
    auto r = auth_.enroll(token, options_.device);
    if (!r) {
      const ApiError& e = r.error();
      done(std::unexpected(e.kind == ApiErrc::kUnauthorized || e.kind == ApiErrc::kRejected
                               ? Error{Errc::kInvalidInput, "enrolment refused: " + e.message}
                               : toError(e)));
      return;
    }
    afterSignIn(*r, "");
    done(json{{"enrolled", true},
              {"device_id", detail::stringField(*r, "device_id")},
              {"user", r->value("user", json::object())}});
  });
  cv_.notify_all();
}

void SyncEngine::logout(JobDone done) {
  std::lock_guard lk(mu_);
  jobs_.push_back([this, done = std::move(done)] {
    auth_.logout();
    resend_.reset();
    const std::string device = detail::stringField(account_, "device_id");
    account_ = json::object();
    if (!device.empty()) account_["device_id"] = device;  // the machine stays the same device
    (void)outbox_.setState(kAccountKey, account_.dump());
    publish();
    done(json{{"signed_out", true}});
  });
  cv_.notify_all();
}

void SyncEngine::syncNow(JobDone done) {
  std::unique_lock lk(mu_);
  if (stop_ && !thread_.joinable()) {
    lk.unlock();
    done(fail(Errc::kUnavailable, "the agent is stopping"));
    return;
  }
  waiters_.push_back(std::move(done));
  force_ = true;
  cv_.notify_all();
}

void SyncEngine::fetchJson(std::string path, JobDone done) {
  std::unique_lock lk(mu_);
  if (stop_ && !thread_.joinable()) {
    lk.unlock();
    done(fail(Errc::kUnavailable, "the agent is stopping"));
    return;
  }
  jobs_.push_back([this, path = std::move(path), done = std::move(done)] {
    if (auth_.state() != AuthState::kSignedIn) {
      done(fail(Errc::kUnavailable, "not signed in"));
      return;
    }
    HttpRequest req;
    req.url = joinUrl(options_.server_url, path);
    req.headers = {{"Accept", "application/json"}};
    auto reply = authedCall(std::move(req));
    if (!reply) {
      st_.online = reply.error().kind != ApiErrc::kOffline;
      done(std::unexpected(toError(reply.error())));
      return;
    }
    st_.online = true;
    done(reply->body);
  });
  cv_.notify_all();
}

void SyncEngine::afterSignIn(const json& reply, const std::string& email) {
  json user = reply.value("user", json::object());
  if (!user.is_object()) user = json::object();
  account_["email"] = detail::stringField(user, "email", email);
  account_["user_id"] = detail::stringField(user, "user_id");
  if (reply.contains("device_id") && reply["device_id"].is_string())
    account_["device_id"] = reply["device_id"].get<std::string>();
  if (auto r = outbox_.setState(kAccountKey, account_.dump()); !r)
    detail::syncLogger()->error("cannot save the account: {}", r.error().message);
  detail::syncLogger()->info("signed in as {}", detail::stringField(account_, "email", "(device)"));
  // A new sign-in may be another user: nothing half-sent under the old one is reused, and everything is due.
  resend_.reset();
  backoff_.reset();
  next_attempt_ = clock_.mono();
  next_profile_ = clock_.mono();
  std::lock_guard lk(mu_);
  force_ = true;
}

SyncStatus SyncEngine::status() const {
  std::lock_guard lk(mu_);
  return published_;
}

void SyncEngine::publish() {
  st_.auth = auth_.state();
  st_.auth_problem = auth_.problem();
  st_.account = detail::stringField(account_, "email");
  st_.device_id = detail::stringField(account_, "device_id");
  st_.failures = backoff_.failures();
  std::lock_guard lk(mu_);
  published_ = st_;
}

void SyncEngine::runJobs() {
  for (;;) {
    std::function<void()> job;
    {
      std::lock_guard lk(mu_);
      if (jobs_.empty()) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    job();
    publish();
  }
}

void SyncEngine::finishWaiters(const Result<json>& r) {
  std::vector<JobDone> waiters;
  {
    std::lock_guard lk(mu_);
    waiters.swap(waiters_);
  }
  for (auto& w : waiters) w(r);
}

Millis SyncEngine::runOnce() {
  runJobs();
  bool forced = false;
  {
    std::lock_guard lk(mu_);
    forced = std::exchange(force_, false);
    if (stop_) return options_.poll_interval;
  }
  if (auth_.state() != AuthState::kSignedIn && !options_.auto_enroll_token.empty()) {
    const Millis wait = autoEnroll();
    if (auth_.state() != AuthState::kSignedIn) {
      finishWaiters(fail(Errc::kUnavailable, "not signed in yet: automatic enrolment " +
                                                 (st_.auto_enroll_error.empty() ? std::string("pending")
                                                                                : "failed: " + st_.auto_enroll_error)));
      publish();
      return wait;
    }
  }
  const MonoTime now = clock_.mono();
  if (auth_.state() != AuthState::kSignedIn) {
    finishWaiters(fail(Errc::kInvalidInput, auth_.state() == AuthState::kSignInNeeded
                                                ? "sign-in needed: " + auth_.problem()
                                                : "not signed in: run `workmonitor-agent login` or `enroll` first"));
    publish();
    return options_.poll_interval;
  }
  if (!forced && now < next_attempt_) return std::chrono::duration_cast<Millis>(next_attempt_ - now);

  if (now >= next_profile_) {
    auto p = fetchProfile();
    if (!p && (p.error().kind == ApiErrc::kOffline || p.error().kind == ApiErrc::kRetryLater ||
               p.error().kind == ApiErrc::kSignInNeeded || p.error().kind == ApiErrc::kUnauthorized)) {
      onFailure(p.error());
      finishWaiters(std::unexpected(toError(p.error())));
      publish();
      return std::max(Millis(0), std::chrono::duration_cast<Millis>(next_attempt_ - clock_.mono()));
    }
    if (!p) detail::syncLogger()->warn("profile fetch failed: {}", p.error().message);
    next_profile_ = clock_.mono() + profile_refresh_.value_or(options_.profile_interval);
  }

  const int64_t uploaded_before = st_.uploaded;
  const int64_t shots_before = st_.screenshots_uploaded;
  bool more = false;
  auto up = uploadPending(&more);
  if (!up) {
    onFailure(up.error());
    finishWaiters(std::unexpected(toError(up.error())));
    publish();
    return std::max(Millis(0), std::chrono::duration_cast<Millis>(next_attempt_ - clock_.mono()));
  }
  bool more_shots = false;
  uploadScreenshots(&more_shots);
  more = more || more_shots;
  backoff_.reset();
  st_.online = true;
  st_.backing_off = false;
  st_.last_error.clear();
  st_.next_retry_ms = 0;
  next_attempt_ = clock_.mono();
  json summary{{"uploaded", st_.uploaded - uploaded_before}};
  if (!options_.screenshot_dir.empty()) {
    summary["screenshots_uploaded"] = st_.screenshots_uploaded - shots_before;
    summary["screenshots_pending"] = st_.screenshots_pending;
  }
  if (auto s = outbox_.stats()) {
    summary["pending"] = s->pending;
    summary["quarantined"] = s->quarantined;
  }
  publish();
  // With `more` a full round ended with records left: hand the thread to jobs, then go on at once.
  if (!more) finishWaiters(summary);
  if (more) return Millis(0);
  // Woken for the profile too, so a change reaches this agent within the server's max-age, not a poll later.
  const auto to_profile = std::chrono::duration_cast<Millis>(next_profile_ - clock_.mono());
  return std::clamp(to_profile, Millis(0), options_.poll_interval);
}

Millis SyncEngine::autoEnroll() {
  const MonoTime now = clock_.mono();
  if (now < next_enroll_) return std::chrono::duration_cast<Millis>(next_enroll_ - now);
  auto r = auth_.enroll(options_.auto_enroll_token, options_.device, options_.os_account);
  if (r) {
    st_.auto_enroll_error.clear();
    st_.auto_enroll_next_ms = 0;
    st_.last_error.clear();
    st_.backing_off = false;
    st_.next_retry_ms = 0;
    st_.online = true;
    detail::syncLogger()->info("enrolled automatically (machine policy) for the computer account '{}'",
                               options_.os_account);
    afterSignIn(*r, "");
    return Millis(0);
  }
  const ApiError& e = r.error();
  // These refusals are the token's or the account's: retrying soon only repeats them, and the
  // administrator fixes them on the server (a mapping, a new token) or in the policy (read at start).
  const bool refused = e.code == "invalid_token" || e.code == "no_account_match" || e.code == "invalid_request" ||
                       e.kind == ApiErrc::kUnauthorized;
  Millis wait = refused                       ? options_.auto_enroll_refused_wait
                : e.kind == ApiErrc::kOffline ? backoff_.next(options_.offline_backoff_cap)
                                              : backoff_.next();
  if (!refused && e.retry_after) wait = std::clamp(*e.retry_after, Millis(0), options_.retry_after_cap);
  wait = std::max(wait, Millis(1'000));  // never a busy loop, whatever the jitter drew
  next_enroll_ = now + wait;
  st_.online = e.kind != ApiErrc::kOffline;
  st_.auto_enroll_error = (e.code.empty() ? "" : e.code + ": ") + e.message;
  st_.last_error = "automatic enrolment failed: " + st_.auto_enroll_error;
  st_.auto_enroll_next_ms = toUnixMs(clock_.wall()) + wait.count();
  st_.backing_off = true;
  st_.next_retry_ms = st_.auto_enroll_next_ms;
  detail::syncLogger()->warn(
      "automatic enrolment (machine policy, computer account '{}') failed: {}; next attempt in "
      "{} s",
      options_.os_account, st_.auto_enroll_error, wait.count() / 1000);
  return wait;
}

void SyncEngine::onFailure(const ApiError& e) {
  st_.online = e.kind != ApiErrc::kOffline;
  st_.last_error = e.message;
  if (e.kind == ApiErrc::kSignInNeeded) {
    // Nothing to retry until a person signs in again; records stay queued.
    st_.backing_off = false;
    st_.next_retry_ms = 0;
    next_attempt_ = clock_.mono() + options_.poll_interval;
    return;
  }
  // Counts the failure even when the server chose the wait.
  const Millis jitter = e.kind == ApiErrc::kOffline ? backoff_.next(options_.offline_backoff_cap) : backoff_.next();
  Millis wait = jitter;
  if (e.retry_after) wait = std::clamp(*e.retry_after, Millis(0), options_.retry_after_cap);
  next_attempt_ = clock_.mono() + wait;
  st_.backing_off = true;
  st_.next_retry_ms = toUnixMs(clock_.wall()) + wait.count();
  detail::syncLogger()->warn("upload failed ({}): {}; next attempt in {} ms", apiErrcName(e.kind), e.message,
                             wait.count());
}

ApiResult<ApiReply> SyncEngine::authedCall(HttpRequest req) {
  auto token = auth_.accessToken();
  if (!token) return std::unexpected(token.error());
  req.headers.emplace_back("Authorization", "Bearer " + *token);
  auto reply = interpret(transport_.send(req), clock_.wall());
  if (reply || reply.error().kind != ApiErrc::kUnauthorized) return reply;
  if (reply.error().code == "device_revoked") return std::unexpected(deviceRevoked(reply.error()));
  req.headers.pop_back();
  return retryUnauthorized(std::move(req));
}

ApiError SyncEngine::deviceRevoked(ApiError e) {
  if (e.kind != ApiErrc::kUnauthorized || e.code != "device_revoked") return e;
  // Several batches in flight can each bring the answer: the first one ends the sign-in.
  if (auth_.state() == AuthState::kSignedIn) {
    const std::string device = detail::stringField(account_, "device_id");
    account_.erase("device_id");
    if (auto r = outbox_.setState(kAccountKey, account_.dump()); !r)
      detail::syncLogger()->error("cannot save the account: {}", r.error().message);
    auth_.endSignIn("an administrator revoked this device (" + device + ", device_revoked)");
  }
  e.kind = ApiErrc::kSignInNeeded;
  e.message = "sign-in needed: " + auth_.problem() + "; run `workmonitor-agent login` or `enroll`";
  return e;
}

ApiResult<ApiReply> SyncEngine::retryUnauthorized(HttpRequest req) {
  // One refresh and one retry: an access token can be refused before its expiry (server key rotation, clock
  // skew); a second 401 is not fixed by refreshing again.
  auto token = auth_.refreshAfterUnauthorized();
  if (!token) return std::unexpected(token.error());
  req.headers.emplace_back("Authorization", "Bearer " + *token);
  auto reply = interpret(transport_.send(req), clock_.wall());
  if (!reply && reply.error().code == "device_revoked") return std::unexpected(deviceRevoked(reply.error()));
  if (!reply && reply.error().kind == ApiErrc::kUnauthorized) {
    ApiError e = reply.error();
    e.kind = ApiErrc::kRetryLater;
    e.message = "the server refused a freshly refreshed token: " + e.message;
    return std::unexpected(e);
  }
  return reply;
}

ApiResult<void> SyncEngine::fetchProfile() {
  HttpRequest req;
  req.url = joinUrl(options_.server_url, "/api/v1/agent/profile");
  req.headers = {{"Accept", "application/json"}};
  // After a rejected profile its ETag is what the server would send again: asking with it means the bad
  // profile is not fetched (and logged) every round, while a corrected one still arrives.
  const std::string& etag = rejected_etag_.empty() ? profile_etag_ : rejected_etag_;
  if (!etag.empty()) req.headers.emplace_back("If-None-Match", etag);
  auto reply = authedCall(req);
  if (!reply) return std::unexpected(reply.error());
  if (auto cc = reply->raw.header("cache-control")) {
    if (auto age = cacheMaxAge(*cc)) profile_refresh_ = age;
  }
  if (reply->status == 304) return {};
  const std::string new_etag = reply->raw.header("etag").value_or("");
  const json& body = reply->body;
  std::string label = "(unnamed)";
  if (body.is_object())
    label = detail::stringField(body, "profile_id", "(default)") + " v" +
            (body.contains("version") ? body["version"].dump() : std::string("?"));
  Result<void> ok = body.is_object() && body.contains("settings") && body["settings"].is_object()
                        ? (on_profile_ ? on_profile_(body, new_etag) : Result<void>{})
                        : fail(Errc::kInvalidInput, "the profile has no settings object");
  if (!ok) {
    rejected_etag_ = new_etag;
    st_.profile_problem = ok.error().message;
    detail::syncLogger()->error("profile {} rejected, the last good profile stays in force: {}", label,
                                ok.error().message);
    return {};
  }
  profile_etag_ = new_etag;
  rejected_etag_.clear();
  st_.profile = label;
  st_.profile_problem.clear();
  detail::syncLogger()->info("profile {} applied", label);
  return {};
}

HttpRequest SyncEngine::batchRequest(const Batch& b, const std::string& device) const {
  HttpRequest req;
  req.method = "POST";
  req.url = joinUrl(options_.server_url, "/api/v1/agent/batches");
  req.headers = {{"Content-Type", "application/json"}, {"Accept", "application/json"}, {"Idempotency-Key", b.batch_id}};
  if (!device.empty()) req.headers.emplace_back("X-Device-Id", device);
  req.body = b.body;
  req.gzip_body = true;
  req.gzipped_body = b.gzipped;
  return req;
}

// Batches leave in the outbox's order, and the agent's own work overlaps the waits:
//  - while batches are on the wire, a helper writes the answers received so far to the outbox, then reads,
//    builds and compresses the next batch from the records not on the wire;
//  - up to `window` batches are on the wire at once (the transport's connections, options_.max_in_flight),
//    but a batch goes alongside others only if none of its records refers to a record of theirs (an idle
//    period to its time entry): the server would store such a reference as NULL if it came first. Otherwise
//    it waits until they are answered. Answers are taken oldest first.
// A record is marked sent only with the revision the server acknowledged, so a record changed while on the
// wire stays pending with its new revision (and is never in the batch prepared meanwhile, which leaves out
// the records on the wire). A batch prepared ahead is dropped (nothing of it was sent or marked; its records
// are read again) whenever a batch on the wire fails, is too large or leaves records unanswered. A failed
// batch is kept for an identical resend; batches already on the wire alongside it refer to nothing in it and
// are answered normally.
ApiResult<void> SyncEngine::uploadPending(bool* more) {
  *more = false;
  queue_drained_ = false;
  BatchHeader header{detail::stringField(account_, "device_id"), options_.agent_version, std::nullopt};
  if (auto st = outbox_.stats()) header.queue = QueueHealth{st->pending, st->quarantined, st->oldest_pending_ms};
  const size_t max_bytes = options_.batch_max_bytes;
  const int level = std::clamp(options_.batch_gzip_level, 1, 9);
  const size_t window = std::max<size_t>(1, std::min(options_.max_in_flight, transport_.concurrency()));

  struct Flight {
    Batch batch;
    std::string token;
    std::future<HttpResult> result;
  };
  std::deque<Flight> flights;  // on the wire, oldest first
  std::optional<Batch> ready;  // prepared, not sent yet
  std::future<Ahead> ahead;    // the helper: answers to the outbox, then the next batch
  BatchOutcome unsettled;      // answers not yet written to the outbox
  std::optional<ApiError> failure;
  bool stopping = false;  // nothing more goes on the wire this round
  int launched = 0;

  auto take = [&] { return std::exchange(unsettled, BatchOutcome{}); };
  auto onTheWire = [&] {
    std::unordered_set<std::string> ids;
    for (const auto& f : flights)
      for (const auto& r : f.batch.records) ids.insert(r.first);
    return ids;
  };
  auto refersToTheWire = [&](const Batch& b) {
    if (b.references.empty()) return false;
    for (const auto& f : flights)
      for (const auto& r : f.batch.records)
        if (b.references.contains(r.first)) return true;
    return false;
  };
  auto stop = [&](ApiError e) {
    if (!failure) failure = std::move(e);
    stopping = true;
  };
  // Waits for the helper; its batch is handed over only when `keep`.
  auto join = [&](bool keep) -> std::optional<Batch> {
    if (!ahead.valid()) return std::nullopt;
    Ahead a = ahead.get();
    if (!a.settled) {
      stop(outboxError(a.settled.error()));
      return std::nullopt;
    }
    if (!a.next) {
      stop(outboxError(a.next.error()));
      return std::nullopt;
    }
    return keep ? std::move(*a.next) : std::nullopt;
  };
  auto dropPrepared = [&] {
    ready.reset();
    (void)join(false);
  };

  for (;;) {
    // Fill the window.
    while (!stopping && flights.size() < window && launched < kMaxBatchesPerRound) {
      {
        std::lock_guard lk(mu_);
        if (stop_) {
          stopping = true;
          break;
        }
      }
      if (!ready && resend_)
        ready = std::exchange(resend_, std::nullopt);  // a failed batch goes again first, as it was
      if (!ready) ready = join(true);
      if (stopping) break;
      if (!ready) {
        // Nothing prepared ahead (the first batch, or the prepared one was dropped): read now.
        if (auto st = settle(outbox_, take()); !st) {
          stop(outboxError(st.error()));
          break;
        }
        auto b = prepareBatch(outbox_, onTheWire(), limit_records_, max_bytes, level, ids_.next(), header);
        if (!b) {
          stop(outboxError(b.error()));
          break;
        }
        if (!*b) {
          queue_drained_ = flights.empty();
          break;
        }
        ready = std::move(**b);
      }
      if (!flights.empty() && refersToTheWire(*ready)) break;  // waits until what it refers to is answered
      auto token = auth_.accessToken();
      if (!token) {
        resend_ = std::exchange(ready, std::nullopt);
        stop(token.error());
        break;
      }
      HttpRequest req = batchRequest(*ready, header.device_id);
      req.headers.emplace_back("Authorization", "Bearer " + *token);
      // With one batch at a time the request goes from this thread when its answer is awaited (after the
      // helper has started); with more, each from a thread of its own.
      auto result = std::async(window > 1 ? std::launch::async : std::launch::deferred,
                               [this, req = std::move(req)] { return transport_.send(req); });
      flights.push_back(Flight{std::exchange(ready, std::nullopt).value(), *token, std::move(result)});
      ++launched;
      if (launched < kMaxBatchesPerRound) {
        ahead = std::async(std::launch::async, [this, exclude = onTheWire(), answer = take(), limit = limit_records_,
                                                max_bytes, level, id = ids_.next(), header] {
          Ahead a;
          a.settled = settle(outbox_, answer);
          if (a.settled) a.next = prepareBatch(outbox_, exclude, limit, max_bytes, level, id, header);
          return a;
        });
      }
    }
    if (flights.empty()) break;

    // The oldest batch's answer.
    Flight f = std::move(flights.front());
    flights.pop_front();
    auto reply = interpret(f.result.get(), clock_.wall());
    if (!reply && reply.error().code == "device_revoked") reply = std::unexpected(deviceRevoked(reply.error()));
    if (!reply && reply.error().kind == ApiErrc::kUnauthorized) {
      // Another batch's retry may have refreshed the token already: then this one is just sent again.
      auto current = auth_.accessToken();
      HttpRequest req = batchRequest(f.batch, header.device_id);
      reply = current && *current != f.token ? authedCall(std::move(req)) : retryUnauthorized(std::move(req));
    }
    if (!reply && reply.error().kind == ApiErrc::kTooLarge) {
      dropPrepared();
      if (f.batch.records.size() <= 1) {
        // One record alone is over the server's limit: it can never be accepted, so it is quarantined.
        const auto& [id, rev] = f.batch.records.front();
        (void)outbox_.quarantine({QuarantineRequest{id, rev, "too_large: " + reply.error().message}});
        detail::syncLogger()->warn("record {} is too large for the server and was quarantined", id);
      } else {
        limit_records_ = std::max<size_t>(1, std::min(limit_records_, f.batch.records.size() / 2));
        since_shrink_ = 0;
        detail::syncLogger()->info("the server found a batch of {} records too large; sending {} at a time",
                                   f.batch.records.size(), limit_records_);
      }
      continue;
    }
    if (!reply) {
      // Kept for an identical resend (only the first failure; a later one is read again from the outbox).
      if (!failure) resend_ = std::move(f.batch);
      dropPrepared();
      stop(reply.error());
      continue;
    }
    auto outcome = readBatchReply(f.batch, reply->body);
    if (!outcome) {
      if (!failure) resend_ = std::move(f.batch);
      dropPrepared();
      stop(ApiError{ApiErrc::kProtocol, reply->status, "bad_reply", outcome.error().message, {}});
      continue;
    }
    for (const auto& q : outcome->rejected)
      detail::syncLogger()->warn("the server rejected record {} rev {}: {} (quarantined)", q.id, q.revision, q.reason);
    if (outcome->unanswered)
      detail::syncLogger()->warn("the server did not answer for {} records of batch {}; they stay queued",
                                 outcome->unanswered, f.batch.batch_id);
    // Screenshots (issue 6): an image may go up once the batch holding its metadata record was acknowledged
    // (PUT /api/v1/agent/screenshots/{id} answers 409 metadata_missing otherwise); uploadScreenshots() sends
    // them after the records of this round, when every answer is in the outbox.
    if (!options_.screenshot_dir.empty())
      for (const auto& [id, rev] : outcome->acknowledged)
        if (f.batch.screenshots.count(id)) acked_shots_.insert(id);
    st_.uploaded += static_cast<int64_t>(outcome->acknowledged.size());
    st_.last_upload_ms = toUnixMs(clock_.wall());
    unsettled.acknowledged.insert(unsettled.acknowledged.end(), outcome->acknowledged.begin(),
                                  outcome->acknowledged.end());
    unsettled.rejected.insert(unsettled.rejected.end(), outcome->rejected.begin(), outcome->rejected.end());
    // Grow back slowly after a 413, so the limit does not swing between too large and half every batch.
    if (limit_records_ < options_.batch_max_records && ++since_shrink_ >= 8) {
      limit_records_ = std::min(std::max<size_t>(1, options_.batch_max_records), limit_records_ * 2);
      since_shrink_ = 0;
    }
    if (outcome->unanswered > 0) {
      // Unanswered records stay pending and may be referred to: the batch prepared without them is dropped
      // and the next one read afresh, those records first.
      dropPrepared();
      // Every record unanswered: resending at once would loop; the next round retries after the poll interval.
      if (outcome->acknowledged.empty() && outcome->rejected.empty()) stopping = true;
    }
  }

  // Every way out: the helper has finished and every answer received is in the outbox.
  (void)join(false);
  if (auto st = settle(outbox_, take()); !st && !failure) failure = outboxError(st.error());
  if (failure) return std::unexpected(*failure);
  *more = !stopping && !queue_drained_ && launched >= kMaxBatchesPerRound;
  return {};
}

// The spool directory is the image queue. An image goes up when its metadata record is known to be on the
// server: acknowledged in a batch of this run, or (after a restart) when the record queue has just been
// emptied, so every record in the outbox was acknowledged or quarantined. A bounded number per round, after
// the records, so images never hold records back for long.
void SyncEngine::uploadScreenshots(bool* more) {
  *more = false;
  namespace fs = std::filesystem;
  if (options_.screenshot_dir.empty()) return;
  std::vector<std::pair<std::string, fs::path>> files;  // (id, path), oldest first (UUIDv7 ids sort by time)
  std::error_code ec;
  for (fs::directory_iterator it(options_.screenshot_dir, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::path& p = it->path();
    std::error_code fec;
    if (!it->is_regular_file(fec) || imageType(p) == nullptr) continue;
    const std::string id = p.stem().string();
    if (isUuidV7(id)) files.emplace_back(id, p);
  }
  std::sort(files.begin(), files.end());
  // Forget ids whose files are gone (uploaded by an earlier run, removed by hand).
  std::set<std::string> present;
  for (const auto& f : files) present.insert(f.first);
  std::erase_if(acked_shots_, [&](const std::string& id) { return !present.count(id); });
  std::erase_if(shot_retry_at_, [&](const auto& kv) { return !present.count(kv.first); });

  int64_t left = static_cast<int64_t>(files.size());
  int budget = std::max(1, options_.screenshots_per_round);
  const MonoTime now = clock_.mono();
  for (const auto& [id, file] : files) {
    {
      std::lock_guard lk(mu_);
      if (stop_) break;
    }
    const bool acked = acked_shots_.count(id) > 0;
    if (!acked) {
      if (!queue_drained_) continue;  // its record may still be queued: the batch acknowledging it says so
      if (auto r = shot_retry_at_.find(id); r != shot_retry_at_.end() && now < r->second) continue;
    }
    auto meta = outbox_.get(id);
    if (!meta) {
      detail::syncLogger()->warn("screenshot {}: cannot read its metadata record: {}", id, meta.error().message);
      continue;
    }
    if (!*meta || (*meta)->kind != api::RecordKind::kScreenshot) {
      // No metadata will ever reach the server for it (dropped by the outbox bounds, or never written): once
      // it is old enough that its record cannot still be on the way, it is set aside.
      if (toUnixMs(clock_.wall()) - uuidV7Ms(id) >= options_.screenshot_orphan_age.count()) {
        rejectScreenshot(file, id, "its metadata record is not in the outbox");
        --left;
      }
      continue;
    }
    if (budget == 0) {
      *more = true;
      break;
    }
    --budget;
    const ShotResult r = uploadScreenshot(file, id, **meta);
    if (r == ShotResult::kUploaded || r == ShotResult::kRejected) --left;
    if (r == ShotResult::kStop) break;
  }
  st_.screenshots_pending = left;
}

SyncEngine::ShotResult SyncEngine::uploadScreenshot(const std::filesystem::path& file, const std::string& id,
                                                    const api::Record& meta) {
  const std::string sha = detail::stringField(meta.data, "sha256");
  if (!isSha256Hex(sha)) {
    rejectScreenshot(file, id, "its metadata record has no sha256");
    return ShotResult::kRejected;
  }
  HttpRequest req;
  req.method = "PUT";
  req.url = joinUrl(options_.server_url, "/api/v1/agent/screenshots/" + id);
  {
    std::ifstream in(file, std::ios::binary);
    std::ostringstream buf;
    buf << in.rdbuf();
    if (!in) {
      // Removed meanwhile (or unreadable): the next round's scan decides again.
      detail::syncLogger()->warn("screenshot {}: cannot read {}", id, file.string());
      return ShotResult::kLater;
    }
    req.body = std::move(buf).str();
  }
  if (req.body.empty()) {
    rejectScreenshot(file, id, "the image file is empty");
    return ShotResult::kRejected;
  }
  // The checksum made when the image was taken: a file damaged on disk since is refused by the server
  // (checksum_mismatch) instead of being stored as if it were the screenshot.
  req.headers = {{"Content-Type", imageType(file)}, {"X-Content-SHA256", sha}, {"Accept", "application/json"}};
  auto reply = authedCall(std::move(req));
  if (reply) {
    std::error_code ec;
    std::filesystem::remove(file, ec);
    if (ec)
      detail::syncLogger()->warn("screenshot {} uploaded, but removing {} failed: {}", id, file.string(), ec.message());
    acked_shots_.erase(id);
    shot_retry_at_.erase(id);
    ++st_.screenshots_uploaded;
    return ShotResult::kUploaded;
  }
  const ApiError& e = reply.error();
  if (e.status == 409 && e.code == "metadata_missing") {
    // The record was quarantined (the server refused it): the image can never be attached to anything.
    if (auto q = outbox_.quarantined(static_cast<size_t>(Outbox::kMaxQuarantined)); q) {
      for (const auto& rec : *q)
        if (rec.id == id) {
          rejectScreenshot(file, id, "its metadata record was rejected by the server: " + rec.reason);
          return ShotResult::kRejected;
        }
    }
    detail::syncLogger()->info("screenshot {}: the server has no metadata for it yet; retrying later", id);
    acked_shots_.erase(id);
    shot_retry_at_[id] = clock_.mono() + options_.screenshot_retry;
    return ShotResult::kLater;
  }
  if (e.kind == ApiErrc::kTooLarge || e.status == 400 || e.status == 415 || e.status == 422) {
    rejectScreenshot(file, id, "the server refused it (" + e.code + "): " + e.message);
    return ShotResult::kRejected;
  }
  if (e.kind == ApiErrc::kRejected) {
    // Another 4xx (a proxy's 404 or 403, say) is not the server judging the image: offered again later.
    detail::syncLogger()->warn("screenshot {}: upload refused ({}), retrying later", id, e.message);
    shot_retry_at_[id] = clock_.mono() + options_.screenshot_retry;
    acked_shots_.erase(id);
    return ShotResult::kLater;
  }
  // Offline, busy, signed out: the remaining images wait for the next round.
  detail::syncLogger()->warn("screenshot upload paused ({}): {}", apiErrcName(e.kind), e.message);
  return ShotResult::kStop;
}

void SyncEngine::rejectScreenshot(const std::filesystem::path& file, const std::string& id, const std::string& why) {
  namespace fs = std::filesystem;
  const fs::path dir = options_.screenshot_dir / "rejected";
  std::error_code ec;
  fs::create_directories(dir, ec);
  fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  fs::rename(file, dir / file.filename(), ec);
  if (ec) {
    // Never retried forever: an image that cannot even be moved aside is deleted.
    detail::syncLogger()->error("screenshot {}: cannot move it to {} ({}); deleting it", id, dir.string(),
                                ec.message());
    fs::remove(file, ec);
  }
  detail::syncLogger()->warn("screenshot {} set aside in {}: {}", id, dir.string(), why);
  acked_shots_.erase(id);
  shot_retry_at_.erase(id);
  ++st_.screenshots_rejected;
}

}  // namespace wm::sync
