// The uploader's logic above HTTP, driven round by round (runOnce) with a ManualClock and an in-memory
// transport: tokens and refresh, batches and their results, backoff, Retry-After, 413, the profile.
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>

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

TEST_F(EngineTest, EachBatchReportsTheQueueAsTheRoundBegan) {
  creds_.value = "r1";
  auto recs = put(5);
  std::vector<json> queues;
  server([&](const HttpRequest& r) -> HttpResult {
    queues.push_back(json::parse(r.body)["queue"]);
    return reply(200, results(r, "stored", {{recs[4].id, "rejected"}}));
  });
  SyncOptions o;
  o.batch_max_records = 2;
  auto e = engine(o);
  e->runOnce();
  ASSERT_EQ(queues.size(), 3u);
  for (const auto& q : queues)
    EXPECT_EQ(q, (json{{"pending", 5}, {"quarantined", 0}, {"oldest_pending_ms", recs[0].start_ms}})) << q;
  // The next round: one new record, the rejected one counted as quarantined.
  auto more = put(1);
  e->syncNow([](Result<json>) {});
  e->runOnce();
  ASSERT_EQ(queues.size(), 4u);
  EXPECT_EQ(queues[3], (json{{"pending", 1}, {"quarantined", 1}, {"oldest_pending_ms", more[0].start_ms}}));
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

TEST_F(EngineTest, ARevokedDeviceEndsTheSignInWithoutARefreshAndForgetsTheDevice) {
  creds_.value = "r1";
  ASSERT_TRUE(outbox_->setState(SyncEngine::kAccountKey, R"({"email":"ann@example.com","device_id":"dev-1"})"));
  put(3);
  int batches = 0;
  server([&](const HttpRequest& r) -> HttpResult {
    ++batches;
    EXPECT_EQ(json::parse(r.body)["device_id"], "dev-1");
    return reply(401, R"({"error":{"code":"device_revoked","message":"this device was revoked"}})");
  });
  SyncOptions o;
  o.batch_max_records = 1;  // three batches may be in flight: the first answer decides
  auto e = engine(o);
  std::optional<Result<json>> sync_result;
  e->syncNow([&](Result<json> r) { sync_result = r; });
  e->runOnce();
  EXPECT_GE(batches, 1);
  EXPECT_EQ(refreshes_, 1) << "only the first access token's: a refresh cannot undo a revoked device";
  EXPECT_EQ(e->status().auth, AuthState::kSignInNeeded);
  EXPECT_NE(e->status().auth_problem.find("an administrator revoked this device (dev-1"), std::string::npos)
      << e->status().auth_problem;
  EXPECT_FALSE(creds_.value);
  EXPECT_EQ(pendingCount(), 3);
  EXPECT_TRUE(e->status().device_id.empty());
  EXPECT_EQ(outbox_->getState(SyncEngine::kAccountKey).value().value().find("dev-1"), std::string::npos);
  ASSERT_TRUE(sync_result && !*sync_result);
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

// An unreachable server is tried again within offline_backoff_cap however long it has been down (the data
// should follow the network within a minute of its return); a server that answers "not now" gets the long cap.
TEST_F(EngineTest, AnUnreachableServerIsRetriedUnderTheShorterCap) {
  creds_.value = "r1";
  put(3);
  bool reachable = false;
  server([&](const HttpRequest&) -> HttpResult {
    if (!reachable) return std::unexpected(TransportError{NetError::kConnect, "connection refused"});
    return reply(503, R"({"error":{"code":"unavailable","message":"busy"}})");
  });
  SyncOptions o;
  o.offline_backoff_cap = Millis(5000);
  auto e = engine(o);  // backoff_cap 60 s
  Millis longest_offline{0}, longest_busy{0};
  for (int i = 0; i < 30; ++i) {
    const Millis wait = e->runOnce();
    longest_offline = std::max(longest_offline, wait);
    clock_.advance(wait);
  }
  EXPECT_LE(longest_offline.count(), 5000);
  EXPECT_GT(longest_offline.count(), 2500) << "the waits still spread up to the cap";
  reachable = true;
  for (int i = 0; i < 30; ++i) {
    const Millis wait = e->runOnce();
    EXPECT_TRUE(e->status().online);
    longest_busy = std::max(longest_busy, wait);
    clock_.advance(wait);
  }
  EXPECT_LE(longest_busy.count(), 60000);
  EXPECT_GT(longest_busy.count(), 5000) << "a server asking for time gets the long cap";
  EXPECT_EQ(pendingCount(), 3);
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

TEST(CacheMaxAge, ReadsTheDirectiveAndKeepsItWithinBounds) {
  EXPECT_EQ(cacheMaxAge("private, max-age=60"), Millis(60'000));
  EXPECT_EQ(cacheMaxAge("max-age=5"), Millis(5'000));
  EXPECT_EQ(cacheMaxAge("max-age=0"), Millis(1'000));  // never a busy loop
  EXPECT_EQ(cacheMaxAge("max-age=99999999999999999999"), Millis(3'600'000));
  EXPECT_EQ(cacheMaxAge("s-maxage=9, max-age=30"), Millis(30'000));
  EXPECT_EQ(cacheMaxAge("no-store"), std::nullopt);
  EXPECT_EQ(cacheMaxAge("x-max-age=30"), std::nullopt);
  EXPECT_EQ(cacheMaxAge("max-age=abc"), std::nullopt);
  EXPECT_EQ(cacheMaxAge("max-age=-5"), std::nullopt);
  EXPECT_EQ(cacheMaxAge("max-age=12x"), std::nullopt);
  EXPECT_EQ(cacheMaxAge("max-age"), std::nullopt);
}

// The server's max-age on the profile reply sets when the engine asks again (instead of profile_interval),
// and the engine's wait after a round ends then, not a whole poll later.
TEST_F(EngineTest, TheProfileIsAskedForAgainAfterTheServersMaxAge) {
  creds_.value = "r1";
  int asked = 0;
  net_.setHandler([&](const HttpRequest& r) -> HttpResult {
    if (r.url.ends_with("/auth/refresh")) return reply(200, tokens("a", "r"));
    if (r.url.ends_with("/profile")) {
      ++asked;
      return reply(200, json{{"profile_id", "p"}, {"version", 1}, {"settings", json::object()}}.dump(),
                   {{"etag", "\"v1\""}, {"cache-control", "private, max-age=4"}});
    }
    return reply(200, R"({"results":[]})");
  });
  SyncOptions o;
  o.profile_interval = Millis(300'000);
  o.poll_interval = Millis(15'000);
  auto e = engine(o);
  EXPECT_EQ(e->runOnce(), Millis(4'000));  // woken for the profile, before the 15 s poll
  EXPECT_EQ(asked, 1);
  clock_.advance(Millis(3'000));
  e->runOnce();
  EXPECT_EQ(asked, 1);
  clock_.advance(Millis(1'000));
  e->runOnce();
  EXPECT_EQ(asked, 2);  // 4 s, not the 300 s of profile_interval
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

// ---- the next batch is prepared while one is on the wire ----------------------------------------------------

std::vector<std::pair<std::string, int64_t>> sentRecords(const HttpRequest& r) {
  std::vector<std::pair<std::string, int64_t>> out;
  const json body = json::parse(r.body);  // kept alive: a range-for over a temporary's member would dangle
  for (const auto& rec : body["records"])
    out.emplace_back(rec["id"].get<std::string>(), rec["revision"].get<int64_t>());
  return out;
}

TEST_F(EngineTest, PendingExceptLeavesOutTheRecordsInFlightAndStillFillsTheBatch) {
  auto recs = put(6);
  auto got = outbox_->pendingExcept(3, {recs[0].id, recs[2].id}).value();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].id, recs[1].id);
  EXPECT_EQ(got[1].id, recs[3].id);
  EXPECT_EQ(got[2].id, recs[4].id);
  EXPECT_EQ(outbox_->pendingExcept(10, {}).value().size(), 6u);
}

TEST_F(EngineTest, TheBodySentIsTheGzipOfTheJsonMadeAhead) {
  creds_.value = "r1";
  put(5);
  std::vector<HttpRequest> seen;
  server([&](const HttpRequest& r) -> HttpResult {
    seen.push_back(r);
    return reply(200, results(r, "stored"));
  });
  SyncOptions o;
  o.batch_max_records = 2;
  auto e = engine(o);
  e->runOnce();
  ASSERT_EQ(seen.size(), 3u);
  for (const auto& r : seen) {
    EXPECT_TRUE(r.gzip_body);
    ASSERT_FALSE(r.gzipped_body.empty());
    EXPECT_EQ(gzipDecompress(r.gzipped_body).value(), r.body);
  }
  EXPECT_EQ(pendingCount(), 0);
}

// A record changed while its batch is on the wire: the acknowledgement is for the revision sent, so the new
// revision stays pending and goes in a later batch (never in the one prepared meanwhile).
TEST_F(EngineTest, ARecordUpdatedWhileItsBatchIsInFlightIsSentAgainWithItsNewRevision) {
  creds_.value = "r1";
  auto recs = put(3);
  std::vector<std::vector<std::pair<std::string, int64_t>>> batches;
  server([&](const HttpRequest& r) -> HttpResult {
    batches.push_back(sentRecords(r));
    if (batches.size() == 1) {
      api::Record changed = recs[0];
      changed.revision = 2;
      changed.data["title"] = "changed while in flight";
      EXPECT_TRUE(outbox_->putSync(changed));
    }
    return reply(200, results(r, "stored"));
  });
  SyncOptions o;
  o.batch_max_records = 2;
  auto e = engine(o);
  e->runOnce();
  ASSERT_EQ(batches.size(), 3u);
  using Sent = std::vector<std::pair<std::string, int64_t>>;
  EXPECT_EQ(batches[0], (Sent{{recs[0].id, 1}, {recs[1].id, 1}}));
  EXPECT_EQ(batches[1], (Sent{{recs[2].id, 1}}));
  EXPECT_EQ(batches[2], (Sent{{recs[0].id, 2}}));
  EXPECT_EQ(pendingCount(), 0);
  EXPECT_EQ(e->status().uploaded, 4);
}

// The batch in flight fails: its records stay pending and it is resent as it was (same key, same body); the
// batch prepared meanwhile was never sent, and its records are pending too.
TEST_F(EngineTest, AFailedBatchLeavesItAndThePreparedBatchPendingAndIsResentAsItWas) {
  creds_.value = "r1";
  auto recs = put(5);
  std::vector<HttpRequest> seen;
  bool down = true;
  server([&](const HttpRequest& r) -> HttpResult {
    seen.push_back(r);
    if (down) return std::unexpected(TransportError{NetError::kTimeout, "timed out"});
    return reply(200, results(r, "stored"));
  });
  SyncOptions o;
  o.batch_max_records = 2;
  auto e = engine(o);
  const Millis wait = e->runOnce();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(pendingCount(), 5);
  EXPECT_EQ(e->status().uploaded, 0);
  down = false;
  clock_.advance(wait);
  e->runOnce();
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_EQ(headerOf(seen[1], "Idempotency-Key"), headerOf(seen[0], "Idempotency-Key"));
  EXPECT_EQ(seen[1].body, seen[0].body);
  EXPECT_EQ(sentRecords(seen[2]), (std::vector<std::pair<std::string, int64_t>>{{recs[2].id, 1}, {recs[3].id, 1}}));
  EXPECT_EQ(pendingCount(), 0);
}

// An idle period that refers to its time entry must not reach the server before the entry: the server would
// store the reference as NULL (HTTP_API.md). Whatever happens to the entry's batch (failure, no answer, an
// answer for some records only), the idle period's batch waits until the entry was acknowledged.
TEST_F(EngineTest, ARecordReferringToAnEntryNeverArrivesBeforeTheEntry) {
  for (const std::string mode : {"fail", "unanswered", "partly"}) {
    SCOPED_TRACE(mode);
    creds_.value = "r1";
    current_refresh_ = "r1";
    refreshes_ = 0;
    const int64_t t = toUnixMs(clock_.wall());
    auto entry = testing::makeRecord(ids_, api::RecordKind::kTimeEntry, t, t + 10, {{"note", "e"}});
    auto other = testing::makeRecord(ids_, api::RecordKind::kAppUsage, t + 1, t + 2, {{"app", "x"}});
    auto idle = testing::makeRecord(ids_, api::RecordKind::kIdlePeriod, t + 3, t + 5,
                                    {{"decision", "keep"}, {"entry_id", entry.id}});
    ASSERT_TRUE(outbox_->putSync(entry));
    ASSERT_TRUE(outbox_->putSync(other));
    ASSERT_TRUE(outbox_->putSync(idle));
    clock_.advance(Millis(10));
    std::set<std::string> acknowledged;
    int batches = 0;
    server([&](const HttpRequest& r) -> HttpResult {
      ++batches;
      const auto sent = sentRecords(r);
      bool has_entry = false;
      for (const auto& [id, rev] : sent) has_entry = has_entry || id == entry.id;
      // In the same batch is fine: the server stores a batch's time entries before what refers to them.
      for (const auto& [id, rev] : sent) {
        if (id == idle.id) {
          EXPECT_TRUE(acknowledged.contains(entry.id) || has_entry) << "the idle period arrived before its entry";
        }
      }
      if (has_entry && batches == 1) {
        if (mode == "fail") return std::unexpected(TransportError{NetError::kReceive, "connection reset"});
        if (mode == "unanswered") return reply(200, R"({"results":[]})");
        // Only the other record is answered; the entry is not mentioned.
        json out = json::array();
        for (const auto& [id, rev] : sent)
          if (id != entry.id) out.push_back({{"id", id}, {"revision", rev}, {"status", "stored"}});
        return reply(200, json{{"results", out}}.dump());
      }
      for (const auto& [id, rev] : sent) acknowledged.insert(id);
      return reply(200, results(r, "stored"));
    });
    SyncOptions o;
    o.batch_max_records = 2;
    auto e = engine(o);
    for (int i = 0; i < 4 && pendingCount() > 0; ++i) {
      clock_.advance(e->runOnce());
      e->syncNow([](Result<json>) {});
    }
    EXPECT_EQ(pendingCount(), 0);
    EXPECT_TRUE(acknowledged.contains(idle.id));
  }
}

// More batches than one round sends: every record goes exactly once (the answer to the round's last batches
// is written to the outbox before the round ends).
TEST_F(EngineTest, EveryRecordIsSentOnceAcrossRounds) {
  creds_.value = "r1";
  auto recs = put(111);
  std::map<std::string, int> sent;
  server([&](const HttpRequest& r) -> HttpResult {
    for (const auto& [id, rev] : sentRecords(r)) ++sent[id];
    return reply(200, results(r, "stored"));
  });
  SyncOptions o;
  o.batch_max_records = 2;
  auto e = engine(o);
  EXPECT_EQ(e->runOnce(), Millis(0));  // 50 batches, then a turn for jobs: more to do at once
  EXPECT_EQ(pendingCount(), 11);
  e->runOnce();
  EXPECT_EQ(pendingCount(), 0);
  ASSERT_EQ(sent.size(), recs.size());
  for (const auto& [id, n] : sent) EXPECT_EQ(n, 1) << id;
  EXPECT_EQ(e->status().uploaded, 111);
}

// ---- two batches on the wire ----------------------------------------------------------------------------------

// Counts the batch requests on the wire at once; wait() holds a request until `n` are (or the time is up).
class WireMonitor {
 public:
  struct Guard {
    WireMonitor& m;
    explicit Guard(WireMonitor& mon) : m(mon) {
      std::lock_guard lk(m.mu);
      m.peak = std::max(m.peak, ++m.active);
      m.cv.notify_all();
    }
    ~Guard() {
      std::lock_guard lk(m.mu);
      --m.active;
      m.cv.notify_all();
    }
  };
  // Until n requests have been on the wire at once (peak, not active: the other may already have answered).
  bool wait(int n, Millis timeout = Millis(3000)) {
    std::unique_lock lk(mu);
    return cv.wait_for(lk, timeout, [&] { return peak >= n; });
  }
  std::mutex mu;
  std::condition_variable cv;
  int active = 0;
  int peak = 0;
};

TEST_F(EngineTest, TwoBatchesThatReferToNothingOfEachOtherAreOnTheWireAtOnce) {
  creds_.value = "r1";
  auto recs = put(8);
  net_.setConcurrency(2);
  WireMonitor wire;
  std::mutex mu;
  std::map<std::string, int> sent;
  server([&](const HttpRequest& r) -> HttpResult {
    WireMonitor::Guard g(wire);
    wire.wait(2, Millis(500));  // the other batch should come while this one is on the wire
    std::lock_guard lk(mu);
    for (const auto& [id, rev] : sentRecords(r)) ++sent[id];
    return reply(200, results(r, "stored"));
  });
  SyncOptions o;
  o.batch_max_records = 2;
  auto e = engine(o);
  e->runOnce();
  EXPECT_EQ(wire.peak, 2);
  EXPECT_EQ(pendingCount(), 0);
  ASSERT_EQ(sent.size(), recs.size());
  for (const auto& [id, n] : sent) EXPECT_EQ(n, 1) << id;
  EXPECT_EQ(e->status().uploaded, 8);
}

// The idle period's batch refers to the time entry in the batch on the wire: it waits for that answer, while
// a batch referring to nothing could have gone alongside.
TEST_F(EngineTest, ABatchReferringToOneOnTheWireWaitsForItsAnswer) {
  creds_.value = "r1";
  net_.setConcurrency(2);
  const int64_t t = toUnixMs(clock_.wall());
  auto entry = testing::makeRecord(ids_, api::RecordKind::kTimeEntry, t, t + 10, {{"note", "e"}});
  auto other = testing::makeRecord(ids_, api::RecordKind::kAppUsage, t + 1, t + 2, {{"app", "x"}});
  auto idle = testing::makeRecord(ids_, api::RecordKind::kIdlePeriod, t + 3, t + 5,
                                  {{"decision", "keep"}, {"entry_id", entry.id}});
  auto shot = testing::makeRecord(ids_, api::RecordKind::kScreenshot, t + 6, t + 6, {{"time_entry_id", entry.id}});
  for (const auto& r : {entry, other, idle, shot}) ASSERT_TRUE(outbox_->putSync(r));
  WireMonitor wire;
  std::mutex mu;
  bool entry_answered = false;
  std::vector<std::string> violations;
  server([&](const HttpRequest& r) -> HttpResult {
    WireMonitor::Guard g(wire);
    const auto sent = sentRecords(r);
    bool has_entry = false, refers = false;
    for (const auto& [id, rev] : sent) {
      has_entry = has_entry || id == entry.id;
      refers = refers || id == idle.id || id == shot.id;
    }
    {
      std::lock_guard lk(mu);
      if (refers && !has_entry && !entry_answered) violations.push_back("sent before its entry was answered");
    }
    if (has_entry) wire.wait(2, Millis(300));  // gives a wrongly sent second batch the time to arrive
    std::lock_guard lk(mu);
    if (has_entry) entry_answered = true;
    return reply(200, results(r, "stored"));
  });
  SyncOptions o;
  o.batch_max_records = 2;
  auto e = engine(o);
  e->runOnce();
  EXPECT_TRUE(violations.empty()) << violations.front();
  EXPECT_EQ(wire.peak, 1);
  EXPECT_EQ(pendingCount(), 0);
}

// Two batches on the wire; the older fails, the newer is stored. The newer one's records are marked sent; the
// older one's stay pending and it goes again as it was (same key, same body).
TEST_F(EngineTest, AFailedBatchOnTheWireBesideAStoredOneIsResentAsItWas) {
  creds_.value = "r1";
  auto recs = put(4);
  net_.setConcurrency(2);
  WireMonitor wire;
  std::mutex mu;
  std::vector<HttpRequest> seen;
  bool fail_first = true;
  server([&](const HttpRequest& r) -> HttpResult {
    WireMonitor::Guard g(wire);
    const bool first = sentRecords(r).front().first == recs[0].id;
    {
      std::lock_guard lk(mu);
      seen.push_back(r);
    }
    // Both wait until both are on the wire: the newer batch's thread may reach the server first, and were it
    // answered before the older one arrived, the two would never be on the wire together.
    wire.wait(2);
    if (first && fail_first) {
      std::lock_guard lk(mu);
      fail_first = false;
      return std::unexpected(TransportError{NetError::kTimeout, "timed out"});
    }
    return reply(200, results(r, "stored"));
  });
  SyncOptions o;
  o.batch_max_records = 2;
  auto e = engine(o);
  const Millis wait = e->runOnce();
  EXPECT_EQ(wire.peak, 2);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(pendingCount(), 2);  // the failed batch's records
  EXPECT_EQ(e->status().uploaded, 2);
  EXPECT_EQ(e->status().failures, 1);
  const auto pending = outbox_->pending(10).value();
  ASSERT_EQ(pending.size(), 2u);
  EXPECT_EQ(pending[0].id, recs[0].id);
  EXPECT_EQ(pending[1].id, recs[1].id);
  clock_.advance(wait);
  e->runOnce();
  EXPECT_EQ(pendingCount(), 0);
  std::lock_guard lk(mu);
  ASSERT_EQ(seen.size(), 3u);
  const HttpRequest& failed = sentRecords(seen[0]).front().first == recs[0].id ? seen[0] : seen[1];
  EXPECT_EQ(headerOf(seen[2], "Idempotency-Key"), headerOf(failed, "Idempotency-Key"));
  EXPECT_EQ(seen[2].body, failed.body);
}

// With two batches on the wire, a record changed meanwhile is in neither the batch prepared meanwhile nor sent
// twice at once; its new revision goes after the answer to the old one.
TEST_F(EngineTest, ARecordUpdatedWhileTwoBatchesAreOnTheWireGoesAgainWithItsNewRevision) {
  creds_.value = "r1";
  auto recs = put(6);
  net_.setConcurrency(2);
  std::mutex mu;
  std::vector<std::vector<std::pair<std::string, int64_t>>> batches;
  std::map<std::string, int> on_wire;
  bool changed = false;
  server([&](const HttpRequest& r) -> HttpResult {
    const auto sent = sentRecords(r);
    {
      std::lock_guard lk(mu);
      batches.push_back(sent);
      for (const auto& [id, rev] : sent) EXPECT_EQ(on_wire[id]++, 0) << id << " is on the wire twice";
      if (!changed) {
        changed = true;
        api::Record c = recs[0];
        c.revision = 2;
        EXPECT_TRUE(outbox_->putSync(c));
      }
    }
    std::this_thread::sleep_for(Millis(20));
    std::lock_guard lk(mu);
    for (const auto& [id, rev] : sent) --on_wire[id];
    return reply(200, results(r, "stored"));
  });
  SyncOptions o;
  o.batch_max_records = 2;
  auto e = engine(o);
  e->runOnce();
  EXPECT_EQ(pendingCount(), 0);
  std::lock_guard lk(mu);
  int first_rev = 0, second_rev = 0;
  for (const auto& b : batches)
    for (const auto& [id, rev] : b)
      if (id == recs[0].id) (rev == 1 ? first_rev : second_rev)++;
  EXPECT_EQ(first_rev, 1);
  EXPECT_EQ(second_rev, 1);
  EXPECT_EQ(batches.back(), (std::vector<std::pair<std::string, int64_t>>{{recs[0].id, 2}}));
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
