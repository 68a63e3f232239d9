// The admin API of configuration profiles (issue 17): created and listed through HTTP with real tokens, every
// setting checked by the agent's own validator (profileSettingsProblems), RLS keeping each company's apart.
#include <gtest/gtest.h>

#include "server_test_env.h"

namespace wm::test {
namespace {

using nlohmann::json;

class ServerProfilesTest : public ServerTest {
 protected:
  long long profiles() { return std::stoll(scalar("select count(*) from agent.config_profiles")); }
};

TEST_F(ServerProfilesTest, AnAdminCreatesAndListsProfilesTheAgentsRulesAccept) {
  const std::string admin = token("admin@a.test");
  const long long before = profiles();
  auto r = call("POST", "/api/v1/admin/profiles",
                json{{"name", "Office"},
                     {"settings", {{"idle_threshold_s", 240}, {"website_excluded_sites", {"bank.example"}}}},
                     {"is_default", true}}
                    .dump(),
                bearer(admin));
  ASSERT_EQ(r.status, 201) << r.body;
  const json created = r.json();
  EXPECT_EQ(created["name"], "Office");
  EXPECT_EQ(created["version"], 1);
  EXPECT_EQ(created["is_default"], true);
  EXPECT_EQ(created["settings"]["idle_threshold_s"], 240);
  EXPECT_EQ(profiles(), before + 1);
  // The new default is the only one of company A, and what its agents fetch.
  EXPECT_EQ(scalar("select string_agg(name, ',') from agent.config_profiles where is_default and company_id = '" +
                   company_a_ + "'"),
            "Office");
  EXPECT_EQ(scalar("select updated_by::text from agent.config_profiles where id = '" +
                   created["id"].get<std::string>() + "'"),
            admin_a_);

  r = call("GET", "/api/v1/admin/profiles", "", bearer(admin));
  ASSERT_EQ(r.status, 200) << r.body;
  bool listed = false;
  const json mine = r.json();
  for (const auto& p : mine["profiles"]) listed = listed || p["id"] == created["id"];
  EXPECT_TRUE(listed) << r.body;
  // Company B's admin sees none of A's; an employee and no token get nothing.
  r = call("GET", "/api/v1/admin/profiles", "", bearer(token("admin@b.test")));
  ASSERT_EQ(r.status, 200) << r.body;
  const json theirs = r.json();
  for (const auto& p : theirs["profiles"]) EXPECT_NE(p["id"], created["id"]) << r.body;
  EXPECT_EQ(call("GET", "/api/v1/admin/profiles", "", bearer(token("alice@a.test"))).status, 403);
  EXPECT_EQ(call("POST", "/api/v1/admin/profiles", json{{"name", "x"}, {"settings", json::object()}}.dump(),
                 bearer(token("alice@a.test")))
                .status,
            403);
  EXPECT_EQ(call("GET", "/api/v1/admin/profiles", "").status, 401);
  // The same name twice in one company is a conflict, not a second row.
  r = call("POST", "/api/v1/admin/profiles", json{{"name", "Office"}, {"settings", json::object()}}.dump(),
           bearer(admin));
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(profiles(), before + 1);
}

TEST_F(ServerProfilesTest, ASettingTheAgentWouldRefuseIsNamedAndNothingIsStored) {
  const std::string admin = token("admin@a.test");
  const long long before = profiles();
  auto r = call("POST", "/api/v1/admin/profiles",
                json{{"name", "Broken"},
                     {"settings",
                      {{"screenshot_quality", 101},
                       {"idle_treshold_s", 60},
                       {"consent_preapproved", true},
                       {"website_excluded_sites", {"https://bank.example/"}}}}}
                    .dump(),
                bearer(admin));
  ASSERT_EQ(r.status, 400) << r.body;
  const json err = r.json()["error"];
  EXPECT_EQ(err["code"], "invalid_profile");
  std::map<std::string, std::string> kinds;
  for (const auto& f : err["fields"]) kinds[f["key"]] = f["kind"];
  EXPECT_EQ(kinds, (std::map<std::string, std::string>{{"consent_preapproved", "local_only"},
                                                       {"idle_treshold_s", "unknown_setting"},
                                                       {"screenshot_quality", "bad_value"},
                                                       {"website_excluded_sites", "bad_value"}}))
      << r.body;
  EXPECT_NE(err["message"].get<std::string>().find("screenshot_quality: must be an integer from 1 to 100"),
            std::string::npos)
      << r.body;
  // Malformed requests: clear 400s, nothing stored.
  for (const json& bad :
       {json{{"name", "x"}}, json{{"settings", json::object()}}, json{{"name", ""}, {"settings", json::object()}},
        json{{"name", "x"}, {"settings", json::array()}},
        json{{"name", "x"}, {"settings", json::object()}, {"is_default", "yes"}},
        json{{"name", "x"}, {"settings", json::object()}, {"owner", "me"}},
        json{{"name", std::string(201, 'n')}, {"settings", json::object()}}}) {
    auto b = call("POST", "/api/v1/admin/profiles", bad.dump(), bearer(admin));
    EXPECT_EQ(b.status, 400) << bad.dump() << " -> " << b.body;
  }
  EXPECT_EQ(call("POST", "/api/v1/admin/profiles", "not json", bearer(admin)).status, 400);
  EXPECT_EQ(call("DELETE", "/api/v1/admin/profiles", "", bearer(admin)).status, 405);
  EXPECT_EQ(profiles(), before);
}

}  // namespace
}  // namespace wm::test
