// Process identity for platforms without a module: unknown, so the native-messaging host names no browser
// from its parent and falls back to what the browser passed it.
#include "unavailable.h"
#include "workmonitor/platform/process_info.h"

namespace wm::platform {

Result<ProcessInfo> processInfo(int64_t) { return std::unexpected(none::unavailable("process information")); }

}  // namespace wm::platform
