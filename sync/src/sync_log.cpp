#include "sync_log.h"

#include <spdlog/spdlog.h>

namespace wm::sync::detail {

std::shared_ptr<spdlog::logger> syncLogger() {
  // Not cached in a static: the agent replaces the default logger at start, and a logger cloned before
  // that would write to the old sinks.
  if (auto existing = spdlog::get("sync")) return existing;
  auto made = spdlog::default_logger()->clone("sync");
  try {
    spdlog::register_logger(made);
  } catch (const spdlog::spdlog_ex&) {
    if (auto existing = spdlog::get("sync")) return existing;
  }
  return made;
}

}  // namespace wm::sync::detail
