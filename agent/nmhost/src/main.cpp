// workmonitor-nmhost: the native-messaging host a browser starts for the WorkMonitor extension. Frames on
// stdin and stdout (nothing else ever goes to stdout), the agent's control socket on the other side, logs
// on stderr. Single-threaded: poll() waits for stdin, the agent hanging up, or the retry timer.
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "workmonitor/agent/paths.h"
#include "workmonitor/nmhost/host.h"
#include "workmonitor/nmhost/log.h"
#include "workmonitor/platform/process_info.h"

namespace {

using namespace wm;
using namespace wm::nmhost;

// The browser that started us: the parent, or its parent when a shell sits in between.
std::string browserFromParent() {
  auto self = platform::processInfo(0);
  if (!self) return "unknown";
  int64_t pid = self->parent_pid;
  for (int depth = 0; depth < 2 && pid > 1; ++depth) {
    auto p = platform::processInfo(pid);
    if (!p) return "unknown";
    const std::string b = browserFromProcess(p->exe.string(), p->name);
    if (b != "unknown" || !isIntermediary(p->exe.string(), p->name)) {
      if (b == "unknown") log::info("started by '" + p->name + "', not a browser this host knows");
      return b;
    }
    pid = p->parent_pid;
  }
  return "unknown";
}

bool writeAll(int fd, const std::string& bytes) {
  size_t off = 0;
  while (off < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + off, bytes.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

bool send(const std::vector<nlohmann::json>& messages) {
  for (const auto& m : messages) {
    auto frame = encodeFrame(m);
    if (!frame) {
      log::error("a reply exceeded the browser's 1 MB limit and was dropped");
      frame = encodeFrame(makeError("reply_too_large", "the agent's answer was too large for the browser"));
    }
    if (!writeAll(STDOUT_FILENO, *frame)) return false;
  }
  return true;
}

int run(const std::vector<std::string>& args) {
  const std::string parent = browserFromParent();
  const BrowserFamily family = familyFromArgs(args);
  const auto paths = agent::resolvePaths(std::nullopt, std::nullopt, std::nullopt);
  SystemClock clock;
  Host host(clock, controlSocketConnector(paths.socket.string(), Millis(3000)), parent, family);
  const BrowserIdentity& id = host.browser();
  log::info(std::string("workmonitor-nmhost ") + WM_VERSION + " for '" + id.name + "' (from " + id.source +
            "), agent socket " + paths.socket.string());
  if (id.mismatch) log::warn("the parent process says '" + parent + "' but the arguments name another browser family");

  FrameDecoder decoder;
  std::vector<Frame> frames;
  std::string chunk(64 * 1024, '\0');
  for (;;) {
    pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {host.agentHandle(), POLLIN, 0}};
    const nfds_t count = host.agentHandle() >= 0 ? 2 : 1;
    int timeout = -1;
    if (auto at = host.wakeAt()) timeout = static_cast<int>(std::max<int64_t>(0, (*at - clock.mono()).count()));
    const int r = ::poll(fds, count, timeout);
    if (r < 0) {
      if (errno == EINTR) continue;
      log::error(std::string("poll: ") + std::strerror(errno));
      return 1;
    }
    if (r == 0) {
      if (!send(host.onTimer())) return 0;
      continue;
    }
    if (count == 2 && fds[1].revents != 0) {
      if (!send(host.onAgentHangup())) return 0;
    }
    if (fds[0].revents == 0) continue;
    const ssize_t n = ::read(STDIN_FILENO, chunk.data(), chunk.size());
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) {  // the browser closed the port
      if (auto last = decoder.finish()) {
        log::warn(std::string("the browser's input ended inside a message (") + frameErrorCode(last->error) + ")");
      }
      log::info("stdin closed; exiting");
      return 0;
    }
    frames.clear();
    decoder.feed(std::string_view(chunk.data(), static_cast<size_t>(n)), frames);
    for (const Frame& f : frames) {
      if (!send(host.onFrame(f))) return 0;  // stdout gone: the browser is gone too
    }
    if (decoder.failed()) {
      log::error("the browser's input is out of step (a length of " +
                 std::to_string(frames.empty() ? 0 : frames.back().declared_length) + " bytes); closing");
      return 1;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);  // a closed stdout or socket is an error value, not a signal
  if (const char* level = std::getenv("WORKMONITOR_NMHOST_LOG")) log::setLevel(level);
  std::vector<std::string> args(argv + 1, argv + argc);
  for (const auto& a : args) {
    if (a == "--help" || a == "-h") {
      std::fputs(
          "workmonitor-nmhost: the WorkMonitor browser extension's native-messaging host.\n"
          "A browser starts it; it speaks native-messaging frames on stdin/stdout and forwards tab reports to\n"
          "the agent's control socket (WORKMONITOR_SOCKET or the per-user default). Logs go to stderr;\n"
          "WORKMONITOR_NMHOST_LOG=debug|info|warn|error|off sets their level.\n",
          stderr);
      return 0;
    }
  }
  return run(args);
}
