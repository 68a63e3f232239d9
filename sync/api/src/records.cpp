#include "workmonitor/api/records.h"

#include <array>
#include <utility>

#include "workmonitor/common/uuid.h"

namespace wm::api {
namespace {

constexpr std::array<std::pair<RecordKind, const char*>, 11> kNames{{
    {RecordKind::kTimeEntry, "time_entry"},
    {RecordKind::kIdlePeriod, "idle_period"},
    {RecordKind::kBreak, "break"},
    {RecordKind::kAppUsage, "app_usage"},
    {RecordKind::kWebsiteUsage, "website_usage"},
    {RecordKind::kActivity, "activity"},
    {RecordKind::kScreenshot, "screenshot"},
    {RecordKind::kUsbEvent, "usb_event"},
    {RecordKind::kConsentEvent, "consent_event"},
    {RecordKind::kIncident, "incident"},
    {RecordKind::kDowntime, "downtime"},
}};

}  // namespace

const char* kindName(RecordKind kind) {
  for (const auto& [k, n] : kNames)
    if (k == kind) return n;
  return "unknown";
}

std::optional<RecordKind> kindFromName(std::string_view name) {
  for (const auto& [k, n] : kNames)
    if (name == n) return k;
  return std::nullopt;
}

int retentionPriority(RecordKind kind) {
  switch (kind) {
    case RecordKind::kScreenshot:
      return 0;
    case RecordKind::kActivity:
      return 1;
    case RecordKind::kWebsiteUsage:
      return 2;
    case RecordKind::kAppUsage:
      return 3;
    case RecordKind::kUsbEvent:
      return 4;
    case RecordKind::kIncident:
      return 5;
    case RecordKind::kIdlePeriod:
    case RecordKind::kDowntime:
      return 6;
    case RecordKind::kBreak:
      return 7;
    case RecordKind::kConsentEvent:
      return 100;
    case RecordKind::kTimeEntry:
      return 100;
  }
  return 0;
}

bool neverDropped(RecordKind kind) { return retentionPriority(kind) >= 100; }

nlohmann::json toJson(const Record& r) {
  nlohmann::json j{{"id", r.id},
                   {"kind", kindName(r.kind)},
                   {"revision", r.revision},
                   {"start_ms", r.start_ms},
                   {"duration_ms", r.duration_ms},
                   {"data", r.data}};
  j["end_ms"] = r.end_ms ? nlohmann::json(*r.end_ms) : nlohmann::json(nullptr);
  return j;
}

Result<Record> recordFromJson(const nlohmann::json& j) {
  if (!j.is_object()) return fail(Errc::kInvalidInput, "record is not a JSON object");
  auto str = [&](const char* key) -> const std::string* {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get_ptr<const std::string*>() : nullptr;
  };
  auto integer = [&](const char* key) -> std::optional<int64_t> {
    auto it = j.find(key);
    if (it == j.end() || !it->is_number_integer()) return std::nullopt;
    return it->get<int64_t>();
  };
  Record r;
  const std::string* id = str("id");
  if (!id || !isUuidV7(*id)) return fail(Errc::kInvalidInput, "record id must be a UUIDv7 string");
  r.id = *id;
  const std::string* kind = str("kind");
  auto k = kind ? kindFromName(*kind) : std::nullopt;
  if (!k) return fail(Errc::kInvalidInput, "record kind is missing or unknown");
  r.kind = *k;
  auto rev = integer("revision");
  if (!rev || *rev < 1) return fail(Errc::kInvalidInput, "record revision must be an integer >= 1");
  r.revision = *rev;
  auto start = integer("start_ms");
  if (!start || *start < 0) return fail(Errc::kInvalidInput, "record start_ms must be a non-negative integer");
  r.start_ms = *start;
  if (auto it = j.find("end_ms"); it != j.end() && !it->is_null()) {
    if (!it->is_number_integer()) return fail(Errc::kInvalidInput, "record end_ms must be an integer or null");
    r.end_ms = it->get<int64_t>();
    if (*r.end_ms < r.start_ms) return fail(Errc::kInvalidInput, "record ends before it starts");
  }
  auto dur = integer("duration_ms");
  if (!dur || *dur < 0) return fail(Errc::kInvalidInput, "record duration_ms must be a non-negative integer");
  r.duration_ms = *dur;
  auto data = j.find("data");
  if (data == j.end() || !data->is_object()) return fail(Errc::kInvalidInput, "record data must be an object");
  r.data = *data;
  return r;
}

}  // namespace wm::api
