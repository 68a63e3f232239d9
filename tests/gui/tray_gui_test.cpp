// The real workmonitor-tray on Xvfb + openbox + trayer against the real agent (which the tray starts): the
// icon docks in the tray, the menu opens on a click and says the right things (the tray prints its menu with
// --debug-ui), a screenshot of it is kept as an artifact, and quitting the tray leaves the agent tracking.
#include <filesystem>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tray_on_display.h"

namespace wm {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

using TrayGui = test::TrayOnDisplay;

TEST_F(TrayGui, IconMenuScreenshotAndQuitLeavesTheAgentTracking) {
  startTray(json{{"heartbeat_s", 1}, {"pulse_s", 1}}, "");
  ASSERT_TRUE(logHas("wm-tray: icon shown", 30s)) << log();
  ASSERT_TRUE(logHas("started the agent", 10s)) << "the tray starts the agent when none runs\n" << log();
  ASSERT_TRUE(logHas("wm-tray: connected", 20s)) << log();
  if (const json first = status(); first.is_object()) agent_pid_ = first["agent"]["pid"].get<int64_t>();
  // A fresh agent waits for consent: the tray says so (and its consent window opens).
  ASSERT_TRUE(logHas("wm-tray: state: consent_needed — Waiting for your consent", 10s)) << log() << status().dump();
  auto granted = x_->run(agentCli({"consent", "--grant"}));
  ASSERT_TRUE(granted.ok()) << granted.out;
  ASSERT_TRUE(logHas("wm-tray: state: not_tracking — Not tracking — nothing is recorded", 10s))
      << log() << status().dump();
  json st = status();
  ASSERT_TRUE(st.is_object());
  agent_pid_ = st["agent"]["pid"].get<int64_t>();
  EXPECT_TRUE(fs::exists(dir_ / "xdg" / "autostart" / "workmonitor-tray.desktop")) << "first run enables autostart";

  // The icon: the tray's docked window inside trayer, 22 or 24 pixels tall.
  const std::optional<std::string> icon = dockedIcon(15s);
  ASSERT_TRUE(icon) << "no docked tray icon window";

  // Start the timer through the CLI: the tray follows the agent.
  ASSERT_TRUE(x_->run(agentCli({"start", "--project", "gui-proj"})).ok());
  ASSERT_TRUE(logHas("wm-tray: state: tracking — Timer running: gui-proj", 10s)) << log();

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
  EXPECT_TRUE(menu.starts_with("wm-tray: menu: Timer running: gui-proj")) << menu;
  for (const char* text : {"Timer running: gui-proj", "Stop timer", "Take a break", "Sync now", "My activity…",
                           "Settings…", "Sign in…", "Quit WorkMonitor"})
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

// The user's report (issue 14): auto_tracking and consent pre-approved, the agent records the apps in front,
// and the tray said "Not tracking". Now its menu title says apps are recorded, before and after a timer.
TEST_F(TrayGui, AutoTrackingMenuTitleSaysAppsAreRecorded) {
  // Both are allowed in the person's agent.json (agent/src/config.cpp; consent_preapproved is local-only).
  startTray(json{{"heartbeat_s", 1}, {"pulse_s", 1}, {"auto_tracking", true}, {"consent_preapproved", true}},
            "--no-autostart");
  ASSERT_TRUE(logHas("wm-tray: icon shown", 30s)) << log();
  ASSERT_TRUE(logHas("wm-tray: connected", 30s)) << log();
  json st = status();
  ASSERT_TRUE(st.is_object());
  agent_pid_ = st["agent"]["pid"].get<int64_t>();  // first: TearDown stops it even if a check below fails
  const std::string recording = "Recording automatically — apps in front are recorded";
  ASSERT_TRUE(logHas("wm-tray: state: auto_tracking — " + recording, 10s)) << log() << status().dump();
  st = status();
  EXPECT_EQ(st["state"], "auto_tracking") << st.dump();
  EXPECT_EQ(st["recording_apps"], true) << st.dump();
  EXPECT_EQ(st["consent"]["decision"], "preapproved") << st.dump();

  const std::optional<std::string> icon = dockedIcon(15s);
  ASSERT_TRUE(icon) << "no docked tray icon window";
  const auto openMenu = [&](size_t after) -> std::string {
    x_->xdotool({"mousemove", "--window", *icon, "8", "8"});
    x_->xdotool({"click", "3"});
    std::string l;
    const bool printed = test::waitUntil(
        [&] {
          l = log();
          return l.find("wm-tray: menu: ", after) != std::string::npos;
        },
        10s, 100ms);
    if (!printed) return "(no menu printed)\n" + l;
    const size_t at = l.find("wm-tray: menu: ", after);
    return l.substr(at, l.find('\n', at) - at);
  };
  std::string menu = openMenu(0);
  EXPECT_TRUE(menu.starts_with("wm-tray: menu: " + recording)) << menu;
  EXPECT_EQ(menu.find("Not tracking"), std::string::npos) << menu;
  std::this_thread::sleep_for(500ms);  // drawn
  const fs::path shot = artifacts_ / "tray-menu-auto-tracking.png";
  auto imported = x_->run({"import", "-window", "root", shot.string()}, 20s);
  EXPECT_TRUE(imported.ok() && fs::exists(shot)) << "screenshot of the open menu";
  x_->xdotool({"key", "Escape"});

  // A timer on top of automatic recording, then back to automatic recording when it stops.
  ASSERT_TRUE(x_->run(agentCli({"start", "--project", "gui-auto"})).ok());
  ASSERT_TRUE(logHas("wm-tray: state: tracking — Timer running: gui-auto", 10s)) << log();
  size_t mark = log().size();
  ASSERT_TRUE(x_->run(agentCli({"stop"})).ok());
  ASSERT_TRUE(test::waitUntil(
      [&] { return log().find("wm-tray: state: auto_tracking — " + recording, mark) != std::string::npos; }, 10s,
      100ms))
      << log();
  mark = log().size();
  menu = openMenu(mark);
  EXPECT_TRUE(menu.starts_with("wm-tray: menu: " + recording)) << menu;
  x_->xdotool({"key", "Escape"});
  EXPECT_EQ(log().find("Not tracking"), std::string::npos) << "the tray said \"Not tracking\" at some point:\n"
                                                           << log();
}

}  // namespace
}  // namespace wm
