// InputCounter for platforms without a module: every call reports kUnavailable, so the agent still links and runs.
#include "unavailable.h"
#include "workmonitor/platform/input_counts.h"

namespace wm::platform {
namespace {
class NoneInputCounter final : public InputCounter {
 public:
  Result<void> start(Sink) override { return std::unexpected(none::unavailable("input counting")); }
  void stop() override {}
};
}  // namespace

std::unique_ptr<InputCounter> makeInputCounter() { return std::make_unique<NoneInputCounter>(); }

}  // namespace wm::platform
