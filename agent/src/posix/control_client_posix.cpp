#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "workmonitor/agent/control_client.h"
#include "workmonitor/agent/protocol.h"

namespace wm::agent {

using nlohmann::json;

Result<ControlClient> ControlClient::connect(const std::filesystem::path& socket, Millis timeout) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket.native().size() >= sizeof addr.sun_path) return fail(Errc::kInvalidInput, "socket path too long");
  std::memcpy(addr.sun_path, socket.c_str(), socket.native().size());
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(Errc::kIo, std::string("socket: ") + std::strerror(errno));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    const int err = errno;
    ::close(fd);
    return fail(Errc::kUnavailable, "the agent is not running (no one listens on " + socket.string() + ": " +
                                        std::strerror(err) + "); start it with `workmonitor-agent run`");
  }
  return ControlClient(fd, timeout);
}

ControlClient::ControlClient(ControlClient&& other) noexcept
    : fd_(other.fd_), timeout_(other.timeout_), next_id_(other.next_id_), buf_(std::move(other.buf_)) {
  other.fd_ = -1;
}

ControlClient::~ControlClient() {
  if (fd_ >= 0) ::close(fd_);
}

Result<void> ControlClient::writeAll(const std::string& bytes) {
  size_t off = 0;
  while (off < bytes.size()) {
    const ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(Errc::kIo, std::string("lost the connection to the agent: ") + std::strerror(errno));
    }
    off += static_cast<size_t>(n);
  }
  return {};
}

Result<std::string> ControlClient::readLine(Millis timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (auto nl = buf_.find('\n'); nl != std::string::npos) {
      std::string line = buf_.substr(0, nl);
      buf_.erase(0, nl + 1);
      return line;
    }
    const auto left = std::chrono::duration_cast<Millis>(deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) return fail(Errc::kUnavailable, "the agent did not answer in time");
    pollfd p{fd_, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(left));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) continue;
    char chunk[4096];
    const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail(Errc::kIo, "the agent closed the connection");
    buf_.append(chunk, static_cast<size_t>(n));
    if (buf_.size() > protocol::kMaxReplyBytes) return fail(Errc::kIo, "the agent sent an oversized line");
  }
}

Result<json> ControlClient::call(const std::string& cmd, const json& args) {
  const int64_t id = next_id_++;
  if (auto w = writeAll(protocol::makeRequest(id, cmd, args)); !w) return std::unexpected(w.error());
  for (;;) {
    auto line = readLine(timeout_);
    if (!line) return std::unexpected(line.error());
    json j = json::parse(*line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return fail(Errc::kIo, "the agent sent a malformed reply");
    if (j.contains("event")) continue;  // an event pushed before our reply
    if (j.value("id", json()) != json(id)) continue;
    if (j.value("ok", false)) return j.value("result", json());
    const json err = j.value("error", json::object());
    return fail(Errc::kInvalidInput, err.value("message", "the agent refused the request"));
  }
}

Result<std::string> ControlClient::rawExchange(const std::string& bytes) {
  if (auto w = writeAll(bytes); !w) return std::unexpected(w.error());
  return readLine(timeout_);
}

Result<std::optional<json>> ControlClient::nextEvent(Millis timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<Millis>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::optional<json>();
    auto line = readLine(left);
    if (!line) {
      if (line.error().code == Errc::kUnavailable) return std::optional<json>();
      return std::unexpected(line.error());
    }
    json j = json::parse(*line, nullptr, false);
    if (!j.is_discarded() && j.is_object() && j.contains("event")) return std::optional<json>(j);
  }
}

}  // namespace wm::agent
