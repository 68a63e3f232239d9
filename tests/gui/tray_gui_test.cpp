// The real workmonitor-tray on Xvfb + openbox + trayer against the real agent (which the tray starts): the
// icon docks in the tray, the menu opens on a click and says the right things (the tray prints its menu with
// --debug-ui), a screenshot of it is kept as an artifact, and quitting the tray leaves the agent tracking.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "xvfb_fixture.h"

namespace wm {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// One request on the control socket (the agent's CLI has no consent command).
json rawCall(const fs::path& socket, const std::string& cmd, const json& args) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", socket.c_str());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return json();
  }
  const std::string line = json{{"v", 1}, {"id", 1}, {"cmd", cmd}, {"args", args}}.dump() + "\n";
  if (::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
    ::close(fd);
    return json();
  }
  std::string reply;
  char buf[4096];
  ssize_t n = 0;
  while (reply.find('\n') == std::string::npos && (n = ::read(fd, buf, sizeof(buf))) > 0) reply.append(buf, n);
  ::close(fd);
  return json::parse(reply.substr(0, reply.find('\n')), nullptr, false);
}

class TrayGui : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = test::XvfbSession::start();
    ASSERT_TRUE(s) << s.error().message;
    x_ = std::move(*s);
    dir_ = fs::temp_directory_path() / ("wm-tray-gui-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "run");
    fs::create_directories(dir_ / "xdg");
    ::setenv("XDG_CONFIG_HOME", (dir_ / "xdg").c_str(), 1);  // the tray's first-run autostart lands here
    std::ofstream(dir_ / "agent.json") << json{{"heartbeat_s", 1}, {"pulse_s", 1}}.dump();
    artifacts_ = WM_ARTIFACT_DIR;  // build/test-artifacts
    fs::create_directories(artifacts_);
  }
  void TearDown() override {
    if (tray_ > 0) x_->terminate(tray_);
    if (agent_pid_ > 0) ::kill(static_cast<pid_t>(agent_pid_), SIGKILL);
    x_.reset();
    fs::remove_all(dir_);
  }
  std::vector<std::string> agentCli(std::vector<std::string> args) {
    std::vector<std::string> argv{WM_AGENT_BINARY, "--socket", (dir_ / "run" / "agent.sock").string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }
  json status() {
    auto out = x_->run(agentCli({"status", "--json"}));
    if (!out.ok()) return json();
    return json::parse(out.out, nullptr, false);
  }
  std::string log() const { return slurp(dir_ / "tray.log"); }
  bool logHas(const std::string& what, std::chrono::milliseconds timeout) {
    return test::waitUntil([&] { return log().find(what) != std::string::npos; }, timeout, 100ms);
  }

  std::unique_ptr<test::XvfbSession> x_;
  fs::path dir_, artifacts_;
  pid_t tray_ = -1;
  int64_t agent_pid_ = 0;
};

TEST_F(TrayGui, IconMenuScreenshotAndQuitLeavesTheAgentTracking) {
  ASSERT_GT(x_->spawn({"trayer", "--edge", "top", "--align", "right", "--height", "24", "--widthtype", "request",
                       "--SetDockType", "true", "--expand", "true"}),
            0);
  const std::string cmd = std::string("exec ") + WM_TRAY_BINARY + " --debug-ui --tray-timeout 20 --socket " +
                          (dir_ / "run" / "agent.sock").string() + " --state-dir " + (dir_ / "state").string() +
                          " --config " + (dir_ / "agent.json").string() + " --agent-binary " + WM_AGENT_BINARY + " > " +
                          (dir_ / "tray.log").string() + " 2>&1";
  tray_ = x_->spawn({"/bin/sh", "-c", cmd});
  ASSERT_GT(tray_, 0);
  ASSERT_TRUE(logHas("wm-tray: icon shown", 30s)) << log();
  ASSERT_TRUE(logHas("started the agent", 10s)) << "the tray starts the agent when none runs\n" << log();
  ASSERT_TRUE(logHas("wm-tray: connected", 20s)) << log();
  // A fresh agent waits for consent: the tray says so (and its consent window opens).
  ASSERT_TRUE(logHas("wm-tray: state: attention (Consent needed", 10s)) << log() << status().dump();
  json st = status();
  ASSERT_TRUE(st.is_object());
  const json granted =
      rawCall(dir_ / "run" / "agent.sock", "consent", {{"decision", "grant"}, {"version", st["consent"]["version"]}});
  ASSERT_TRUE(granted.value("ok", false)) << granted.dump();
  ASSERT_TRUE(logHas("wm-tray: state: not_tracking", 10s)) << log() << status().dump();
  st = status();
  ASSERT_TRUE(st.is_object());
  agent_pid_ = st["agent"]["pid"].get<int64_t>();
  EXPECT_TRUE(fs::exists(dir_ / "xdg" / "autostart" / "workmonitor-tray.desktop")) << "first run enables autostart";

  // The icon: the tray's docked window inside trayer, 22 or 24 pixels tall.
  std::optional<std::string> icon;
  ASSERT_TRUE(test::waitUntil(
      [&] {
        auto found = x_->xdotool({"search", "--onlyvisible", "--class", "workmonitor-tray"});
        std::istringstream ids(found.out);
        std::string id;
        while (ids >> id) {
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
      15s, 200ms))
      << "no docked tray icon window";

  // Start the timer through the CLI: the tray follows the agent.
  ASSERT_TRUE(x_->run(agentCli({"start", "--project", "gui-proj"})).ok());
  ASSERT_TRUE(logHas("wm-tray: state: tracking", 10s)) << log();

  // Open the menu with a click on the icon; the tray prints what it shows.
  x_->xdotool({"mousemove", "--window", *icon, "8", "8"});
  x_->xdotool({"click", "3"});
  ASSERT_TRUE(logHas("wm-tray: menu: ", 10s)) << log();
  std::this_thread::sleep_for(500ms);  // drawn
  const fs::path shot = artifacts_ / "tray-menu.png";
  auto imported = x_->run({"import", "-window", "root", shot.string()}, 20s);
  EXPECT_TRUE(imported.ok() && fs::exists(shot)) << "screenshot of the open menu";
  const std::string l = log();
  const std::string menu = l.substr(l.rfind("wm-tray: menu: "));
  for (const char* text : {"Tracking: gui-proj", "Stop timer", "Take a break", "Sync now", "My activity…", "Settings…",
                           "Sign in…", "Quit WorkMonitor"})
    EXPECT_NE(menu.find(text), std::string::npos) << text << " missing from: " << menu;
  EXPECT_EQ(menu.find("Start timer"), std::string::npos) << "no Start while tracking: " << menu;

  // Quit from the menu (Up from the top wraps to the last entry, Quit), and the agent keeps tracking.
  x_->xdotool({"key", "Up"});
  x_->xdotool({"key", "Return"});
  ASSERT_TRUE(logHas("wm-tray: quit (the agent keeps running)", 10s)) << log();
  std::this_thread::sleep_for(1s);
  const json after = status();
  ASSERT_TRUE(after.is_object()) << "the agent went away with the tray";
  EXPECT_EQ(after["state"], "tracking");
  EXPECT_EQ(after["agent"]["pid"].get<int64_t>(), agent_pid_);
}

}  // namespace
}  // namespace wm
