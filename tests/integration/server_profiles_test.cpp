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
  long long audits() { return std::stoll(scalar("select count(*) from public.audit_logs")); }

  /// Creates a profile as company A's admin; returns its id.
  std::string create(const std::string& name, const json& settings, bool is_default = false) {
    auto r = call("POST", "/api/v1/admin/profiles",
                  json{{"name", name}, {"settings", settings}, {"is_default", is_default}}.dump(), bearer(admin()));
    EXPECT_EQ(r.status, 201) << r.body;
    return r.json().value("id", "");
  }
  /// An enrolled device of `user` (as the enrol endpoint leaves it), inserted as superuser.
  std::string addDevice(const std::string& company, const std::string& user, const std::string& name) {
    return scalar("insert into agent.devices (company_id, user_id, name, platform) values ('" + company + "', '" +
                  user + "', '" + name + "', 'linux') returning id");
  }
  /// What the agent on `device` of alice fetches: {profile name or "" for none, ETag}.
  std::pair<std::string, std::string> fetched(const std::string& device) {
    auto r = call("GET", "/api/v1/agent/profile", "", withDevice(bearer(alice()), device));
    EXPECT_EQ(r.status, 200) << r.body;
    const json j = r.json();
    std::string name;
    if (j.is_object() && j["profile_id"].is_string())
      name = scalar("select name from agent.config_profiles where id = '" + j["profile_id"].get<std::string>() + "'");
    return {name, r.headers["etag"]};
  }
  std::string deviceProfile(const std::string& device) {
    return scalar(
        "select coalesce((select name from agent.config_profiles p where p.id = d.profile_id), '') "
        "from agent.devices d where d.id = '" +
        device + "'");
  }
  static std::map<std::string, std::string> withDevice(std::map<std::string, std::string> h,
                                                       const std::string& device) {
    h["X-Device-Id"] = device;
    return h;
  }
  const std::string& admin() {
    if (admin_token_.empty()) admin_token_ = token("admin@a.test");
    return admin_token_;
  }
  const std::string& alice() {
    if (alice_token_.empty()) alice_token_ = token("alice@a.test");
    return alice_token_;
  }
  HttpReply assign(const json& body, const std::string& as = "") {
    return call("POST", "/api/v1/admin/profile-assignments", body.dump(), bearer(as.empty() ? admin() : as));
  }

 private:
  std::string admin_token_, alice_token_;
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

TEST_F(ServerProfilesTest, AnEditBumpsTheVersionAndTheAgentsTakeItAtTheirNextAsk) {
  const std::string id = create("Office", {{"idle_threshold_s", 240}}, true);
  const std::string device = addDevice(company_a_, user_a_, "laptop");
  auto agent = call("GET", "/api/v1/agent/profile", "", withDevice(bearer(alice()), device));
  ASSERT_EQ(agent.status, 200) << agent.body;
  const std::string agent_etag = agent.headers["etag"];
  ASSERT_FALSE(agent_etag.empty());
  // The running agent's next ask with the ETag it has: unchanged, so 304, with the refresh bound.
  auto same = call("GET", "/api/v1/agent/profile", "", [&] {
    auto h = withDevice(bearer(alice()), device);
    h["If-None-Match"] = agent_etag;
    return h;
  }());
  EXPECT_EQ(same.status, 304);
  EXPECT_EQ(same.headers["cache-control"], "private, max-age=60");

  auto got = call("GET", "/api/v1/admin/profiles/" + id, "", bearer(admin()));
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_EQ(got.headers["etag"], "\"v1\"");
  EXPECT_EQ(got.json()["settings"]["idle_threshold_s"], 240);

  auto headers = bearer(admin());
  headers["If-Match"] = "\"v1\"";
  auto put =
      call("PUT", "/api/v1/admin/profiles/" + id, json{{"settings", {{"idle_threshold_s", 300}}}}.dump(), headers);
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_EQ(put.json()["version"], 2);
  EXPECT_EQ(put.json()["name"], "Office");  // what the edit did not name stays
  EXPECT_EQ(put.json()["is_default"], true);
  EXPECT_EQ(put.headers["etag"], "\"v2\"");
  EXPECT_EQ(scalar("select updated_by::text from agent.config_profiles where id = '" + id + "'"), admin_a_);

  // The agent's ETag changed with the content: its next ask gets the edit, not a 304.
  auto h = withDevice(bearer(alice()), device);
  h["If-None-Match"] = agent_etag;
  auto next = call("GET", "/api/v1/agent/profile", "", h);
  ASSERT_EQ(next.status, 200) << next.body;
  EXPECT_NE(next.headers["etag"], agent_etag);
  EXPECT_EQ(next.json()["version"], 2);
  EXPECT_EQ(next.json()["settings"]["idle_threshold_s"], 300);

  // A second admin's edit made against version 1 is refused; nothing changes and nothing is audited.
  const long long audited = audits();
  auto stale =
      call("PUT", "/api/v1/admin/profiles/" + id, json{{"settings", {{"idle_threshold_s", 100}}}}.dump(), headers);
  EXPECT_EQ(stale.status, 412) << stale.body;
  EXPECT_EQ(stale.errorCode(), "version_conflict");
  for (const char* bad : {"v2", "\"2\"", "\"v\"", "\"v2x\"", "W/\"v2\"", ""}) {
    auto hb = bearer(admin());
    hb["If-Match"] = bad;
    auto b = call("PUT", "/api/v1/admin/profiles/" + id, json{{"name", "Renamed"}}.dump(), hb);
    EXPECT_EQ(b.status, 400) << "If-Match: " << bad << " -> " << b.body;
  }
  // A setting the agent would refuse is named, the profile stays as it was.
  auto refused = call("PUT", "/api/v1/admin/profiles/" + id, json{{"settings", {{"screenshot_quality", 0}}}}.dump(),
                      bearer(admin()));
  EXPECT_EQ(refused.status, 400) << refused.body;
  EXPECT_EQ(refused.errorCode(), "invalid_profile");
  EXPECT_EQ(scalar("select version || ' ' || name || ' ' || (body->>'idle_threshold_s') from agent.config_profiles "
                   "where id = '" +
                   id + "'"),
            "2 Office 300");
  EXPECT_EQ(audits(), audited);

  // If-Match * and no If-Match apply to whatever version is current.
  auto star = bearer(admin());
  star["If-Match"] = "*";
  EXPECT_EQ(call("PUT", "/api/v1/admin/profiles/" + id, json{{"name", "Head office"}}.dump(), star).json()["version"],
            3);
  EXPECT_EQ(
      call("PUT", "/api/v1/admin/profiles/" + id, json{{"name", "Office"}}.dump(), bearer(admin())).json()["version"],
      4);

  // Not the caller's: an employee is refused, another company's admin and unknown ids see no such profile.
  EXPECT_EQ(call("PUT", "/api/v1/admin/profiles/" + id, json{{"name", "x"}}.dump(), bearer(alice())).status, 403);
  EXPECT_EQ(call("GET", "/api/v1/admin/profiles/" + id, "", bearer(alice())).status, 403);
  const std::string b_admin = token("admin@b.test");
  EXPECT_EQ(call("GET", "/api/v1/admin/profiles/" + id, "", bearer(b_admin)).status, 404);
  EXPECT_EQ(call("PUT", "/api/v1/admin/profiles/" + id, json{{"name", "Taken over"}}.dump(), bearer(b_admin)).status,
            404);
  EXPECT_EQ(call("GET", "/api/v1/admin/profiles/00000000-0000-4000-8000-000000000000", "", bearer(admin())).status,
            404);
  EXPECT_EQ(call("GET", "/api/v1/admin/profiles/not-an-id", "", bearer(admin())).status, 404);
  EXPECT_EQ(scalar("select version || ' ' || name from agent.config_profiles where id = '" + id + "'"), "4 Office");
}

TEST_F(ServerProfilesTest, MakingAProfileTheDefaultEndsTheOldDefault) {
  const std::string office = create("Office", json::object(), true);
  const std::string remote = create("Remote", {{"idle_threshold_s", 600}});
  const std::string device = addDevice(company_a_, user_a_, "laptop");
  EXPECT_EQ(fetched(device).first, "Office");
  auto r = call("PUT", "/api/v1/admin/profiles/" + remote, json{{"is_default", true}}.dump(), bearer(admin()));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["is_default"], true);
  EXPECT_EQ(scalar("select string_agg(name, ',') from agent.config_profiles where is_default and company_id = '" +
                   company_a_ + "'"),
            "Remote");
  EXPECT_EQ(call("GET", "/api/v1/admin/profiles/" + office, "", bearer(admin())).json()["is_default"], false);
  EXPECT_EQ(fetched(device).first, "Remote");
  // Renaming onto another profile's name is a conflict and changes nothing.
  r = call("PUT", "/api/v1/admin/profiles/" + remote, json{{"name", "Office"}}.dump(), bearer(admin()));
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(r.errorCode(), "name_taken");
  EXPECT_EQ(scalar("select name || ' ' || version from agent.config_profiles where id = '" + remote + "'"), "Remote 2");
}

TEST_F(ServerProfilesTest, AssignmentsDecideWhatEachDeviceFetchesAndABadIdChangesNothing) {
  create("Office", json::object(), true);
  const std::string remote = create("Remote", {{"idle_threshold_s", 600}});
  const std::string laptop = addDevice(company_a_, user_a_, "laptop");
  const std::string desktop = addDevice(company_a_, user_a_, "desktop");
  const std::string old = addDevice(company_a_, user_a_, "old");
  scalar("update agent.devices set revoked_at = now() where id = '" + old + "' returning id");
  const std::string theirs = addDevice(company_b_, admin_b_, "b-laptop");

  auto r = assign({{"profile_id", remote}, {"device_ids", {laptop}}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["devices"], json::array({laptop}));
  EXPECT_EQ(fetched(laptop).first, "Remote");
  EXPECT_EQ(fetched(desktop).first, "Office");
  auto listed = call("GET", "/api/v1/admin/profiles/" + remote, "", bearer(admin()));
  EXPECT_EQ(listed.json()["devices"], 1) << listed.body;

  // By person: every device they have enrolled now, not the revoked one.
  r = assign({{"profile_id", remote}, {"user_ids", {user_a_}}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["devices"].size(), 2u) << r.body;
  EXPECT_EQ(fetched(desktop).first, "Remote");
  EXPECT_EQ(deviceProfile(old), "");

  // null: back to the company's default.
  r = assign({{"profile_id", nullptr}, {"device_ids", {laptop}}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["profile_id"], nullptr);
  EXPECT_EQ(fetched(laptop).first, "Office");
  EXPECT_EQ(fetched(desktop).first, "Remote");

  // An id that is not the company's names itself, and nothing of the request is applied.
  const long long audited = audits();
  r = assign({{"profile_id", remote}, {"device_ids", {laptop, theirs}}});
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(r.errorCode(), "unknown_device");
  EXPECT_EQ(r.json()["error"]["ids"], json::array({theirs})) << r.body;
  r = assign({{"profile_id", remote}, {"device_ids", {laptop}}, {"user_ids", {admin_b_}}});
  EXPECT_EQ(r.errorCode(), "unknown_user") << r.body;
  EXPECT_EQ(r.json()["error"]["ids"], json::array({admin_b_})) << r.body;
  r = assign({{"profile_id", "00000000-0000-4000-8000-000000000000"}, {"device_ids", {laptop}}});
  EXPECT_EQ(r.errorCode(), "unknown_profile") << r.body;
  EXPECT_EQ(deviceProfile(laptop), "");
  EXPECT_EQ(deviceProfile(theirs), "");
  EXPECT_EQ(audits(), audited);

  // Malformed assignments are 400s; an employee and another company's admin may not assign.
  for (const json& bad :
       {json{{"device_ids", {laptop}}}, json{{"profile_id", remote}},
        json{{"profile_id", remote}, {"device_ids", json::array()}},
        json{{"profile_id", remote}, {"device_ids", {"laptop"}}}, json{{"profile_id", remote}, {"device_ids", laptop}},
        json{{"profile_id", "Remote"}, {"device_ids", {laptop}}},
        json{{"profile_id", remote}, {"device_ids", {laptop}}, {"everyone", true}}, json::array()}) {
    EXPECT_EQ(assign(bad).status, 400) << bad.dump();
  }
  json many = json::array();
  for (int i = 0; i < 1001; ++i) many.push_back(laptop);
  EXPECT_EQ(assign({{"profile_id", remote}, {"device_ids", many}}).status, 400);
  EXPECT_EQ(assign({{"profile_id", remote}, {"device_ids", {laptop}}}, alice()).status, 403);
  r = assign({{"profile_id", remote}, {"device_ids", {laptop}}}, token("admin@b.test"));
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(r.errorCode(), "unknown_profile");
  EXPECT_EQ(deviceProfile(laptop), "");
}

TEST_F(ServerProfilesTest, DeletingAProfileMovesItsDevicesAndTokensToTheDefault) {
  create("Office", {{"idle_threshold_s", 240}}, true);
  const std::string remote = create("Remote", {{"idle_threshold_s", 600}});
  const std::string laptop = addDevice(company_a_, user_a_, "laptop");
  ASSERT_EQ(assign({{"profile_id", remote}, {"device_ids", {laptop}}}).status, 200);
  scalar("insert into agent.enrolment_tokens (company_id, token_hash, profile_id, expires_at) values ('" + company_a_ +
         "', sha256('t1'::bytea), '" + remote + "', now() + interval '1 day') returning id");
  EXPECT_EQ(fetched(laptop).first, "Remote");

  // Another company's admin cannot delete it; it is still there.
  EXPECT_EQ(call("DELETE", "/api/v1/admin/profiles/" + remote, "", bearer(token("admin@b.test"))).status, 404);
  EXPECT_EQ(call("DELETE", "/api/v1/admin/profiles/" + remote, "", bearer(alice())).status, 403);
  EXPECT_EQ(scalar("select count(*) from agent.config_profiles where id = '" + remote + "'"), "1");

  auto r = call("DELETE", "/api/v1/admin/profiles/" + remote, "", bearer(admin()));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json(), (json{{"id", remote},
                            {"was_default", false},
                            {"devices_now_on_default", 1},
                            {"enrolment_tokens_now_on_default", 1}}))
      << r.body;
  EXPECT_EQ(fetched(laptop).first, "Office");
  EXPECT_EQ(deviceProfile(laptop), "");
  EXPECT_EQ(scalar("select count(*) from agent.enrolment_tokens where profile_id is null and company_id = '" +
                   company_a_ + "'"),
            "1");
  EXPECT_EQ(call("GET", "/api/v1/admin/profiles/" + remote, "", bearer(admin())).status, 404);
  EXPECT_EQ(call("DELETE", "/api/v1/admin/profiles/" + remote, "", bearer(admin())).status, 404);
}

TEST_F(ServerProfilesTest, EveryChangeIsAuditedWithWhoWhatAndFromWhere) {
  auto h = bearer(admin());
  h["User-Agent"] = "console-test/1";
  auto r = call("POST", "/api/v1/admin/profiles",
                json{{"name", "Office"}, {"settings", {{"idle_threshold_s", 240}}}}.dump(), h);
  ASSERT_EQ(r.status, 201) << r.body;
  const std::string id = r.json()["id"];
  ASSERT_EQ(
      call("PUT", "/api/v1/admin/profiles/" + id, json{{"settings", {{"idle_threshold_s", 300}}}}.dump(), h).status,
      200);
  const std::string laptop = addDevice(company_a_, user_a_, "laptop");
  ASSERT_EQ(
      call("POST", "/api/v1/admin/profile-assignments", json{{"profile_id", id}, {"device_ids", {laptop}}}.dump(), h)
          .status,
      200);
  ASSERT_EQ(call("DELETE", "/api/v1/admin/profiles/" + id, "", h).status, 200);

  const std::string rows = scalar(
      "select string_agg(action || '|' || entity_type || '|' || coalesce(entity_id::text, '') || '|' || "
      "actor_id::text || '|' || host(ip_address) || '|' || user_agent, E'\\n' order by created_at, action) "
      "from public.audit_logs where company_id = '" +
      company_a_ + "'");
  const std::string tail = "|config_profile|" + id + "|" + admin_a_ + "|127.0.0.1|console-test/1";
  EXPECT_EQ(rows, "profile.create" + tail + "\nprofile.update" + tail + "\nprofile.assign" + tail + "\nprofile.delete" +
                      tail);
  auto values = [&](const std::string& action, const std::string& path) {
    return scalar("select coalesce(" + path + ", '(null)') from public.audit_logs where action = '" + action +
                  "' and company_id = '" + company_a_ + "'");
  };
  EXPECT_EQ(values("profile.create", "old_values::text"), "(null)");
  EXPECT_EQ(values("profile.create", "new_values->'settings'->>'idle_threshold_s'"), "240");
  EXPECT_EQ(values("profile.update", "old_values->'settings'->>'idle_threshold_s'"), "240");
  EXPECT_EQ(values("profile.update", "new_values->'settings'->>'idle_threshold_s'"), "300");
  EXPECT_EQ(values("profile.update", "(old_values->>'version') || '->' || (new_values->>'version')"), "1->2");
  EXPECT_EQ(values("profile.assign", "new_values->'device_ids'->>0"), laptop);
  EXPECT_EQ(values("profile.delete", "old_values->>'name'"), "Office");
  EXPECT_EQ(values("profile.delete", "new_values::text"), "(null)");
}

}  // namespace
}  // namespace wm::test
