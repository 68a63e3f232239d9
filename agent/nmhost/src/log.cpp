#include "workmonitor/nmhost/log.h"

#include <sys/time.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>

namespace wm::nmhost::log {
namespace {
Level g_level = Level::kInfo;
}  // namespace

void setLevel(const std::string& name) {
  if (name == "debug" || name == "trace") g_level = Level::kDebug;
  if (name == "info") g_level = Level::kInfo;
  if (name == "warn" || name == "warning") g_level = Level::kWarn;
  if (name == "error" || name == "err" || name == "critical") g_level = Level::kError;
  if (name == "off") g_level = Level::kOff;
}

void write(Level level, const std::string& message) {
  if (level < g_level || level == Level::kOff) return;
  static const char* const kNames[] = {"debug", "info", "warning", "error"};
  timeval tv{};
  ::gettimeofday(&tv, nullptr);
  std::tm tm{};
  ::localtime_r(&tv.tv_sec, &tm);
  char when[32];
  std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string line = std::string(when) + "." + std::to_string(1000 + tv.tv_usec / 1000).substr(1) + " " +
                     kNames[static_cast<int>(level)] + " nmhost: " + message + "\n";
  // One write per line: lines of a host and its browser do not interleave mid-line.
  size_t off = 0;
  while (off < line.size()) {
    const ssize_t n = ::write(STDERR_FILENO, line.data() + off, line.size() - off);
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

}  // namespace wm::nmhost::log
