// The client end of the control socket, used by the CLI (and by tests): one request, one reply.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "workmonitor/common/clock.h"
#include "workmonitor/common/result.h"

namespace wm::agent {

class ControlClient {
 public:
  /// kUnavailable when no agent listens there (with a hint to start one).
  static Result<ControlClient> connect(const std::filesystem::path& socket, Millis timeout = Millis(3000));
  ControlClient(ControlClient&& other) noexcept;
  ControlClient& operator=(ControlClient&&) = delete;
  ControlClient(const ControlClient&) = delete;
  ~ControlClient();

  /// Sends cmd and returns the reply's result, or the agent's error as an Error.
  Result<nlohmann::json> call(const std::string& cmd, const nlohmann::json& args = nlohmann::json::object());
  /// Sends raw bytes (tests use it for malformed input) and returns the next line received.
  Result<std::string> rawExchange(const std::string& bytes);
  /// After call("subscribe"): the next pushed event {"event", "data"}, or nullopt on timeout.
  Result<std::optional<nlohmann::json>> nextEvent(Millis timeout);
  /// The socket, for a caller's poll loop: readable with no request pending means the agent closed it (or,
  /// after subscribe, pushed an event).
  int nativeHandle() const { return fd_; }

 private:
  explicit ControlClient(int fd, Millis timeout) : fd_(fd), timeout_(timeout) {}
  Result<std::string> readLine(Millis timeout);
  Result<void> writeAll(const std::string& bytes);

  int fd_ = -1;
  Millis timeout_;
  int64_t next_id_ = 1;
  std::string buf_;
};

}  // namespace wm::agent
