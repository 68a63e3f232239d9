// SessionWatcher for platforms without a module: every call reports kUnavailable, so the agent still links and runs.
#include "unavailable.h"
#include "workmonitor/platform/session_events.h"

namespace wm::platform {
namespace {
class NoneSessionWatcher final : public SessionWatcher {
 public:
  Result<void> start(Sink) override { return std::unexpected(none::unavailable("session events")); }
  void stop() override {}
  Result<bool> isLocked() override { return std::unexpected(none::unavailable("session events")); }
};
}  // namespace

std::unique_ptr<SessionWatcher> makeSessionWatcher() { return std::make_unique<NoneSessionWatcher>(); }

}  // namespace wm::platform
