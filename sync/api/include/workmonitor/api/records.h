// The wire and storage form of everything the agent records. No I/O here; nlohmann/json only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "workmonitor/common/result.h"

namespace wm::api {

/// Version of the record format; bumped when a field changes meaning.
inline constexpr int kRecordFormatVersion = 1;

enum class RecordKind {
  kTimeEntry,
  kIdlePeriod,
  kBreak,
  kAppUsage,
  kWebsiteUsage,
  kActivity,
  kScreenshot,
  kUsbEvent,
  kConsentEvent,
  kIncident,
  kDowntime,  // the agent's own absence: stopped, crashed, computer off, asleep (issue 14)
};

const char* kindName(RecordKind kind);
std::optional<RecordKind> kindFromName(std::string_view name);

/// How much a kind is worth keeping when local storage is full: lower goes first.
/// Time entries (and consent events) are never dropped.
int retentionPriority(RecordKind kind);
bool neverDropped(RecordKind kind);

/// One record. Spans have a start and, once closed, an end; point events have end == start.
/// The id is a UUIDv7 made once; revision grows each time the record changes (e.g. an open span closes),
/// so a receiver keeps the highest revision it has seen.
struct Record {
  std::string id;
  RecordKind kind = RecordKind::kTimeEntry;
  int64_t revision = 1;
  int64_t start_ms = 0;                            // UTC, unix milliseconds
  std::optional<int64_t> end_ms;                   // UTC; nullopt while the span is open
  int64_t duration_ms = 0;                         // measured on the monotonic clock (immune to wall-clock jumps)
  nlohmann::json data = nlohmann::json::object();  // kind-specific fields

  bool isOpen() const { return !end_ms.has_value(); }
};

nlohmann::json toJson(const Record& r);
/// Parses and validates a record (id is a UUIDv7, known kind, revision >= 1, end >= start, data an object).
Result<Record> recordFromJson(const nlohmann::json& j);

}  // namespace wm::api
