// Starting the agent at login (XDG autostart / systemd user unit, Run key or logon task, LaunchAgent).
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "workmonitor/common/result.h"

namespace wm::platform {

class Autostart {
 public:
  virtual ~Autostart() = default;
  /// Registers `executable args` to run at the user's login.
  virtual Result<void> enable(const std::filesystem::path& executable, const std::string& args) = 0;
  virtual Result<void> disable() = 0;
  virtual Result<bool> isEnabled() = 0;
};

std::unique_ptr<Autostart> makeAutostart();

}  // namespace wm::platform
