// The uploader's rounds (see sync_engine.h). Every decision about time reads the injected Clock; only the
// idle wait between rounds uses a real condition variable, and anything queued for the thread cuts it short.
#include "workmonitor/sync/sync_engine.h"

#include <algorithm>
#include <fstream>
#include <random>
#include <sstream>

#include "json_fields.h"
#include "sync_log.h"

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

}  // namespace

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
  next_attempt_ = clock_.mono();
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
    inflight_.reset();
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
  inflight_.reset();
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
    next_profile_ = clock_.mono() + options_.profile_interval;
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
  return more ? Millis(0) : options_.poll_interval;
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
  const Millis jitter = backoff_.next();  // counts the failure even when the server chose the wait
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
  const size_t auth_at = req.headers.size();
  req.headers.emplace_back("Authorization", "Bearer " + *token);
  auto reply = interpret(transport_.send(req), clock_.wall());
  if (reply || reply.error().kind != ApiErrc::kUnauthorized) return reply;
  // One refresh and one retry: an access token can be refused before its expiry (server key rotation, clock
  // skew); a second 401 is not fixed by refreshing again.
  token = auth_.refreshAfterUnauthorized();
  if (!token) return std::unexpected(token.error());
  req.headers[auth_at].second = "Bearer " + *token;
  reply = interpret(transport_.send(req), clock_.wall());
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

ApiResult<void> SyncEngine::uploadPending(bool* more) {
  *more = false;
  queue_drained_ = false;
  for (int round = 0; round < kMaxBatchesPerRound; ++round) {
    {
      std::lock_guard lk(mu_);
      if (stop_) return {};
    }
    if (!inflight_) {
      auto pending = outbox_.pending(limit_records_);
      if (!pending)
        return std::unexpected(
            ApiError{ApiErrc::kProtocol, 0, "outbox", "cannot read the outbox: " + pending.error().message, {}});
      if (pending->empty()) {
        queue_drained_ = true;
        return {};
      }
      inflight_ = buildBatch(*pending, limit_records_, options_.batch_max_bytes, ids_.next(),
                             BatchHeader{detail::stringField(account_, "device_id"), options_.agent_version});
      inflight_shots_.clear();
      for (size_t i = 0; i < inflight_->records.size() && i < pending->size(); ++i)
        if ((*pending)[i].kind == api::RecordKind::kScreenshot) inflight_shots_.insert((*pending)[i].id);
    }
    HttpRequest req;
    req.method = "POST";
    req.url = joinUrl(options_.server_url, "/api/v1/agent/batches");
    req.headers = {
        {"Content-Type", "application/json"}, {"Accept", "application/json"}, {"Idempotency-Key", inflight_->batch_id}};
    if (const std::string device = detail::stringField(account_, "device_id"); !device.empty())
      req.headers.emplace_back("X-Device-Id", device);
    req.body = inflight_->body;
    req.gzip_body = true;
    auto reply = authedCall(std::move(req));
    if (!reply && reply.error().kind == ApiErrc::kTooLarge) {
      if (inflight_->records.size() <= 1) {
        // One record alone is over the server's limit: it can never be accepted, so it is quarantined.
        const auto& [id, rev] = inflight_->records.front();
        (void)outbox_.quarantine({QuarantineRequest{id, rev, "too_large: " + reply.error().message}});
        detail::syncLogger()->warn("record {} is too large for the server and was quarantined", id);
      } else {
        limit_records_ = std::max<size_t>(1, inflight_->records.size() / 2);
        since_shrink_ = 0;
        detail::syncLogger()->info("the server found a batch of {} records too large; sending {} at a time",
                                   inflight_->records.size(), limit_records_);
      }
      inflight_.reset();
      continue;
    }
    if (!reply) return std::unexpected(reply.error());
    auto outcome = readBatchReply(*inflight_, reply->body);
    if (!outcome)
      return std::unexpected(ApiError{ApiErrc::kProtocol, reply->status, "bad_reply", outcome.error().message, {}});
    if (auto m = outbox_.markSent(outcome->acknowledged); !m)
      return std::unexpected(
          ApiError{ApiErrc::kProtocol, 0, "outbox", "cannot record the upload: " + m.error().message, {}});
    if (!outcome->rejected.empty()) {
      for (const auto& q : outcome->rejected)
        detail::syncLogger()->warn("the server rejected record {} rev {}: {} (quarantined)", q.id, q.revision,
                                   q.reason);
      if (auto q = outbox_.quarantine(outcome->rejected); !q)
        return std::unexpected(
            ApiError{ApiErrc::kProtocol, 0, "outbox", "cannot quarantine: " + q.error().message, {}});
    }
    if (outcome->unanswered)
      detail::syncLogger()->warn("the server did not answer for {} records of batch {}; they stay queued",
                                 outcome->unanswered, inflight_->batch_id);
    // Screenshots (issue 6): an image may go up once the batch holding its metadata record was acknowledged
    // (PUT /api/v1/agent/screenshots/{id} answers 409 metadata_missing otherwise); uploadScreenshots() sends
    // them after the records of this round.
    if (!options_.screenshot_dir.empty())
      for (const auto& [id, rev] : outcome->acknowledged)
        if (inflight_shots_.count(id)) acked_shots_.insert(id);
    st_.uploaded += static_cast<int64_t>(outcome->acknowledged.size());
    st_.last_upload_ms = toUnixMs(clock_.wall());
    inflight_.reset();
    // Grow back slowly after a 413, so the limit does not swing between too large and half every batch.
    if (limit_records_ < options_.batch_max_records && ++since_shrink_ >= 8) {
      limit_records_ = std::min(std::max<size_t>(1, options_.batch_max_records), limit_records_ * 2);
      since_shrink_ = 0;
    }
    // Every record unanswered: resending at once would loop; the next round retries after the poll interval.
    if (outcome->unanswered > 0 && outcome->acknowledged.empty() && outcome->rejected.empty()) return {};
  }
  *more = true;
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
