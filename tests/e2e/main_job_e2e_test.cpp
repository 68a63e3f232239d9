// The main job as README's run command starts it (scripts/stack.sh on the tree this build made), on a desktop
// (Xvfb + openbox + trayer): PostgreSQL 15, the migrations, workmonitor-server, the demo company, the agent
// signed in and tracking, and the tray docked and asking the employee for consent. Ctrl-C (SIGINT) stops
// every process; the second run reuses the same data (same demo sign-ins, the agent still signed in).
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "test_util.h"
#include "xvfb_fixture.h"

namespace wm {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

using test::freePort;
using test::slurp;

class MainJob : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = test::XvfbSession::start();
    ASSERT_TRUE(s) << s.error().message;
    x_ = std::move(*s);
    dir_ = fs::temp_directory_path() / ("wm-main-job-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    ::setenv("WM_BUILD_DIR", WM_BINARY_DIR_FALLBACK, 1);
    ::setenv("WM_STACK_DIR", (dir_ / "stack").c_str(), 1);
    ::setenv("WM_SERVER_PORT", std::to_string(freePort()).c_str(), 1);
    // The cluster listens on a Unix socket only; the port number just names the socket file.
    ::setenv("WM_PG_PORT", std::to_string(std::random_device{}() % 20000 + 40000).c_str(), 1);
    ASSERT_GT(x_->spawn({"trayer", "--edge", "top", "--align", "right", "--height", "24", "--widthtype", "request"}),
              0);
  }
  void TearDown() override {
    if (stack_ > 0) stop();
    x_.reset();
    fs::remove_all(dir_);
  }
  pid_t start(const std::string& log) {
    log_ = dir_ / log;
    stack_ = x_->spawn(
        {"/bin/sh", "-c", "exec bash " WM_SOURCE_DIR_FALLBACK "/scripts/stack.sh > " + log_.string() + " 2>&1"});
    return stack_;
  }
  // Ctrl-C: the script's trap stops the tray, the agent, the server and PostgreSQL.
  void stop() {
    ::kill(stack_, SIGINT);
    int status = 0;
    for (int i = 0; i < 300 && ::waitpid(stack_, &status, WNOHANG) == 0; ++i) std::this_thread::sleep_for(100ms);
    if (::waitpid(stack_, &status, WNOHANG) == 0) x_->terminate(stack_);
    stack_ = -1;
  }
  bool logHas(const std::string& what, std::chrono::milliseconds timeout) {
    return test::waitUntil([&] { return slurp(log_).find(what) != std::string::npos; }, timeout, 200ms);
  }
  json status() {
    const fs::path stack = dir_ / "stack";
    auto out = x_->run({WM_AGENT_BINARY, "--state-dir", (stack / "agent").string(), "--socket",
                        (stack / "run" / "agent.sock").string(), "--config", (stack / "agent.json").string(), "status",
                        "--json"});
    return out.ok() ? json::parse(out.out, nullptr, false) : json();
  }
  bool visibleWindow(const std::vector<std::string>& search) {
    std::vector<std::string> args{"search", "--onlyvisible"};
    args.insert(args.end(), search.begin(), search.end());
    auto found = x_->xdotool(args);
    return found.ok() && !found.out.empty();
  }

  std::unique_ptr<test::XvfbSession> x_;
  fs::path dir_, log_;
  pid_t stack_ = -1;
};

TEST_F(MainJob, StackScriptBringsUpEverythingWithTheTrayAndCtrlCStopsIt) {
  ASSERT_GT(start("first.log"), 0);
  ASSERT_TRUE(logHas("WorkMonitor is running on this machine", 120s)) << slurp(log_);
  const std::string banner = slurp(log_);
  EXPECT_NE(banner.find("tray            on :"), std::string::npos) << banner;
  EXPECT_NE(banner.find("admin@demo.example"), std::string::npos) << banner;
  const std::string creds = slurp(dir_ / "stack" / "demo-credentials");
  EXPECT_NE(creds.find("employee=employee@demo.example "), std::string::npos) << creds;

  json st = status();
  ASSERT_TRUE(st.is_object()) << banner;
  EXPECT_EQ(st["sync"].value("auth", ""), "signed_in") << st.dump();
  EXPECT_EQ(st.value("state", ""), "tracking") << st.dump();
  const int64_t agent_pid = st["agent"].value("pid", int64_t{0});
  ASSERT_GT(agent_pid, 0);
  // The tray is docked and, the demo agent waiting for consent, shows the question. (Its title is matched
  // on ASCII words: xdotool compares in the C locale when LANG is unset, and the title's dash is UTF-8.)
  EXPECT_TRUE(test::waitUntil([&] { return visibleWindow({"--class", "workmonitor-tray"}); }, 30s, 200ms));
  EXPECT_TRUE(test::waitUntil(
      [&] {
        return visibleWindow({"--name", "your consent"});
      },
      30s, 200ms))
      << slurp(dir_ / "stack" / "tray.log");

  stop();
  EXPECT_TRUE(logHas("stack: stopped", 5s)) << slurp(log_);
  EXPECT_FALSE(status().is_object()) << "the agent outlived Ctrl-C";
  EXPECT_NE(::kill(static_cast<pid_t>(agent_pid), 0), 0) << "agent pid " << agent_pid << " still runs";
  EXPECT_FALSE(visibleWindow({"--class", "workmonitor-tray"})) << "the tray outlived Ctrl-C";
  EXPECT_FALSE(fs::exists(dir_ / "stack" / "pg" / "data" / "postmaster.pid")) << "PostgreSQL still runs";

  // Again: the same data (sign-ins unchanged, the agent still signed in without a new login).
  ASSERT_GT(start("second.log"), 0);
  ASSERT_TRUE(logHas("WorkMonitor is running on this machine", 120s)) << slurp(log_);
  EXPECT_EQ(slurp(dir_ / "stack" / "demo-credentials"), creds);
  EXPECT_EQ(slurp(log_).find("creating the PostgreSQL cluster"), std::string::npos) << slurp(log_);
  st = status();
  ASSERT_TRUE(st.is_object());
  EXPECT_EQ(st["sync"].value("auth", ""), "signed_in") << st.dump();
}

}  // namespace
}  // namespace wm
