// Desktop notifications: a one-off message to the person at the desktop (Linux: org.freedesktop.Notifications
// on the session bus). Used where no tray may be running (service mode) to say something once.
#pragma once

#include <string>

#include "workmonitor/common/result.h"

namespace wm::platform {

/// Shows `summary` / `body` as a desktop notification; blocks for at most a few seconds. kUnavailable when
/// there is no session bus or no notification service (the caller says it another way, e.g. in the log).
Result<void> showNotification(const std::string& app_name, const std::string& summary, const std::string& body);

}  // namespace wm::platform
