// workmonitor-nmhost for real (issue 16): the host binary on pipes as a browser runs it, the real
// workmonitor-agent binary (local-only, no display) on the other side. Frames in, the agent's answers out as
// ack frames; no agent → a status frame, then the agent started → acks resume by themselves; the agent
// restarted → it is told the current tab again; stdin closed → exit 0; stdout holds frames and nothing else;
// the log holds no URL or title. The browser itself comes with the extension's tests.
#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "agent_process.h"
#include "test_util.h"
#include "workmonitor/nmhost/framing.h"

namespace wm {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

class NmhostE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("wm-nmhost-e2e-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    socket_ = dir_ / "run" / "agent.sock";
    test::writeAgentConfig(dir_ / "agent.json", json{{"heartbeat_s", 1}, {"pulse_s", 1}});
  }
  void TearDown() override {
    if (host_ > 0) {
      ::kill(host_, SIGKILL);
      ::waitpid(host_, nullptr, 0);
    }
    if (to_host_ >= 0) ::close(to_host_);
    if (from_host_ >= 0) ::close(from_host_);
    if (agent_ > 0) test::stopAgentProcess(agent_, SIGKILL);
    fs::remove_all(dir_);
  }

  void startAgent() {
    agent_ = ::fork();
    ASSERT_GE(agent_, 0);
    if (agent_ == 0) {
      ::unsetenv("DISPLAY");  // no desktop needed: the agent answers `tab` all the same
      const int log = ::open((dir_ / "agent.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      ::dup2(log, 1);
      ::dup2(log, 2);
      const std::string state = (dir_ / "state").string(), sock = socket_.string(),
                        config = (dir_ / "agent.json").string();
      ::execl(WM_AGENT_BINARY, WM_AGENT_BINARY, "--state-dir", state.c_str(), "--socket", sock.c_str(), "--config",
              config.c_str(), "run", "--local-only", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ASSERT_TRUE(test::waitUntil([&] { return agent::ControlClient::connect(socket_).has_value(); }, 10s))
        << test::slurp(dir_ / "agent.log");
  }

  void startHost() {
    int in[2], out[2];
    ASSERT_EQ(::pipe2(in, O_CLOEXEC), 0);
    ASSERT_EQ(::pipe2(out, O_CLOEXEC), 0);
    host_ = ::fork();
    ASSERT_GE(host_, 0);
    if (host_ == 0) {
      ::dup2(in[0], 0);
      ::dup2(out[1], 1);
      const int log = ::open((dir_ / "host.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      ::dup2(log, 2);
      ::setenv("WORKMONITOR_SOCKET", socket_.c_str(), 1);
      // As Chromium starts it: the caller's origin is the first argument.
      ::execl(WM_NMHOST_BINARY, WM_NMHOST_BINARY, "chrome-extension://abcdefghijklmnopabcdefghijklmnop/",
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    to_host_ = in[1];
    from_host_ = out[0];
  }

  void send(const json& j) {
    auto f = nmhost::encodeFrame(j);
    ASSERT_TRUE(f);
    ASSERT_EQ(::write(to_host_, f->data(), f->size()), static_cast<ssize_t>(f->size()));
  }
  // The next message from the host, or null after timeout. Every byte must belong to a well-formed frame.
  json next(std::chrono::milliseconds timeout = 5s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (frames_.empty()) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return json();
      pollfd p{from_host_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buf[4096];
      const ssize_t n = ::read(from_host_, buf, sizeof buf);
      if (n <= 0) return json();
      std::vector<nmhost::Frame> got;
      decoder_.feed(std::string_view(buf, static_cast<size_t>(n)), got);
      for (auto& f : got) {
        EXPECT_EQ(f.error, nmhost::FrameError::kNone);
        auto m = nmhost::parseMessage(f.body);
        EXPECT_EQ(m.error, nmhost::FrameError::kNone) << f.body;
        frames_.push_back(m.json);
      }
    }
    json j = frames_.front();
    frames_.erase(frames_.begin());
    return j;
  }
  // The next message of the given type, skipping others (e.g. repeated statuses).
  json nextOfType(const std::string& type, std::chrono::milliseconds timeout = 5s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      json j = next(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()));
      if (j.is_null()) break;
      if (j.value("type", "") == type) return j;
    }
    return json();
  }
  // utime + stime of a process, in clock ticks (/proc/<pid>/stat fields 14 and 15).
  static long cpuTicks(pid_t pid) {
    const std::string stat = test::slurp("/proc/" + std::to_string(pid) + "/stat");
    std::istringstream in(stat.substr(stat.rfind(')') + 2));
    std::string field;
    long utime = 0, stime = 0;
    for (int i = 3; i <= 13; ++i) in >> field;
    in >> utime >> stime;
    return utime + stime;
  }
  json tab(const std::string& url, bool incognito = false) {
    return json{{"type", "tab"}, {"url", url}, {"title", "Secret title"}, {"incognito", incognito}};
  }

  fs::path dir_, socket_;
  pid_t agent_ = -1, host_ = -1;
  int to_host_ = -1, from_host_ = -1;
  nmhost::FrameDecoder decoder_;
  std::vector<json> frames_;
};

TEST_F(NmhostE2E, StatusWithoutAgentThenAcksResumeAndSurviveAnAgentRestart) {
  startHost();
  send(json{{"type", "hello"}, {"browser", "chromium"}});
  json st = next();
  EXPECT_EQ(st["type"], "status") << st.dump();
  EXPECT_EQ(st["agent"], "not_running");
  EXPECT_EQ(st["browser"], "chromium");  // the test is its parent: the hello and the origin decide
  send(tab("https://docs.example.com/guide?session=s3cr3t#part2"));
  EXPECT_EQ(next()["agent"], "not_running");
  // Waiting for an agent costs next to nothing: a few retries in 2 s, no spinning.
  const long before = cpuTicks(host_);
  std::this_thread::sleep_for(2s);
  EXPECT_LE(cpuTicks(host_) - before, 5) << "the host used CPU while waiting for the agent";
  EXPECT_TRUE(next(10ms).is_null());  // and said nothing more

  // The agent comes up: the host's retry timer finds it and delivers the waiting report on its own.
  startAgent();
  json running = nextOfType("status", 15s);
  EXPECT_EQ(running["agent"], "running") << running.dump();
  json ack = nextOfType("ack");
  ASSERT_EQ(ack["type"], "ack") << ack.dump();
  EXPECT_EQ(ack["recording"], false);
  EXPECT_EQ(ack["reason"], "not tracking (no timer, idle, on a break or locked)");

  // Tracking now; without a display no browser window is in front, and the agent says so.
  test::callAgent(socket_, "start", {{"project_id", "p"}});
  send(tab("https://docs.example.com/next?x=1"));
  ack = next();
  EXPECT_EQ(ack["type"], "ack") << ack.dump();
  EXPECT_EQ(ack["reason"], "the browser is not the foreground app");
  send(tab("https://private.example.org/inbox", true));
  EXPECT_EQ(next()["reason"], "the browser is not the foreground app");

  // A malformed message is answered with an error and the port stays usable.
  const char junk[] = {3, 0, 0, 0, '[', '1', ']'};
  ASSERT_EQ(::write(to_host_, junk, sizeof junk), static_cast<ssize_t>(sizeof junk));
  EXPECT_EQ(next()["code"], "not_object");

  // The agent stops: the host notices the closed socket by itself, then tells the new agent the tab again.
  ASSERT_EQ(test::stopAgentProcess(agent_, SIGTERM), 0);
  EXPECT_EQ(next()["agent"], "not_running");
  startAgent();
  EXPECT_EQ(nextOfType("status", 15s)["agent"], "running");
  EXPECT_EQ(nextOfType("ack")["type"], "ack");

  // The browser closes the port: exit 0, and the log names no page.
  ::close(to_host_);
  to_host_ = -1;
  int status = 0;
  ASSERT_TRUE(test::waitUntil([&] { return ::waitpid(host_, &status, WNOHANG) == host_; }, 5s));
  host_ = -1;
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_TRUE(next(200ms).is_null());  // nothing but whole frames came out (checked in next())
  EXPECT_EQ(decoder_.buffered(), 0u);
  const std::string log = test::slurp(dir_ / "host.log");
  EXPECT_NE(log.find("stdin closed"), std::string::npos) << log;
  for (const char* secret : {"docs.example.com", "s3cr3t", "private.example.org", "Secret title"})
    EXPECT_EQ(log.find(secret), std::string::npos) << secret << " in\n" << log;
}

}  // namespace
}  // namespace wm
