// The admin API of people and devices (issue 17) through HTTP with real tokens: list and edit a company's
// people, disable one (every session ends at once and stays ended), change a role (the old token's claims stop
// working, a refresh gives the new ones), list devices with what their agents last said, revoke one (its
// uploads and its refresh are refused). RLS keeps each company's apart; every change is audited.
#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "server_test_env.h"

namespace wm::test {
namespace {

using nlohmann::json;

class ServerPeopleTest : public ServerTest {
 protected:
  long long audits(const std::string& action) {
    return std::stoll(scalar("select count(*) from public.audit_logs where action = '" + action + "'"));
  }
  std::string addDevice(const std::string& company, const std::string& user, const std::string& name) {
    return scalar("insert into agent.devices (company_id, user_id, name, platform) values ('" + company + "', '" +
                  user + "', '" + name + "', 'linux') returning id");
  }
  const std::string& admin() {
    if (admin_token_.empty()) admin_token_ = token("admin@a.test");
    return admin_token_;
  }
  HttpReply patch(const std::string& user, const json& body, const std::string& as = "") {
    auto h = bearer(as.empty() ? admin() : as);
    h["User-Agent"] = "console-test/1";
    return call("PATCH", "/api/v1/admin/users/" + user, body.dump(), h);
  }
  HttpReply me(const std::string& tok) { return call("GET", "/auth/me", "", bearer(tok)); }
  HttpReply refresh(const std::string& rt) { return call("POST", "/auth/refresh", json{{"refresh_token", rt}}.dump()); }
  /// A sign-in of alice bound to `device` (as the agent signs in after enrolment): {access, refresh}.
  std::pair<std::string, std::string> signInOn(const std::string& device) {
    auto r = call("POST", "/auth/login",
                  json{{"email", "alice@a.test"}, {"password", kPassword}, {"device_id", device}}.dump());
    EXPECT_EQ(r.status, 200) << r.body;
    const json j = r.json();
    return {j.value("access_token", ""), j.value("refresh_token", "")};
  }
  /// One batch of one app_usage record from `device`, as the agent sends it (plain JSON).
  HttpReply upload(const std::string& tok, const std::string& device, const std::string& agent_version = "",
                   const json& queue = nullptr, json records = nullptr) {
    const long long t = nowMs() - 60000;
    if (records.is_null()) records = json::array({makeRecord("app_usage", t, t + 1000, {{"app", "editor"}})});
    json batch{{"batch_id", "b" + std::to_string(++batches_)},
               {"device_id", device},
               {"format_version", 1},
               {"records", records}};
    if (!agent_version.empty()) batch["agent_version"] = agent_version;
    if (!queue.is_null()) batch["queue"] = queue;
    auto h = bearer(tok);
    h["Idempotency-Key"] = "people-" + std::to_string(batches_);
    return call("POST", "/api/v1/agent/batches", batch.dump(), h);
  }
  /// The devices of company A's list, keyed by name.
  std::map<std::string, json> devices(const std::string& query = "") {
    auto r = call("GET", "/api/v1/admin/devices" + query, "", bearer(admin()));
    EXPECT_EQ(r.status, 200) << r.body;
    std::map<std::string, json> out;
    const json j = r.json();
    for (const auto& d : j["devices"]) out[d["name"].get<std::string>()] = d;
    return out;
  }
  /// A second second begins, so a change made now is later than the iat of every token issued so far.
  static void nextSecond() {
    using namespace std::chrono;
    const auto now = system_clock::now().time_since_epoch();
    std::this_thread::sleep_for(milliseconds(1050) - duration_cast<milliseconds>(now) % 1000);
  }

 private:
  std::string admin_token_;
  int batches_ = 0;
};

TEST_F(ServerPeopleTest, AnAdminListsAndEditsTheCompanysPeople) {
  addDevice(company_a_, user_a_, "laptop");
  auto r = call("GET", "/api/v1/admin/users", "", bearer(admin()));
  ASSERT_EQ(r.status, 200) << r.body;
  std::map<std::string, json> people;
  const json list = r.json();
  for (const auto& p : list["users"]) people[p["email"].get<std::string>()] = p;
  ASSERT_EQ(people.size(), 2u) << r.body << " (company B's admin must not be listed)";
  const json alice = people["alice@a.test"];
  EXPECT_EQ(alice["user_id"], user_a_);
  EXPECT_EQ(alice["role"], "employee");
  EXPECT_EQ(alice["status"], "active");
  EXPECT_EQ(alice["employment_type"], "fulltime");
  EXPECT_EQ(alice["devices"], 1);
  EXPECT_TRUE(alice["created_at"].is_string());
  EXPECT_EQ(people["admin@a.test"]["role"], "admin");

  r = patch(user_a_, {{"full_name", "Alice Liddell"}, {"employment_type", "parttime"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["full_name"], "Alice Liddell");
  EXPECT_EQ(r.json()["employment_type"], "parttime");
  EXPECT_EQ(r.json()["role"], "employee");
  EXPECT_EQ(scalar("select full_name || '|' || employment_type from public.users where user_id = '" + user_a_ + "'"),
            "Alice Liddell|parttime");
  // The audit row holds what changed and nothing else.
  EXPECT_EQ(scalar("select entity_type || '|' || entity_id || '|' || actor_id || '|' || host(ip_address) || '|' || "
                   "user_agent || '|' || new_values::text from public.audit_logs where action = 'user.update'"),
            "user|" + user_a_ + "|" + admin_a_ +
                "|127.0.0.1|console-test/1|{\"full_name\": \"Alice Liddell\", \"employment_type\": \"parttime\"}");
  EXPECT_EQ(scalar("select old_values->>'employment_type' from public.audit_logs where action = 'user.update'"),
            "fulltime");
  // The same edit again changes nothing and writes no second row.
  ASSERT_EQ(patch(user_a_, {{"full_name", "Alice Liddell"}}).status, 200);
  EXPECT_EQ(audits("user.update"), 1);

  // Malformed edits: a clear 400 naming the problem, nothing changed.
  for (const json& bad : {json::object(), json{{"email", "x@a.test"}}, json{{"role", "owner"}}, json{{"role", 5}},
                          json{{"employment_type", "intern"}}, json{{"status", "invited"}}, json{{"full_name", ""}},
                          json{{"full_name", std::string(201, 'x')}}, json{{"status", nullptr}}, json::array()}) {
    r = patch(user_a_, bad);
    EXPECT_EQ(r.status, 400) << bad.dump() << " → " << r.body;
    EXPECT_EQ(r.errorCode(), "invalid_request") << bad.dump();
    EXPECT_FALSE(r.json()["error"]["message"].get<std::string>().empty());
  }
  r = call("PATCH", "/api/v1/admin/users/" + user_a_, "{not json", bearer(admin()));
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(
      scalar("select full_name || '|' || role || '|' || status from public.users where user_id = '" + user_a_ + "'"),
      "Alice Liddell|employee|active");
  EXPECT_EQ(audits("user.update"), 1);

  // Not an admin, another company's admin, an unknown id, the wrong verb.
  const std::string alice_token = token("alice@a.test");
  EXPECT_EQ(call("GET", "/api/v1/admin/users", "", bearer(alice_token)).status, 403);
  EXPECT_EQ(patch(admin_a_, {{"full_name", "Mallory"}}, alice_token).status, 403);
  EXPECT_EQ(call("GET", "/api/v1/admin/users", "").status, 401);
  const std::string admin_b = token("admin@b.test");
  r = call("GET", "/api/v1/admin/users", "", bearer(admin_b));
  ASSERT_EQ(r.status, 200);
  const json theirs = r.json();
  for (const auto& p : theirs["users"]) EXPECT_NE(p["user_id"], user_a_) << r.body;
  r = patch(user_a_, {{"full_name", "Taken over"}}, admin_b);
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_EQ(patch("00000000-0000-7000-8000-000000000000", {{"full_name", "x"}}).status, 404);
  EXPECT_EQ(patch("not-an-id", {{"full_name", "x"}}).status, 404);
  EXPECT_EQ(call("DELETE", "/api/v1/admin/users/" + user_a_, "", bearer(admin())).status, 405);
  EXPECT_EQ(call("POST", "/api/v1/admin/users", "{}", bearer(admin())).status, 405);
  EXPECT_EQ(scalar("select full_name from public.users where user_id = '" + user_a_ + "'"), "Alice Liddell");
  EXPECT_EQ(audits("user.update"), 1);
}

TEST_F(ServerPeopleTest, DisablingEndsEverySessionAtOnceAndForGood) {
  auto signed_in = login("alice@a.test");
  ASSERT_EQ(signed_in.status, 200) << signed_in.body;
  const std::string at = signed_in.json()["access_token"], rt = signed_in.json()["refresh_token"];
  const std::string other_rt = login("alice@a.test").json()["refresh_token"];  // a second device's sign-in
  ASSERT_EQ(me(at).status, 200);
  ASSERT_EQ(upload(at, "").status, 200);
  const std::string stored = scalar("select count(*) from public.app_usage");
  nextSecond();

  auto r = patch(user_a_, {{"status", "disabled"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["status"], "disabled");
  EXPECT_EQ(r.json()["sessions_ended"], 2) << r.body;
  // At the very next request, on every endpoint: the token still has minutes to live but is refused.
  r = me(at);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.errorCode(), "token_revoked") << r.body;
  r = upload(at, "");
  EXPECT_EQ(r.status, 401) << r.body;
  EXPECT_EQ(scalar("select count(*) from public.app_usage"), stored);
  EXPECT_EQ(call("GET", "/api/v1/agent/profile", "", bearer(at)).status, 401);
  EXPECT_EQ(refresh(rt).status, 401);
  EXPECT_EQ(refresh(other_rt).status, 401);
  EXPECT_EQ(login("alice@a.test").status, 401);
  EXPECT_EQ(scalar("select count(*) from auth.refresh_tokens where user_id = '" + user_a_ + "' and revoked_at is null"),
            "0");

  // Enabled again: the person signs in anew; what was issued before the disable stays dead.
  r = patch(user_a_, {{"status", "active"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_FALSE(r.json().contains("sessions_ended"));
  EXPECT_EQ(me(at).errorCode(), "token_revoked");
  EXPECT_EQ(refresh(rt).status, 401);
  const std::string fresh = token("alice@a.test");
  EXPECT_EQ(me(fresh).status, 200);
  EXPECT_EQ(upload(fresh, "").status, 200);

  EXPECT_EQ(scalar("select string_agg((old_values->>'status') || '>' || (new_values->>'status'), ',' order by "
                   "created_at) from public.audit_logs where action = 'user.update'"),
            "active>disabled,disabled>active");
}

TEST_F(ServerPeopleTest, ARoleChangeTakesEffectAtTheNextRequestAndAnAdminCannotLockThemselfOut) {
  // The caller cannot demote or disable themself (so a company keeps an admin); their name they can change.
  auto r = patch(admin_a_, {{"role", "manager"}});
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(r.errorCode(), "own_account");
  EXPECT_EQ(patch(admin_a_, {{"status", "disabled"}}).errorCode(), "own_account");
  EXPECT_EQ(patch(admin_a_, {{"full_name", "Ada Admin"}, {"role", "admin"}}).status, 200);
  EXPECT_EQ(scalar("select role || '|' || status from public.users where user_id = '" + admin_a_ + "'"),
            "admin|active");

  // Alice becomes a manager: her token, issued as an employee, is not current any more; her agent's refresh
  // gives her one with the new role.
  auto signed_in = login("alice@a.test");
  const std::string at = signed_in.json()["access_token"], rt = signed_in.json()["refresh_token"];
  ASSERT_EQ(me(at).status, 200);
  r = patch(user_a_, {{"role", "manager"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(me(at).errorCode(), "token_revoked");
  r = refresh(rt);
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string renewed = r.json()["access_token"];
  r = me(renewed);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["user"]["role"], "manager") << r.body;

  // A second admin demotes the first: the first one's admin token stops working at once, and the token a
  // refresh gives them is an employee's.
  const std::string second_id = addUser(company_a_, "second@a.test", "admin");
  const std::string second = token("second@a.test");
  auto first = login("admin@a.test");
  const std::string first_at = first.json()["access_token"], first_rt = first.json()["refresh_token"];
  ASSERT_EQ(patch(admin_a_, {{"role", "employee"}}, second).status, 200);
  r = call("GET", "/api/v1/admin/users", "", bearer(first_at));
  EXPECT_EQ(r.status, 401) << r.body;
  EXPECT_EQ(r.errorCode(), "token_revoked");
  r = refresh(first_rt);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(call("GET", "/api/v1/admin/users", "", bearer(r.json()["access_token"])).status, 403);
  EXPECT_EQ(patch(second_id, {{"role", "employee"}}, r.json()["access_token"]).status, 403);
  EXPECT_EQ(scalar("select role from public.users where email = 'second@a.test'"), "admin");
}

TEST_F(ServerPeopleTest, AnInvitedPersonHasNoAccessToTurnOnOrOff) {
  const std::string invited = addUser(company_a_, "new@a.test", "employee");
  ASSERT_EQ(scalar("update public.users set status = 'invited' where user_id = '" + invited + "' returning status"),
            "invited");
  for (const char* status : {"active", "disabled"}) {
    auto r = patch(invited, {{"status", status}});
    EXPECT_EQ(r.status, 409) << r.body;
    EXPECT_EQ(r.errorCode(), "invited");
  }
  EXPECT_EQ(scalar("select status from public.users where user_id = '" + invited + "'"), "invited");
  auto r = patch(invited, {{"full_name", "New Starter"}, {"role", "manager"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["status"], "invited");
  EXPECT_EQ(r.json()["role"], "manager");
}

TEST_F(ServerPeopleTest, DevicesAreListedWithWhatTheirAgentsLastSaid) {
  const std::string laptop = addDevice(company_a_, user_a_, "laptop");
  const std::string desk = addDevice(company_a_, admin_a_, "desk");
  addDevice(company_b_, admin_b_, "elsewhere");
  auto listed = devices();
  ASSERT_EQ(listed.size(), 2u) << "company B's device must not be listed";
  EXPECT_EQ(listed["laptop"]["id"], laptop);
  EXPECT_EQ(listed["laptop"]["user_id"], user_a_);
  EXPECT_EQ(listed["laptop"]["user_email"], "alice@a.test");
  EXPECT_EQ(listed["laptop"]["platform"], "linux");
  EXPECT_TRUE(listed["laptop"]["enrolled_at"].is_string());
  EXPECT_TRUE(listed["laptop"]["last_seen_at"].is_null());
  EXPECT_TRUE(listed["laptop"]["agent_version"].is_null());
  EXPECT_TRUE(listed["laptop"]["revoked_at"].is_null());
  EXPECT_EQ(devices("?user_id=" + user_a_).size(), 1u);
  EXPECT_EQ(devices("?user_id=" + admin_b_).size(), 0u);
  EXPECT_EQ(call("GET", "/api/v1/admin/devices?user_id=x'--", "", bearer(admin())).status, 400);

  // A batch from the laptop's agent: its version and time of contact appear in the list.
  const auto [at, rt] = signInOn(laptop);
  auto r = upload(at, laptop, "1.4.2");
  ASSERT_EQ(r.status, 200) << r.body;
  listed = devices();
  EXPECT_EQ(listed["laptop"]["agent_version"], "1.4.2");
  EXPECT_TRUE(listed["laptop"]["last_seen_at"].is_string());
  EXPECT_TRUE(listed["desk"]["last_seen_at"].is_null());
  EXPECT_EQ(scalar("select string_agg(distinct device_id::text, ',') from agent.record_revisions"), laptop);
  // A newer agent is recorded at once, whatever the 30-s bound on contact writes.
  ASSERT_EQ(upload(at, laptop, "1.5.0").status, 200);
  EXPECT_EQ(devices()["laptop"]["agent_version"], "1.5.0");

  EXPECT_TRUE(devices()["laptop"]["queue"].is_null()) << "no queue reported yet";
  EXPECT_EQ(devices()["laptop"]["crashes_7d"], 0);

  // Its queue as the agent's round began, with each batch; a new report is written at once.
  const long long oldest = nowMs() - 3'600'000;
  ASSERT_EQ(upload(at, laptop, "1.5.0", {{"pending", 1200}, {"quarantined", 3}, {"oldest_pending_ms", oldest}}).status,
            200);
  json queue = devices()["laptop"]["queue"];
  EXPECT_EQ(queue["pending"], 1200) << queue;
  EXPECT_EQ(queue["quarantined"], 3);
  EXPECT_EQ(scalar("select (abs(extract(epoch from queue_oldest_at) * 1000 - " + std::to_string(oldest) +
                   ") < 1)::text from agent.devices where id = '" + laptop + "'"),
            "true");
  EXPECT_TRUE(queue["reported_at"].is_string());
  ASSERT_EQ(upload(at, laptop, "1.5.0", {{"pending", 1}, {"quarantined", 3}, {"oldest_pending_ms", 0}}).status, 200);
  queue = devices()["laptop"]["queue"];
  EXPECT_EQ(queue["pending"], 1);
  EXPECT_TRUE(queue["oldest_pending_at"].is_null()) << queue;
  // A malformed report is ignored, never the batch: its records are stored and the last good report stays.
  const std::string stored = scalar("select count(*) from public.app_usage");
  for (const json& bad : {json{{"pending", -1}, {"quarantined", 0}, {"oldest_pending_ms", 0}},
                          json{{"pending", "many"}, {"quarantined", 0}, {"oldest_pending_ms", 0}},
                          json{{"pending", 5}, {"quarantined", 0}, {"oldest_pending_ms", 12}},
                          json{{"pending", 5}, {"quarantined", 0}, {"oldest_pending_ms", nowMs() + 172'800'000LL}},
                          json{{"pending", 5}}, json("full"), json::array()}) {
    auto b = upload(at, laptop, "1.5.0", bad);
    EXPECT_EQ(b.status, 200) << bad.dump() << " → " << b.body;
  }
  EXPECT_EQ(std::stoll(scalar("select count(*) from public.app_usage")), std::stoll(stored) + 7);
  EXPECT_EQ(devices()["laptop"]["queue"]["pending"], 1);

  // The agent's crashes of the last week, from its downtime records.
  const long long t = nowMs() - 7'200'000;
  r = upload(
      at, laptop, "1.5.0", nullptr,
      json::array({makeRecord("downtime", t, t + 60'000, {{"reason", "crash"}, {"clean", false}}),
                   makeRecord("downtime", t + 120'000, t + 180'000, {{"reason", "shutdown"}, {"clean", true}})}));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["results"][0]["status"], "stored") << r.body;
  EXPECT_EQ(devices()["laptop"]["crashes_7d"], 1);

  const std::string alice = token("alice@a.test");
  EXPECT_EQ(call("GET", "/api/v1/admin/devices", "", bearer(alice)).status, 403);
  EXPECT_EQ(call("POST", "/api/v1/admin/devices", "{}", bearer(admin())).status, 405);
  (void)desk;
}

TEST_F(ServerPeopleTest, ARevokedDeviceUploadsNothingAndCannotRefresh) {
  const std::string laptop = addDevice(company_a_, user_a_, "laptop");
  const std::string phone = addDevice(company_a_, user_a_, "second");
  const auto [at, rt] = signInOn(laptop);
  const auto [other_at, other_rt] = signInOn(phone);
  ASSERT_EQ(upload(at, laptop).status, 200);
  const std::string stored = scalar("select count(*) from public.app_usage");

  // Not an admin, another company's admin, an unknown or malformed id: refused, nothing revoked.
  EXPECT_EQ(call("POST", "/api/v1/admin/devices/" + laptop + "/revoke", "", bearer(token("alice@a.test"))).status, 403);
  EXPECT_EQ(call("POST", "/api/v1/admin/devices/" + laptop + "/revoke", "", bearer(token("admin@b.test"))).status, 404);
  EXPECT_EQ(
      call("POST", "/api/v1/admin/devices/00000000-0000-7000-8000-000000000000/revoke", "", bearer(admin())).status,
      404);
  EXPECT_EQ(call("POST", "/api/v1/admin/devices/laptop/revoke", "", bearer(admin())).status, 404);
  EXPECT_EQ(call("GET", "/api/v1/admin/devices/" + laptop + "/revoke", "", bearer(admin())).status, 405);
  EXPECT_EQ(scalar("select count(*) from agent.devices where revoked_at is not null"), "0");

  auto h = bearer(admin());
  h["User-Agent"] = "console-test/1";
  auto r = call("POST", "/api/v1/admin/devices/" + laptop + "/revoke", "", h);
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string revoked_at = r.json()["revoked_at"];
  EXPECT_FALSE(revoked_at.empty());
  // Twice is the same revocation: its first time kept, one audit row.
  r = call("POST", "/api/v1/admin/devices/" + laptop + "/revoke", "", h);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["revoked_at"], revoked_at);
  EXPECT_EQ(scalar("select count(*) || '|' || min(entity_id::text) || '|' || min(actor_id::text) || '|' || "
                   "min(user_agent) from public.audit_logs where action = 'device.revoke'"),
            "1|" + laptop + "|" + admin_a_ + "|console-test/1");

  // The revoked device's agent: its batch is refused with a reason it can show, nothing is stored, and its
  // refresh ends the sign-in; the person's other device goes on.
  r = upload(at, laptop);
  EXPECT_EQ(r.status, 401) << r.body;
  EXPECT_EQ(r.errorCode(), "device_revoked");
  EXPECT_EQ(scalar("select count(*) from public.app_usage"), stored);
  r = refresh(rt);
  EXPECT_EQ(r.status, 401) << r.body;
  EXPECT_EQ(r.errorCode(), "refresh_revoked");
  EXPECT_EQ(upload(other_at, phone).status, 200);
  EXPECT_EQ(refresh(other_rt).status, 200);

  // The list puts it last, marked; the person's count of devices drops.
  auto list = call("GET", "/api/v1/admin/devices", "", bearer(admin()));
  ASSERT_EQ(list.status, 200);
  const json devs = list.json()["devices"];
  ASSERT_EQ(devs.size(), 2u);
  EXPECT_EQ(devs[1]["id"], laptop);
  EXPECT_EQ(devs[1]["revoked_at"], revoked_at);
  EXPECT_TRUE(devs[0]["revoked_at"].is_null());
  auto people = call("GET", "/api/v1/admin/users", "", bearer(admin()));
  const json users = people.json()["users"];
  for (const auto& p : users) {
    if (p["user_id"] == user_a_) {
      EXPECT_EQ(p["devices"], 1);
    }
  }
}

}  // namespace
}  // namespace wm::test
