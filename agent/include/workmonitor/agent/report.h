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

/// The report as text for a terminal.
std::string formatReport(const nlohmann::json& report);

/// "1h 05m", "12m 30s", "45s".
std::string formatDuration(int64_t ms);

}  // namespace wm::agent
