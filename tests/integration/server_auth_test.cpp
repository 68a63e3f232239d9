// Auth through the real HTTP server: login, rate limit, refresh rotation and re-use, token forgeries.
#include <gtest/gtest.h>

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
  scalar("update public.users set status = 'disabled' where id = '" + user_a_ + "'");
  EXPECT_EQ(meStatus(at), 401);
  EXPECT_EQ(login("alice@a.test").status, 401);
}

TEST_F(ServerAuthTest, SignupIsDisabledWithAClearError) {
  auto r = call("POST", "/auth/signup", json{{"email", "x@y.z"}, {"password", "p"}, {"full_name", "X"}}.dump());
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.errorCode(), "signup_disabled");
}

}  // namespace
}  // namespace wm::test
