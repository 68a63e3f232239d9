// The real workmonitor-agent binary syncing to ScriptedHttpServer (tests/support), the scripted loopback
// server that stands in for the network here — it is not workmonitor-server; the end-to-end tests against
// the real server come with it. Covers the CLI (login with the password on stdin, sync, status), the
// secret file, the profile applied live, and a revoked sign-in that stops uploads but keeps the records.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "scripted_http_server.h"
#include "test_util.h"
#include "workmonitor/agent/control_client.h"

namespace wm {
namespace {

using nlohmann::json;
using testing::ReceivedRequest;
using testing::ScriptedHttpServer;
using testing::ScriptedReply;
namespace fs = std::filesystem;

template <typename F>
bool waitUntil(F f, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (f()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return f();
}

using test::slurp;

// A server that signs in ann@example.com/pw, rotates refresh tokens (re-use revokes the family), serves a
// profile with an ETag and stores batches.
class FakeBackend {
 public:
  FakeBackend() {
    server.setHandler([this](const ReceivedRequest& r) { return handle(r); });
  }
  ScriptedReply handle(const ReceivedRequest& r) {
    std::lock_guard lk(mu);
    json body = json::parse(r.decoded_body.empty() ? "{}" : r.decoded_body, nullptr, false);
    if (r.target == "/auth/login") {
      if (body.value("email", "") != "ann@example.com" || body.value("password", "") != "pw")
        return ScriptedReply::json(401,
                                   R"({"error":{"code":"invalid_credentials","message":"wrong email or password"}})");
      return issue();
    }
    if (r.target == "/auth/refresh") {
      if (revoked || body.value("refresh_token", "") != refresh) {
        revoked = true;
        return ScriptedReply::json(401, R"({"error":{"code":"refresh_revoked","message":"family revoked"}})");
      }
      return issue();
    }
    const std::string bearer = r.header("authorization");
    if (bearer != "Bearer " + access)
      return ScriptedReply::json(401, R"({"error":{"code":"invalid_token","message":"bad token"}})");
    if (r.target == "/api/v1/agent/profile") {
      if (r.header("if-none-match") == "\"p1\"") return ScriptedReply{304, {}, {}, {}, ScriptedReply::Action::kReply};
      ScriptedReply p = ScriptedReply::json(
          200,
          json{{"profile_id", "p"}, {"version", 1}, {"settings", {{"idle_threshold_s", 123}, {"screenshots", true}}}}
              .dump());
      p.headers.emplace_back("ETag", "\"p1\"");
      return p;
    }
    if (r.target == "/api/v1/agent/batches") {
      json out = json::array();
      for (const auto& rec : body["records"]) {
        ids.insert(rec["id"].get<std::string>());
        out.push_back({{"id", rec["id"]}, {"revision", rec["revision"]}, {"status", "stored"}});
      }
      return ScriptedReply::json(200, json{{"results", out}}.dump());
    }
    return ScriptedReply::json(404, R"({"error":{"code":"not_found","message":"no"}})");
  }
  ScriptedReply issue() {
    ++generation;
    access = "acc-" + std::to_string(generation);
    refresh = "ref-" + std::to_string(generation);
    return ScriptedReply::json(200, json{{"access_token", access},
                                         {"token_type", "bearer"},
                                         {"expires_in", 900},
                                         {"refresh_token", refresh},
                                         {"user", {{"user_id", "u1"}, {"email", "ann@example.com"}}}}
                                        .dump());
  }

  ScriptedHttpServer server;
  std::mutex mu;
  std::string access, refresh;
  int generation = 0;
  bool revoked = false;
  std::set<std::string> ids;
};

class AgentSyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("wm-agent-sync-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (agent_ > 0) {
      ::kill(agent_, SIGKILL);
      ::waitpid(agent_, nullptr, 0);
    }
    fs::remove_all(dir_);
  }
  std::vector<std::string> globals() const {
    return {"--state-dir", (dir_ / "state").string(),     "--socket", (dir_ / "agent.sock").string(),
            "--config",    (dir_ / "agent.json").string()};
  }
  void startAgent(const std::string& server_url) {
    agent_ = ::fork();
    if (agent_ == 0) {
      ::unsetenv("DISPLAY");
      std::vector<std::string> args{WM_AGENT_BINARY};
      for (const auto& g : globals()) args.push_back(g);
      for (const char* a : {"run", "--quiet", "--server"}) args.emplace_back(a);
      args.push_back(server_url);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ASSERT_TRUE(waitUntil([&] { return agent::ControlClient::connect(dir_ / "agent.sock").has_value(); },
                          std::chrono::seconds(10)));
  }
  // Runs the CLI with `input` on stdin; returns the exit code, output in *out.
  int cli(const std::string& args, std::string* out, const std::string& input = "") {
    std::string cmd = std::string(WM_AGENT_BINARY);
    for (const auto& g : globals()) cmd += " '" + g + "'";
    cmd += " " + args + " >'" + (dir_ / "cli.out").string() + "' 2>&1";
    std::ofstream(dir_ / "cli.in") << input;
    cmd += " <'" + (dir_ / "cli.in").string() + "'";
    const int rc = std::system(cmd.c_str());
    *out = slurp(dir_ / "cli.out");
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  }
  json status() {
    std::string out;
    EXPECT_EQ(cli("status --json", &out), 0) << out;
    return json::parse(out, nullptr, false);
  }

  fs::path dir_;
  pid_t agent_ = -1;
};

TEST_F(AgentSyncTest, LoginSyncStatusProfileAndARevokedSignIn) {
  FakeBackend backend;
  startAgent(backend.server.url());
  std::string out;

  EXPECT_EQ(status()["sync"]["auth"], "signed_out");
  EXPECT_EQ(cli("login --email ann@example.com", &out, "wrong\n"), 1);
  EXPECT_NE(out.find("wrong email or password"), std::string::npos) << out;
  ASSERT_EQ(cli("login --email ann@example.com", &out, "pw\n"), 0) << out;
  EXPECT_NE(out.find("Signed in as ann@example.com"), std::string::npos) << out;

  // The refresh credential is in a private file, and no secret reached the log.
  const fs::path secret = dir_ / "state" / "secrets" / "refresh_token.secret";
  ASSERT_TRUE(waitUntil([&] { return fs::exists(secret); }, std::chrono::seconds(5)));
  struct stat st {};
  ASSERT_EQ(::stat(secret.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  ASSERT_EQ(cli("start --note synced", &out), 0) << out;
  ASSERT_EQ(cli("stop", &out), 0) << out;
  ASSERT_EQ(cli("sync", &out), 0) << out;
  EXPECT_NE(out.find("0 still queued"), std::string::npos) << out;
  json s = status();
  EXPECT_EQ(s["sync"]["auth"], "signed_in");
  EXPECT_EQ(s["sync"]["account"], "ann@example.com");
  EXPECT_EQ(s["outbox"]["pending"], 0);
  EXPECT_TRUE(s["sync"].contains("last_upload_at"));
  EXPECT_EQ(s["sync"]["profile"], "p v1");
  {
    std::lock_guard lk(backend.mu);
    EXPECT_FALSE(backend.ids.empty());
    EXPECT_EQ(slurp(secret), backend.refresh);
  }
  // The profile's idle threshold is in force (the collectors' `screenshots` key is not the agent's).
  ASSERT_EQ(cli("doctor --json", &out), 0) << out;
  EXPECT_EQ(json::parse(out)["config"]["idle_threshold_s"], 123);
  ASSERT_EQ(cli("status", &out), 0);
  EXPECT_NE(out.find("signed in as ann@example.com"), std::string::npos) << out;

  // Someone re-used the refresh token elsewhere: the family is revoked. The access token is also refused,
  // so the agent must refresh, and learns it needs a new sign-in.
  {
    std::lock_guard lk(backend.mu);
    backend.revoked = true;
    backend.access = "nobody";
  }
  ASSERT_EQ(cli("start --note offline", &out), 0) << out;
  ASSERT_EQ(cli("stop", &out), 0) << out;
  EXPECT_NE(cli("sync", &out), 0);
  EXPECT_NE(out.find("sign-in"), std::string::npos) << out;
  s = status();
  EXPECT_EQ(s["sync"]["auth"], "sign_in_needed");
  EXPECT_GT(s["outbox"]["pending"].get<int>(), 0);
  EXPECT_FALSE(fs::exists(secret));
  ASSERT_EQ(cli("status", &out), 0);
  EXPECT_NE(out.find("SIGN-IN NEEDED"), std::string::npos) << out;

  // A new sign-in uploads what waited.
  {
    std::lock_guard lk(backend.mu);
    backend.revoked = false;
  }
  ASSERT_EQ(cli("login --email ann@example.com", &out, "pw\n"), 0) << out;
  ASSERT_EQ(cli("sync", &out), 0) << out;
  EXPECT_EQ(status()["outbox"]["pending"], 0);

  ::kill(agent_, SIGTERM);
  int wst = 0;
  ASSERT_EQ(::waitpid(agent_, &wst, 0), agent_);
  agent_ = -1;
  EXPECT_TRUE(WIFEXITED(wst) && WEXITSTATUS(wst) == 0);
  const std::string log = slurp(dir_ / "state" / "logs" / "agent.log");
  EXPECT_EQ(log.find("pw\""), std::string::npos);
  EXPECT_EQ(log.find("acc-"), std::string::npos);
  EXPECT_EQ(log.find("ref-"), std::string::npos);
  EXPECT_NE(log.find("signed in as ann@example.com"), std::string::npos);
}

TEST_F(AgentSyncTest, LocalOnlyAgentExplainsHowToConfigureAServer) {
  agent_ = ::fork();
  if (agent_ == 0) {
    ::unsetenv("DISPLAY");
    ::unsetenv("WORKMONITOR_SERVER");
    std::vector<std::string> args{WM_AGENT_BINARY};
    for (const auto& g : globals()) args.push_back(g);
    args.emplace_back("run");
    args.emplace_back("--quiet");
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ASSERT_TRUE(waitUntil([&] { return agent::ControlClient::connect(dir_ / "agent.sock").has_value(); },
                        std::chrono::seconds(10)));
  std::string out;
  EXPECT_EQ(cli("login --email a@b", &out, "pw\n"), 1);
  EXPECT_NE(out.find("--server"), std::string::npos) << out;
  EXPECT_EQ(status()["sync"]["mode"], "local-only");
}

}  // namespace
}  // namespace wm
