// The tray's windows as a person meets them, on a real X display: the real workmonitor-tray (Xvfb + openbox +
// trayer) against the real agent it starts. The consent window opens by itself on a fresh agent, Accept is
// clicked with the mouse; the timer runs, the person goes idle and comes back: the idle-return window opens,
// "Keep" is clicked; "My activity…" is picked from the tray's menu and shows the day as a picture. Each window is
// checked on the display (xdotool finds it viewable under its title), screenshotted by its X window id into
// build/test-artifacts (and the picture is not blank), and its words are checked as the tray prints them with
// --debug-ui.
#include <filesystem>
#include <map>
#include <regex>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tray_on_display.h"

namespace wm {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

// A window as the tray last described it (window_report.h): its X id, title, words, and where its named
// buttons (or menu entries) are.
struct Window {
  std::string xid, title, texts;
  std::map<std::string, std::pair<int, int>> buttons;  // button object name, or menu entry text → screen point
};

// The latest description of window `name` in the tray's log, if it is shown now (not followed by "hidden").
std::optional<Window> latestWindow(const std::string& log, const std::string& name) {
  const std::string head = "wm-tray: window " + name + " xid=";
  const size_t start = log.rfind(head);
  if (start == std::string::npos) return std::nullopt;
  if (log.find("wm-tray: window " + name + " hidden", start) != std::string::npos) return std::nullopt;
  static const std::regex kWindow(R"re(xid=(\d+) title="(.*)" texts: (.*))re");
  static const std::regex kButton(R"re(wm-tray: (?:button [^/]+/(\S+) "[^"]*"|item "(.*)") at (-?\d+),(-?\d+))re");
  std::istringstream lines(log.substr(start));
  std::string line;
  std::getline(lines, line);
  std::smatch m;
  if (!std::regex_search(line, m, kWindow)) return std::nullopt;
  Window w{m[1], m[2], m[3], {}};
  while (std::getline(lines, line)) {
    if (!line.starts_with("wm-tray: button " + name + "/") && !line.starts_with("wm-tray: item ")) {
      if (line.starts_with("wm-tray: window ")) break;
      continue;
    }
    if (std::regex_search(line, m, kButton))
      w.buttons[m[1].matched ? m[1].str() : m[2].str()] = {std::stoi(m[3]), std::stoi(m[4])};
  }
  return w;
}

class TrayWindowsGui : public test::TrayOnDisplay {
 protected:
  // Waits until window `name` is shown with every word in `words` (data arrives after the window opens).
  std::optional<Window> waitWindow(const std::string& name, const std::vector<std::string>& words,
                                   std::chrono::milliseconds timeout = 20s) {
    std::optional<Window> w;
    test::waitUntil(
        [&] {
          w = latestWindow(log(), name);
          if (!w) return false;
          for (const auto& word : words)
            if (w->texts.find(word) == std::string::npos) return false;
          return true;
        },
        timeout, 100ms);
    return w;
  }
  // The window is on the display, viewable, under its title; its screenshot is kept and is not blank.
  void checkOnDisplayAndShoot(const Window& w, const std::string& file) {
    auto name = x_->xdotool({"getwindowname", w.xid});
    EXPECT_TRUE(name.ok()) << "no X window " << w.xid;
    if (!w.title.empty()) {
      EXPECT_EQ(name.out.substr(0, name.out.find('\n')), w.title);
    }
    auto info = x_->run({"xwininfo", "-id", w.xid});
    EXPECT_NE(info.out.find("Map State: IsViewable"), std::string::npos) << info.out;
    const fs::path shot = artifacts_ / file;
    fs::remove(shot);
    auto imported = x_->run({"import", "-window", w.xid, shot.string()}, 20s);
    ASSERT_TRUE(imported.ok() && fs::exists(shot)) << imported.out;
    auto spread = x_->run({"convert", shot.string(), "-format", "%[fx:standard_deviation]", "info:"});
    ASSERT_TRUE(spread.ok()) << spread.out;
    EXPECT_GT(std::stod(spread.out), 0.02) << file << " is a blank picture";
  }
  void click(std::pair<int, int> at) {
    x_->xdotool({"mousemove", std::to_string(at.first), std::to_string(at.second)});
    std::this_thread::sleep_for(200ms);
    x_->xdotool({"click", "1"});
  }
};

TEST_F(TrayWindowsGui, ConsentIdleReturnAndMyActivityOnTheDisplay) {
  // No consent_preapproved: a fresh agent asks first. Idle after 3 s so the test can go idle quickly.
  startTray(json{{"heartbeat_s", 1}, {"pulse_s", 1}, {"idle_threshold_s", 3}}, "--no-autostart");
  ASSERT_TRUE(logHas("wm-tray: connected", 30s)) << log();

  // 1. Consent opens by itself; nothing is monitored until Accept is clicked.
  auto consent = waitWindow("consent_dialog", {"Before WorkMonitor starts", "Applications and window titles",
                                               "your company's admins and managers", "Accept", "Decline"});
  ASSERT_TRUE(consent) << log();
  checkOnDisplayAndShoot(*consent, "tray-consent.png");
  json st = status();
  ASSERT_TRUE(st.is_object());
  agent_pid_ = st["agent"]["pid"].get<int64_t>();
  EXPECT_TRUE(st["consent"]["required"].get<bool>()) << st.dump();
  ASSERT_TRUE(consent->buttons.contains("accept")) << log();
  click(consent->buttons["accept"]);
  ASSERT_TRUE(test::waitUntil([&] { return status()["consent"].value("granted", false); }, 10s, 200ms))
      << "the click on Accept did not reach the agent\n"
      << log();
  ASSERT_TRUE(logHas("wm-tray: window consent_dialog hidden", 10s)) << log();

  // 2. The timer runs; 3 s without input is idle; a move comes back: the idle-return question.
  ASSERT_TRUE(x_->run(agentCli({"start", "--project", "gui-windows"})).ok());
  ASSERT_TRUE(logHas("wm-tray: state: tracking", 10s)) << log();
  ASSERT_TRUE(logHas("wm-tray: state: idle", 20s)) << log() << status().dump();
  std::this_thread::sleep_for(1s);
  x_->xdotool({"mousemove", "300", "300"});
  x_->xdotool({"mousemove", "320", "330"});
  auto idle = waitWindow("idle_return_dialog", {"You were idle from", "Keep as work time", "Mark as a break"});
  ASSERT_TRUE(idle) << log() << status().dump();
  checkOnDisplayAndShoot(*idle, "tray-idle-return.png");
  ASSERT_TRUE(idle->buttons.contains("idle_keep")) << log();
  click(idle->buttons["idle_keep"]);
  ASSERT_TRUE(logHas("wm-tray: window idle_return_dialog hidden", 10s)) << log();
  ASSERT_TRUE(test::waitUntil([&] { return status().value("state", "") == "tracking"; }, 10s, 200ms))
      << status().dump();
  EXPECT_FALSE(status().contains("idle_pending") && !status()["idle_pending"].is_null()) << status().dump();

  // 3. My activity, from the tray's menu: today's tracked time, the kept idle period, the queue.
  const std::optional<std::string> icon = dockedIcon(15s);
  ASSERT_TRUE(icon) << "no docked tray icon window";
  x_->xdotool({"mousemove", "--window", *icon, "8", "8"});
  x_->xdotool({"click", "3"});
  auto menu = waitWindow("menu", {"My activity…"});
  ASSERT_TRUE(menu && menu->buttons.contains("My activity…")) << log();
  click(menu->buttons["My activity…"]);
  // With the day as a picture above the words (its details line invites a click or the keyboard).
  auto activity = waitWindow("activity_window", {"Tracked today:", "gui-windows", "Idle: 1 period", "(kept",
                                                 "Waiting to upload", "Today as a picture", "Point at a part of"});
  ASSERT_TRUE(activity) << log();
  EXPECT_EQ(activity->texts.find("does not send the day picture"), std::string::npos)
      << "the real agent sends the day: " << activity->texts;
  checkOnDisplayAndShoot(*activity, "tray-my-activity.png");
}

}  // namespace
}  // namespace wm
