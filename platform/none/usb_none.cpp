// UsbWatcher for platforms without a module: every call reports kUnavailable, so the agent still links and runs.
#include "unavailable.h"
#include "workmonitor/platform/usb.h"

namespace wm::platform {
namespace {
class NoneUsbWatcher final : public UsbWatcher {
 public:
  Result<void> start(Sink) override { return std::unexpected(none::unavailable("USB monitoring")); }
  void stop() override {}
};
}  // namespace

std::unique_ptr<UsbWatcher> makeUsbWatcher() { return std::make_unique<NoneUsbWatcher>(); }

}  // namespace wm::platform
