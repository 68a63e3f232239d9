// Where the agent keeps its state, socket, config and logs, and the one-instance-per-user lock.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "workmonitor/common/result.h"

namespace wm::agent {

struct AgentPaths {
  std::filesystem::path state_dir;  // outbox, logs, lock
  std::filesystem::path socket;     // the control socket
  std::filesystem::path config;     // agent.json
  std::filesystem::path outbox() const { return state_dir / "outbox.db"; }
  std::filesystem::path logs() const { return state_dir / "logs"; }
  std::filesystem::path lock() const { return state_dir / "agent.lock"; }
};

/// Flags win over environment (WORKMONITOR_STATE_DIR, WORKMONITOR_SOCKET, WORKMONITOR_CONFIG), which wins
/// over the platform's per-user locations (XDG on Linux).
AgentPaths resolvePaths(const std::optional<std::filesystem::path>& state_dir,
                        const std::optional<std::filesystem::path>& socket,
                        const std::optional<std::filesystem::path>& config);

/// This program's own executable (Linux: /proc/self/exe); empty when the OS does not say.
std::filesystem::path selfExecutable();
/// The user's home ($HOME, else the password database) and config directory ($XDG_CONFIG_HOME if absolute,
/// else home/.config).
std::filesystem::path userHome();
std::filesystem::path userConfigHome();

/// Creates dir (and parents) readable by the user alone; refuses one owned by someone else.
Result<void> ensurePrivateDir(const std::filesystem::path& dir);

/// Held for the daemon's lifetime; the OS releases it if the process dies, so a crash never blocks a restart.
class InstanceLock {
 public:
  /// kBusy (with the holder's pid in the message) when another agent of this user holds it.
  static Result<InstanceLock> acquire(const std::filesystem::path& path);
  InstanceLock(InstanceLock&& other) noexcept;
  InstanceLock& operator=(InstanceLock&&) = delete;
  InstanceLock(const InstanceLock&) = delete;
  ~InstanceLock();

 private:
  explicit InstanceLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace wm::agent
