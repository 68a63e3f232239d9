// ActivityWatch-style heartbeat merging: identical data arriving within a pulse window extends the last span.
#pragma once

#include <cstdint>
#include <optional>

#include <nlohmann/json.hpp>

#include "workmonitor/common/clock.h"

namespace wm::agent {

/// A span of time carrying one piece of data (an app and title, a URL, ...).
struct Span {
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  nlohmann::json data;
};

/// Merges `next` into `last` when their data is identical and `next` starts no later than `pulse` after
/// `last` ends (an overlap counts as within). Returns the merged span, or nullopt when `next` starts a new
/// span. Pure: the caller decides what to store.
std::optional<Span> mergeHeartbeat(const Span& last, const Span& next, Millis pulse);

}  // namespace wm::agent
