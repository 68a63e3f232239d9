// Shared by the none/ implementations: the error every capability returns on an OS without a module.
#pragma once

#include <string>

#include "workmonitor/common/result.h"

namespace wm::platform::none {

inline Error unavailable(const char* capability) {
  return Error{Errc::kUnavailable, std::string(capability) + " is not supported on this platform build"};
}

}  // namespace wm::platform::none
