// AgentLink against the real workmonitor-agent: connects, calls, receives events, reconnects after the agent
// is killed and restarted, and starts the agent itself when none runs.
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <QCoreApplication>

#include "agent_link.h"
#include "xvfb_fixture.h"

namespace wm::tray {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

bool pumpUntil(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    QCoreApplication::processEvents(QEventLoop::AllEvents, 20);
    if (pred()) return true;
    ::usleep(10'000);
  }
  return pred();
}

class AgentLinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = test::XvfbSession::start();
    ASSERT_TRUE(s) << s.error().message;
    x_ = std::move(*s);
    dir_ = fs::temp_directory_path() / ("wm-link-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "run");
    socket_ = dir_ / "run" / "agent.sock";
    std::ofstream(dir_ / "agent.json") << json{{"heartbeat_s", 1}, {"pulse_s", 1}}.dump();
  }
  void TearDown() override {
    link_.reset();
    if (agent_ > 0) x_->terminate(agent_);
    if (detached_ > 0) ::kill(static_cast<pid_t>(detached_), SIGKILL);
    x_.reset();
    fs::remove_all(dir_);
  }
  QStringList agentFlags() const {
    return {"--state-dir", QString::fromStdString((dir_ / "state").string()),
            "--socket",    QString::fromStdString(socket_.string()),
            "--config",    QString::fromStdString((dir_ / "agent.json").string())};
  }
  void startAgent() {
    std::vector<std::string> argv{WM_AGENT_BINARY};
    for (const auto& f : agentFlags()) argv.push_back(f.toStdString());
    argv.insert(argv.end(), {"run", "--local-only"});
    agent_ = x_->spawn(argv);
    ASSERT_GT(agent_, 0);
  }
  void makeLink(bool start_agent) {
    AgentLinkOptions o;
    o.socket = QString::fromStdString(socket_.string());
    o.agent_args = agentFlags();
    o.agent_binary = WM_AGENT_BINARY;
    o.start_agent = start_agent;
    o.status_interval_ms = 500;
    link_ = std::make_unique<AgentLink>(o);
    QObject::connect(link_.get(), &AgentLink::connected, [this] { ++connects_; });
    QObject::connect(link_.get(), &AgentLink::disconnected, [this] { ++disconnects_; });
    QObject::connect(link_.get(), &AgentLink::status, [this](const json& s) { last_status_ = s; });
    QObject::connect(link_.get(), &AgentLink::event,
                     [this](const QString& n, const json&) { events_.push_back(n.toStdString()); });
    link_->open();
  }
  Result<json> callSync(const std::string& cmd, const json& args = json::object()) {
    std::optional<Result<json>> out;
    link_->call(cmd, args, [&](Result<json> r) { out = std::move(r); });
    pumpUntil([&] { return out.has_value(); }, 10s);
    if (!out) return fail(Errc::kInternal, "no answer");
    return *out;
  }

  std::unique_ptr<test::XvfbSession> x_;
  fs::path dir_, socket_;
  pid_t agent_ = -1;
  qint64 detached_ = 0;
  std::unique_ptr<AgentLink> link_;
  int connects_ = 0, disconnects_ = 0;
  json last_status_;
  std::vector<std::string> events_;
};

TEST_F(AgentLinkTest, ConnectsCallsAndReceivesEvents) {
  startAgent();
  makeLink(false);
  ASSERT_TRUE(pumpUntil([&] { return link_->isConnected(); }, 10s)) << "no connection to the agent";
  ASSERT_TRUE(pumpUntil([&] { return last_status_.is_object(); }, 5s)) << "no status after connecting";
  EXPECT_EQ(last_status_["state"], "not_tracking");

  auto st = callSync("start", {{"project_id", "proj-7"}});
  ASSERT_TRUE(st) << st.error().message;
  EXPECT_EQ((*st)["state"], "tracking");
  EXPECT_TRUE(pumpUntil([&] { return std::find(events_.begin(), events_.end(), "state") != events_.end(); }, 5s))
      << "no state event on the subscribed connection";
  EXPECT_TRUE(pumpUntil([&] { return last_status_.value("state", "") == "tracking"; }, 5s))
      << "the status poll did not follow";

  auto bad = callSync("no_such_command");
  ASSERT_FALSE(bad);
  EXPECT_FALSE(bad.error().message.empty());
  EXPECT_TRUE(callSync("stop"));
}

TEST_F(AgentLinkTest, ReconnectsAfterTheAgentIsKilledAndRestarted) {
  startAgent();
  makeLink(false);
  ASSERT_TRUE(pumpUntil([&] { return link_->isConnected(); }, 10s));
  ::kill(agent_, SIGKILL);
  x_->terminate(agent_);
  agent_ = -1;
  ASSERT_TRUE(pumpUntil([&] { return !link_->isConnected(); }, 5s)) << "the loss was not noticed";
  EXPECT_EQ(disconnects_, 1);
  auto r = callSync("status");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("not running"), std::string::npos) << r.error().message;

  startAgent();
  // Backoff is at most 2 s: reconnected well within 10 s of the agent listening again.
  ASSERT_TRUE(pumpUntil([&] { return link_->isConnected(); }, 12s)) << "no reconnection";
  EXPECT_EQ(connects_, 2);
  auto st = callSync("status");
  ASSERT_TRUE(st) << st.error().message;
  events_.clear();
  ASSERT_TRUE(callSync("break_start"));
  EXPECT_TRUE(pumpUntil([&] { return !events_.empty(); }, 5s)) << "events flow again after the reconnection";
}

TEST_F(AgentLinkTest, StartsTheAgentWhenNoneRuns) {
  makeLink(true);
  ASSERT_TRUE(pumpUntil([&] { return link_->isConnected(); }, 20s)) << "the link did not start an agent";
  detached_ = link_->startedAgentPid();
  ASSERT_GT(detached_, 0);
  auto st = callSync("status");
  ASSERT_TRUE(st) << st.error().message;
  EXPECT_EQ((*st)["agent"]["pid"].get<int64_t>(), detached_) << "the agent answering is the one started";
  // The started agent outlives the link (quitting the tray does not stop it).
  link_.reset();
  ::usleep(300'000);
  EXPECT_EQ(::kill(static_cast<pid_t>(detached_), 0), 0);
}

}  // namespace
}  // namespace wm::tray

int main(int argc, char** argv) {
  QCoreApplication app(argc, argv);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
