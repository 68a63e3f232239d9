#include "workmonitor/agent/heartbeat.h"

#include <algorithm>

namespace wm::agent {

std::optional<Span> mergeHeartbeat(const Span& last, const Span& next, Millis pulse) {
  if (last.data != next.data) return std::nullopt;
  // A heartbeat from before the last span began is out of order: never merge backwards in time.
  if (next.start_ms < last.start_ms) return std::nullopt;
  if (next.start_ms > last.end_ms + pulse.count()) return std::nullopt;
  Span merged = last;
  merged.end_ms = std::max(last.end_ms, next.end_ms);
  return merged;
}

}  // namespace wm::agent
