// Autostart for platforms without a module: every call reports kUnavailable, so the agent still links and runs.
#include "unavailable.h"
#include "workmonitor/platform/autostart.h"

namespace wm::platform {
namespace {
class NoneAutostart final : public Autostart {
 public:
  Result<void> enable(const std::filesystem::path&, const std::string&) override {
    return std::unexpected(none::unavailable("autostart"));
  }
  Result<void> disable() override { return std::unexpected(none::unavailable("autostart")); }
  Result<bool> isEnabled() override { return std::unexpected(none::unavailable("autostart")); }
};
}  // namespace

std::unique_ptr<Autostart> makeAutostart() { return std::make_unique<NoneAutostart>(); }

}  // namespace wm::platform
