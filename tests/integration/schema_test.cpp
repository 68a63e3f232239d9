// The schema against the report: totals, per-table figures, a second application, linter checks, roles,
// the claim readers, and `workmonitor-server verify-schema`.
#include <map>
#include <set>
#include <string>
#include <vector>

#include "pg_test_env.h"

namespace wm::test {
namespace {

struct Figures {
  const char* table;
  int columns;
  int indexes;
  int report_policies;  // §1.2 as printed
  int policies;         // what the access model needs (migrations/README.md lists each difference and why)
};

// §1.2 of the migration report, one line per table.
constexpr Figures kReport[] = {
    {"users", 12, 5, 1, 1},
    {"companies", 6, 1, 1, 1},
    {"manager_assignments", 9, 6, 1, 2},
    {"subscriptions", 16, 2, 1, 1},
    {"time_entries", 13, 5, 1, 2},
    {"timesheets", 13, 4, 1, 1},
    {"scheduled_timers", 18, 7, 1, 2},
    {"timer_execution_log", 9, 5, 1, 1},
    {"activity_logs", 8, 4, 1, 1},
    {"activity_history", 8, 4, 4, 4},
    {"idle_periods", 11, 4, 2, 2},
    {"breaks", 11, 3, 2, 2},
    {"projects", 11, 2, 1, 2},
    {"project_assignments", 11, 6, 5, 5},
    {"tasks", 12, 4, 1, 3},
    {"employee_assignment_requests", 10, 5, 1, 2},
    {"attendance", 10, 4, 1, 1},
    {"shifts", 8, 2, 1, 2},
    {"shift_assignments", 8, 4, 1, 2},
    {"leave_requests", 12, 4, 1, 4},
    {"screenshots", 10, 5, 1, 2},
    {"screen_recordings", 10, 4, 4, 4},
    {"app_usage", 11, 3, 2, 2},
    {"website_usage", 12, 3, 2, 2},
    {"productivity_scores", 20, 4, 2, 2},
    {"focus_time", 12, 3, 2, 2},
    {"burnout_indicators", 16, 5, 2, 2},
    {"meeting_insights", 17, 3, 2, 2},
    {"app_categories", 9, 3, 2, 2},
    {"website_categories", 9, 3, 2, 2},
    {"gps_locations", 15, 3, 2, 2},
    {"geofences", 13, 3, 2, 2},
    {"field_sites", 13, 2, 2, 2},
    {"routes", 13, 3, 2, 2},
    {"employee_wages", 15, 5, 4, 4},
    {"wage_change_requests", 21, 5, 4, 4},
    {"expense_calculations", 15, 4, 3, 3},
    {"manager_expense_access", 7, 5, 4, 4},
    {"payroll", 12, 3, 1, 1},
    {"invoices", 15, 3, 1, 1},
    {"payouts", 31, 12, 4, 4},
    {"payout_approvals", 10, 3, 2, 2},
    {"escrow_accounts", 29, 12, 4, 4},
    {"recurring_payment_schedules", 25, 11, 2, 2},
    {"payment_disputes", 20, 9, 4, 4},
    {"bank_accounts", 20, 3, 5, 5},
    {"work_agreements", 29, 5, 1, 1},
    {"work_submissions", 17, 6, 6, 6},
    {"agreement_clauses", 8, 2, 1, 2},
    {"consent_audit_log", 9, 5, 1, 1},
    {"audit_logs", 13, 4, 2, 2},
    {"security_alerts", 14, 6, 2, 2},
    {"dlp_incidents", 13, 3, 2, 2},
    {"usb_events", 11, 3, 2, 2},
    {"blocked_apps", 8, 3, 2, 2},
    {"blocked_websites", 8, 3, 2, 2},
    {"chat_channels", 8, 3, 1, 2},
    {"chat_messages", 8, 5, 1, 1},
    {"notifications", 12, 3, 3, 4},
    {"integrations", 12, 3, 2, 2},
    {"integration_sync_logs", 9, 2, 1, 1},
};

// Rows of a query as "a|b|c" lines, for comparing catalog snapshots.
std::vector<std::string> lines(server::db::Connection& conn, const std::string& sql) {
  auto r = conn.query(sql);
  if (!r) throw std::runtime_error(sql + ": " + r.error().message);
  std::vector<std::string> out;
  for (int i = 0; i < r->rows(); ++i) {
    std::string line;
    for (int c = 0; c < r->columns(); ++c)
      line += (c ? "|" : "") + std::string(r->isNull(i, c) ? "<null>" : r->value(i, c));
    out.push_back(line);
  }
  return out;
}

constexpr const char* kOurSchemas = "('public', 'auth', 'agent', 'meta')";

// Everything a migration could change, as text.
std::vector<std::string> catalogSnapshot(server::db::Connection& conn) {
  const std::string s = kOurSchemas;
  std::vector<std::string> all;
  for (const std::string& q : std::vector<std::string>{
           "select table_schema, table_name, column_name, data_type, column_default, is_nullable "
           "from information_schema.columns where table_schema in " +
               s + " order by 1, 2, ordinal_position",
           "select schemaname, indexname, indexdef from pg_indexes where schemaname in " + s + " order by 1, 2",
           "select schemaname, tablename, policyname, permissive, roles::text, cmd, qual, with_check "
           "from pg_policies where schemaname in " +
               s + " order by 1, 2, 3",
           "select conrelid::regclass::text, conname, pg_get_constraintdef(c.oid) from pg_constraint c "
           "join pg_namespace n on n.oid = c.connamespace where n.nspname in " +
               s + " order by 1, 2",
           "select c.oid::regclass::text, c.relrowsecurity, c.relforcerowsecurity, c.relowner::regrole::text, "
           "coalesce(c.relacl::text, '') from pg_class c join pg_namespace n on n.oid = c.relnamespace "
           "where n.nspname in " +
               s + " order by 1",
           "select table_schema, table_name, column_name, privilege_type from information_schema.column_privileges "
           "where grantee = 'workmonitor_app' order by 1, 2, 3, 4",
           "select p.oid::regprocedure::text, pg_get_functiondef(p.oid), coalesce(p.proacl::text, ''), "
           "coalesce(p.proconfig::text, '') from pg_proc p join pg_namespace n on n.oid = p.pronamespace "
           "where n.nspname in " +
               s + " order by 1",
           "select rolname, rolsuper, rolbypassrls, rolcanlogin from pg_roles where rolname like 'workmonitor%' "
           "order by 1",
       }) {
    auto part = lines(conn, q);
    all.insert(all.end(), part.begin(), part.end());
  }
  return all;
}

class Schema : public PgTest {
 protected:
  void expectReportFigures() {
    EXPECT_EQ(scalar("select count(*) from pg_tables where schemaname = 'public'"), "61");
    EXPECT_EQ(scalar("select count(*) from pg_indexes where schemaname = 'public'"), "259");
    EXPECT_EQ(scalar("select count(*) from pg_policies where schemaname = 'public'"), "141");
    EXPECT_EQ(scalar("select count(*) from pg_tables where schemaname = 'public' and not rowsecurity"), "0");
    EXPECT_EQ(scalar("select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace "
                     "where n.nspname = 'public' and c.relkind = 'r' and not c.relforcerowsecurity"),
              "0");
    EXPECT_GE(std::stoi(scalar("select count(*) from information_schema.table_constraints "
                               "where constraint_type = 'FOREIGN KEY' and table_schema = 'public'")),
              150);
    EXPECT_EQ(scalar("select array_to_string(proconfig, ',') from pg_proc "
                     "where proname = 'check_auto_tracking_consent' and pronamespace = 'public'::regnamespace"),
              "search_path=\"\"");

    auto conn = connect();
    std::map<std::string, std::vector<int>> actual;
    for (const auto& l : lines(conn,
                               "select c.relname, "
                               "(select count(*) from pg_attribute a where a.attrelid = c.oid and a.attnum > 0 "
                               "   and not a.attisdropped), "
                               "(select count(*) from pg_indexes i where i.schemaname = 'public' "
                               "   and i.tablename = c.relname), "
                               "(select count(*) from pg_policies p where p.schemaname = 'public' "
                               "   and p.tablename = c.relname) "
                               "from pg_class c where c.relnamespace = 'public'::regnamespace and c.relkind = 'r'")) {
      auto a = l.find('|'), b = l.find('|', a + 1), d = l.find('|', b + 1);
      actual[l.substr(0, a)] = {std::stoi(l.substr(a + 1, b - a - 1)), std::stoi(l.substr(b + 1, d - b - 1)),
                                std::stoi(l.substr(d + 1))};
    }
    std::set<std::string> expected_names;
    int report_policy_sum = 0;
    for (const auto& f : kReport) {
      expected_names.insert(f.table);
      report_policy_sum += f.report_policies;
      ASSERT_TRUE(actual.contains(f.table)) << "missing table " << f.table;
      const auto& a = actual[f.table];
      EXPECT_EQ(a[0], f.columns) << f.table << " columns";
      EXPECT_EQ(a[1], f.indexes) << f.table << " indexes";
      EXPECT_EQ(a[2], f.policies) << f.table << " policies";
    }
    EXPECT_EQ(report_policy_sum, 125) << "the report's per-table policies add up to 125";
    std::set<std::string> actual_names;
    for (const auto& [name, _] : actual) actual_names.insert(name);
    EXPECT_EQ(actual_names, expected_names) << "public holds exactly the report's 61 tables";
  }
};

TEST_F(Schema, FreshDatabaseHasTheReportsFigures) {
  applyMigrations();
  expectReportFigures();
}

TEST_F(Schema, SecondApplicationChangesNothing) {
  applyMigrations();
  auto conn = connect();
  const auto before = catalogSnapshot(conn);
  applyMigrations();
  const auto after = catalogSnapshot(conn);
  ASSERT_EQ(before.size(), after.size());
  for (size_t i = 0; i < before.size(); ++i) EXPECT_EQ(before[i], after[i]);
  expectReportFigures();
}

// The linter checks, as SQL. Each returns the offending objects; empty means clean.
const std::map<std::string, std::string> kLinter = {
    {"unindexed foreign key",
     "select c.conrelid::regclass::text || ' ' || c.conname from pg_constraint c "
     "join pg_namespace n on n.oid = c.connamespace "
     "where c.contype = 'f' and n.nspname in ('public', 'auth', 'agent', 'meta') and not exists ("
     "  select from pg_index i where i.indrelid = c.conrelid and i.indpred is null and ("
     "    select array_agg(k order by k) from unnest(i.indkey) with ordinality u(k, o) "
     "    where o <= cardinality(c.conkey)) = (select array_agg(k order by k) from unnest(c.conkey) k))"},
    {"policy calling auth.*() per row (not wrapped in select)",
     "select schemaname || '.' || tablename || ' ' || policyname from pg_policies "
     "where schemaname in ('public', 'auth', 'agent', 'meta') and "
     "regexp_count(coalesce(qual, '') || ' ' || coalesce(with_check, ''), 'auth\\.\\w+\\(\\)') <> "
     "regexp_count(coalesce(qual, '') || ' ' || coalesce(with_check, ''), 'SELECT auth\\.\\w+\\(\\) AS')"},
    {"function with a mutable search_path",
     "select p.oid::regprocedure::text from pg_proc p join pg_namespace n on n.oid = p.pronamespace "
     "where n.nspname in ('public', 'auth', 'agent', 'meta') and not exists ("
     "  select from unnest(coalesce(p.proconfig, '{}')) c where c like 'search_path=%')"},
    {"table without RLS (enabled and forced)",
     "select c.oid::regclass::text from pg_class c join pg_namespace n on n.oid = c.relnamespace "
     "where n.nspname in ('public', 'auth', 'agent', 'meta') and c.relkind in ('r', 'p') "
     "and not (c.relrowsecurity and c.relforcerowsecurity)"},
};

TEST_F(Schema, LinterFindsNothing) {
  applyMigrations();
  auto conn = connect();
  for (const auto& [name, sql] : kLinter) {
    const auto found = lines(conn, sql);
    EXPECT_TRUE(found.empty()) << name << ": " << ::testing::PrintToString(found);
  }
}

// Proves each linter query can fail: plant one offence of each kind and expect it found.
TEST_F(Schema, LinterCatchesPlantedOffences) {
  applyMigrations();
  auto conn = connect();
  auto tx = conn.begin();
  ASSERT_TRUE(tx);
  for (const char* sql : {
           "create table public.lint_probe (id int primary key, company_id uuid references public.companies(id))",
           "create policy lint_probe_policy on public.time_entries for select using (user_id = auth.uid())",
           "create function public.lint_probe_fn() returns int language sql as 'select 1'",
       }) {
    auto r = conn.exec(sql);
    ASSERT_TRUE(r) << r.error().message;
  }
  for (const auto& [name, sql] : kLinter) {
    const auto found = lines(conn, sql);
    EXPECT_FALSE(found.empty()) << name << " did not see the planted offence";
  }
}

TEST_F(Schema, RolesOwnerOwnsAllRuntimeOwnsNothing) {
  applyMigrations();
  EXPECT_EQ(scalar("select rolsuper::text || rolbypassrls::text || rolcanlogin::text from pg_roles "
                   "where rolname = 'workmonitor_app'"),
            "falsefalsetrue");
  EXPECT_EQ(scalar("select (select count(*) from pg_class where relowner = 'workmonitor_app'::regrole) + "
                   "(select count(*) from pg_proc where proowner = 'workmonitor_app'::regrole) + "
                   "(select count(*) from pg_namespace where nspowner = 'workmonitor_app'::regrole)"),
            "0");
  EXPECT_EQ(scalar("select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace "
                   "where n.nspname in ('public', 'auth', 'agent', 'meta') and c.relkind in ('r', 'i', 'S') "
                   "and c.relowner <> 'workmonitor_owner'::regrole"),
            "0");
  // The runtime role can change nothing it has no policy for: no DDL, no TRUNCATE, no meta.
  EXPECT_EQ(scalar("select has_schema_privilege('workmonitor_app', 'public', 'CREATE')::text || "
                   "has_table_privilege('workmonitor_app', 'public.time_entries', 'TRUNCATE')::text || "
                   "has_table_privilege('workmonitor_app', 'meta.schema_migrations', 'SELECT')::text || "
                   "has_column_privilege('workmonitor_app', 'auth.credentials', 'password_hash', 'SELECT')::text"),
            "falsefalsefalsefalse");
}

TEST_F(Schema, ClaimsAreTransactionLocal) {
  applyMigrations();
  auto conn = connect();
  auto q = [&](const std::string& sql) {
    auto r = conn.query(sql);
    if (!r) throw std::runtime_error(r.error().message);
    return r->rows() ? std::string(r->isNull(0, 0) ? "<null>" : r->value(0, 0)) : std::string();
  };
  EXPECT_EQ(q("select auth.uid()"), "<null>");
  EXPECT_EQ(q("select auth.role()"), "<null>");
  EXPECT_EQ(q("select auth.jwt()"), "<null>");
  const std::string uid = "0190b1a0-0000-7000-8000-000000000001";
  {
    auto tx = conn.begin();
    ASSERT_TRUE(tx);
    q("select set_config('request.jwt.claim.sub', '" + uid + "', true)");
    EXPECT_EQ(q("select auth.uid()"), uid);
    ASSERT_TRUE(tx->commit());
  }
  EXPECT_EQ(q("select auth.uid()"), "<null>") << "a claim must not outlive its transaction";
  {
    auto tx = conn.begin();
    ASSERT_TRUE(tx);
    q("select set_config('request.jwt.claims', '{\"sub\": \"" + uid + "\", \"role\": \"admin\"}', true)");
    EXPECT_EQ(q("select auth.uid()"), uid);
    EXPECT_EQ(q("select auth.role()"), "admin");
    EXPECT_EQ(q("select auth.jwt() ->> 'sub'"), uid);
  }
  EXPECT_EQ(q("select auth.jwt()"), "<null>");
}

TEST_F(Schema, VerifySchemaCommandComparesWithTheReport) {
  const auto exe = binaryDir() / "server" / "workmonitor-server";
  const std::string cmd = exe.string() + " verify-schema --db '" + cluster_->conninfo(db_) + "'";
  std::string out;
  EXPECT_EQ(runCommand(cmd, out), 1) << "an empty database differs: " << out;
  applyMigrations();
  EXPECT_EQ(runCommand(cmd, out), 0) << out;
  for (const char* check : {"tables in public", "RLS disabled", "policies", "foreign keys", "indexes"}) {
    EXPECT_NE(out.find(check), std::string::npos) << out;
  }
  EXPECT_EQ(out.find("DIFFERS"), std::string::npos) << out;
  scalar("drop policy time_entries_manager_select on public.time_entries");
  EXPECT_EQ(runCommand(cmd, out), 1) << out;
  EXPECT_NE(out.find("DIFFERS"), std::string::npos) << out;
  EXPECT_NE(out.find("140"), std::string::npos) << out;
}

}  // namespace
}  // namespace wm::test
