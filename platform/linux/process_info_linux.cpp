// Process identity from procfs: /proc/<pid>/exe (a link to the executable), comm and stat (for the parent).
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include "workmonitor/platform/process_info.h"

namespace wm::platform {

namespace {

std::string readFirstLine(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::string line;
  std::getline(in, line);
  return line;
}

}  // namespace

Result<ProcessInfo> processInfo(int64_t pid) {
  const std::filesystem::path dir =
      std::filesystem::path("/proc") / (pid == 0 ? std::string("self") : std::to_string(pid));
  // stat: "pid (comm) state ppid ..."; comm may hold spaces and parentheses, so read after the last ')'.
  const std::string stat = readFirstLine(dir / "stat");
  const size_t close = stat.rfind(')');
  if (stat.empty() || close == std::string::npos)
    return fail(Errc::kNotFound, "no process " + std::to_string(pid) + " (it may have exited)");
  ProcessInfo info;
  std::istringstream fields(stat.substr(close + 1));
  char state = 0;
  fields >> state >> info.parent_pid;
  if (!fields) info.parent_pid = 0;
  info.pid = pid == 0 ? static_cast<int64_t>(::getpid()) : pid;
  info.name = readFirstLine(dir / "comm");
  std::error_code ec;
  std::filesystem::path exe = std::filesystem::read_symlink(dir / "exe", ec);
  if (!ec) {
    // A replaced executable (the browser was upgraded while running) reads "<path> (deleted)".
    std::string s = exe.string();
    constexpr std::string_view kDeleted = " (deleted)";
    if (s.size() > kDeleted.size() && s.ends_with(kDeleted)) s.resize(s.size() - kDeleted.size());
    info.exe = s;
  }
  return info;
}

}  // namespace wm::platform
