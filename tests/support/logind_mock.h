// A mocked logind for tests: a private dbus-daemon plus python3-dbusmock's logind template on it, with
// DBUS_SYSTEM_BUS_ADDRESS pointing at that bus for the object's lifetime (in this process and so in every
// child it starts), so the platform module and the agent talk to the mock instead of the real logind.
// Helpers drive it through dbusmock's own mock interface (AddSession, EmitSignal, ...) over sd-bus.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "workmonitor/common/result.h"

struct sd_bus;

namespace wm::test {

/// One entry of logind's ListInhibitors.
struct Inhibitor {
  std::string what, who, why, mode;
};

class LogindMock {
 public:
  struct Options {
    bool logind = true;  // false: only the bus, nobody owning org.freedesktop.login1
    std::chrono::milliseconds ready_timeout = std::chrono::seconds(20);
  };

  /// Fails with kUnavailable when dbus-daemon or /usr/bin/python3 -m dbusmock is missing or does not come up.
  static Result<std::unique_ptr<LogindMock>> start(Options options);
  static Result<std::unique_ptr<LogindMock>> start() { return start(Options{}); }
  ~LogindMock();
  LogindMock(const LogindMock&) = delete;
  LogindMock& operator=(const LogindMock&) = delete;

  const std::string& address() const { return address_; }

  /// dbusmock's AddSession (seat and user made as needed); returns the session's object path.
  Result<std::string> addSession(const std::string& id, uint32_t uid, const std::string& user, bool active = true);
  /// The template has no GetSessionByPID: adds it, answering `session_path` for every pid.
  Result<void> addGetSessionByPid(const std::string& session_path);
  /// Sets the user object's Display property (the user's display session).
  Result<void> setUserDisplay(uint32_t uid, const std::string& session_id, const std::string& session_path);
  /// Manager.PrepareForSleep(start), as logind emits it around a suspend.
  Result<void> prepareForSleep(bool start);
  /// Session.Lock() / Unlock(): the mock emits the session's Lock / Unlock signal.
  Result<void> lock(const std::string& session_path);
  Result<void> unlock(const std::string& session_path);
  /// Session.SetLockedHint(b): LockedHint changes, with PropertiesChanged.
  Result<void> setLockedHint(const std::string& session_path, bool locked);
  /// Manager.ListInhibitors.
  Result<std::vector<Inhibitor>> inhibitors();

  /// Kills the mock (logind "goes away"; the bus stays).
  void killLogind();
  /// Kills the bus daemon itself.
  void killBus();

 private:
  LogindMock() = default;
  Result<void> call(const char* path, const char* iface, const char* method, const char* types, ...);

  std::string address_;
  std::string log_dir_;
  pid_t bus_pid_ = -1;
  pid_t mock_pid_ = -1;
  sd_bus* bus_ = nullptr;
  std::mutex mu_;  // the helpers may be called from a watcher's thread (inside a sink)
  std::optional<std::string> old_address_;
};

}  // namespace wm::test
