// The uploader's logic above HTTP, driven round by round (runOnce) with a ManualClock and an in-memory
// transport: tokens and refresh, batches and their results, backoff, Retry-After, 413, the profile.
#include <future>
#include <set>

#include <gtest/gtest.h>

#include "fake_transport.h"
#include "outbox_test_util.h"
#include "workmonitor/sync/gzip.h"
#include "workmonitor/sync/sync_engine.h"

namespace wm::sync {
namespace {

using nlohmann::json;
using test::FakeTransport;
using test::headerOf;
using test::MemoryCredentials;
using test::reply;

std::string tokens(const std::string& access, const std::string& refresh, int expires_in = 900) {
  return json{{"access_token", access},
              {"token_type", "bearer"},
              {"expires_in", expires_in},
              {"refresh_token", refresh},
              {"user", {{"user_id", "u1"}, {"email", "ann@example.com"}}}}
      .dump();
}

// Answers every record of a batch with `status` (or per-id overrides).
std::string results(const HttpRequest& req, const std::string& status,
                    const std::map<std::string, std::string>& by_id = {}) {
  json body = json::parse(req.body);
  json out = json::array();
  for (const auto& r : body["records"]) {
    const std::string id = r["id"];
    auto it = by_id.find(id);
    json one{{"id", id}, {"revision", r["revision"]}, {"status", it == by_id.end() ? status : it->second}};
    if (one["status"] == "rejected") one["reason"] = "bad " + id;
    out.push_back(one);
  }
  return json{{"results", out}}.dump();
}

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    OutboxOptions o;
    o.path = dir_.path() / "outbox.db";
    outbox_ = std::move(Outbox::open(o, clock_).value());
  }
  std::unique_ptr<SyncEngine> engine(SyncOptions o = {}) {
    if (o.server_url.empty()) o.server_url = "https://wm.test/";
    o.seed = 99;
    o.backoff_base = Millis(1000);
    o.backoff_cap = Millis(60000);
    return std::make_unique<SyncEngine>(o, *outbox_, net_, creds_, clock_,
                                        [this](const json& p, const std::string& etag) -> Result<void> {
                                          profiles_.push_back({p, etag});
                                          if (p["settings"].contains("bad"))
                                            return fail(Errc::kInvalidInput, "bad value");
                                          return {};
                                        });
  }
  std::vector<api::Record> put(int n) {
    std::vector<api::Record> out;
    for (int i = 0; i < n; ++i) {
      auto r = testing::makeRecord(ids_, api::RecordKind::kAppUsage, toUnixMs(clock_.wall()),
                                   toUnixMs(clock_.wall()) + 5, {{"app", "x"}});
      EXPECT_TRUE(outbox_->putSync(r));
      out.push_back(r);
      clock_.advance(Millis(1));
    }
    return out;
  }
  int64_t pendingCount() { return outbox_->stats().value().pending; }
  // A server that knows one refresh token and hands out access tokens; batches answered by `batch`.
  void server(std::function<HttpResult(const HttpRequest&)> batch) {
    net_.setHandler([this, batch](const HttpRequest& r) -> HttpResult {
      if (r.url.ends_with("/auth/refresh")) {
        ++refreshes_;
        if (json::parse(r.body)["refresh_token"] != current_refresh_)
          return reply(401, R"({"error":{"code":"refresh_revoked","message":"family revoked"}})");
        current_refresh_ = "r" + std::to_string(refreshes_ + 1);
        return reply(200, tokens("a" + std::to_string(refreshes_ + 1), current_refresh_));
      }
      if (r.url.ends_with("/api/v1/agent/profile"))
        return reply(404, R"({"error":{"code":"not_found","message":"no"}})");
      if (r.url.ends_with("/api/v1/agent/batches")) return batch(r);
      return reply(404);
    });
  }

  testing::TempDir dir_;
  ManualClock clock_;
  UuidV7Generator ids_{clock_};
  std::unique_ptr<Outbox> outbox_;
  FakeTransport net_;
  MemoryCredentials creds_;
  std::vector<std::pair<json, std::string>> profiles_;
  std::string current_refresh_ = "r1";
  int refreshes_ = 0;
};

TEST_F(EngineTest, LoginKeepsTheAccessTokenInMemoryAndTheRefreshTokenInTheStore) {
  net_.setHandler([](const HttpRequest& r) -> HttpResult {
    if (r.url == "https://wm.test/auth/login") {
      auto b = json::parse(r.body);
      if (b["password"] != "pw") return reply(401, R"({"error":{"code":"invalid_credentials","message":"wrong"}})");
      return reply(200, tokens("acc1", "ref1"));
    }
    return reply(404);
  });
  auto e = engine();
  EXPECT_EQ(e->status().auth, AuthState::kSignedOut);
  std::optional<Result<json>> got;
  e->login("ann@example.com", "nope", [&](Result<json> r) { got = r; });
  e->runOnce();
  ASSERT_TRUE(got && !*got);
  EXPECT_NE(got->error().message.find("sign-in refused"), std::string::npos);
  EXPECT_FALSE(creds_.value);

  e->login("ann@example.com", "pw", [&](Result<json> r) { got = r; });
  e->runOnce();
  ASSERT_TRUE(got && *got) << got->error().message;
  EXPECT_EQ(creds_.value, "ref1");
  EXPECT_EQ(e->status().auth, AuthState::kSignedIn);
  EXPECT_EQ(e->status().account, "ann@example.com");
  // The password and the tokens are nowhere in the durable state.
  auto account = outbox_->getState(SyncEngine::kAccountKey).value().value();
  EXPECT_EQ(account.find("ref1"), std::string::npos);
  EXPECT_EQ(account.find("acc1"), std::string::npos);
  EXPECT_EQ(account.find("pw"), std::string::npos);
}

TEST_F(EngineTest, UploadsInBatchesAndMarksStoredAndDuplicateSentAndQuarantinesRejected) {
  creds_.value = "r1";
  auto recs = put(5);
  std::set<std::string> keys;
  server([&](const HttpRequest& r) -> HttpResult {
    EXPECT_TRUE(r.gzip_body);
    EXPECT_EQ(headerOf(r, "Content-Type"), "application/json");
    EXPECT_TRUE(headerOf(r, "Authorization").starts_with("Bearer a"));
    keys.insert(headerOf(r, "Idempotency-Key"));
    EXPECT_EQ(json::parse(r.body)["batch_id"], headerOf(r, "Idempotency-Key"));
    return reply(200, results(r, "stored", {{recs[1].id, "duplicate"}, {recs[3].id, "rejected"}}));
  });
  SyncOptions o;
  o.batch_max_records = 2;
  auto e = engine(o);
  e->runOnce();
  EXPECT_EQ(keys.size(), 3u);  // 2 + 2 + 1, each batch its own key
  EXPECT_EQ(pendingCount(), 0);
  auto q = outbox_->quarantined(10).value();
  ASSERT_EQ(q.size(), 1u);
  EXPECT_EQ(q[0].id, recs[3].id);
  EXPECT_EQ(q[0].reason, "bad " + recs[3].id);
  EXPECT_EQ(e->status().uploaded, 4);
  EXPECT_TRUE(e->status().online);
  EXPECT_EQ(e->status().last_upload_ms, toUnixMs(clock_.wall()));
}

TEST_F(EngineTest, RefreshesAheadOfExpiryNotOnEveryCall) {
  creds_.value = "r1";
  put(1);
  int batches = 0;
  server([&](const HttpRequest& r) -> HttpResult {
    ++batches;
    return reply(200, results(r, "stored"));
  });
  auto e = engine();
  e->runOnce();
  EXPECT_EQ(refreshes_, 1);         // no access token at start
  EXPECT_EQ(creds_.value, "r2");    // rotated and stored
  clock_.advance(Millis(600'000));  // 10 of 15 minutes: still fresh (margin is 3 minutes)
  put(1);
  e->syncNow([](Result<json>) {});
  e->runOnce();
  EXPECT_EQ(refreshes_, 1);
  clock_.advance(Millis(130'000));  // within the margin of expiry
  put(1);
  e->syncNow([](Result<json>) {});
  e->runOnce();
  EXPECT_EQ(refreshes_, 2);
  EXPECT_EQ(batches, 3);
  EXPECT_EQ(AuthSession::refreshMargin(Millis(900'000)), Millis(180'000));
  EXPECT_EQ(AuthSession::refreshMargin(Millis(20'000)), Millis(10'000));
}

TEST_F(EngineTest, A401TriggersOneRefreshAndOneRetry) {
  creds_.value = "r1";
  put(2);
  int batches = 0;
  server([&](const HttpRequest& r) -> HttpResult {
    ++batches;
    // The first access token is refused (e.g. the server's key rotated); the refreshed one works.
    if (headerOf(r, "Authorization") == "Bearer a2")
      return reply(401, R"({"error":{"code":"invalid_token","message":"bad"}})");
    return reply(200, results(r, "stored"));
  });
  auto e = engine();
  e->runOnce();
  EXPECT_EQ(batches, 2);
  EXPECT_EQ(refreshes_, 2);
  EXPECT_EQ(pendingCount(), 0);
}

TEST_F(EngineTest, ASecond401BacksOffInsteadOfLooping) {
  creds_.value = "r1";
  put(1);
  int batches = 0;
  server([&](const HttpRequest&) -> HttpResult {
    ++batches;
    return reply(401, R"({"error":{"code":"invalid_token","message":"bad"}})");
  });
  auto e = engine();
  const Millis wait = e->runOnce();
  EXPECT_EQ(batches, 2);
  EXPECT_EQ(refreshes_, 2);
  EXPECT_TRUE(e->status().backing_off);
  EXPECT_LE(wait, Millis(1000));
  EXPECT_EQ(pendingCount(), 1);
}

TEST_F(EngineTest, ARevokedFamilyStopsUploadsKeepsRecordsAndSaysSignInNeeded) {
  creds_.value = "stale";  // already rotated elsewhere: the server revokes the family
  put(3);
  int batches = 0;
  server([&](const HttpRequest& r) -> HttpResult {
    ++batches;
    return reply(200, results(r, "stored"));
  });
  auto e = engine();
  std::optional<Result<json>> sync_result;
  e->syncNow([&](Result<json> r) { sync_result = r; });
  e->runOnce();
  EXPECT_EQ(batches, 0);
  EXPECT_EQ(e->status().auth, AuthState::kSignInNeeded);
  EXPECT_NE(e->status().auth_problem.find("refresh_revoked"), std::string::npos);
  EXPECT_FALSE(creds_.value);  // the refused credential is not kept
  EXPECT_EQ(pendingCount(), 3);
  ASSERT_TRUE(sync_result && !*sync_result);
  // Later rounds send nothing at all until a new sign-in.
  net_.clear();
  clock_.advance(Millis(3'600'000));
  e->syncNow([&](Result<json> r) { sync_result = r; });
  e->runOnce();
  EXPECT_TRUE(net_.requests().empty());
  EXPECT_NE(sync_result->error().message.find("sign-in needed"), std::string::npos);
}

TEST_F(EngineTest, FailuresBackOffWithJitterAndRetryTheSameBatchWithTheSameKey) {
  creds_.value = "r1";
  put(3);
  std::vector<std::string> keys;
  bool down = true;
  server([&](const HttpRequest& r) -> HttpResult {
    keys.push_back(headerOf(r, "Idempotency-Key"));
    if (down) return std::unexpected(TransportError{NetError::kConnect, "connection refused"});
    return reply(200, results(r, "stored"));
  });
  auto e = engine();
  int64_t ceiling = 1000;
  for (int i = 0; i < 5; ++i) {
    const Millis wait = e->runOnce();
    EXPECT_GE(wait.count(), 0);
    EXPECT_LE(wait.count(), ceiling);
    EXPECT_FALSE(e->status().online);
    EXPECT_EQ(e->status().failures, i + 1);
    EXPECT_EQ(e->status().next_retry_ms, toUnixMs(clock_.wall()) + wait.count());
    // Not due yet: a round before the deadline sends nothing.
    const size_t sent = keys.size();
    if (wait > Millis(0)) {
      EXPECT_EQ(e->runOnce(), wait);
      EXPECT_EQ(keys.size(), sent);
    }
    clock_.advance(wait);
    ceiling *= 2;
  }
  down = false;
  e->runOnce();
  EXPECT_EQ(pendingCount(), 0);
  EXPECT_EQ(e->status().failures, 0);
  // Every attempt carried the one batch's key: the server can tell a resend from a new batch.
  EXPECT_EQ(std::set<std::string>(keys.begin(), keys.end()).size(), 1u);
}

TEST_F(EngineTest, RetryAfterIsHonouredInSecondsAndAsADate) {
  creds_.value = "r1";
  put(1);
  int calls = 0;
  server([&](const HttpRequest& r) -> HttpResult {
    ++calls;
    if (calls == 1) return reply(429, R"({"error":{"code":"rate_limited","message":"slow"}})", {{"retry-after", "42"}});
    if (calls == 2) return reply(503, "", {{"retry-after", "Thu, 01 Jan 2026 01:00:00 GMT"}});
    return reply(200, results(r, "stored"));
  });
  auto e = engine();
  EXPECT_EQ(e->runOnce(), Millis(42'000));
  clock_.advance(Millis(41'999));
  EXPECT_EQ(e->runOnce(), Millis(1));
  EXPECT_EQ(calls, 1);
  clock_.advance(Millis(1));
  const Millis until_date = e->runOnce();
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(toUnixMs(clock_.wall()) + until_date.count(), 1'767'229'200'000);  // 01:00:00 that day
  clock_.advance(until_date);
  e->runOnce();
  EXPECT_EQ(pendingCount(), 0);
}

TEST_F(EngineTest, TooLargeHalvesTheBatchAndQuarantinesARecordTooLargeAlone) {
  creds_.value = "r1";
  auto recs = put(8);
  std::vector<size_t> sizes;
  server([&](const HttpRequest& r) -> HttpResult {
    json body = json::parse(r.body);
    sizes.push_back(body["records"].size());
    for (const auto& rec : body["records"])
      if (rec["id"] == recs[5].id) {
        if (body["records"].size() == 1) return reply(413, R"({"error":{"code":"too_large","message":"big"}})");
        return reply(413);
      }
    if (body["records"].size() > 2) return reply(413);
    return reply(200, results(r, "stored"));
  });
  auto e = engine();
  e->runOnce();
  EXPECT_EQ(pendingCount(), 0);
  auto q = outbox_->quarantined(10).value();
  ASSERT_EQ(q.size(), 1u);
  EXPECT_EQ(q[0].id, recs[5].id);
  EXPECT_NE(q[0].reason.find("too_large"), std::string::npos);
  ASSERT_GE(sizes.size(), 3u);
  EXPECT_EQ(sizes[0], 8u);
  EXPECT_EQ(sizes[1], 4u);
  EXPECT_EQ(sizes[2], 2u);
}

TEST_F(EngineTest, ProfileWithETagAndABadProfileKeepsTheLastGoodOne) {
  creds_.value = "r1";
  int version = 1;
  std::vector<std::string> if_none_match;
  net_.setHandler([&](const HttpRequest& r) -> HttpResult {
    if (r.url.ends_with("/auth/refresh")) return reply(200, tokens("a", "r"));
    if (r.url.ends_with("/profile")) {
      if_none_match.push_back(headerOf(r, "If-None-Match"));
      const std::string etag = "\"v" + std::to_string(version) + "\"";
      if (headerOf(r, "If-None-Match") == etag) return reply(304);
      json settings = version == 2 ? json{{"bad", 1}} : json{{"idle_threshold_s", 60 * version}};
      return reply(200, json{{"profile_id", "p"}, {"version", version}, {"settings", settings}}.dump(),
                   {{"etag", etag}});
    }
    return reply(200, R"({"results":[]})");
  });
  SyncOptions o;
  o.profile_interval = Millis(1000);
  auto e = engine(o);
  e->runOnce();
  ASSERT_EQ(profiles_.size(), 1u);
  EXPECT_EQ(profiles_[0].second, "\"v1\"");
  EXPECT_EQ(e->status().profile, "p v1");
  clock_.advance(Millis(1000));
  e->runOnce();  // 304
  EXPECT_EQ(profiles_.size(), 1u);
  version = 2;  // a bad one
  clock_.advance(Millis(1000));
  e->runOnce();
  EXPECT_EQ(profiles_.size(), 2u);
  EXPECT_EQ(e->status().profile, "p v1");  // still the last good one
  EXPECT_EQ(e->status().profile_problem, "bad value");
  clock_.advance(Millis(1000));
  e->runOnce();  // asks with the rejected ETag: not handed the bad profile again
  EXPECT_EQ(profiles_.size(), 2u);
  version = 3;
  clock_.advance(Millis(1000));
  e->runOnce();
  EXPECT_EQ(profiles_.size(), 3u);
  EXPECT_EQ(e->status().profile, "p v3");
  EXPECT_TRUE(e->status().profile_problem.empty());
  EXPECT_EQ(if_none_match, (std::vector<std::string>{"", "\"v1\"", "\"v1\"", "\"v2\"", "\"v2\""}));
}

// workmonitor-server answers {"profile_id": null} for a company without a profile; that once threw out of
// the round and stopped every upload (found running the whole stack).
TEST_F(EngineTest, NullFieldsInAServerReplyDoNotStopUploads) {
  creds_.value = "r1";
  put(2);
  net_.setHandler([&](const HttpRequest& r) -> HttpResult {
    if (r.url.ends_with("/auth/refresh"))
      return reply(200, json{{"access_token", "a"},
                             {"refresh_token", "r2"},
                             {"expires_in", 3600},
                             {"token_type", "bearer"},
                             {"user", {{"user_id", nullptr}, {"email", nullptr}}}}
                            .dump());
    if (r.url.ends_with("/profile"))
      return reply(200, json{{"profile_id", nullptr}, {"version", 0}, {"settings", json::object()}}.dump());
    return reply(200, R"({"results":[]})");
  });
  auto e = engine();
  EXPECT_NO_THROW(e->runOnce());
  EXPECT_EQ(e->status().profile, "(default) v0");
}

TEST_F(EngineTest, LogoutForgetsTheCredentialAndStopsUploads) {
  creds_.value = "r1";
  put(1);
  net_.setHandler([&](const HttpRequest& r) -> HttpResult {
    if (r.url.ends_with("/auth/logout")) return reply(204);
    if (r.url.ends_with("/auth/refresh")) return reply(200, tokens("a", "r2"));
    return reply(500);
  });
  auto e = engine();
  bool done = false;
  e->logout([&](Result<json> r) { done = r.has_value(); });
  e->runOnce();
  EXPECT_TRUE(done);
  EXPECT_FALSE(creds_.value);
  EXPECT_EQ(e->status().auth, AuthState::kSignedOut);
  auto reqs = net_.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_TRUE(reqs[0].url.ends_with("/auth/logout"));
  EXPECT_EQ(pendingCount(), 1);
}

TEST_F(EngineTest, TheThreadAnswersJobsAndStopEndsThemAll) {
  creds_.value = "r1";
  put(1);
  server([&](const HttpRequest& r) -> HttpResult { return reply(200, results(r, "stored")); });
  auto e = engine();
  e->start();
  std::promise<Result<json>> p;
  e->syncNow([&](Result<json> r) { p.set_value(r); });
  auto r = p.get_future().get();
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ((*r)["pending"], 0);
  e->stop();
  std::optional<Result<json>> late;
  e->syncNow([&](Result<json> r2) { late = r2; });  // after stop: answered at once, not left hanging
  ASSERT_TRUE(late && !*late);
  e->stop();
}

}  // namespace
}  // namespace wm::sync
