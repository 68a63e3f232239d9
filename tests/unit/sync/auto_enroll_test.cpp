// Service mode's automatic enrolment (SyncOptions::auto_enroll_token): the request the contract names,
// the refusals that wait long, the failures that back off, and a sign-in that ends the attempts.
#include <gtest/gtest.h>

#include "fake_transport.h"
#include "outbox_test_util.h"
#include "workmonitor/sync/sync_engine.h"

namespace wm::sync {
namespace {

using nlohmann::json;
using test::FakeTransport;
using test::MemoryCredentials;
using test::reply;

constexpr const char* kToken = "wmu1.0190a5c4-1111-7000-8000-000000000001.abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ";

std::string enrolled() {
  return json{{"device_id", "d1"},
              {"access_token", "acc1"},
              {"expires_in", 900},
              {"refresh_token", "ref1"},
              {"user", {{"user_id", "u1"}, {"email", "alice@example.com"}}}}
      .dump();
}

class AutoEnrollTest : public ::testing::Test {
 protected:
  void SetUp() override {
    OutboxOptions o;
    o.path = dir_.path() / "outbox.db";
    outbox_ = std::move(Outbox::open(o, clock_).value());
  }
  std::unique_ptr<SyncEngine> engine() {
    SyncOptions o;
    o.server_url = "https://wm.test/";
    o.seed = 7;
    o.backoff_base = Millis(2000);
    o.backoff_cap = Millis(300'000);
    o.auto_enroll_token = kToken;
    o.os_account = "alice";
    o.device = {{"hostname", "pc1"}};
    return std::make_unique<SyncEngine>(o, *outbox_, net_, creds_, clock_,
                                        [](const json&, const std::string&) -> Result<void> { return {}; });
  }
  int enrolls() {
    int n = 0;
    for (const auto& r : net_.requests()) n += r.url.ends_with("/api/v1/agent/enroll");
    return n;
  }
  // Enrolment answered by `enroll`; the rest of the API answers as an empty server would.
  void server(std::function<HttpResult(const HttpRequest&)> enroll) {
    net_.setHandler([enroll](const HttpRequest& r) -> HttpResult {
      if (r.url.ends_with("/api/v1/agent/enroll")) return enroll(r);
      if (r.url.ends_with("/api/v1/agent/profile"))
        return reply(404, R"({"error":{"code":"not_found","message":"no"}})");
      return reply(404);
    });
  }

  testing::TempDir dir_;
  ManualClock clock_;
  std::unique_ptr<Outbox> outbox_;
  FakeTransport net_;
  MemoryCredentials creds_;
};

TEST_F(AutoEnrollTest, EnrolsByItselfWithTheTokenAndTheComputerAccount) {
  server([](const HttpRequest&) -> HttpResult { return reply(200, enrolled()); });
  auto e = engine();
  EXPECT_TRUE(e->status().auto_enroll);
  e->runOnce();
  ASSERT_EQ(enrolls(), 1);
  const json body = json::parse(net_.requests().front().body);
  EXPECT_EQ(body["enrollment_token"], kToken);
  EXPECT_EQ(body["os_account"], "alice");
  EXPECT_EQ(body["device"]["hostname"], "pc1");
  EXPECT_EQ(e->status().auth, AuthState::kSignedIn);
  EXPECT_EQ(e->status().account, "alice@example.com");
  EXPECT_EQ(creds_.value, "ref1");
  EXPECT_TRUE(e->status().auto_enroll_error.empty());
  clock_.advance(Millis(60'000));
  e->runOnce();
  EXPECT_EQ(enrolls(), 1) << "signed in: not again";
}

TEST_F(AutoEnrollTest, AnAccountWithNoMatchWaitsAnHourAndSaysTheServersMessage) {
  server([](const HttpRequest&) -> HttpResult {
    return reply(
        403,
        R"({"error":{"code":"no_account_match","message":"no active user of this company matches the computer account 'alice'"}})");
  });
  auto e = engine();
  const Millis wait = e->runOnce();
  EXPECT_EQ(wait, Millis(3'600'000));
  const SyncStatus s = e->status();
  EXPECT_EQ(s.auth, AuthState::kSignedOut);
  EXPECT_NE(s.auto_enroll_error.find("no_account_match"), std::string::npos) << s.auto_enroll_error;
  EXPECT_NE(s.auto_enroll_error.find("matches the computer account 'alice'"), std::string::npos);
  EXPECT_EQ(s.auto_enroll_error.find(kToken), std::string::npos) << "the token is never shown";
  EXPECT_NE(s.last_error.find("automatic enrolment failed"), std::string::npos);
  EXPECT_GT(s.auto_enroll_next_ms, toUnixMs(clock_.wall()) + 3'500'000);
  clock_.advance(Millis(3'599'000));
  e->runOnce();
  EXPECT_EQ(enrolls(), 1) << "not before the hour";
  clock_.advance(Millis(1'000));
  e->runOnce();
  EXPECT_EQ(enrolls(), 2);
}

TEST_F(AutoEnrollTest, AnInvalidTokenAlsoWaitsLong) {
  server([](const HttpRequest&) -> HttpResult {
    return reply(401, R"({"error":{"code":"invalid_token","message":"unknown or used-up token"}})");
  });
  auto e = engine();
  EXPECT_EQ(e->runOnce(), Millis(3'600'000));
  EXPECT_NE(e->status().auto_enroll_error.find("invalid_token"), std::string::npos);
}

TEST_F(AutoEnrollTest, ServerTroubleBacksOffUnderTheCapThenEnrols) {
  int calls = 0;
  server([&](const HttpRequest&) -> HttpResult {
    if (++calls <= 6) return reply(503, R"({"error":{"code":"unavailable","message":"database down"}})");
    return reply(200, enrolled());
  });
  auto e = engine();
  for (int i = 0; i < 6; ++i) {
    const Millis wait = e->runOnce();
    EXPECT_GE(wait, Millis(1'000)) << "never a busy loop";
    EXPECT_LE(wait, Millis(300'000)) << "a few minutes at most";
    EXPECT_NE(e->status().auto_enroll_error.find("database down"), std::string::npos);
    EXPECT_TRUE(e->status().backing_off);
    e->runOnce();
    EXPECT_EQ(enrolls(), i + 1) << "no attempt before the wait is over";
    clock_.advance(wait);
  }
  e->runOnce();
  EXPECT_EQ(enrolls(), 7);
  EXPECT_EQ(e->status().auth, AuthState::kSignedIn);
  EXPECT_TRUE(e->status().auto_enroll_error.empty());
  EXPECT_FALSE(e->status().backing_off);
}

TEST_F(AutoEnrollTest, AStoredSignInIsUsedAndNoEnrolmentIsTried) {
  creds_.value = "ref0";
  server([](const HttpRequest&) -> HttpResult { return reply(200, enrolled()); });
  auto e = engine();
  e->runOnce();
  EXPECT_EQ(enrolls(), 0);
}

TEST_F(AutoEnrollTest, AJobWaitingForAnUploadIsToldWhyNothingIsSent) {
  server([](const HttpRequest&) -> HttpResult {
    return reply(403, R"({"error":{"code":"no_account_match","message":"nobody called alice"}})");
  });
  auto e = engine();
  std::optional<Result<json>> got;
  e->syncNow([&](Result<json> r) { got = r; });
  e->runOnce();
  ASSERT_TRUE(got && !*got);
  EXPECT_NE(got->error().message.find("nobody called alice"), std::string::npos) << got->error().message;
}

}  // namespace
}  // namespace wm::sync
