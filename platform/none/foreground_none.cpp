// ForegroundWatcher for platforms without a module: every call reports kUnavailable, so the agent still links and runs.
#include "unavailable.h"
#include "workmonitor/platform/foreground.h"

namespace wm::platform {
namespace {
class NoneForegroundWatcher final : public ForegroundWatcher {
 public:
  Result<void> start(Sink) override { return std::unexpected(none::unavailable("foreground window")); }
  void stop() override {}
  Result<WindowInfo> current() override { return std::unexpected(none::unavailable("foreground window")); }
};
}  // namespace

std::unique_ptr<ForegroundWatcher> makeForegroundWatcher() { return std::make_unique<NoneForegroundWatcher>(); }

}  // namespace wm::platform
