// Headless service mode end to end (issue 13): a machine policy names the server, an unattended enrolment
// token and the collection settings; the real workmonitor-agent is started with `run --service` and no tray
// on an Xvfb desktop, enrols by itself as the computer account, tracks, and its records reach a real
// workmonitor-server on a private PostgreSQL 15. The person cannot move it to another server nor change a
// locked setting. A bad policy is refused with a clear message in status, doctor and the log.
#include <fcntl.h>
#include <pwd.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "agent_process.h"
#include "test_util.h"
#include "workmonitor/agent/control_client.h"
#include "workmonitor/server/db/connection.h"
#include "workmonitor/server/testing/pg_cluster.h"
#include "xvfb_fixture.h"

extern char** environ;

namespace wm {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr const char* kSecret = "e2e-secret-0123456789-abcdefghijklmnopqrstuvwxyz";

using test::runShell;
using test::sh;

std::string osAccount() {
  const passwd* pw = ::getpwuid(::getuid());
  return pw != nullptr ? pw->pw_name : "";
}

/// A process with our environment plus `env`, its output appended to `log`; killed when destroyed.
class Proc {
 public:
  Proc(const std::vector<std::string>& argv, const fs::path& log, const std::map<std::string, std::string>& env) {
    std::vector<std::string> envs;
    for (char** e = environ; *e; ++e) {
      const std::string kv = *e;
      if (!env.count(kv.substr(0, kv.find('=')))) envs.push_back(kv);
    }
    for (const auto& [k, v] : env) envs.push_back(k + "=" + v);
    std::vector<char*> cargv, cenv;
    for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
    cargv.push_back(nullptr);
    for (const auto& e : envs) cenv.push_back(const_cast<char*>(e.c_str()));
    cenv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    if (posix_spawn(&pid_, cargv[0], &fa, nullptr, cargv.data(), cenv.data()) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&fa);
  }
  ~Proc() {
    if (pid_ > 0) (void)test::stopAgentProcess(pid_, SIGKILL);
  }
  Proc(const Proc&) = delete;
  Proc& operator=(const Proc&) = delete;
  pid_t pid() const { return pid_; }
  int stop(int sig) { return pid_ > 0 ? test::stopAgentProcess(pid_, sig) : -1; }

 private:
  pid_t pid_ = -1;
};

/// A private session bus (dbus-daemon) with python3-dbusmock's notification daemon on it, which writes every
/// call it gets to a log: what a desktop's notification service would have shown.
class NotificationBus {
 public:
  static std::unique_ptr<NotificationBus> start(const fs::path& dir) {
    auto b = std::unique_ptr<NotificationBus>(new NotificationBus);
    std::string out;
    if (runShell("dbus-daemon --session --fork --print-address=1 --print-pid=1", &out) != 0) return nullptr;
    const size_t nl = out.find('\n');
    if (nl == std::string::npos) return nullptr;
    b->address_ = out.substr(0, nl);
    b->daemon_ = static_cast<pid_t>(std::stol(out.substr(nl + 1)));
    b->log_ = dir / "notifications.log";
    b->mock_ = std::make_unique<Proc>(
        std::vector<std::string>{"/usr/bin/python3", "-m", "dbusmock", "--session", "--template", "notification_daemon",
                                 "-l", b->log_.string()},
        dir / "dbusmock.out", std::map<std::string, std::string>{{"DBUS_SESSION_BUS_ADDRESS", b->address_}});
    const std::string ask = "DBUS_SESSION_BUS_ADDRESS=" + sh(b->address_) +
                            " gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus "
                            "--method org.freedesktop.DBus.NameHasOwner org.freedesktop.Notifications 2>/dev/null";
    if (!test::waitUntil(
            [&] {
              std::string r;
              return runShell(ask, &r) == 0 && r.find("true") != std::string::npos;
            },
            20s, 100ms))
      return nullptr;
    return b;
  }
  ~NotificationBus() {
    mock_.reset();
    if (daemon_ > 0) ::kill(daemon_, SIGTERM);
  }
  const std::string& address() const { return address_; }
  /// The Notify calls the service got.
  std::vector<std::string> notifications() const {
    std::vector<std::string> out;
    std::istringstream in(test::slurp(log_));
    for (std::string line; std::getline(in, line);)
      if (line.find(" Notify ") != std::string::npos) out.push_back(line);
    return out;
  }

 private:
  NotificationBus() = default;
  std::string address_;
  pid_t daemon_ = -1;
  fs::path log_;
  std::unique_ptr<Proc> mock_;
};

class ServiceModeE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(fs::exists("/etc/workmonitor/policy.json"))
        << "an installed machine policy would be used instead of the test's (WORKMONITOR_POLICY)";
    dir_ = fs::temp_directory_path() / ("wm-service-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    socket_ = dir_ / "run" / "agent.sock";
    policy_ = dir_ / "policy.json";
  }
  void TearDown() override {
    agent_.reset();
    server_.reset();
    x_.reset();
    cluster_.reset();
    if (!HasFailure()) fs::remove_all(dir_);  // kept for the logs when something failed
  }

  // --- the server: PostgreSQL with the migrations, one company, its employee named like this account ---
  void startStack() {
    auto c = server::testing::PgCluster::start();
    ASSERT_TRUE(c) << c.error().message;
    cluster_ = std::move(*c);
    ASSERT_TRUE(cluster_->createDatabase("wm"));
    admin("migrate --dir " + sh(std::string(WM_SOURCE_DIR) + "/migrations"));
    company_ = admin("admin create-company 'Company A'");
    ASSERT_FALSE(osAccount().empty());
    // The unattended token's rule maps the computer account to the email's local part.
    employee_ = admin("admin create-user --company " + company_ + " --email " + osAccount() +
                          "@a.test --role employee --full-name 'E2E employee' --password-stdin --bcrypt-cost 4",
                      "correct horse battery");
    // Tokens are issued as the company's admin (the owner acts for one).
    (void)admin("admin create-user --company " + company_ +
                    " --email admin@a.test --role admin --full-name 'E2E admin' --password-stdin --bcrypt-cost 4",
                "correct horse battery");
    port_ = test::freePort();
    server_ = std::make_unique<Proc>(
        std::vector<std::string>{WM_SERVER_BINARY, "serve", "--listen", "127.0.0.1:" + std::to_string(port_),
                                 "--screenshot-dir", (dir_ / "shots").string(), "--migrations-dir",
                                 std::string(WM_SOURCE_DIR) + "/migrations"},
        dir_ / "server.log",
        std::map<std::string, std::string>{{"DATABASE_URL", cluster_->conninfo("wm", "workmonitor_app")},
                                           {"JWT_SECRET", kSecret},
                                           {"JWT_ALGORITHM", "HS256"},
                                           {"DB_POOL_SIZE", "4"},
                                           {"BACKEND_URL", url()}});
    ASSERT_GT(server_->pid(), 0);
    ASSERT_TRUE(test::waitUntil([&] { return test::httpStatus(port_, "/readyz") == 200; }, 20s, 100ms))
        << "the server is not ready; see " << dir_ / "server.log";
  }
  std::string admin(const std::string& args, const std::string& stdin_text = "") {
    std::string out;
    const std::string cmd = (stdin_text.empty() ? "" : "printf '%s\\n' " + sh(stdin_text) + " | ") + WM_SERVER_BINARY +
                            " --db " + sh(cluster_->conninfo("wm")) + " " + args + " 2>>" +
                            sh((dir_ / "admin.log").string());
    EXPECT_EQ(runShell(cmd, &out), 0) << cmd << ": " << out << "\n" << test::slurp(dir_ / "admin.log");
    return out;
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // --- the agent ---
  void writePolicy(const std::string& text, fs::perms perms = fs::perms::owner_read | fs::perms::owner_write |
                                                              fs::perms::group_read | fs::perms::others_read) {
    std::ofstream(policy_) << text;
    fs::permissions(policy_, perms);
  }
  /// `run --service` as the systemd user unit starts it, plus a server the person tried to choose.
  void startAgent(const std::vector<std::string>& extra = {}, std::map<std::string, std::string> env = {}) {
    // The person's own agent.json: quick heartbeats, and no pre-approval of their own.
    std::ofstream(dir_ / "agent.json")
        << json{{"consent_preapproved", false}, {"heartbeat_s", 1}, {"pulse_s", 1}, {"idle_threshold_s", 30}}.dump();
    std::vector<std::string> argv{WM_AGENT_BINARY,  "--state-dir", (dir_ / "state").string(),      "--socket",
                                  socket_.string(), "--config",    (dir_ / "agent.json").string(), "run",
                                  "--service"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    env["WORKMONITOR_POLICY"] = policy_.string();
    agent_ = std::make_unique<Proc>(argv, dir_ / "agent.stderr", env);
    ASSERT_GT(agent_->pid(), 0);
    ASSERT_TRUE(test::waitUntil([&] { return agent::ControlClient::connect(socket_, Millis(500)).has_value(); }, 15s))
        << "the agent did not open its control socket; see " << dir_ / "agent.stderr";
  }
  json call(const std::string& cmd, const json& args = json::object()) { return test::callAgent(socket_, cmd, args); }
  std::string cli(const std::string& args) {
    std::string out;
    runShell(std::string(WM_AGENT_BINARY) + " --socket " + sh(socket_.string()) + " " + args + " 2>&1", &out);
    return out;
  }
  std::string agentLog() { return test::slurp(dir_ / "state" / "logs" / "agent.log"); }
  long long count(const std::string& sql) {
    auto c = server::db::Connection::open(cluster_->conninfo("wm"));
    if (!c) return -1;
    auto r = c->query(sql);
    return r && r->rows() ? r->asInt(0, 0) : -1;
  }

  fs::path dir_, socket_, policy_;
  std::unique_ptr<server::testing::PgCluster> cluster_;
  std::unique_ptr<test::XvfbSession> x_;
  std::unique_ptr<Proc> server_, agent_;
  uint16_t port_ = 0;
  std::string company_, employee_;
};

TEST_F(ServiceModeE2E, EnrolsByItselfTracksUploadsAndKeepsLockedValuesLocked) {
  startStack();
  ASSERT_FALSE(HasFatalFailure());
  auto s = test::XvfbSession::start();
  ASSERT_TRUE(s) << s.error().message;
  x_ = std::move(*s);
  auto alpha = x_->openXterm("Alpha window");
  auto beta = x_->openXterm("Beta window");
  ASSERT_TRUE(alpha && beta);
  ASSERT_TRUE(x_->activate(alpha->second));
  auto bus = NotificationBus::start(dir_);
  ASSERT_TRUE(bus) << "dbus-daemon and python3-dbusmock's notification_daemon are needed; see " << dir_;

  const std::string token = admin("admin unattended-token --company " + company_ + " --rule email-local-part");
  ASSERT_TRUE(token.starts_with("wmu1.")) << token;
  writePolicy(json{{"server", {{"url", url()}, {"enrollment_token", token}}},
                   {"settings", {{"consent_preapproved", true}, {"auto_tracking", true}}}}
                  .dump());
  // The person points the agent elsewhere: the administrator's server wins, and the log says so.
  startAgent({"--server", "http://127.0.0.1:9"}, {{"DBUS_SESSION_BUS_ADDRESS", bus->address()}});

  ASSERT_TRUE(test::waitUntil([&] { return call("status")["sync"].value("auth", "") == "signed_in"; }, 30s, 200ms))
      << call("status")["sync"].dump() << "\n"
      << agentLog();
  json st = call("status");
  EXPECT_EQ(st["agent"]["service_mode"], true);
  EXPECT_EQ(st["sync"]["server"], url());
  EXPECT_EQ(st["sync"]["server_source"], "machine_policy");
  EXPECT_EQ(st["consent"]["preapproved"], true);
  EXPECT_EQ(st["consent"]["required"], false);
  EXPECT_EQ(count("select count(*) from agent.devices where user_id = '" + employee_ + "'"), 1)
      << "enrolled as the company user its computer account maps to";

  const std::string status_text = cli("status");
  EXPECT_NE(status_text.find("signed in as " + osAccount() + "@a.test"), std::string::npos) << status_text;
  EXPECT_NE(status_text.find("(set by the machine policy)"), std::string::npos) << status_text;
  EXPECT_NE(status_text.find("Service mode: on"), std::string::npos) << status_text;
  EXPECT_NE(status_text.find("Collected under the administrator's pre-approval: the app and window"), std::string::npos)
      << status_text;

  const json doctor = call("doctor");
  EXPECT_EQ(doctor["sources"]["auto_tracking"], "policy");
  EXPECT_EQ(doctor["sources"]["consent_preapproved"], "policy");
  EXPECT_EQ(doctor["sources"]["heartbeat_s"], "user");
  EXPECT_EQ(doctor["sources"]["screenshot_interval_s"], "default");
  const std::string doctor_text = cli("doctor");
  EXPECT_NE(doctor_text.find("service mode: on (started by the OS service manager; no tray needed)"), std::string::npos)
      << doctor_text;
  EXPECT_NE(doctor_text.find("auto_tracking = true (machine policy)"), std::string::npos) << doctor_text;
  EXPECT_NE(doctor_text.find("heartbeat_s = 1 (agent.json)"), std::string::npos) << doctor_text;

  // Tracking with nobody pressing a button: auto_tracking from the policy records the windows in front.
  EXPECT_EQ(st["state"], "auto_tracking") << st.dump();
  for (int i = 0; i < 4; ++i) {
    x_->xdotool({"mousemove", std::to_string(100 + i * 10), "100"});
    ASSERT_TRUE(x_->activate((i % 2 ? alpha : beta)->second));
    std::this_thread::sleep_for(1200ms);
  }

  // The person tries to change a locked value through the socket (what the tray and CLI use).
  {
    auto c = agent::ControlClient::connect(socket_);
    ASSERT_TRUE(c);
    auto r = c->call("set_setting", {{"key", "auto_tracking"}, {"value", false}});
    ASSERT_FALSE(r) << "a locked value changed: " << r->dump();
    EXPECT_NE(r.error().message.find("locked by this computer's administrator"), std::string::npos)
        << r.error().message;
    auto consent = c->call("consent", {{"decision", "decline"}, {"version", st["consent"]["version"]}});
    ASSERT_FALSE(consent) << "a pre-approval is the administrator's";
  }
  EXPECT_EQ(call("doctor")["config"]["auto_tracking"], true);

  // Everything reaches PostgreSQL, under the mapped user.
  ASSERT_TRUE(test::waitUntil(
      [&] {
        (void)call("sync");
        return count("select count(*) from public.app_usage where user_id = '" + employee_ + "'") >= 2;
      },
      30s, 500ms))
      << call("status")["sync"].dump();
  // The server took them under the administrator's grant, which the agent recorded as such (issue 15): one
  // per category collected (app usage, auto tracking, websites, screenshots, activity, USB), nothing refused.
  EXPECT_EQ(count("select count(distinct consent_type) from public.consent_audit_log where user_id = '" + employee_ +
                  "' and action = 'granted' and source = 'admin_import' and policy_version like 'preapproved:%'"),
            6);
  EXPECT_EQ(count("select count(*) from public.consent_audit_log where user_id = '" + employee_ +
                  "' and source <> 'admin_import'"),
            0)
      << "the person was never asked";
  EXPECT_EQ(call("status")["outbox"].value("quarantined", -1), 0) << call("status")["outbox"].dump();
  EXPECT_EQ(agent_->stop(SIGTERM), 0);

  const std::string log = agentLog();
  EXPECT_NE(log.find("the administrator locked the server"), std::string::npos) << log;
  EXPECT_NE(log.find("enrolled automatically (machine policy) for the computer account '" + osAccount() + "'"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("pre-approved by its administrator"), std::string::npos) << log;
  EXPECT_NE(log.find("service mode on"), std::string::npos) << log;
  const std::string secret = token.substr(token.rfind('.') + 1);
  EXPECT_EQ(log.find(secret), std::string::npos) << "the enrolment token is never logged";
  EXPECT_EQ(test::slurp(dir_ / "agent.stderr").find(secret), std::string::npos);

  // The person was told once on the desktop; a restart keeps the sign-in and does not tell them again.
  auto told = bus->notifications();
  ASSERT_EQ(told.size(), 1u) << test::slurp(dir_ / "notifications.log");
  EXPECT_NE(told[0].find("Monitoring was pre-approved by your administrator"), std::string::npos) << told[0];
  EXPECT_NE(told[0].find("WorkMonitor records on this computer: "), std::string::npos) << told[0];
  startAgent({}, {{"DBUS_SESSION_BUS_ADDRESS", bus->address()}});
  ASSERT_TRUE(test::waitUntil([&] { return call("status")["sync"].value("auth", "") == "signed_in"; }, 15s, 200ms));
  EXPECT_EQ(count("select count(*) from agent.devices where user_id = '" + employee_ + "'"), 1)
      << "the stored sign-in is used: no second enrolment";
  EXPECT_EQ(agent_->stop(SIGTERM), 0);
  EXPECT_EQ(bus->notifications().size(), 1u) << "shown once per consent version";
}

TEST_F(ServiceModeE2E, AnAccountTheRuleDoesNotMapIsShownWithTheServersMessage) {
  startStack();
  ASSERT_FALSE(HasFatalFailure());
  // A mapping-rule token with an empty mapping table: this computer account maps to nobody.
  const std::string token = admin("admin unattended-token --company " + company_ + " --rule mapping");
  ASSERT_TRUE(token.starts_with("wmu1.")) << token;
  writePolicy(
      json{{"server", {{"url", url()}, {"enrollment_token", token}}}, {"settings", {{"consent_preapproved", true}}}}
          .dump());
  startAgent();
  ASSERT_TRUE(test::waitUntil(
      [&] {
        return call("status")["sync"].contains("auto_enroll") &&
               call("status")["sync"]["auto_enroll"].contains("error");
      },
      30s, 200ms))
      << call("status")["sync"].dump();
  const json sync = call("status")["sync"];
  EXPECT_EQ(sync["auth"], "signed_out");
  EXPECT_NE(sync["auto_enroll"]["error"].get<std::string>().find("no_account_match"), std::string::npos) << sync;
  const std::string status_text = cli("status");
  EXPECT_NE(status_text.find("enrolling automatically as the computer account '" + osAccount() + "'"),
            std::string::npos)
      << status_text;
  EXPECT_NE(status_text.find("no_account_match"), std::string::npos) << status_text;
  EXPECT_NE(cli("doctor").find("automatic enrolment failed: no_account_match"), std::string::npos);
  EXPECT_NE(agentLog().find("no_account_match"), std::string::npos);
}

TEST_F(ServiceModeE2E, ABadPolicyIsRefusedWithAClearMessageAndNothingOfItApplies) {
  struct Case {
    std::string name, text;
    fs::perms perms;
    std::string says;
  };
  const fs::perms ok = fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read;
  const std::string good = json{{"settings", {{"auto_tracking", true}}}}.dump();
  for (const Case& c : {Case{"world-writable", good, ok | fs::perms::others_write, "writable by other accounts"},
                        Case{"malformed", "{\"settings\": {\"auto_tracking\": tru", ok, "not valid JSON"},
                        Case{"unreadable", good, fs::perms::none, "cannot be read"}}) {
    SCOPED_TRACE(c.name);
    if (c.name == "unreadable" && ::geteuid() == 0) continue;  // root reads any file: nothing to refuse
    writePolicy(c.text, c.perms);
    startAgent();
    const json st = call("status");
    EXPECT_EQ(st["agent"]["machine_policy"]["applies"], false) << st["agent"].dump();
    const std::string problem = st["agent"]["machine_policy"]["problems"].at(0);
    EXPECT_NE(problem.find(c.says), std::string::npos) << problem;
    EXPECT_EQ(call("doctor")["config"]["auto_tracking"], false) << "nothing of a refused policy applies";
    EXPECT_EQ(call("doctor")["sources"]["auto_tracking"], "default");
    const std::string status_text = cli("status");
    EXPECT_NE(status_text.find("is refused, so no machine policy applies"), std::string::npos) << status_text;
    const std::string doctor_text = cli("doctor");
    EXPECT_NE(doctor_text.find("[FAIL] machine policy: no machine policy applies: " + problem), std::string::npos)
        << doctor_text;
    EXPECT_EQ(agent_->stop(SIGTERM), 0);
    EXPECT_NE(agentLog().find(problem), std::string::npos);
    fs::permissions(policy_, ok);
  }
  // Unknown keys are skipped by name and the rest applies.
  writePolicy(R"({"settings": {"auto_tracking": true, "colour": "blue"}, "sever": {}})");
  startAgent();
  const json st = call("status");
  EXPECT_EQ(st["agent"]["machine_policy"]["applies"], true);
  const std::string problems = st["agent"]["machine_policy"]["problems"].dump();
  EXPECT_NE(problems.find("sever: unknown top-level key"), std::string::npos) << problems;
  EXPECT_NE(problems.find("colour: unknown setting; skipped"), std::string::npos) << problems;
  EXPECT_EQ(call("doctor")["config"]["auto_tracking"], true);
  EXPECT_EQ(call("doctor")["sources"]["auto_tracking"], "policy");
  EXPECT_NE(cli("status").find("Machine policy problem: "), std::string::npos);
  EXPECT_EQ(agent_->stop(SIGTERM), 0);

  // That policy was accepted, so the agent kept a copy: the administrator's next typo leaves its settings in
  // force (and says so) instead of unlocking everything.
  writePolicy("{\"settings\": {\"auto_tracking\": tru");
  startAgent();
  const json kept = call("status");
  EXPECT_EQ(kept["agent"]["machine_policy"]["applies"], true) << kept["agent"].dump();
  EXPECT_EQ(kept["agent"]["machine_policy"]["last_good_copy"], true);
  EXPECT_NE(kept["agent"]["machine_policy"]["problems"].at(0).get<std::string>().find(
                "not valid JSON; it must be a JSON object with a \"settings\" object and/or a \"server\" object; its "
                "last good copy applies until it is fixed"),
            std::string::npos)
      << kept["agent"].dump();
  EXPECT_EQ(call("doctor")["config"]["auto_tracking"], true);
  EXPECT_EQ(call("doctor")["sources"]["auto_tracking"], "policy");
  EXPECT_NE(cli("status").find("is refused, so its last good copy applies until it is fixed"), std::string::npos);
  EXPECT_NE(cli("doctor").find("[FAIL] machine policy: "), std::string::npos);
  EXPECT_EQ(agent_->stop(SIGTERM), 0);
  EXPECT_NE(agentLog().find("refused, so its last good copy applies"), std::string::npos);

  // Removing the policy is how the administrator lifts it: the copy goes too.
  fs::remove(policy_);
  startAgent();
  EXPECT_FALSE(call("status")["agent"].contains("machine_policy"));
  EXPECT_EQ(call("doctor")["config"]["auto_tracking"], false);
  EXPECT_FALSE(fs::exists(dir_ / "state" / "machine-policy.last-good.json"));
}

}  // namespace
}  // namespace wm
