// IdleWatcher for platforms without a module: every call reports kUnavailable, so the agent still links and runs.
#include "unavailable.h"
#include "workmonitor/platform/idle.h"

namespace wm::platform {
namespace {
class NoneIdleWatcher final : public IdleWatcher {
 public:
  Result<void> start(Millis, Sink) override { return std::unexpected(none::unavailable("idle detection")); }
  void stop() override {}
  Result<Millis> idleTime() override { return std::unexpected(none::unavailable("idle detection")); }
};
}  // namespace

std::unique_ptr<IdleWatcher> makeIdleWatcher() { return std::make_unique<NoneIdleWatcher>(); }

}  // namespace wm::platform
