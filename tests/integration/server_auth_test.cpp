// Auth through the real HTTP server: login, rate limit, refresh rotation and re-use, token forgeries.
#include <gtest/gtest.h>

#include <algorithm>
#include <thread>
#include <vector>

#include "server_test_env.h"
#include "workmonitor/server/http/crypto.h"
#include "workmonitor/server/http/jwt.h"

namespace wm::test {
namespace {

using nlohmann::json;
namespace h = server::http;

class ServerAuthTest : public ServerTest {
 protected:
  int meStatus(const std::string& tok, std::string* code = nullptr) {
    auto r = call("GET", "/auth/me", "", bearer(tok));
    if (code) *code = r.errorCode();
    return r.status;
  }
  HttpReply refresh(const std::string& rt) { return call("POST", "/auth/refresh", json{{"refresh_token", rt}}.dump()); }
};

TEST_F(ServerAuthTest, LoginReturnsTokensAndMe) {
  auto r = login("alice@a.test");
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = r.json();
  EXPECT_EQ(j["token_type"], "bearer");
  EXPECT_TRUE(j["expires_in"].is_number_integer());
  EXPECT_EQ(j["user"]["user_id"], user_a_);
  EXPECT_EQ(j["user"]["company_id"], company_a_);
  EXPECT_EQ(j["user"]["role"], "employee");
  EXPECT_GE(j["refresh_token"].get<std::string>().size(), 43u);
  // Exactly the report's claims plus iss, aud, typ.
  const std::string at = j["access_token"];
  auto payload = h::base64UrlDecode(at.substr(at.find('.') + 1, at.rfind('.') - at.find('.') - 1));
  ASSERT_TRUE(payload);
  auto claims = json::parse(*payload);
  std::set<std::string> keys;
  for (auto it = claims.begin(); it != claims.end(); ++it) keys.insert(it.key());
  EXPECT_EQ(keys, (std::set<std::string>{"sub", "email", "role", "company_id", "employment_type", "iat", "exp", "iss",
                                         "aud", "typ"}));
  auto me = call("GET", "/auth/me", "", bearer(at));
  ASSERT_EQ(me.status, 200) << me.body;
  EXPECT_EQ(me.json()["user"]["email"], "alice@a.test");
  // The refresh token is stored hashed, never as is.
  EXPECT_EQ(scalar("select count(*) from auth.refresh_tokens where token_hash = '\\x" +
                   h::hex(h::sha256(j["refresh_token"].get<std::string>())) + "'"),
            "1");
}

TEST_F(ServerAuthTest, WrongPasswordAndUnknownUser) {
  auto r = login("alice@a.test", "wrong password");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.errorCode(), "invalid_credentials");
  r = login("nobody@a.test", "whatever password");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.errorCode(), "invalid_credentials");
  EXPECT_EQ(call("POST", "/auth/login", "not json").status, 400);
  EXPECT_EQ(call("POST", "/auth/login", "{\"email\": 5}").errorCode(), "invalid_request");
}

TEST_F(ServerAuthTest, LoginIsRateLimitedPerAccount) {
  for (int i = 0; i < 10; ++i) EXPECT_EQ(login("alice@a.test", "wrong").status, 401);
  auto r = login("alice@a.test");  // even the right password waits now
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.errorCode(), "rate_limited");
  EXPECT_GT(std::stoi(r.headers["retry-after"]), 0);
  EXPECT_EQ(login("admin@a.test").status, 200);  // another account is not affected
}

TEST_F(ServerAuthTest, LoginIsRateLimitedPerAddress) {
  auto c = config();
  c.login_attempts_per_address = 5;
  startServer(c);
  for (int i = 0; i < 5; ++i) login("user" + std::to_string(i) + "@x.test", "wrong");
  auto r = login("alice@a.test");
  EXPECT_EQ(r.status, 429);
  EXPECT_TRUE(r.headers.contains("retry-after"));
}

TEST_F(ServerAuthTest, RefreshRotatesAndReuseRevokesTheFamily) {
  auto first = login("alice@a.test").json();
  const std::string rt1 = first["refresh_token"];
  auto r2 = refresh(rt1);
  ASSERT_EQ(r2.status, 200) << r2.body;
  const std::string rt2 = r2.json()["refresh_token"];
  EXPECT_NE(rt1, rt2);
  EXPECT_EQ(meStatus(r2.json()["access_token"]), 200);
  auto r3 = refresh(rt2);
  ASSERT_EQ(r3.status, 200);
  const std::string rt3 = r3.json()["refresh_token"];
  // rt1 was spent: presenting it again is theft or a bug; the whole family goes.
  auto reuse = refresh(rt1);
  EXPECT_EQ(reuse.status, 401);
  EXPECT_EQ(reuse.errorCode(), "refresh_revoked");
  auto after = refresh(rt3);
  EXPECT_EQ(after.status, 401);
  EXPECT_EQ(after.errorCode(), "refresh_revoked");
  // Another login is another family, unaffected.
  EXPECT_EQ(refresh(login("alice@a.test").json()["refresh_token"]).status, 200);
  EXPECT_EQ(refresh("no-such-token").errorCode(), "invalid_token");
}

TEST_F(ServerAuthTest, LogoutRevokesTheFamily) {
  const std::string rt = login("alice@a.test").json()["refresh_token"];
  EXPECT_EQ(call("POST", "/auth/logout", json{{"refresh_token", rt}}.dump()).status, 204);
  EXPECT_EQ(refresh(rt).errorCode(), "refresh_revoked");
}

TEST_F(ServerAuthTest, ForgedAndExpiredAccessTokensAreRefused) {
  auto j = login("alice@a.test").json();
  const std::string at = j["access_token"];
  const long long now = nowMs() / 1000;
  h::AccessClaims claims{user_a_, "alice@a.test", "employee", company_a_, "fulltime", now - 7200, now - 3600};
  std::string code;
  // Expired (signed with the right key).
  EXPECT_EQ(meStatus(h::JwtCodec(kTestSecret, std::chrono::seconds(60)).sign(claims), &code), 401);
  EXPECT_EQ(code, "token_expired");
  // Wrong key.
  claims.iat = now;
  claims.exp = now + 3600;
  EXPECT_EQ(meStatus(h::JwtCodec("another-secret-another-secret-another-secret", std::chrono::seconds(60)).sign(claims),
                     &code),
            401);
  EXPECT_EQ(code, "invalid_token");
  // alg: none, with and without a signature.
  const std::string body = at.substr(at.find('.') + 1, at.rfind('.') - at.find('.') - 1);
  const std::string none = h::base64UrlEncode(R"({"alg":"none","typ":"JWT"})");
  EXPECT_EQ(meStatus(none + "." + body + "."), 401);
  EXPECT_EQ(meStatus(none + "." + body + "." + at.substr(at.rfind('.') + 1)), 401);
  // Tampered claims: another user's id under the original signature.
  auto payload = json::parse(*h::base64UrlDecode(body));
  payload["sub"] = admin_a_;
  payload["role"] = "admin";
  EXPECT_EQ(meStatus(at.substr(0, at.find('.')) + "." + h::base64UrlEncode(payload.dump()) + at.substr(at.rfind('.'))),
            401);
  // A refresh token is not an access token.
  EXPECT_EQ(meStatus(j["refresh_token"]), 401);
  // Signed with the right key but of another type (e.g. a future refresh JWT) is refused too.
  auto other = payload;
  other["sub"] = user_a_;
  other["typ"] = "refresh";
  const std::string signing = at.substr(0, at.find('.')) + "." + h::base64UrlEncode(other.dump());
  EXPECT_EQ(meStatus(signing + "." + h::base64UrlEncode(h::hmacSha256(kTestSecret, signing))), 401);
  EXPECT_EQ(call("GET", "/auth/me").status, 401);
  EXPECT_EQ(meStatus(at), 200);
}

TEST_F(ServerAuthTest, DisabledUserIsRefused) {
  const std::string at = token("alice@a.test");
  scalar("update public.users set status = 'disabled' where user_id = '" + user_a_ + "'");
  EXPECT_EQ(meStatus(at), 401);
  EXPECT_EQ(login("alice@a.test").status, 401);
}

TEST_F(ServerAuthTest, SignupIsDisabledWithAClearError) {
  auto r = call("POST", "/auth/signup", json{{"email", "x@y.z"}, {"password", "p"}, {"full_name", "X"}}.dump());
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.errorCode(), "signup_disabled");
  EXPECT_EQ(scalar("select count(*) from public.companies"), "2");
}

class ServerSignupTest : public ServerAuthTest {
 protected:
  void startWith(h::ServerConfig::Signup mode) {
    auto c = config();
    c.signup = mode;
    c.bcrypt_cost = 4;
    startServer(c);
  }
  HttpReply signup(const std::string& email, const std::string& password = kPassword,
                   const std::string& company = "Founded Ltd", const std::string& name = "Fay Founder") {
    return call("POST", "/auth/signup",
                json{{"email", email}, {"password", password}, {"full_name", name}, {"company_name", company}}.dump());
  }
};

TEST_F(ServerSignupTest, OpenSignupFoundsACompanyWithItsAdmin) {
  startWith(h::ServerConfig::Signup::kOpen);
  auto r = signup("Fay@Founded.test");
  ASSERT_EQ(r.status, 201) << r.body;
  auto j = r.json();
  const std::string company = j["user"]["company_id"];
  const std::string user = j["user"]["user_id"];
  EXPECT_EQ(j["user"]["role"], "admin");
  EXPECT_EQ(j["user"]["email"], "fay@founded.test");
  EXPECT_NE(company, company_a_);
  EXPECT_NE(company, company_b_);
  EXPECT_EQ(scalar("select name from public.companies where id = '" + company + "'"), "Founded Ltd");
  EXPECT_EQ(scalar("select left(password_hash, 4) from auth.credentials where user_id = '" + user + "'"), "$2b$");
  // The tokens work, the password signs in, and the new admin sees their company only.
  EXPECT_EQ(meStatus(j["access_token"]), 200);
  EXPECT_EQ(refresh(j["refresh_token"]).status, 200);
  auto again = login("fay@founded.test");
  ASSERT_EQ(again.status, 200) << again.body;
  auto seen = call("GET", "/api/v1/agent/projects", "", bearer(again.json()["access_token"]));
  ASSERT_EQ(seen.status, 200) << seen.body;
  EXPECT_EQ(seen.json()["projects"].size(), 0u) << seen.body;
  // The address is taken now, whatever its case; nothing more is created.
  auto twice = signup("FAY@founded.test", "another password", "Second Ltd");
  EXPECT_EQ(twice.status, 409);
  EXPECT_EQ(twice.errorCode(), "email_taken");
  EXPECT_EQ(signup("admin@a.test").errorCode(), "email_taken");
  EXPECT_EQ(scalar("select count(*) from public.companies"), "3");
}

TEST_F(ServerSignupTest, BadSignupsAreRefusedAndCreateNothing) {
  startWith(h::ServerConfig::Signup::kOpen);
  EXPECT_EQ(signup("new@x.test", "short").errorCode(), "weak_password");
  EXPECT_EQ(signup("new@x.test", std::string(73, 'p')).errorCode(), "weak_password");  // bcrypt would cut it
  EXPECT_EQ(signup("not an address").errorCode(), "invalid_request");
  EXPECT_EQ(signup("a@b@c").errorCode(), "invalid_request");
  EXPECT_EQ(signup("new@x.test", kPassword, "   ").errorCode(), "invalid_request");
  EXPECT_EQ(signup("new@x.test", kPassword, "Co", "").errorCode(), "invalid_request");
  EXPECT_EQ(signup("new@x.test", kPassword, std::string(201, 'c')).status, 400);
  EXPECT_EQ(call("POST", "/auth/signup", "{\"email\": [1]}").status, 400);
  EXPECT_EQ(call("POST", "/auth/signup", "not json").status, 400);
  EXPECT_EQ(scalar("select count(*) from public.companies"), "2");
  EXPECT_EQ(scalar("select count(*) from public.users where email = 'new@x.test'"), "0");
}

TEST_F(ServerSignupTest, SignupsAreRateLimitedPerAddress) {
  startWith(h::ServerConfig::Signup::kOpen);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(signup("f" + std::to_string(i) + "@x.test", kPassword, "Co " + std::to_string(i)).status, 201);
  }
  auto r = signup("f9@x.test");
  EXPECT_EQ(r.status, 429);
  EXPECT_GT(std::stoi(r.headers["retry-after"]), 0);
  EXPECT_EQ(scalar("select count(*) from public.companies"), "7");
}

TEST_F(ServerSignupTest, FirstModeTakesOnlyTheFirstCompanyEvenWhenRacing) {
  startWith(h::ServerConfig::Signup::kFirst);
  auto closed = signup("late@x.test");
  EXPECT_EQ(closed.status, 403);
  EXPECT_EQ(closed.errorCode(), "signup_closed");
  // A fresh install: no company yet. Four people sign up at once; one company comes of it.
  scalar("delete from public.companies");
  std::vector<std::thread> racers;
  std::vector<int> statuses(4);
  for (int i = 0; i < 4; ++i) {
    racers.emplace_back([&, i] {
      statuses[i] = signup("first" + std::to_string(i) + "@x.test", kPassword, "Co " + std::to_string(i)).status;
    });
  }
  for (auto& t : racers) t.join();
  EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 201), 1);
  EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 403), 3);
  EXPECT_EQ(scalar("select count(*) from public.companies"), "1");
  EXPECT_EQ(scalar("select count(*) from public.users where role = 'admin'"), "1");
}

TEST_F(ServerAuthTest, AccountLockSurvivesARestartOfTheServer) {
  for (int i = 0; i < 10; ++i) EXPECT_EQ(login("alice@a.test", "wrong").status, 401);
  EXPECT_NE(scalar("select locked_until is not null from auth.credentials where user_id = '" + user_a_ + "'"), "f");
  startServer(config());  // the in-memory throttle starts empty; the lock is in the database
  auto r = login("alice@a.test");
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.errorCode(), "rate_limited");
  EXPECT_GT(std::stoi(r.headers["retry-after"]), 200);
  // Once the lock has passed, the right password signs in and clears the count.
  scalar("update auth.credentials set locked_until = now() - interval '1 second' where user_id = '" + user_a_ + "'");
  EXPECT_EQ(login("alice@a.test", "wrong").status, 401);
  EXPECT_EQ(scalar("select failed_attempts from auth.credentials where user_id = '" + user_a_ + "'"), "1");
  EXPECT_EQ(login("alice@a.test").status, 200);
  EXPECT_EQ(scalar("select failed_attempts::text || coalesce(locked_until::text, '-') from auth.credentials "
                   "where user_id = '" +
                   user_a_ + "'"),
            "0-");
}

}  // namespace
}  // namespace wm::test
