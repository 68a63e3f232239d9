// The "sync" spdlog logger (internal to sync/).
#pragma once

#include <memory>

#include <spdlog/logger.h>

namespace wm::sync::detail {
/// Made from the default logger's sinks when the application did not register one of its own.
std::shared_ptr<spdlog::logger> syncLogger();
}  // namespace wm::sync::detail
