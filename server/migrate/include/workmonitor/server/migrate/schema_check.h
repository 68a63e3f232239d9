// The report's §7.1 database integrity checks (plus forced RLS and the pinned function), expected vs actual.
#pragma once

#include <string>
#include <vector>

#include "workmonitor/common/result.h"
#include "workmonitor/server/db/connection.h"

namespace wm::server::migrate {

struct SchemaCheck {
  std::string name;
  std::string expected;  // e.g. "61", ">= 150", "set"
  std::string actual;
  bool ok = false;
};

/// Runs every check; an Error only when the database could not be queried.
[[nodiscard]] Result<std::vector<SchemaCheck>> checkSchema(db::Connection& conn);

/// Prints the checks as an aligned table.
std::string formatChecks(const std::vector<SchemaCheck>& checks);

}  // namespace wm::server::migrate
