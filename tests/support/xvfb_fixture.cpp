// Xvfb + openbox test desktop; see xvfb_fixture.h. Children are started with posix_spawn because test
// processes run watcher threads, and fork() in a threaded process is only safe up to exec.
#include "xvfb_fixture.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

extern char** environ;

namespace wm::test {
namespace {

using Clock = std::chrono::steady_clock;

// Xvfb writes its display number to this fd in the child (-displayfd); high so it collides with nothing.
constexpr int kDisplayFdInChild = 93;

struct SpawnIo {
  int stdout_fd = -1;       // dup'ed to the child's stdout when >= 0
  std::string stdout_file;  // else the child's stdout goes here when set ...
  std::string stderr_file;  // ... and its stderr here when set
  int extra_fd = -1;        // dup'ed to kDisplayFdInChild when >= 0
};

pid_t spawnProcess(const std::vector<std::string>& argv, const SpawnIo& io) {
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  if (io.stdout_fd >= 0) {
    posix_spawn_file_actions_adddup2(&actions, io.stdout_fd, STDOUT_FILENO);
  } else if (!io.stdout_file.empty()) {
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, io.stdout_file.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                     0600);
  }
  if (!io.stderr_file.empty()) {
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, io.stderr_file.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                     0600);
  }
  if (io.extra_fd >= 0) posix_spawn_file_actions_adddup2(&actions, io.extra_fd, kDisplayFdInChild);

  // A process group of its own, so a Ctrl-C on the test run does not also hit the X server first.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);

  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, args[0], &actions, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  return rc == 0 ? pid : -1;
}

bool reapWithin(pid_t pid, std::chrono::milliseconds timeout, int* status = nullptr) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    int st = 0;
    const pid_t r = waitpid(pid, &st, WNOHANG);
    if (r == pid || (r < 0 && errno == ECHILD)) {
      if (status != nullptr) *status = st;
      return true;
    }
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
}

void killAndReap(pid_t pid) {
  if (pid <= 0) return;
  ::kill(pid, SIGTERM);
  if (!reapWithin(pid, 2s)) {
    ::kill(pid, SIGKILL);
    reapWithin(pid, 5s);
  }
}

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::optional<uint64_t> firstNumber(const std::string& text) {
  std::istringstream in(text);
  uint64_t value = 0;
  if (in >> value) return value;
  return std::nullopt;
}

}  // namespace

bool waitUntil(const std::function<bool()>& pred, std::chrono::milliseconds timeout, std::chrono::milliseconds step) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (pred()) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(step);
  }
}

std::vector<std::string> XvfbSession::prepend(std::string first, const std::vector<std::string>& rest) {
  std::vector<std::string> argv{std::move(first)};
  argv.insert(argv.end(), rest.begin(), rest.end());
  return argv;
}

Result<std::unique_ptr<XvfbSession>> XvfbSession::start(Options options) {
  std::unique_ptr<XvfbSession> s(new XvfbSession());
  if (const char* d = std::getenv("DISPLAY")) s->old_display_ = d;

  char dir_template[] = "/tmp/wm-xvfb-XXXXXX";
  if (mkdtemp(dir_template) == nullptr) return fail(Errc::kIo, "cannot create a temp dir for the Xvfb logs");
  s->log_dir_ = dir_template;
  const std::string xvfb_log = s->log_dir_ + "/xvfb.log";

  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return fail(Errc::kIo, "pipe2 failed");
  SpawnIo io;
  io.stdout_file = xvfb_log;
  io.stderr_file = xvfb_log;
  io.extra_fd = fds[1];
  std::vector<std::string> xvfb_argv{"Xvfb",     "-displayfd", std::to_string(kDisplayFdInChild),
                                     "-noreset", "-nolisten",  "tcp",
                                     "-screen",  "0",          options.screen};
  xvfb_argv.insert(xvfb_argv.end(), options.extra_args.begin(), options.extra_args.end());
  s->xvfb_pid_ = spawnProcess(xvfb_argv, io);
  ::close(fds[1]);
  if (s->xvfb_pid_ < 0) {
    ::close(fds[0]);
    return fail(Errc::kUnavailable, "cannot start Xvfb (install the packages in scripts/packages/test.txt)");
  }

  // The server writes "N\n" once it listens; EOF means it died (its log says why).
  std::string number;
  const auto deadline = Clock::now() + options.ready_timeout;
  while (number.find('\n') == std::string::npos) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    pollfd pfd{fds[0], POLLIN, 0};
    if (left.count() <= 0 || ::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) break;
    char buf[32];
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n <= 0) break;
    number.append(buf, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  if (number.find('\n') == std::string::npos) {
    return fail(Errc::kUnavailable, "Xvfb did not report a display: " + readFile(xvfb_log));
  }
  s->display_ = ":" + number.substr(0, number.find('\n'));
  setenv("DISPLAY", s->display_.c_str(), 1);

  if (options.window_manager) {
    SpawnIo wm_io;
    wm_io.stdout_file = s->log_dir_ + "/openbox.log";
    wm_io.stderr_file = wm_io.stdout_file;
    s->wm_pid_ = spawnProcess({"openbox", "--sm-disable"}, wm_io);
    if (s->wm_pid_ < 0) return fail(Errc::kUnavailable, "cannot start openbox (scripts/packages/test.txt)");
    // openbox is ready once it has claimed the desktop: EWMH says it then sets _NET_SUPPORTING_WM_CHECK.
    const bool ready = waitUntil(
        [&] {
          auto out = s->run({"xprop", "-root", "_NET_SUPPORTING_WM_CHECK"}, 2s);
          return out.ok() && out.out.find("window id") != std::string::npos;
        },
        options.ready_timeout, 50ms);
    if (!ready) {
      return fail(Errc::kUnavailable, "openbox did not start: " + readFile(s->log_dir_ + "/openbox.log"));
    }
  } else {
    const bool ready = waitUntil(
        [&] {
          return s->run({"xprop", "-root", "-len", "0"}, 2s).ok();
        },
        options.ready_timeout, 50ms);
    if (!ready) return fail(Errc::kUnavailable, "Xvfb does not answer: " + readFile(xvfb_log));
  }
  return s;
}

XvfbSession::~XvfbSession() {
  for (pid_t pid : clients_) killAndReap(pid);
  killAndReap(wm_pid_);
  killAndReap(xvfb_pid_);
  if (old_display_) {
    setenv("DISPLAY", old_display_->c_str(), 1);
  } else {
    unsetenv("DISPLAY");
  }
  if (!log_dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(log_dir_, ec);
  }
}

CommandOutput XvfbSession::run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  CommandOutput result;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return result;
  SpawnIo io;
  io.stdout_fd = fds[1];
  const pid_t pid = spawnProcess(argv, io);
  ::close(fds[1]);
  if (pid < 0) {
    ::close(fds[0]);
    return result;
  }
  const auto deadline = Clock::now() + timeout;
  bool timed_out = false;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd pfd{fds[0], POLLIN, 0};
    const int n = ::poll(&pfd, 1, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) continue;  // loop re-checks the deadline
    char buf[4096];
    const ssize_t got = ::read(fds[0], buf, sizeof buf);
    if (got <= 0) break;  // EOF: the command closed stdout (normally by exiting)
    result.out.append(buf, static_cast<size_t>(got));
  }
  ::close(fds[0]);
  if (timed_out) {
    ::kill(pid, SIGKILL);
    reapWithin(pid, 5s);
    return result;
  }
  int status = 0;
  if (!reapWithin(pid, timeout, &status)) {
    ::kill(pid, SIGKILL);
    reapWithin(pid, 5s);
    return result;
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

pid_t XvfbSession::spawn(const std::vector<std::string>& argv) {
  SpawnIo io;
  io.stdout_file = log_dir_ + "/clients.log";
  io.stderr_file = io.stdout_file;
  const pid_t pid = spawnProcess(argv, io);
  if (pid > 0) clients_.push_back(pid);
  return pid;
}

void XvfbSession::terminate(pid_t pid) {
  killAndReap(pid);
  clients_.erase(std::remove(clients_.begin(), clients_.end(), pid), clients_.end());
}

std::optional<std::pair<pid_t, uint64_t>> XvfbSession::openXterm(const std::string& title,
                                                                 std::chrono::milliseconds timeout) {
  // -e sleep instead of a shell: a shell prompt could retitle the window behind the test's back.
  const pid_t pid = spawn({"xterm", "-T", title, "-geometry", "60x10", "-e", "sleep", "600"});
  if (pid < 0) return std::nullopt;
  auto window = waitForWindow(title, timeout);
  if (!window) return std::nullopt;
  return std::make_pair(pid, *window);
}

std::optional<uint64_t> XvfbSession::waitForWindow(const std::string& title, std::chrono::milliseconds timeout) {
  std::optional<uint64_t> window;
  waitUntil(
      [&] {
        window = firstNumber(xdotool({"search", "--onlyvisible", "--name", "^" + title + "$"}).out);
        return window.has_value();
      },
      timeout, 50ms);
  return window;
}

bool XvfbSession::activate(uint64_t window) {
  const std::string id = std::to_string(window);
  return waitUntil(
      [&] {
        if (activeWindow() == window) return true;
        xdotool({"windowactivate", id});
        return activeWindow() == window;
      },
      5s, 50ms);
}

std::optional<uint64_t> XvfbSession::activeWindow() { return firstNumber(xdotool({"getactivewindow"}).out); }

void XvfbSession::killServer() {
  if (xvfb_pid_ <= 0) return;
  ::kill(xvfb_pid_, SIGKILL);
  reapWithin(xvfb_pid_, 5s);
  xvfb_pid_ = -1;
}

}  // namespace wm::test
