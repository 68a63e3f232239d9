// Where each record kind lands (migrations/README.md "Where the agent's records live"): kind-specific
// validation and the one upsert statement per kind.
#pragma once

#include <string>
#include <vector>

#include "workmonitor/api/records.h"
#include "workmonitor/server/db/connection.h"

namespace wm::server::http {

/// A kind's upsert statements: one record (parameters $1..$params), or all of a batch's records of the kind
/// at once (see upsertSet in record_mapping.cpp).
struct KindSql {
  std::string one_name, one_sql;
  std::string set_name, set_sql;
  int params = 6;
  /// Kinds with a lower rank are stored first in a batch: other records refer to them (an idle period or a
  /// screenshot to its time entry), and a reference is resolved only to a row that is already there.
  int rank = 1;
};

struct MappedRecord {
  const KindSql* kind = nullptr;
  std::vector<db::Param> params;
};

/// The set statement's $1 (a JSON array) for records of one kind, each id at most once. $2..$5 are company,
/// user, device and the kind's name (params[3] of any of them).
std::string setRows(const KindSql& kind, const std::vector<const MappedRecord*>& records);

/// Appends `s` as a JSON string, as nlohmann's dump with error_handler_t::replace would but without building
/// a json value: quotes, backslashes and control characters escaped, UTF-8 kept as it is, each byte of
/// invalid UTF-8 replaced by U+FFFD.
void appendJsonString(std::string& out, std::string_view s);

/// Validates a parsed record for storage and builds its upsert; the error message is the rejection reason.
/// $1..$6 are id, company, user, kind, revision, device; the caller fills company/user/device.
Result<MappedRecord> mapRecord(const api::Record& r, long long now_ms);

}  // namespace wm::server::http
