// A private X11 desktop for tests: Xvfb on a free display plus openbox (which maintains _NET_ACTIVE_WINDOW),
// with helpers to start clients and drive them through xdotool/wmctrl/xprop. Used by the platform tests and
// the agent's end-to-end tests.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "workmonitor/common/result.h"

namespace wm::test {

using namespace std::chrono_literals;

/// What a finished command printed on stdout and how it exited (-1: did not run or timed out).
struct CommandOutput {
  int exit_code = -1;
  std::string out;
  bool ok() const { return exit_code == 0; }
};

/// Xvfb + openbox for the lifetime of the object; DISPLAY points at it meanwhile (in this process and so in
/// every child it starts). The destructor kills clients, openbox and Xvfb and restores the old DISPLAY.
/// One session at a time per process, since DISPLAY is process-wide.
class XvfbSession {
 public:
  struct Options {
    std::string screen = "1280x1024x24";
    bool window_manager = true;  // openbox; without it nothing sets _NET_ACTIVE_WINDOW
    std::chrono::milliseconds ready_timeout = 15s;
    /// Appended to Xvfb's command line, e.g. {"-extension", "MIT-SHM"} to run without an extension.
    std::vector<std::string> extra_args = {};
  };

  /// Starts the server (and the window manager) and waits until both answer. Fails with kUnavailable when a
  /// binary is missing (install scripts/packages/test.txt) or the server does not come up in time.
  static Result<std::unique_ptr<XvfbSession>> start(Options options);
  static Result<std::unique_ptr<XvfbSession>> start() { return start(Options{}); }

  ~XvfbSession();
  XvfbSession(const XvfbSession&) = delete;
  XvfbSession& operator=(const XvfbSession&) = delete;

  /// ":N", as set in DISPLAY.
  const std::string& display() const { return display_; }

  /// Runs a command to completion (killed after timeout), capturing stdout; stderr goes to the test log.
  CommandOutput run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout = 10s);
  /// Shorthands for the rig's tools, e.g. xdotool({"mousemove", "10", "10"}).
  CommandOutput xdotool(const std::vector<std::string>& args) { return run(prepend("xdotool", args)); }
  CommandOutput wmctrl(const std::vector<std::string>& args) { return run(prepend("wmctrl", args)); }

  /// Starts a long-running client (xterm, xmessage, ...) and returns its pid (-1 on failure). Killed by the
  /// destructor if still alive.
  pid_t spawn(const std::vector<std::string>& argv);
  /// Ends a spawned client (SIGTERM, then SIGKILL after 2 s) and reaps it.
  void terminate(pid_t pid);

  /// Opens `xterm -T title` running `sleep`, waits until its window is mapped; returns {pid, window id}.
  std::optional<std::pair<pid_t, uint64_t>> openXterm(const std::string& title,
                                                      std::chrono::milliseconds timeout = 10s);
  /// Id of the visible window whose title matches the regex `title` exactly (xdotool search --name).
  std::optional<uint64_t> waitForWindow(const std::string& title, std::chrono::milliseconds timeout = 10s);
  /// Activates a window through the window manager and waits until it is active.
  bool activate(uint64_t window);
  /// _NET_ACTIVE_WINDOW as xdotool sees it.
  std::optional<uint64_t> activeWindow();

  /// Kills the X server (SIGKILL) while clients may still use it: for "the display went away" tests.
  void killServer();
  pid_t serverPid() const { return xvfb_pid_; }

 private:
  XvfbSession() = default;
  static std::vector<std::string> prepend(std::string first, const std::vector<std::string>& rest);

  std::string display_;
  std::string log_dir_;
  pid_t xvfb_pid_ = -1;
  pid_t wm_pid_ = -1;
  std::vector<pid_t> clients_;
  std::optional<std::string> old_display_;
};

/// Checks pred every `step` until it holds or `timeout` passes; returns whether it held.
bool waitUntil(const std::function<bool()>& pred, std::chrono::milliseconds timeout,
               std::chrono::milliseconds step = 20ms);

}  // namespace wm::test
