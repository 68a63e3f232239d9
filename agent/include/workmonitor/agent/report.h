// The day report: what was recorded about the user in a time range, from local data only.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "workmonitor/api/records.h"

namespace wm::agent {

/// What the records alone cannot say.
struct ReportContext {
  int64_t first_start_ms = 0;  // when the agent first ran on this computer (Tracker::firstStartMs); 0 unknown
};

/// Sums the records overlapping [from_ms, to_ms), each clipped to the range; open spans count up to now_ms.
/// Result: totals per project, per app (with its top titles), idle periods by decision, breaks, entries; the
/// day picture `day` (buildDay) and its lanes (buildDayDetails); `now_ms`.
nlohmann::json buildReport(const std::vector<api::Record>& records, int64_t from_ms, int64_t to_ms, int64_t now_ms,
                           const ReportContext& ctx = {});

/// The categories of the day picture, in legend order: worked (a timer ran), auto (recorded automatically),
/// idle, break, locked, asleep, agent_not_running (reason shutdown | crash | computer_off | not_installed),
/// not_tracked (the agent ran, nothing was recorded), future (after now).
const std::vector<std::string>& dayCategories();

/// {timeline: [{start_ms, end_ms, category, ...detail}], totals: {category: ms}}: contiguous segments covering
/// exactly [from_ms, to_ms), each moment in one category (where records overlap the strongest wins: not
/// running > asleep > break > locked > idle > worked > auto); totals hold every category and sum to the range.
nlohmann::json buildDay(const std::vector<api::Record>& records, int64_t from_ms, int64_t to_ms, int64_t now_ms,
                        const ReportContext& ctx = {});

/// The lanes under the picture: apps_timeline, websites_timeline (spans clipped to the range), activity
/// (counts per 10-minute slot, never which keys), usb (device events).
nlohmann::json buildDayDetails(const std::vector<api::Record>& records, int64_t from_ms, int64_t to_ms,
                               int64_t now_ms);

/// The report as text for a terminal, in the local time zone (TZ): the day and times the person lives in. The
/// JSON (buildReport) stays in UTC with unix milliseconds (from_ms, to_ms, entries' start_ms/end_ms).
std::string formatReport(const nlohmann::json& report);

/// unix_ms in the local time zone with a strftime format, e.g. "%Y-%m-%d %H:%M".
std::string formatLocal(int64_t unix_ms, const char* format);

/// "1h 05m", "12m 30s", "45s".
std::string formatDuration(int64_t ms);

}  // namespace wm::agent
