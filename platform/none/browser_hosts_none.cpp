// Native-messaging host locations for platforms without a module: no browser is known, so `browser-host`
// says there is nothing to install instead of writing files a browser never reads.
#include "unavailable.h"
#include "workmonitor/platform/browser_hosts.h"

namespace wm::platform {

std::vector<BrowserHostTarget> browserHostTargets(const std::string&, const BrowserHostScope&) { return {}; }
Result<void> registerBrowserHost(const std::string&, const BrowserHostTarget&) {
  return std::unexpected(none::unavailable("browser host registration"));
}
Result<void> unregisterBrowserHost(const std::string&, const BrowserHostTarget&) {
  return std::unexpected(none::unavailable("browser host registration"));
}

}  // namespace wm::platform
