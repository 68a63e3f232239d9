// Desktop notifications for platforms without a module: kUnavailable, so callers fall back to the log.
#include "unavailable.h"
#include "workmonitor/platform/notifications.h"

namespace wm::platform {

Result<void> showNotification(const std::string&, const std::string&, const std::string&) {
  return std::unexpected(none::unavailable("desktop notifications"));
}

}  // namespace wm::platform
