// The admin API of enrolment tokens (issue 17) through HTTP with real tokens: an admin issues a person's
// token, the agent enrols with it, the list shows what is left of each token, a revoked one enrols nothing.
// Only the hash is stored; the token is in the issuing reply and nowhere else.
#include <gtest/gtest.h>

#include "server_test_env.h"

namespace wm::test {
namespace {

using nlohmann::json;

class ServerEnrolmentTokensTest : public ServerTest {
 protected:
  const std::string& admin() {
    if (admin_token_.empty()) admin_token_ = token("admin@a.test");
    return admin_token_;
  }
  HttpReply issue(const json& body, const std::string& as = "") {
    auto h = bearer(as.empty() ? admin() : as);
    h["User-Agent"] = "console-test/1";
    return call("POST", "/api/v1/admin/enrolment-tokens", body.dump(), h);
  }
  HttpReply enrol(const std::string& tok) {
    return call("POST", "/api/v1/agent/enroll",
                json{{"enrollment_token", tok}, {"device", {{"hostname", "desk-7"}, {"os", "linux"}}}}.dump());
  }
  HttpReply revoke(const std::string& id, const std::string& as = "") {
    auto h = bearer(as.empty() ? admin() : as);
    h["User-Agent"] = "console-test/1";
    return call("POST", "/api/v1/admin/enrolment-tokens/" + id + "/revoke", "", h);
  }
  /// Company A's tokens as its admin lists them, by id.
  std::map<std::string, json> listed() {
    auto r = call("GET", "/api/v1/admin/enrolment-tokens", "", bearer(admin()));
    EXPECT_EQ(r.status, 200) << r.body;
    std::map<std::string, json> out;
    const json j = r.json();
    for (const auto& t : j["tokens"]) out[t["id"].get<std::string>()] = t;
    return out;
  }

 private:
  std::string admin_token_;
};

TEST_F(ServerEnrolmentTokensTest, AnAdminIssuesAPersonsTokenTheAgentEnrolsAndARevokedOneEnrolsNothing) {
  auto r = issue({{"user_id", user_a_}, {"uses", 2}, {"ttl_hours", 1}});
  ASSERT_EQ(r.status, 201) << r.body;
  const json issued = r.json();
  const std::string tok = issued["token"], id = issued["token_id"];
  EXPECT_TRUE(tok.starts_with("wme1." + admin_a_ + "." + user_a_ + ".")) << tok;
  EXPECT_EQ(issued["user_id"], user_a_);
  EXPECT_EQ(issued["max_uses"], 2);
  EXPECT_TRUE(issued["expires_at"].get<std::string>().ends_with("Z"));
  // Stored as its hash, for alice, issued by the admin; the text is in no table.
  EXPECT_EQ(scalar("select user_id::text || ' ' || created_by::text || ' ' || (token_hash = sha256('" + tok +
                   "'::bytea))::text from agent.enrolment_tokens where id = '" + id + "'"),
            user_a_ + " " + admin_a_ + " true");
  EXPECT_EQ(scalar("select count(*) from public.audit_logs where new_values::text like '%" + tok.substr(80) + "%'"),
            "0");

  // The default is one computer for three days.
  r = issue({{"user_id", user_a_}});
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.json()["max_uses"], 1);
  EXPECT_EQ(scalar("select (expires_at between now() + interval '71 hours' and now() + interval '73 hours')::text "
                   "from agent.enrolment_tokens where id = '" +
                   r.json()["token_id"].get<std::string>() + "'"),
            "true");

  r = enrol(tok);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["user"]["user_id"], user_a_);
  auto t = listed()[id];
  EXPECT_EQ(t["kind"], "user");
  EXPECT_EQ(t["user_email"], "alice@a.test");
  EXPECT_EQ(t["use_count"], 1);
  EXPECT_EQ(t["state"], "active");
  EXPECT_EQ(t["created_by"], admin_a_);
  EXPECT_TRUE(t["revoked_at"].is_null());

  r = revoke(id);
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string revoked_at = r.json()["revoked_at"];
  EXPECT_FALSE(revoked_at.empty());
  r = enrol(tok);
  EXPECT_EQ(r.status, 401) << r.body;
  EXPECT_EQ(r.errorCode(), "invalid_token");
  // Twice is the same revocation; the device it enrolled stays enrolled.
  r = revoke(id);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.json()["revoked_at"], revoked_at);
  t = listed()[id];
  EXPECT_EQ(t["state"], "revoked");
  EXPECT_EQ(t["revoked_at"], revoked_at);
  EXPECT_EQ(scalar("select count(*) from agent.devices where user_id = '" + user_a_ + "' and revoked_at is null"), "1");
  EXPECT_EQ(scalar("select string_agg(action || '|' || entity_id::text || '|' || actor_id::text || '|' || user_agent, "
                   "',' order by created_at) from public.audit_logs where entity_id = '" +
                   id + "'"),
            "enrolment_token.issue|" + id + "|" + admin_a_ + "|console-test/1,enrolment_token.revoke|" + id + "|" +
                admin_a_ + "|console-test/1");
}

TEST_F(ServerEnrolmentTokensTest, TheListShowsBothKindsAndWhatIsLeftOfThem) {
  const std::string used = issue({{"user_id", user_a_}}).json()["token_id"];
  const std::string old = issue({{"user_id", user_a_}}).json()["token_id"];
  auto u = call("POST", "/api/v1/admin/unattended-tokens", json{{"rule", "mapping"}}.dump(), bearer(admin()));
  ASSERT_EQ(u.status, 201) << u.body;
  const std::string unattended = u.json()["token_id"];
  scalar("update agent.enrolment_tokens set use_count = 1 where id = '" + used + "' returning id");
  scalar("update agent.enrolment_tokens set expires_at = now() - interval '1 minute' where id = '" + old +
         "' returning id");
  auto all = listed();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[used]["state"], "used_up");
  EXPECT_EQ(all[old]["state"], "expired");
  EXPECT_EQ(all[unattended]["state"], "active");
  EXPECT_EQ(all[unattended]["kind"], "unattended");
  EXPECT_EQ(all[unattended]["rule"], "mapping");
  EXPECT_TRUE(all[unattended]["user_id"].is_null());
  EXPECT_EQ(all[unattended]["max_uses"], 500);
  // Another company's admin sees none of them and revokes none; an employee gets nothing.
  const std::string admin_b = token("admin@b.test");
  auto r = call("GET", "/api/v1/admin/enrolment-tokens", "", bearer(admin_b));
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.json()["tokens"].size(), 0u) << r.body;
  EXPECT_EQ(revoke(unattended, admin_b).status, 404);
  const std::string alice = token("alice@a.test");
  EXPECT_EQ(call("GET", "/api/v1/admin/enrolment-tokens", "", bearer(alice)).status, 403);
  EXPECT_EQ(revoke(unattended, alice).status, 403);
  EXPECT_EQ(issue({{"user_id", user_a_}}, alice).status, 403);
  EXPECT_EQ(revoke("00000000-0000-7000-8000-000000000000").status, 404);
  EXPECT_EQ(revoke("nope").status, 404);
  EXPECT_EQ(call("DELETE", "/api/v1/admin/enrolment-tokens", "", bearer(admin())).status, 405);
  EXPECT_EQ(scalar("select count(*) from agent.enrolment_tokens where revoked_at is not null"), "0");
}

TEST_F(ServerEnrolmentTokensTest, ABadRequestIsNamedAndIssuesNothing) {
  const std::string disabled = addUser(company_a_, "gone@a.test", "employee");
  scalar("update public.users set status = 'disabled' where user_id = '" + disabled + "' returning 1");
  const std::string other_profile =
      scalar("insert into agent.config_profiles (company_id, name) values ('" + company_b_ + "', 'B') returning id");
  for (const json& bad :
       {json::object(), json{{"user_id", "alice"}}, json{{"user_id", admin_b_}}, json{{"user_id", disabled}},
        json{{"user_id", user_a_}, {"uses", 0}}, json{{"user_id", user_a_}, {"uses", 1001}},
        json{{"user_id", user_a_}, {"ttl_hours", 0}}, json{{"user_id", user_a_}, {"ttl_hours", "72"}},
        json{{"user_id", user_a_}, {"profile_id", "x"}}, json{{"user_id", user_a_}, {"profile_id", other_profile}},
        json{{"user_id", user_a_}, {"rule", "mapping"}}, json::array()}) {
    auto r = issue(bad);
    EXPECT_EQ(r.status, 400) << bad.dump() << " → " << r.body;
    EXPECT_EQ(r.errorCode(), "invalid_request") << bad.dump();
  }
  EXPECT_EQ(scalar("select count(*) from agent.enrolment_tokens"), "0");
  EXPECT_EQ(scalar("select count(*) from public.audit_logs"), "0");
}

}  // namespace
}  // namespace wm::test
