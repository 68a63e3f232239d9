// The host's log: lines on stderr (the browser keeps or shows them; stdout carries frames only), level from
// WORKMONITOR_NMHOST_LOG (debug, info, warn, error, off; default info). A few lines of its own instead of
// spdlog: the host is started per browser profile and its resident memory is mostly shared-library pages
// (bench/browser), so it links nothing it can do without.
#pragma once

#include <string>

namespace wm::nmhost::log {

enum class Level { kDebug, kInfo, kWarn, kError, kOff };

/// "debug", "info", "warn"/"warning", "error"/"err", "off"; anything else keeps the current level.
void setLevel(const std::string& name);
void write(Level level, const std::string& message);
inline void info(const std::string& m) { write(Level::kInfo, m); }
inline void warn(const std::string& m) { write(Level::kWarn, m); }
inline void error(const std::string& m) { write(Level::kError, m); }

}  // namespace wm::nmhost::log
