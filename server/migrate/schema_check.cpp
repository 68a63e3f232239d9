#include "workmonitor/server/migrate/schema_check.h"

#include <algorithm>
#include <sstream>

namespace wm::server::migrate {
namespace {

enum class Compare { kEqual, kAtLeast };

struct Spec {
  const char* name;
  const char* sql;
  long long expected;
  Compare compare;
};

// §7.1 of the migration report, in its order, then what this repo adds on top of it.
constexpr Spec kSpecs[] = {
    {"tables in public", "select count(*) from pg_tables where schemaname = 'public'", 61, Compare::kEqual},
    {"RLS disabled (public)", "select count(*) from pg_tables where schemaname = 'public' and rowsecurity = false", 0,
     Compare::kEqual},
    {"policies (public)", "select count(*) from pg_policies where schemaname = 'public'", 141, Compare::kEqual},
    {"foreign keys (public)",
     "select count(*) from information_schema.table_constraints "
     "where constraint_type = 'FOREIGN KEY' and table_schema = 'public'",
     150, Compare::kAtLeast},
    {"indexes (public)", "select count(*) from pg_indexes where schemaname = 'public'", 259, Compare::kEqual},
    {"RLS not forced (public)",
     "select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace "
     "where n.nspname = 'public' and c.relkind = 'r' and not c.relforcerowsecurity",
     0, Compare::kEqual},
    {"tables without RLS (auth, agent, meta)",
     "select count(*) from pg_tables where schemaname in ('auth', 'agent', 'meta') and rowsecurity = false", 0,
     Compare::kEqual},
    {"check_auto_tracking_consent with fixed search_path",
     "select count(*) from pg_proc p join pg_namespace n on n.oid = p.pronamespace "
     "where n.nspname = 'public' and p.proname = 'check_auto_tracking_consent' "
     "and exists (select from unnest(p.proconfig) c where c like 'search_path=%')",
     1, Compare::kEqual},
};

}  // namespace

Result<std::vector<SchemaCheck>> checkSchema(db::Connection& conn) {
  std::vector<SchemaCheck> out;
  for (const auto& s : kSpecs) {
    auto r = conn.query(s.sql);
    if (!r) return std::unexpected(r.error());
    const long long actual = r->asInt(0, 0);
    const bool ok = s.compare == Compare::kEqual ? actual == s.expected : actual >= s.expected;
    out.push_back({s.name, (s.compare == Compare::kAtLeast ? ">= " : "") + std::to_string(s.expected),
                   std::to_string(actual), ok});
  }
  return out;
}

std::string formatChecks(const std::vector<SchemaCheck>& checks) {
  size_t width = 5;
  for (const auto& c : checks) width = std::max(width, c.name.size());
  std::ostringstream out;
  auto row = [&](std::string_view a, std::string_view b, std::string_view c, std::string_view d) {
    out << a << std::string(width - a.size() + 2, ' ') << b << std::string(b.size() < 10 ? 10 - b.size() : 1, ' ') << c
        << std::string(c.size() < 8 ? 8 - c.size() : 1, ' ') << d << '\n';
  };
  row("check", "expected", "actual", "");
  for (const auto& c : checks) row(c.name, c.expected, c.actual, c.ok ? "ok" : "DIFFERS");
  return out.str();
}

}  // namespace wm::server::migrate
