// Unattended (company-level) enrolment: wmu1 tokens from `admin unattended-token` and the admin API, the
// computer account mapped to a user by email local part or by the uploaded mapping table, refusals that
// spend no use, and the mapping table's RLS as the runtime role.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "server_test_env.h"

namespace wm::test {
namespace {

using nlohmann::json;

std::string serverBinary() { return (binaryDir() / "server" / "workmonitor-server").string(); }

class ServerUnattendedTest : public ServerTest {
 protected:
  std::string su() { return "--db \"" + cluster_->conninfo(db_, "postgres") + "\" "; }
  /// `admin unattended-token` for company A; the printed token (stdout only).
  std::string issue(const std::string& rule, int uses = 5, const std::string& company = "") {
    std::string out;
    EXPECT_EQ(runCommand("( " + serverBinary() + " " + su() + "admin unattended-token --company " +
                             (company.empty() ? company_a_ : company) + " --rule " + rule + " --uses " +
                             std::to_string(uses) + " 2>/dev/null )",
                         out),
              0)
        << out;
    out.erase(out.find_last_not_of('\n') + 1);
    return out;
  }
  HttpReply enrol(const std::string& tok, const std::optional<std::string>& account) {
    json body{{"enrollment_token", tok},
              {"device", {{"hostname", "img-pc"}, {"os", "linux"}, {"os_version", "12"}, {"agent_version", "0.1.0"}}}};
    if (account) body["os_account"] = *account;
    return call("POST", "/api/v1/agent/enroll", body.dump());
  }
  long long uses(const std::string& tok) {
    return std::stoll(
        scalar("select use_count from agent.enrolment_tokens where token_hash = sha256('" + tok + "'::bytea)"));
  }
  int accountMap(const std::string& csv, std::string& out) {
    const auto file = cluster_->socketDir() / "map.csv";
    std::ofstream(file) << csv;
    return runCommand(
        serverBinary() + " " + su() + "admin account-map --company " + company_a_ + " --file " + file.string(), out);
  }
};

TEST_F(ServerUnattendedTest, EmailLocalPartEnrolsTheMatchingUserCaseInsensitively) {
  const std::string tok = issue("email-local-part");
  ASSERT_TRUE(tok.starts_with("wmu1." + admin_a_ + ".")) << tok;
  EXPECT_EQ(scalar("select account_rule from agent.enrolment_tokens where token_hash = sha256('" + tok + "'::bytea)"),
            "email_local_part");
  auto r = enrol(tok, "ALICE");
  ASSERT_EQ(r.status, 200) << r.body;
  const json j = r.json();
  EXPECT_EQ(j["user"]["user_id"], user_a_);
  EXPECT_EQ(j["user"]["email"], "alice@a.test");
  for (const char* k : {"device_id", "access_token", "refresh_token"}) EXPECT_FALSE(j[k].get<std::string>().empty());
  EXPECT_GT(j["expires_in"].get<long long>(), 0);
  // The device belongs to the matched user, as the database owner sees it.
  EXPECT_EQ(scalar("select user_id::text || ' ' || company_id::text from agent.devices where id = '" +
                   j["device_id"].get<std::string>() + "'"),
            user_a_ + " " + company_a_);
  EXPECT_EQ(uses(tok), 1);
  // The device's credential is the user's: /auth/me answers as alice.
  auto me = call("GET", "/auth/me", "", bearer(j["access_token"]));
  ASSERT_EQ(me.status, 200) << me.body;
  EXPECT_NE(me.body.find(user_a_), std::string::npos) << me.body;
}

TEST_F(ServerUnattendedTest, NoMatchIs403AndSpendsNoUse) {
  const std::string tok = issue("email-local-part", 1);
  auto r = enrol(tok, "mallory");
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(r.errorCode(), "no_account_match");
  const std::string msg = r.json()["error"]["message"];
  EXPECT_NE(msg.find("'mallory'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("email local part"), std::string::npos) << msg;
  EXPECT_EQ(uses(tok), 0);
  // A user of the other company with that local part is no match either.
  addUser(company_b_, "mallory@b.test", "employee");
  EXPECT_EQ(enrol(tok, "mallory").status, 403);
  // A disabled user is not matched.
  scalar("update public.users set status = 'disabled' where user_id = '" + user_a_ + "' returning user_id");
  EXPECT_EQ(enrol(tok, "alice").status, 403);
  EXPECT_EQ(uses(tok), 0);
  // The single use is still there for an account that matches.
  EXPECT_EQ(enrol(tok, "admin").status, 200);
  EXPECT_EQ(uses(tok), 1);
}

TEST_F(ServerUnattendedTest, AmbiguousLocalPartIs403) {
  addUser(company_a_, "alice@sales.a.test", "employee");
  const std::string tok = issue("email-local-part");
  auto r = enrol(tok, "alice");
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(r.errorCode(), "no_account_match");
  EXPECT_NE(r.body.find("more than one"), std::string::npos) << r.body;
  EXPECT_EQ(uses(tok), 0);
}

TEST_F(ServerUnattendedTest, UsedUpExpiredRevokedAndTamperedTokensAre401) {
  const std::string tok = issue("email-local-part", 1);
  ASSERT_EQ(enrol(tok, "alice").status, 200);
  auto r = enrol(tok, "admin");
  EXPECT_EQ(r.status, 401) << r.body;
  EXPECT_EQ(r.errorCode(), "invalid_token");

  const std::string expired = issue("email-local-part");
  scalar("update agent.enrolment_tokens set expires_at = now() - interval '1 second' where token_hash = sha256('" +
         expired + "'::bytea) returning id");
  EXPECT_EQ(enrol(expired, "alice").status, 401);
  EXPECT_EQ(uses(expired), 0);

  const std::string revoked = issue("email-local-part");
  const std::string id =
      scalar("select id from agent.enrolment_tokens where token_hash = sha256('" + revoked + "'::bytea)");
  std::string out;
  ASSERT_EQ(
      runCommand(serverBinary() + " " + su() + "admin revoke-token --company " + company_a_ + " --token-id " + id, out),
      0)
      << out;
  EXPECT_EQ(enrol(revoked, "alice").status, 401);
  // Revoking it again, or from another company, finds nothing.
  EXPECT_NE(
      runCommand(serverBinary() + " " + su() + "admin revoke-token --company " + company_b_ + " --token-id " + id, out),
      0);

  std::string tampered = issue("email-local-part");
  tampered.back() = tampered.back() == 'A' ? 'B' : 'A';
  EXPECT_EQ(enrol(tampered, "alice").status, 401);
  // Another admin's id in front of a real secret: the hash no longer matches.
  std::string rerouted = issue("email-local-part");
  rerouted.replace(5, 36, admin_b_);
  EXPECT_EQ(enrol(rerouted, "alice").status, 401);
}

TEST_F(ServerUnattendedTest, UnattendedTokenWithoutOsAccountIs400) {
  const std::string tok = issue("email-local-part");
  auto r = enrol(tok, std::nullopt);
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(r.errorCode(), "invalid_request");
  EXPECT_NE(r.body.find("os_account"), std::string::npos) << r.body;
  EXPECT_EQ(enrol(tok, "").status, 400);
  EXPECT_EQ(enrol(tok, "ali\nce").status, 400);
  EXPECT_EQ(enrol(tok, std::string(257, 'a')).status, 400);
  EXPECT_EQ(uses(tok), 0);
  // For a wme1 token os_account is ignored.
  std::string wme1;
  ASSERT_EQ(runCommand("( " + serverBinary() + " " + su() + "admin enrollment-token --company " + company_a_ +
                           " --user " + user_a_ + " 2>/dev/null )",
                       wme1),
            0);
  wme1.erase(wme1.find_last_not_of('\n') + 1);
  r = enrol(wme1, "someone-else");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["user"]["user_id"], user_a_);
}

TEST_F(ServerUnattendedTest, MappingRuleUsesTheUploadedTable) {
  std::string out;
  ASSERT_EQ(accountMap("os_account,email\n# image accounts\nJSmith, Alice@A.test\n\nboss,admin@a.test\n", out), 0)
      << out;
  EXPECT_NE(out.find("2 mapping(s)"), std::string::npos) << out;
  EXPECT_EQ(scalar("select string_agg(os_account || '=' || user_id, ',' order by os_account) from "
                   "agent.account_mappings"),
            "boss=" + admin_a_ + ",jsmith=" + user_a_);
  const std::string tok = issue("mapping");
  auto r = enrol(tok, "jsmith");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["user"]["user_id"], user_a_);
  EXPECT_EQ(scalar("select user_id from agent.devices where id = '" + r.json()["device_id"].get<std::string>() + "'"),
            user_a_);
  // Under the mapping rule the email's local part counts for nothing.
  r = enrol(tok, "alice");
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_NE(r.body.find("rule: mapping"), std::string::npos) << r.body;
  EXPECT_EQ(uses(tok), 1);

  // A line naming nobody of the company aborts the whole upload, with its line number.
  addUser(company_b_, "carol@b.test", "employee");
  EXPECT_NE(accountMap("x,alice@a.test\ncarol,carol@b.test\n", out), 0);
  EXPECT_NE(out.find("map.csv:2:"), std::string::npos) << out;
  EXPECT_NE(out.find("no active user"), std::string::npos) << out;
  EXPECT_NE(accountMap("a,alice@a.test\nA,admin@a.test\n", out), 0);
  EXPECT_NE(out.find("map.csv:2:"), std::string::npos) << out;
  EXPECT_NE(accountMap("a,alice@a.test\nno comma here\n", out), 0);
  EXPECT_NE(out.find("map.csv:2:"), std::string::npos) << out;
  EXPECT_EQ(scalar("select count(*) from agent.account_mappings"), "2");
  // A good upload replaces the table.
  ASSERT_EQ(accountMap("pc1,admin@a.test\n", out), 0) << out;
  EXPECT_EQ(scalar("select string_agg(os_account, ',') from agent.account_mappings"), "pc1");
  EXPECT_EQ(enrol(tok, "jsmith").status, 403);
}

// The mapping table as the runtime role: a company's admin sees and writes only their company's rows.
TEST_F(ServerUnattendedTest, MappingsAreInvisibleToAnotherCompanysAdmin) {
  std::string out;
  ASSERT_EQ(accountMap("jsmith,alice@a.test\n", out), 0) << out;
  auto conn = connect("workmonitor_app");
  auto as = [&](const std::string& user, const std::string& sql) -> Result<server::db::QueryResult> {
    auto b = conn.exec("begin");
    if (!b) return std::unexpected(b.error());
    if (!user.empty()) {  // "" = no claim at all
      auto s = conn.query(
          "select set_config('request.jwt.claim.sub', $1, true), "
          "set_config('request.jwt.claims', json_build_object('sub', $1::text)::text, true)",
          {user});
      if (!s) return std::unexpected(s.error());
    }
    auto r = conn.query(sql);
    (void)conn.exec("rollback");
    return r;
  };
  auto a = as(admin_a_, "select count(*) from agent.account_mappings");
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_EQ(a->asInt(0, 0), 1);
  auto b = as(admin_b_, "select count(*) from agent.account_mappings");
  ASSERT_TRUE(b) << b.error().message;
  EXPECT_EQ(b->asInt(0, 0), 0);
  auto e = as(user_a_, "select count(*) from agent.account_mappings");
  ASSERT_TRUE(e) << e.error().message;
  EXPECT_EQ(e->asInt(0, 0), 0) << "an employee sees no mapping";
  auto none = as("", "select count(*) from agent.account_mappings");
  ASSERT_TRUE(none) << none.error().message;
  EXPECT_EQ(none->asInt(0, 0), 0);
  // Company B's admin can neither plant a row in A nor delete A's.
  auto ins = as(admin_b_, "insert into agent.account_mappings (company_id, os_account, user_id) values ('" +
                              company_a_ + "', 'evil', '" + admin_b_ + "')");
  ASSERT_FALSE(ins);
  EXPECT_EQ(server::db::sqlState(ins.error()), "42501") << ins.error().message;
  auto del = as(admin_b_, "delete from agent.account_mappings");
  ASSERT_TRUE(del) << del.error().message;
  EXPECT_EQ(del->affected(), 0);
  EXPECT_EQ(scalar("select count(*) from agent.account_mappings"), "1");
  EXPECT_EQ(scalar("select relrowsecurity and relforcerowsecurity from pg_class where oid = "
                   "'agent.account_mappings'::regclass"),
            "t");
}

TEST_F(ServerUnattendedTest, AdminApiIssuesTokensAndReplacesMappings) {
  const std::string admin = token("admin@a.test");
  const std::string employee = token("alice@a.test");
  auto r =
      call("POST", "/api/v1/admin/unattended-tokens", json{{"rule", "mapping"}, {"uses", 2}}.dump(), bearer(admin));
  ASSERT_EQ(r.status, 201) << r.body;
  const std::string tok = r.json()["token"];
  EXPECT_TRUE(tok.starts_with("wmu1." + admin_a_ + ".")) << tok;
  EXPECT_EQ(r.json()["max_uses"], 2);
  EXPECT_FALSE(r.json()["expires_at"].get<std::string>().empty());
  EXPECT_EQ(scalar("select company_id::text || ' ' || account_rule || ' ' || max_uses from agent.enrolment_tokens "
                   "where id = '" +
                   r.json()["token_id"].get<std::string>() + "'"),
            company_a_ + " mapping 2");
  EXPECT_EQ(call("POST", "/api/v1/admin/unattended-tokens", json{{"rule", "nonsense"}}.dump(), bearer(admin)).status,
            400);
  EXPECT_EQ(
      call("POST", "/api/v1/admin/unattended-tokens", json{{"rule", "mapping"}, {"uses", 0}}.dump(), bearer(admin))
          .status,
      400);
  auto forbidden = call("POST", "/api/v1/admin/unattended-tokens", json{{"rule", "mapping"}}.dump(), bearer(employee));
  EXPECT_EQ(forbidden.status, 403) << forbidden.body;
  EXPECT_EQ(call("POST", "/api/v1/admin/unattended-tokens", json{{"rule", "mapping"}}.dump()).status, 401);

  const json mappings{{"mappings", {{{"os_account", "PC-Alice"}, {"email", "alice@a.test"}}}}};
  r = call("PUT", "/api/v1/admin/account-mappings", mappings.dump(), bearer(admin));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["count"], 1);
  EXPECT_EQ(call("PUT", "/api/v1/admin/account-mappings", mappings.dump(), bearer(employee)).status, 403);
  EXPECT_EQ(call("GET", "/api/v1/admin/account-mappings", "", bearer(employee)).status, 403);
  r = call("GET", "/api/v1/admin/account-mappings", "", bearer(admin));
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(r.json()["mappings"].size(), 1u) << r.body;
  EXPECT_EQ(r.json()["mappings"][0]["os_account"], "pc-alice");
  EXPECT_EQ(r.json()["mappings"][0]["email"], "alice@a.test");
  // Another company's admin sees none of it.
  r = call("GET", "/api/v1/admin/account-mappings", "", bearer(token("admin@b.test")));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(r.json()["mappings"].empty()) << r.body;
  // A bad entry is named by its index and changes nothing.
  const json bad{
      {"mappings",
       {{{"os_account", "x"}, {"email", "admin@a.test"}}, {{"os_account", "y"}, {"email", "admin@b.test"}}}}};
  r = call("PUT", "/api/v1/admin/account-mappings", bad.dump(), bearer(admin));
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("mappings[1]"), std::string::npos) << r.body;
  EXPECT_EQ(scalar("select string_agg(os_account, ',') from agent.account_mappings"), "pc-alice");

  auto e = enrol(tok, "PC-ALICE");
  ASSERT_EQ(e.status, 200) << e.body;
  EXPECT_EQ(e.json()["user"]["user_id"], user_a_);
}

}  // namespace
}  // namespace wm::test
