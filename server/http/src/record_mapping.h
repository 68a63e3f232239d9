// Where each record kind lands (migrations/README.md "Where the agent's records live"): kind-specific
// validation and the one upsert statement per kind.
#pragma once

#include <string>
#include <vector>

#include "workmonitor/api/records.h"
#include "workmonitor/server/db/connection.h"

namespace wm::server::http {

struct MappedRecord {
  std::string statement;   // prepared-statement name
  const std::string* sql;  // its text
  std::vector<db::Param> params;
};

/// Validates a parsed record for storage and builds its upsert; the error message is the rejection reason.
/// $1..$6 are id, company, user, kind, revision, device; the caller fills company/user/device.
Result<MappedRecord> mapRecord(const api::Record& r, long long now_ms);

}  // namespace wm::server::http
