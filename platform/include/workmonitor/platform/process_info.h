// Who a process is (its executable, name and parent): how workmonitor-nmhost tells which browser started it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "workmonitor/common/result.h"

namespace wm::platform {

struct ProcessInfo {
  int64_t pid = 0;
  int64_t parent_pid = 0;     // 0 when unknown
  std::filesystem::path exe;  // the executable's full path; empty when the OS does not say
  std::string name;           // the short name the OS keeps (Linux: comm, at most 15 bytes)
};

/// The process `pid`, or this process when pid is 0. kNotFound when it does not exist (or exited),
/// kUnavailable on an OS without a module.
Result<ProcessInfo> processInfo(int64_t pid = 0);

}  // namespace wm::platform
