// Lock, unlock, sleep and resume of the user's session.
#pragma once

#include <functional>
#include <memory>

#include "workmonitor/common/result.h"

namespace wm::platform {

enum class SessionEvent { kLocked, kUnlocked, kSleeping, kResumed };

/// Session state changes (logind D-Bus, WTSRegisterSessionNotification + WM_POWERBROADCAST, NSWorkspace).
class SessionWatcher {
 public:
  /// For kSleeping the sink runs before the system suspends (a delay inhibitor holds it), so spans can be
  /// closed at the real suspend time; the sleep proceeds when the sink returns.
  using Sink = std::function<void(SessionEvent)>;
  virtual ~SessionWatcher() = default;
  virtual Result<void> start(Sink sink) = 0;
  virtual void stop() = 0;
  virtual Result<bool> isLocked() = 0;
};

std::unique_ptr<SessionWatcher> makeSessionWatcher();

}  // namespace wm::platform
