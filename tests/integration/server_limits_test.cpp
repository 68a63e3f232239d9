// The per-endpoint rate limits (refresh, batches, screenshot uploads, the password-reset hook) and who may
// read GET /metrics, through the real HTTP server on a real PostgreSQL 15. Each limit is run with a short
// window (kWindow) so a test sees it trip and then recover without a long sleep.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "server_test_env.h"
#include "workmonitor/server/http/crypto.h"
#include "workmonitor/server/http/metrics_access.h"
#include "workmonitor/server/http/rate_limit.h"
#include "workmonitor/server/http/service.h"

namespace wm::test {
namespace {

using nlohmann::json;
namespace h = server::http;

constexpr std::chrono::seconds kWindow{2};

class ServerLimitTest : public ServerTest {
 protected:
  HttpReply refresh(const std::string& rt) { return call("POST", "/auth/refresh", json{{"refresh_token", rt}}.dump()); }
  std::string refreshToken(const std::string& email) {
    auto r = login(email);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json().value("refresh_token", "");
  }
  HttpReply putShot(const std::string& tok, const std::string& id) {
    auto hd = bearer(tok);
    hd["Content-Type"] = "image/jpeg";
    hd["X-Content-SHA256"] = h::hex(h::sha256(kImage));
    return call("PUT", "/api/v1/agent/screenshots/" + id, kImage, hd);
  }
  json oneRecord() { return json::array({makeRecord("time_entry", nowMs() - 60000, nowMs() - 59000, json::object())}); }
  /// Past the window that the last 429 reported: the counters start again.
  static void waitOutTheWindow() { std::this_thread::sleep_for(kWindow + std::chrono::milliseconds(150)); }
  static void expectLimited(const HttpReply& r, const std::string& whose) {
    EXPECT_EQ(r.status, 429) << r.body;
    EXPECT_EQ(r.errorCode(), "rate_limited");
    ASSERT_TRUE(r.headers.contains("retry-after"));
    const int wait = std::stoi(r.headers.at("retry-after"));
    EXPECT_GE(wait, 1);
    EXPECT_LE(wait, kWindow.count());
    EXPECT_NE(r.json()["error"].value("message", "").find(whose), std::string::npos) << r.body;
  }
  static constexpr const char* kImage = "not really a jpeg, the server checks only its sha256";
};

TEST_F(ServerLimitTest, RefreshIsLimitedPerAccountAndTheRefusedTokenStaysUsable) {
  auto c = config();
  c.refresh_limit = {3, 0, kWindow};
  startServer(c);
  std::string rt = refreshToken("alice@a.test");
  const std::string other = refreshToken("admin@a.test");
  for (int i = 0; i < 3; ++i) {
    auto r = refresh(rt);
    ASSERT_EQ(r.status, 200) << r.body;
    rt = r.json()["refresh_token"];
  }
  expectLimited(refresh(rt), "for this account");
  // Another account on the same address is not affected.
  EXPECT_EQ(refresh(other).status, 200);
  // The refused refresh spent nothing: after the window the same token rotates (no re-use revocation).
  waitOutTheWindow();
  auto r = refresh(rt);
  EXPECT_EQ(r.status, 200) << r.body;
}

TEST_F(ServerLimitTest, RefreshIsLimitedPerAddressBeforeTheLookup) {
  auto c = config();
  c.refresh_limit = {0, 3, kWindow};
  startServer(c);
  const std::string rt = refreshToken("alice@a.test");
  // Unknown tokens count too: the address side is counted before the database is asked.
  for (int i = 0; i < 3; ++i) EXPECT_EQ(refresh("unknown-token-" + std::to_string(i)).status, 401);
  expectLimited(refresh(rt), "from this address");
  waitOutTheWindow();
  EXPECT_EQ(refresh(rt).status, 200);
}

TEST_F(ServerLimitTest, BatchesAreLimitedPerAccountAndNothingOfARefusedBatchIsStored) {
  auto c = config();
  c.batches_limit = {2, 0, kWindow};
  startServer(c);
  const std::string at = token("alice@a.test");
  const std::string other = token("admin@a.test");
  EXPECT_EQ(postBatch(at, oneRecord()).status, 200);
  EXPECT_EQ(postBatch(at, oneRecord()).status, 200);
  const json refused = oneRecord();
  expectLimited(postBatch(at, refused), "for this account");
  EXPECT_EQ(postBatch(other, oneRecord()).status, 200);
  waitOutTheWindow();
  // The refused batch, sent again as the agent would: stored now, so it was not stored before.
  auto r = postBatch(at, refused);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["results"][0]["status"], "stored");
}

TEST_F(ServerLimitTest, BatchesAreLimitedPerAddressWhateverTheAccount) {
  auto c = config();
  c.batches_limit = {0, 3, kWindow};
  startServer(c);
  const std::string at = token("alice@a.test");
  const std::string other = token("admin@a.test");
  EXPECT_EQ(postBatch(at, oneRecord()).status, 200);
  EXPECT_EQ(postBatch(other, oneRecord()).status, 200);
  EXPECT_EQ(call("POST", "/api/v1/agent/batches", "{}").status, 401);  // counted before the token is checked
  expectLimited(postBatch(other, oneRecord()), "from this address");
  waitOutTheWindow();
  EXPECT_EQ(postBatch(at, oneRecord()).status, 200);
}

TEST_F(ServerLimitTest, ScreenshotUploadsAreLimitedPerAccount) {
  auto c = config();
  c.screenshots_limit = {2, 0, kWindow};
  startServer(c);
  const std::string at = token("alice@a.test");
  const std::string other = token("admin@a.test");
  json shot = makeRecord("screenshot", nowMs() - 1000, nowMs() - 1000, {{"width", 10}, {"height", 10}});
  const std::string id = shot["id"];
  ASSERT_EQ(postBatch(at, json::array({shot})).status, 200);
  // Every upload attempt counts, whatever its answer.
  EXPECT_EQ(putShot(at, "00000000-0000-7000-8000-000000000001").errorCode(), "metadata_missing");
  EXPECT_EQ(putShot(at, "00000000-0000-7000-8000-000000000002").errorCode(), "metadata_missing");
  expectLimited(putShot(at, id), "for this account");
  EXPECT_EQ(putShot(other, "00000000-0000-7000-8000-000000000003").errorCode(), "metadata_missing");
  waitOutTheWindow();
  auto r = putShot(at, id);
  EXPECT_EQ(r.status, 200) << r.body;
}

TEST_F(ServerLimitTest, ScreenshotUploadsAreLimitedPerAddress) {
  auto c = config();
  c.screenshots_limit = {0, 2, kWindow};
  startServer(c);
  const std::string at = token("alice@a.test");
  const std::string other = token("admin@a.test");
  EXPECT_EQ(putShot(at, "00000000-0000-7000-8000-000000000001").status, 409);
  EXPECT_EQ(putShot(other, "00000000-0000-7000-8000-000000000002").status, 409);
  expectLimited(putShot(other, "00000000-0000-7000-8000-000000000003"), "from this address");
  waitOutTheWindow();
  EXPECT_EQ(putShot(other, "00000000-0000-7000-8000-000000000003").status, 409);
}

// The hook the password-reset endpoint calls (Service::limitPasswordReset): per email, per address.
TEST_F(ServerLimitTest, PasswordResetLimitIsReadyPerAccountAndPerAddress) {
  auto c = config();
  c.password_reset_limit = {2, 3, kWindow};
  startServer(c);
  auto& service = server_->service();
  EXPECT_TRUE(service.limitPasswordReset("alice@a.test", "10.0.0.1"));
  EXPECT_TRUE(service.limitPasswordReset("alice@a.test", "10.0.0.2"));
  auto account = service.limitPasswordReset("alice@a.test", "10.0.0.3");
  ASSERT_FALSE(account);
  EXPECT_EQ(account.error().status, 429u);
  EXPECT_EQ(account.error().code, "rate_limited");
  EXPECT_GE(account.error().retry_after, 1);
  EXPECT_TRUE(service.limitPasswordReset("admin@a.test", "10.0.0.1"));
  EXPECT_TRUE(service.limitPasswordReset("bob@a.test", "10.0.0.1"));
  auto address = service.limitPasswordReset("carol@a.test", "10.0.0.1");  // the address's 4th
  ASSERT_FALSE(address);
  EXPECT_NE(address.error().message.find("from this address"), std::string::npos);
  waitOutTheWindow();
  EXPECT_TRUE(service.limitPasswordReset("alice@a.test", "10.0.0.1"));
}

TEST_F(ServerLimitTest, MetricsAnswerLoopbackByDefaultAndNotForwardedOrRemoteRequests) {
  auto m = call("GET", "/metrics");
  EXPECT_EQ(m.status, 200);
  EXPECT_NE(m.body.find("wm_http_requests_total"), std::string::npos);
  // Through a reverse proxy on this machine the peer is loopback, but the request names another client.
  for (const char* header : {"X-Forwarded-For", "Forwarded", "X-Real-IP"}) {
    auto r = call("GET", "/metrics", "", {{header, "203.0.113.7"}});
    EXPECT_EQ(r.status, 403) << header;
    EXPECT_EQ(r.errorCode(), "forbidden");
  }
  // The test's client can only connect over loopback; metrics_loopback_is_local = false makes the server take
  // it as a remote client, so this is the answer a request from another machine gets (isLoopbackAddress is
  // checked on its own below).
  auto c = config();
  c.metrics_loopback_is_local = false;
  startServer(c);
  auto remote = call("GET", "/metrics");
  EXPECT_EQ(remote.status, 403);
  EXPECT_EQ(remote.errorCode(), "forbidden");
  EXPECT_EQ(remote.body.find("wm_http_requests_total"), std::string::npos);
  EXPECT_EQ(call("GET", "/healthz").status, 200);
  EXPECT_EQ(call("GET", "/readyz").status, 200);
}

TEST_F(ServerLimitTest, MetricsWithATokenAnswerOnlyItsBearerFromAnywhere) {
  const std::string kToken = "metrics-token-0123456789abcdef";
  auto c = config();
  c.metrics_token = kToken;
  startServer(c);
  // Loopback no longer suffices once a token is set.
  auto none = call("GET", "/metrics");
  EXPECT_EQ(none.status, 403);
  EXPECT_EQ(none.errorCode(), "forbidden");
  auto wrong = call("GET", "/metrics", "", {{"Authorization", "Bearer " + kToken + "x"}});
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(wrong.errorCode(), "invalid_token");
  EXPECT_EQ(wrong.headers["www-authenticate"], "Bearer");
  EXPECT_EQ(call("GET", "/metrics", "", {{"Authorization", "Basic " + kToken}}).status, 401);
  auto ok = call("GET", "/metrics", "", {{"Authorization", "Bearer " + kToken}});
  EXPECT_EQ(ok.status, 200);
  EXPECT_NE(ok.body.find("wm_db_pool_connections"), std::string::npos);
  // A remote client (see the test above for how remote is simulated) with the token is served too.
  c.metrics_loopback_is_local = false;
  startServer(c);
  EXPECT_EQ(call("GET", "/metrics", "", {{"Authorization", "bearer " + kToken}}).status, 200);
  EXPECT_EQ(call("GET", "/metrics").status, 403);
  EXPECT_EQ(call("GET", "/healthz").status, 200);
  EXPECT_EQ(call("GET", "/readyz").status, 200);
}

// --- the decisions on their own, no server ---

TEST(MetricsAccess, LoopbackAddresses) {
  for (const char* a : {"127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"}) {
    EXPECT_TRUE(h::isLoopbackAddress(a)) << a;
  }
  for (const char* a : {"10.0.0.1", "192.168.1.20", "203.0.113.7", "::ffff:10.0.0.1", "fe80::1", "2001:db8::1",
                        "0.0.0.0", "unknown", "", "127.0.0.1:8001", "localhost"}) {
    EXPECT_FALSE(h::isLoopbackAddress(a)) << a;
  }
}

TEST(MetricsAccess, Decisions) {
  using h::MetricsAccess;
  const h::MetricsRequest local{"127.0.0.1", false, std::nullopt};
  const h::MetricsRequest remote{"192.0.2.10", false, std::nullopt};
  const h::MetricsRequest forwarded{"127.0.0.1", true, std::nullopt};
  EXPECT_EQ(h::metricsAccess("", true, local), MetricsAccess::kAllowed);
  EXPECT_EQ(h::metricsAccess("", false, local), MetricsAccess::kForbidden);
  EXPECT_EQ(h::metricsAccess("", true, remote), MetricsAccess::kForbidden);
  EXPECT_EQ(h::metricsAccess("", true, forwarded), MetricsAccess::kForbidden);
  // A token presented while none is configured opens nothing.
  EXPECT_EQ(h::metricsAccess("", true, {"192.0.2.10", false, "Bearer anything"}), MetricsAccess::kForbidden);
  const std::string token = "0123456789abcdef0123";
  EXPECT_EQ(h::metricsAccess(token, true, local), MetricsAccess::kForbidden);
  EXPECT_EQ(h::metricsAccess(token, true, {"192.0.2.10", true, "Bearer " + token}), MetricsAccess::kAllowed);
  EXPECT_EQ(h::metricsAccess(token, true, {"192.0.2.10", false, "BEARER " + token}), MetricsAccess::kAllowed);
  EXPECT_EQ(h::metricsAccess(token, true, {"127.0.0.1", false, "Bearer " + token.substr(1)}),
            MetricsAccess::kWrongToken);
  EXPECT_EQ(h::metricsAccess(token, true, {"127.0.0.1", false, "Bearer "}), MetricsAccess::kWrongToken);
  EXPECT_EQ(h::metricsAccess(token, true, {"127.0.0.1", false, token}), MetricsAccess::kWrongToken);
}

TEST(RateLimitConfig, ParsesTheSpecAndTheEnvironment) {
  auto spec = h::parseRateLimit("X", "600,6000/60");
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_EQ(spec->per_account, 600);
  EXPECT_EQ(spec->per_address, 6000);
  EXPECT_EQ(spec->window, std::chrono::seconds(60));
  for (const char* bad : {"", "600", "600/60", "600,6000", "a,1/1", "1,b/1", "1,1/0", "-1,1/1", "1,1/60s", "1/1,1"}) {
    EXPECT_FALSE(h::parseRateLimit("X", bad)) << bad;
  }
  // A 0 side is off: counts nothing, never refuses.
  h::RateLimiter off(0, std::chrono::seconds(60));
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(off.hit("k"), 0);

  const std::map<std::string, std::string> env{
      {"RATE_LIMIT_BATCHES", "5,0/10"}, {"RATE_LIMIT_PASSWORD_RESET", "1,2/3"}, {"METRICS_TOKEN", "0123456789abcdef"}};
  auto c = h::configFromEnv([&](const char* n) -> const char* {
    auto it = env.find(n);
    return it == env.end() ? nullptr : it->second.c_str();
  });
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->batches_limit.per_account, 5);
  EXPECT_EQ(c->batches_limit.per_address, 0);
  EXPECT_EQ(c->batches_limit.window, std::chrono::seconds(10));
  EXPECT_EQ(c->password_reset_limit.per_address, 2);
  EXPECT_EQ(c->refresh_limit.per_account, 30);  // untouched: the default
  EXPECT_EQ(c->metrics_token, "0123456789abcdef");
  auto bad = h::configFromEnv(
      [](const char* n) -> const char* { return std::string(n) == "RATE_LIMIT_REFRESH" ? "lots" : nullptr; });
  EXPECT_FALSE(bad);
  // A short metrics token is refused at start.
  c->jwt_secret = kTestSecret;
  EXPECT_TRUE(h::checkSecrets(*c));
  c->metrics_token = "short";
  EXPECT_FALSE(h::checkSecrets(*c));
}

}  // namespace
}  // namespace wm::test
