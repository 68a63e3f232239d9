// ScreenCapturer for platforms without a module: every call reports kUnavailable, so the agent still links and runs.
#include "unavailable.h"
#include "workmonitor/platform/screen_capture.h"

namespace wm::platform {
namespace {
class NoneScreenCapturer final : public ScreenCapturer {
 public:
  void captureAll(Done done) override { done(std::unexpected(none::unavailable("screen capture"))); }
  Result<std::vector<WindowRect>> visibleWindows() override {
    return std::unexpected(none::unavailable("screen capture"));
  }
};
}  // namespace

std::unique_ptr<ScreenCapturer> makeScreenCapturer() { return std::make_unique<NoneScreenCapturer>(); }

}  // namespace wm::platform
