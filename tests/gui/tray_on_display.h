// The real workmonitor-tray on a private desktop (Xvfb + openbox + trayer), started with --debug-ui so the
// test can read what it shows, against the real agent it starts in a private state directory.
#pragma once

#include <signal.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "test_util.h"
#include "xvfb_fixture.h"

namespace wm::test {

class TrayOnDisplay : public ::testing::Test {
 protected:
  using json = nlohmann::json;

  void SetUp() override {
    auto s = XvfbSession::start();
    ASSERT_TRUE(s) << s.error().message;
    x_ = std::move(*s);
    dir_ = std::filesystem::temp_directory_path() / ("wm-tray-" + std::to_string(::getpid()) + "-" +
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_ / "run");
    std::filesystem::create_directories(dir_ / "xdg");
    ::setenv("XDG_CONFIG_HOME", (dir_ / "xdg").c_str(), 1);  // the tray's first-run autostart lands here
    artifacts_ = WM_ARTIFACT_DIR;                            // build/test-artifacts
    std::filesystem::create_directories(artifacts_);
  }
  void TearDown() override {
    if (tray_ > 0) x_->terminate(tray_);
    if (agent_pid_ > 0) ::kill(static_cast<pid_t>(agent_pid_), SIGKILL);
    x_.reset();
    std::filesystem::remove_all(dir_);
  }

  /// trayer docked at the top right (the system tray), then the tray with `flags` and the agent settings
  /// `agent_json` for the agent it starts.
  void startTray(const json& agent_json, const std::string& flags) {
    std::ofstream(dir_ / "agent.json") << agent_json.dump();
    ASSERT_GT(x_->spawn({"trayer", "--edge", "top", "--align", "right", "--height", "24", "--widthtype", "request",
                         "--SetDockType", "true", "--expand", "true"}),
              0);
    const std::string cmd = std::string("exec ") + WM_TRAY_BINARY + " --debug-ui --tray-timeout 20 " + flags +
                            " --socket " + socket().string() + " --state-dir " + (dir_ / "state").string() +
                            " --config " + (dir_ / "agent.json").string() + " --agent-binary " + WM_AGENT_BINARY +
                            " > " + (dir_ / "tray.log").string() + " 2>&1";
    tray_ = x_->spawn({"/bin/sh", "-c", cmd});
    ASSERT_GT(tray_, 0);
  }

  std::filesystem::path socket() const { return dir_ / "run" / "agent.sock"; }
  std::vector<std::string> agentCli(std::vector<std::string> args) const {
    std::vector<std::string> argv{WM_AGENT_BINARY, "--socket", socket().string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }
  json status() {
    auto out = x_->run(agentCli({"status", "--json"}));
    return out.ok() ? json::parse(out.out, nullptr, false) : json();
  }
  std::string log() const { return slurp(dir_ / "tray.log"); }
  bool logHas(const std::string& what, std::chrono::milliseconds timeout) {
    return waitUntil([&] { return log().find(what) != std::string::npos; }, timeout, std::chrono::milliseconds(100));
  }

  /// The tray's icon: its window docked inside trayer (at most 32×32), once it is there.
  std::optional<std::string> dockedIcon(std::chrono::milliseconds timeout) {
    std::optional<std::string> icon;
    waitUntil(
        [&] {
          auto found = x_->xdotool({"search", "--onlyvisible", "--class", "workmonitor-tray"});
          std::istringstream ids(found.out);
          for (std::string id; ids >> id;) {
            auto geo = x_->xdotool({"getwindowgeometry", id});
            std::smatch m;
            static const std::regex kSize(R"(Geometry: (\d+)x(\d+))");
            if (std::regex_search(geo.out, m, kSize) && std::stoi(m[1]) <= 32 && std::stoi(m[2]) <= 32) {
              icon = id;
              return true;
            }
          }
          return false;
        },
        timeout, std::chrono::milliseconds(200));
    return icon;
  }

  std::unique_ptr<XvfbSession> x_;
  std::filesystem::path dir_, artifacts_;
  pid_t tray_ = -1;
  int64_t agent_pid_ = 0;
};

}  // namespace wm::test
