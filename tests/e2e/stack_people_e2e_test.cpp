// Issue 17: what the running agent does when an admin revokes its device or disables its person. The real
// server and the real agent; the admin acts over HTTP. The agent stops uploading, says why in `status`, keeps
// every record queued, and once the person signs in again everything arrives exactly once.
#include "stack_e2e_env.h"

namespace wm {
namespace {

using namespace stack_e2e;

class StackPeopleE2E : public StackE2E {
 protected:
  /// A time entry: the timer started and stopped (one record, at least one revision).
  void trackAWhile() {
    EXPECT_EQ(call("start", {{"note", "people e2e"}})["state"], "tracking");
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(call("stop")["state"], "not_tracking");
  }
  long long onServer() {
    return count("select count(*) from agent.record_revisions where user_id = '" + employee_ + "'");
  }
  /// Asks for a sync and waits until the agent says a sign-in is needed; returns its status.
  json untilSignInNeeded() {
    json sync;
    EXPECT_TRUE(test::waitUntil(
        [&] {
          kickSync();
          sync = call("status")["sync"];
          return sync.value("auth", "") == "sign_in_needed";
        },
        20s, 200ms))
        << sync.dump();
    return sync;
  }
};

TEST_F(StackPeopleE2E, ARevokedDeviceKeepsItsRecordsUntilThePersonSignsInAgain) {
  startAgent("http://127.0.0.1:" + std::to_string(server_port_));
  const std::string token = admin("admin enrollment-token --company " + company_a_ + " --user " + employee_);
  ASSERT_TRUE(token.starts_with("wme1.")) << token;
  std::string out;
  ASSERT_EQ(runShell(std::string(WM_AGENT_BINARY) + " --socket " + sh(socket_.string()) + " enroll --token " +
                         sh(token) + " 2>&1",
                     &out),
            0)
      << out;
  const std::string device = call("status")["sync"].value("device_id", "");
  ASSERT_FALSE(device.empty()) << call("status")["sync"].dump();
  trackAWhile();
  syncUntilDrained(30s);
  const long long before = onServer();
  ASSERT_GT(before, 0);
  EXPECT_EQ(count("select count(*) from agent.record_revisions where device_id = '" + device + "'"), before);

  // What the admin's device list says about it: the agent's version, its last contact, its queue.
  auto r = adminCall("GET", "/api/v1/admin/devices");
  ASSERT_EQ(r.status, 200) << r.body;
  const json listed = json::parse(r.body)["devices"];
  ASSERT_EQ(listed.size(), 1u) << r.body;
  EXPECT_EQ(listed[0]["id"], device);
  EXPECT_EQ(listed[0]["agent_version"], WM_VERSION) << r.body;
  EXPECT_TRUE(listed[0]["last_seen_at"].is_string()) << r.body;
  ASSERT_TRUE(listed[0]["queue"].is_object()) << r.body;
  EXPECT_GE(listed[0]["queue"]["pending"].get<long long>(), 1) << r.body;
  EXPECT_EQ(listed[0]["queue"]["quarantined"], 0) << r.body;
  EXPECT_TRUE(listed[0]["queue"]["oldest_pending_at"].is_string()) << r.body;

  r = adminCall("POST", "/api/v1/admin/devices/" + device + "/revoke");
  ASSERT_EQ(r.status, 200) << r.body;
  trackAWhile();
  const json sync = untilSignInNeeded();
  EXPECT_NE(sync.value("auth_problem", "").find("an administrator revoked this device"), std::string::npos) << sync;
  EXPECT_FALSE(sync.contains("device_id")) << "the revoked device's id is forgotten: " << sync;
  EXPECT_EQ(onServer(), before) << "nothing is taken from a revoked device";
  // What the person sees.
  runShell(std::string(WM_AGENT_BINARY) + " --socket " + sh(socket_.string()) + " status 2>&1", &out);
  EXPECT_NE(out.find("revoked this device"), std::string::npos) << out;

  // Signed in again (as a person would after talking to IT): the queue drains, nothing more under the old
  // device, and the agent's outbox matches PostgreSQL exactly.
  login();
  syncUntilDrained(30s);
  EXPECT_GT(onServer(), before);
  EXPECT_EQ(count("select count(*) from agent.record_revisions where device_id = '" + device + "'"), before);
  ASSERT_EQ(agent_->stop(SIGTERM), 0);
  expectExactlyOnce(agentLedger());
}

TEST_F(StackPeopleE2E, ADisabledPersonsAgentStopsAtOnceAndLosesNothing) {
  startAgent("http://127.0.0.1:" + std::to_string(server_port_));
  login();
  trackAWhile();
  syncUntilDrained(30s);
  const long long before = onServer();
  ASSERT_GT(before, 0);

  auto r = adminCall("PATCH", "/api/v1/admin/users/" + employee_, {{"status", "disabled"}});
  ASSERT_EQ(r.status, 200) << r.body;
  trackAWhile();
  // The agent's access token is still minutes from expiry: it is refused at once, the refresh too.
  const json sync = untilSignInNeeded();
  EXPECT_NE(sync.value("auth_problem", "").find("refresh_revoked"), std::string::npos) << sync;
  EXPECT_EQ(onServer(), before);
  std::string out;
  EXPECT_NE(runShell("printf '%s\\n' " + sh(kPassword) + " | " + WM_AGENT_BINARY + " --socket " + sh(socket_.string()) +
                         " login --email emp@a.test 2>&1",
                     &out),
            0)
      << "a disabled account cannot sign in: " << out;

  ASSERT_EQ(adminCall("PATCH", "/api/v1/admin/users/" + employee_, {{"status", "active"}}).status, 200);
  login();
  syncUntilDrained(30s);
  EXPECT_GT(onServer(), before);
  ASSERT_EQ(agent_->stop(SIGTERM), 0);
  expectExactlyOnce(agentLedger());
}

}  // namespace
}  // namespace wm
