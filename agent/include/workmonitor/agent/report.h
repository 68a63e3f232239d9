// The day report: what was recorded about the user in a time range, from local data only.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "workmonitor/api/records.h"

namespace wm::agent {

/// Sums the records overlapping [from_ms, to_ms), each clipped to the range; open spans count up to now_ms.
/// Result: totals per project, per app (with its top titles), idle periods by decision, breaks, entries.
nlohmann::json buildReport(const std::vector<api::Record>& records, int64_t from_ms, int64_t to_ms, int64_t now_ms);

/// The report as text for a terminal, in the local time zone (TZ): the day and times the person lives in. The
/// JSON (buildReport) stays in UTC with unix milliseconds (from_ms, to_ms, entries' start_ms/end_ms).
std::string formatReport(const nlohmann::json& report);

/// unix_ms in the local time zone with a strftime format, e.g. "%Y-%m-%d %H:%M".
std::string formatLocal(int64_t unix_ms, const char* format);

/// "1h 05m", "12m 30s", "45s".
std::string formatDuration(int64_t ms);

}  // namespace wm::agent
