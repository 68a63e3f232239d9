// The RLS permission matrix, generated over every table of public: for each table, select/insert/update/delete
// by seven personas, run as the runtime role with the claim the server would set. Rows are built from the
// catalog (foreign keys get parent rows, NOT NULL columns get values), so a new table needs only its line in
// kAccess below, which states the access model of migrations/README.md.
#include <atomic>
#include <map>
#include <set>
#include <sstream>

#include "pg_test_env.h"

namespace wm::test {
namespace {

using server::db::Connection;

// Personas. The matrix row is owned by S (through the table's owner column) in company 1.
//   N no claim, S the owner employee, P another employee of company 1, M a manager actively assigned to S,
//   I a manager whose assignment to S is inactive, A company 1's admin, O company 2's admin.
struct Persona {
  char code;
  const char* uid;  // nullptr: no claim
};
constexpr const char* kCompany1 = "00000000-0000-4000-8000-00000000c001";
constexpr const char* kCompany2 = "00000000-0000-4000-8000-00000000c002";
constexpr const char* kOwner = "00000000-0000-4000-8000-0000000000e1";
constexpr const char* kPeer = "00000000-0000-4000-8000-0000000000e2";
constexpr const char* kManager = "00000000-0000-4000-8000-0000000000a1";
constexpr const char* kManagerInactive = "00000000-0000-4000-8000-0000000000a2";
constexpr const char* kAdmin = "00000000-0000-4000-8000-0000000000ad";
constexpr const char* kOtherAdmin = "00000000-0000-4000-8000-0000000000af";
constexpr Persona kPersonas[] = {{'N', nullptr},          {'S', kOwner}, {'P', kPeer},      {'M', kManager},
                                 {'I', kManagerInactive}, {'A', kAdmin}, {'O', kOtherAdmin}};

// Who may do what to a row of S in company 1 (persona codes). owner: the column naming the row's person.
// Other user columns that must be set get the admin A (e.g. requested_by); nullable ones stay NULL.
struct Access {
  const char* table;
  const char* owner;
  const char* select;
  const char* insert;
  const char* update;
  const char* remove;
};
constexpr Access kAccess[] = {
    // table                         owner          select   insert update  delete
    {"companies", nullptr, "SPMIA", "", "A", ""},
    {"users", "user_id", "SPMIA", "A", "SA", ""},
    {"manager_assignments", "employee_id", "SA", "A", "A", "A"},
    {"subscriptions", nullptr, "A", "", "", ""},
    {"projects", nullptr, "SPMIA", "A", "A", "A"},
    {"tasks", "assignee_id", "SPMIA", "A", "SA", "A"},
    {"time_entries", "user_id", "SMA", "SA", "SA", "SA"},
    {"timesheets", "user_id", "SMA", "SMA", "SMA", ""},
    {"scheduled_timers", "user_id", "SMA", "SA", "SA", "SA"},
    {"timer_execution_log", "user_id", "SMA", "S", "", ""},
    {"activity_logs", "user_id", "SMA", "SA", "SA", ""},
    {"shifts", nullptr, "SPMIA", "A", "A", "A"},
    {"attendance", "user_id", "SMA", "SA", "SA", ""},
    {"shift_assignments", "user_id", "SMA", "A", "A", "A"},
    {"leave_requests", "user_id", "SMA", "SA", "SMA", "S"},
    {"screenshots", "user_id", "SMA", "SA", "SA", "SA"},
    {"payroll", "user_id", "SA", "A", "A", ""},
    {"invoices", nullptr, "A", "A", "A", "A"},
    {"bank_accounts", "user_id", "SA", "S", "SA", "S"},
    {"chat_channels", nullptr, "SPMIA", "A", "A", "A"},
    {"chat_messages", "sender_id", "SPMIA", "S", "S", ""},
    {"notifications", "user_id", "S", "A", "S", "S"},
    {"project_assignments", "user_id", "SMA", "A", "A", "A"},
    {"employee_assignment_requests", "employee_id", "SMA", "A", "A", "A"},
    {"work_agreements", "employee_id", "SA", "A", "A", ""},
    {"agreement_clauses", nullptr, "SA", "A", "A", "A"},
    {"consent_audit_log", "user_id", "SA", "S", "", ""},
    {"screen_recordings", "user_id", "SMA", "S", "S", "A"},
    {"work_submissions", "user_id", "SMA", "S", "SMA", ""},
    {"manager_expense_access", "manager_id", "SA", "A", "", "A"},
    {"employee_wages", "user_id", "SA", "A", "A", ""},
    {"wage_change_requests", "user_id", "SA", "A", "A", ""},
    {"expense_calculations", "user_id", "SA", "A", "A", "A"},
    {"escrow_accounts", "user_id", "SA", "A", "A", ""},
    {"recurring_payment_schedules", "user_id", "SA", "A", "A", "A"},
    {"payouts", "user_id", "SA", "A", "A", ""},
    {"payout_approvals", nullptr, "SA", "A", "", ""},
    {"payment_disputes", "raised_by", "SA", "S", "SA", ""},
    {"gps_locations", "user_id", "SMA", "S", "", ""},
    {"geofences", nullptr, "SPMIA", "A", "A", "A"},
    {"field_sites", nullptr, "SPMIA", "A", "A", "A"},
    {"routes", "user_id", "SMA", "S", "", ""},
    {"app_usage", "user_id", "SMA", "S", "S", ""},
    {"website_usage", "user_id", "SMA", "S", "S", ""},
    {"app_categories", nullptr, "SPMIA", "A", "A", "A"},
    {"website_categories", nullptr, "SPMIA", "A", "A", "A"},
    {"blocked_apps", nullptr, "SPMIA", "A", "A", "A"},
    {"blocked_websites", nullptr, "SPMIA", "A", "A", "A"},
    {"idle_periods", "user_id", "SMA", "S", "S", ""},
    {"breaks", "user_id", "SMA", "S", "S", ""},
    {"integrations", nullptr, "SPMIA", "A", "A", "A"},
    {"integration_sync_logs", nullptr, "A", "", "", ""},
    {"security_alerts", "user_id", "A", "A", "A", "A"},
    {"dlp_incidents", "user_id", "SA", "SA", "A", ""},
    {"usb_events", "user_id", "SMA", "S", "", ""},
    {"audit_logs", "actor_id", "A", "S", "", ""},
    {"activity_history", "user_id", "SMA", "", "", ""},
    {"productivity_scores", "user_id", "SMA", "", "", ""},
    {"focus_time", "user_id", "SMA", "", "", ""},
    {"burnout_indicators", "user_id", "SMA", "", "", ""},
    {"meeting_insights", "user_id", "SMA", "", "", ""},
};

const Access* accessOf(const std::string& table) {
  for (const auto& a : kAccess) {
    if (table == a.table) return &a;
  }
  return nullptr;
}

std::string quote(std::string_view v) {
  std::string out = "'";
  for (char c : v) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

struct Column {
  std::string name, type;
  bool not_null = false, has_default = false;
  std::string fk_table;  // single-column foreign key target in public, or ""
};

// Every table's key is `id`, except the report's `users.user_id`.
std::string primaryKeyOf(const std::string& table) { return table == "users" ? "user_id" : "id"; }

// Builds rows from the catalog, as the superuser, inside the caller's transaction.
class RowBuilder {
 public:
  explicit RowBuilder(Connection& conn) : conn_(conn) {}

  // A column -> SQL expression map for a new row of `table` owned by `owner` (if the table has an owner column).
  std::map<std::string, std::string> build(const std::string& table, const char* owner, const char* company) {
    const Access* access = accessOf(table);
    std::map<std::string, std::string> row;
    for (const auto& c : columns(table)) {
      const bool is_owner = access && access->owner && c.name == access->owner && owner;
      if (c.name == primaryKeyOf(table)) {
        row[c.name] = quote(newUuid());
      } else if (is_owner && table != "users") {
        row[c.name] = quote(owner);
      } else if (c.name == "company_id") {
        row[c.name] = quote(company);
      } else if (!c.fk_table.empty()) {
        if (!c.not_null) continue;
        row[c.name] = c.fk_table == "users" ? quote(kAdmin) : quote(insertParent(c.fk_table, company));
      } else if (c.not_null && !c.has_default) {
        row[c.name] = valueFor(c.type);
      }
    }
    return row;
  }

  static std::string insertSql(const std::string& table, const std::map<std::string, std::string>& row) {
    std::string cols, vals;
    for (const auto& [k, v] : row) {
      cols += (cols.empty() ? "" : ", ") + k;
      vals += (vals.empty() ? "" : ", ") + v;
    }
    return "insert into public." + table + " (" + cols + ") values (" + vals + ")";
  }

  // Inserts a parent row (as superuser) owned by S in `company` and returns its id.
  std::string insertParent(const std::string& table, const char* company) {
    auto row = build(table, kOwner, company);
    auto r = conn_.exec(insertSql(table, row));
    if (!r) throw std::runtime_error("parent " + table + ": " + r.error().message);
    return row[primaryKeyOf(table)].substr(1, 36);
  }

  std::string newUuid() {
    char buf[40];
    std::snprintf(buf, sizeof buf, "00000000-0000-4000-8000-%012llu", ++counter_ + 1000000ULL);
    return buf;
  }

 private:
  const std::vector<Column>& columns(const std::string& table) {
    auto it = cache_.find(table);
    if (it != cache_.end()) return it->second;
    auto r = conn_.query(
        "select a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, a.atthasdef, "
        "coalesce((select cf.relname from pg_constraint k join pg_class cf on cf.oid = k.confrelid "
        "  where k.conrelid = a.attrelid and k.contype = 'f' and k.conkey = array[a.attnum] "
        "  and cf.relnamespace = 'public'::regnamespace limit 1), '') "
        "from pg_attribute a where a.attrelid = ('public.' || $1)::regclass and a.attnum > 0 "
        "and not a.attisdropped order by a.attnum",
        {table});
    if (!r) throw std::runtime_error(r.error().message);
    std::vector<Column> cols;
    for (int i = 0; i < r->rows(); ++i) {
      cols.push_back({std::string(r->value(i, 0)), std::string(r->value(i, 1)), r->value(i, 2) == "t",
                      r->value(i, 3) == "t", std::string(r->value(i, 4))});
    }
    return cache_[table] = std::move(cols);
  }

  std::string valueFor(const std::string& type) {
    const auto n = std::to_string(++counter_);
    if (type == "text") return quote("v" + n);
    if (type == "uuid") return quote(newUuid());
    if (type == "date") return "(current_date + " + n + ")";  // one date per row: unique (user, day) holds
    if (type.starts_with("timestamp")) return "now()";
    if (type.starts_with("time")) return "'09:00'";
    if (type == "boolean") return "false";
    if (type == "jsonb") return "'{}'";
    if (type == "inet") return "'127.0.0.1'";
    if (type == "bytea") return "decode(md5(" + quote(n) + "), 'hex')";
    if (type.ends_with("[]")) return "'{}'";
    return "1";  // integer, bigint, smallint, numeric, real, double precision
  }

  Connection& conn_;
  std::map<std::string, std::vector<Column>> cache_;
  unsigned long long counter_ = 0;
};

enum class Outcome { kAllowed, kDenied };

class Rls : public PgTest {
 protected:
  void SetUp() override {
    PgTest::SetUp();
    if (HasFatalFailure()) return;
    applyMigrations();
    if (HasFatalFailure()) return;
    conn_ = std::make_unique<Connection>(connect());
    std::ostringstream seed;
    seed << "insert into public.companies (id, name) values (" << quote(kCompany1) << ", 'one'), (" << quote(kCompany2)
         << ", 'two');\n"
         << "insert into public.users (user_id, company_id, email, full_name, role) values "
         << "(" << quote(kOwner) << ", " << quote(kCompany1) << ", 'owner@one', 'Owner', 'employee'), "
         << "(" << quote(kPeer) << ", " << quote(kCompany1) << ", 'peer@one', 'Peer', 'employee'), "
         << "(" << quote(kManager) << ", " << quote(kCompany1) << ", 'mgr@one', 'Manager', 'manager'), "
         << "(" << quote(kManagerInactive) << ", " << quote(kCompany1) << ", 'old@one', 'Old', 'manager'), "
         << "(" << quote(kAdmin) << ", " << quote(kCompany1) << ", 'admin@one', 'Admin', 'admin'), "
         << "(" << quote(kOtherAdmin) << ", " << quote(kCompany2) << ", 'admin@two', 'Admin2', 'admin');\n"
         << "insert into public.manager_assignments (company_id, manager_id, employee_id, active) values "
         << "(" << quote(kCompany1) << ", " << quote(kManager) << ", " << quote(kOwner) << ", true), "
         << "(" << quote(kCompany1) << ", " << quote(kManagerInactive) << ", " << quote(kOwner) << ", false);\n";
    auto r = conn_->exec(seed.str());
    ASSERT_TRUE(r) << r.error().message;
  }

  void sql(const std::string& s) {
    auto r = conn_->exec(s);
    if (!r) throw std::runtime_error(s + ": " + r.error().message);
  }

  // Runs `statement` as the runtime role with the persona's claim, inside a savepoint that is rolled back.
  // Denied = an RLS/permission error (42501) or no row touched/seen; any other error fails the test.
  Outcome runAs(const Persona& p, const std::string& statement, const std::string& context) {
    sql("savepoint persona");
    sql("set local role workmonitor_app");
    if (p.uid) sql("select set_config('request.jwt.claim.sub', " + quote(p.uid) + ", true)");
    auto r = conn_->exec(statement);
    sql("rollback to savepoint persona");
    sql("release savepoint persona");
    if (!r) {
      if (server::db::sqlState(r.error()) != "42501") {
        ADD_FAILURE() << context << ": unexpected error " << r.error().message << "\n  " << statement;
      }
      return Outcome::kDenied;
    }
    return (r->rows() > 0 || r->affected() > 0) ? Outcome::kAllowed : Outcome::kDenied;
  }

  std::vector<std::string> publicTables() {
    auto r = conn_->query("select tablename from pg_tables where schemaname = 'public' order by 1");
    if (!r) throw std::runtime_error(r.error().message);
    std::vector<std::string> out;
    for (int i = 0; i < r->rows(); ++i) out.emplace_back(r->value(i, 0));
    return out;
  }

  std::unique_ptr<Connection> conn_;
};

TEST_F(Rls, PermissionMatrixCoversEveryTable) {
  const auto tables = publicTables();
  ASSERT_EQ(tables.size(), 61u);
  int checks = 0;
  std::vector<std::string> wrong;
  auto expect = [&](const std::string& table, const char* op, const char* allowed, const Persona& p, Outcome got) {
    ++checks;
    const bool want = std::string_view(allowed).find(p.code) != std::string_view::npos;
    if (want != (got == Outcome::kAllowed)) {
      wrong.push_back(table + " " + op + " by " + p.code + ": expected " + (want ? "allowed" : "denied"));
    }
  };
  for (const auto& table : tables) {
    const Access* access = accessOf(table);
    ASSERT_NE(access, nullptr) << table << " has no line in kAccess: state its access model there";
    sql("begin");
    RowBuilder rows(*conn_);
    // Inserts first, before the matrix row exists, so unique keys (one current wage, ...) cannot collide.
    for (const auto& p : kPersonas) {
      const auto row = rows.build(table, kOwner, kCompany1);
      expect(table, "insert", access->insert, p, runAs(p, RowBuilder::insertSql(table, row), table + " insert"));
    }
    std::string id;
    if (table == "users") {
      id = kOwner;
    } else if (table == "companies") {
      id = kCompany1;
    } else {
      auto row = rows.build(table, kOwner, kCompany1);
      sql(RowBuilder::insertSql(table, row));
      id = row["id"].substr(1, 36);
    }
    const std::string pk = primaryKeyOf(table);
    const std::string where = " where " + pk + " = " + quote(id);
    for (const auto& p : kPersonas) {
      expect(table, "select", access->select, p, runAs(p, "select 1 from public." + table + where, table));
      expect(table, "update", access->update, p,
             runAs(p, "update public." + table + " set " + pk + " = " + pk + where, table + " update"));
      expect(table, "delete", access->remove, p, runAs(p, "delete from public." + table + where, table + " delete"));
    }
    sql("rollback");
  }
  EXPECT_EQ(checks, 61 * 4 * 7);
  EXPECT_TRUE(wrong.empty()) << wrong.size() << " cells differ from the access model:\n"
                             << ::testing::PrintToString(wrong);
}

// Employee S writes a row naming P (a forgery), or naming itself under company 2 (a cross-tenant write):
// rejected on every table a person owns, whatever S may otherwise insert.
TEST_F(Rls, ForgedInsertsAreRejectedOnEveryUserOwnedTable) {
  int tables = 0;
  std::vector<std::string> accepted;
  for (const auto& a : kAccess) {
    if (a.owner == nullptr || std::string_view(a.table) == "users") continue;
    ++tables;
    sql("begin");
    RowBuilder rows(*conn_);
    const Persona& owner = kPersonas[1];
    if (runAs(owner, RowBuilder::insertSql(a.table, rows.build(a.table, kPeer, kCompany1)), a.table) ==
        Outcome::kAllowed) {
      accepted.push_back(std::string(a.table) + ": row for another employee");
    }
    if (runAs(owner, RowBuilder::insertSql(a.table, rows.build(a.table, kOwner, kCompany2)), a.table) ==
        Outcome::kAllowed) {
      accepted.push_back(std::string(a.table) + ": own row filed under another company");
    }
    sql("rollback");
  }
  EXPECT_EQ(tables, 44) << "every table with an owner column";
  EXPECT_TRUE(accepted.empty()) << ::testing::PrintToString(accepted);
}

TEST_F(Rls, NoClaimSeesNothingAnywhere) {
  // A row in every table, then the runtime role without a claim counts what it can see.
  sql("begin");
  RowBuilder rows(*conn_);
  for (const auto& t : publicTables()) {
    if (t != "users" && t != "companies") sql(RowBuilder::insertSql(t, rows.build(t, kOwner, kCompany1)));
  }
  sql("set local role workmonitor_app");
  for (const auto& t : publicTables()) {
    auto r = conn_->query("select count(*) from public." + t);
    ASSERT_TRUE(r) << t << ": " << r.error().message;
    EXPECT_EQ(r->value(0, 0), "0") << t;
  }
  sql("rollback");
}

TEST_F(Rls, AutoTrackingConsentFollowsTheLatestEvent) {
  auto consent = [&](const char* who) {
    sql("begin");
    sql("set local role workmonitor_app");
    sql(std::string("select set_config('request.jwt.claim.sub', ") + quote(who) + ", true)");
    auto r = conn_->query("select public.check_auto_tracking_consent($1)", {std::string(kOwner)});
    sql("rollback");
    if (!r) throw std::runtime_error(r.error().message);
    return std::string(r->value(0, 0));
  };
  EXPECT_EQ(consent(kOwner), "f") << "no consent recorded means no auto tracking";
  sql("insert into public.consent_audit_log (company_id, user_id, consent_type, action, created_at) values (" +
      quote(kCompany1) + ", " + quote(kOwner) + ", 'auto_tracking', 'granted', now() - interval '2 hours')");
  EXPECT_EQ(consent(kOwner), "t");
  EXPECT_EQ(consent(kAdmin), "t") << "the admin sees the company's consent log";
  EXPECT_EQ(consent(kPeer), "f") << "a colleague cannot read someone else's consent";
  sql("insert into public.consent_audit_log (company_id, user_id, consent_type, action, created_at) values (" +
      quote(kCompany1) + ", " + quote(kOwner) + ", 'auto_tracking', 'revoked', now() - interval '1 hour')");
  EXPECT_EQ(consent(kOwner), "f") << "a later revocation wins";
}

}  // namespace
}  // namespace wm::test
