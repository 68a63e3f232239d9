// The migration report's own backend queries against our schema (issue 15), kept here verbatim so that a
// later rename cannot break them silently: §4.3.2 (login, /me), §4.3.3 (SET LOCAL the claim), §5.3 "After"
// (SELECT / INSERT / UPDATE through psycopg2) and §7.2 (user isolation). Parameters are filled the way psycopg2
// fills `%s` (a quoted literal); nothing else in the text is changed. The one deliberate deviation — the
// login reads the password hash through auth.users_login(), not from users — is checked as such.
#include <string>
#include <vector>

#include "pg_test_env.h"

namespace wm::test {
namespace {

// §4.3.2 login, as the comment in the report's auth router has it.
constexpr const char* kLogin =
    "SELECT user_id, email, password_hash, role, company_id, employment_type FROM users WHERE email = %s";
// The same read through the deviation's function (migrations/README.md): the one-line change of a backend.
constexpr const char* kLoginHere =
    "SELECT user_id, email, password_hash, role, company_id, employment_type FROM auth.users_login(%s)";
// §4.3.2 /me and §5.3 "After" SELECT.
constexpr const char* kSelectUser = "SELECT * FROM users WHERE user_id = %s";
// §5.3 "After" INSERT and UPDATE.
constexpr const char* kInsertEntry = "INSERT INTO time_entries (user_id, start_time, project_id) VALUES (%s, %s, %s)";
constexpr const char* kUpdateName = "UPDATE users SET full_name = %s WHERE user_id = %s";
// §4.3.3, with the f-string's {user_id} filled.
constexpr const char* kSetClaim = "SET LOCAL request.jwt.claim.sub = '{user_id}';";
// §7.2.
constexpr const char* kCountEntries = "SELECT COUNT(*) FROM time_entries;";

constexpr const char* kCompanyA = "00000000-0000-4000-8000-00000000000a";
constexpr const char* kCompanyB = "00000000-0000-4000-8000-00000000000b";
constexpr const char* kAlice = "00000000-0000-4000-8000-000000000a01";
constexpr const char* kBob = "00000000-0000-4000-8000-000000000a02";
constexpr const char* kAdminA = "00000000-0000-4000-8000-000000000a03";
constexpr const char* kCarol = "00000000-0000-4000-8000-000000000b01";
constexpr const char* kProjectA = "00000000-0000-4000-8000-0000000000a1";
constexpr const char* kHash = "$2b$04$abcdefghijklmnopqrstuu5Ck6P8b0sEX2e5y1uWjCwDsl0xqJ9fG";

// psycopg2's client-side `%s`: each parameter becomes a quoted literal, in order.
std::string filled(std::string sql, const std::vector<std::string>& params) {
  size_t at = 0;
  for (const auto& p : params) {
    at = sql.find("%s", at);
    if (at == std::string::npos) throw std::runtime_error("more parameters than %s in " + sql);
    std::string lit = "'";
    for (char c : p) lit += c == '\'' ? std::string("''") : std::string(1, c);
    lit += "'";
    sql.replace(at, 2, lit);
    at += lit.size();
  }
  if (sql.find("%s", at) != std::string::npos) throw std::runtime_error("a %s left unfilled in " + sql);
  return sql;
}

std::string withClaim(const std::string& user) {
  std::string s = kSetClaim;
  s.replace(s.find("{user_id}"), 9, user);
  return s;
}

class ReportQueries : public PgTest {
 protected:
  void SetUp() override {
    PgTest::SetUp();
    if (HasFatalFailure()) return;
    applyMigrations();
    if (HasFatalFailure()) return;
    for (const std::string& sql :
         {std::string("insert into public.companies (id, name) values ('") + kCompanyA + "', 'A'), ('" + kCompanyB +
              "', 'B')",
          std::string("insert into public.users (user_id, company_id, email, full_name, role) values ('") + kAlice +
              "', '" + kCompanyA + "', 'alice@a.test', 'Alice', 'employee'), ('" + kBob + "', '" + kCompanyA +
              "', 'bob@a.test', 'Bob', 'employee'), ('" + kAdminA + "', '" + kCompanyA +
              "', 'admin@a.test', 'Admin', 'admin'), ('" + kCarol + "', '" + kCompanyB +
              "', 'carol@b.test', 'Carol', 'employee')",
          std::string("insert into auth.credentials (user_id, password_hash) values ('") + kAlice + "', '" + kHash +
              "')",
          std::string("insert into public.projects (id, company_id, name) values ('") + kProjectA + "', '" + kCompanyA +
              "', 'Website')",
          std::string("insert into public.time_entries (company_id, user_id, start_time) values ('") + kCompanyB +
              "', '" + kCarol + "', now())"}) {
      auto c = connect();
      auto r = c.exec(sql);
      ASSERT_TRUE(r) << sql << ": " << r.error().message;
    }
  }
};

TEST_F(ReportQueries, EveryColumnTheReportNamesExistsUnderThatName) {
  const std::vector<std::pair<const char*, const char*>> named = {
      {"users", "user_id"},
      {"users", "email"},
      {"users", "role"},
      {"users", "company_id"},
      {"users", "employment_type"},
      {"users", "full_name"},
      {"time_entries", "user_id"},
      {"time_entries", "start_time"},
      {"time_entries", "end_time"},
      {"time_entries", "project_id"},
      {"manager_assignments", "employee_id"},
      {"manager_assignments", "manager_id"},
      {"manager_assignments", "active"},
      {"manager_assignments", "company_id"},
  };
  for (const auto& [table, column] : named) {
    EXPECT_EQ(scalar(std::string("select count(*) from information_schema.columns where table_schema = 'public' "
                                 "and table_name = '") +
                     table + "' and column_name = '" + column + "'"),
              "1")
        << table << "." << column;
  }
  EXPECT_EQ(scalar("select count(*) from information_schema.columns where table_schema = 'public' and "
                   "table_name = 'users' and column_name in ('id', 'password_hash')"),
            "0")
      << "users is keyed by user_id; the hash is the documented deviation";
  EXPECT_EQ(scalar("select a.attname from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = "
                   "any(i.indkey) where i.indrelid = 'public.users'::regclass and i.indisprimary"),
            "user_id");
}

TEST_F(ReportQueries, TheReportsQueriesRunAsWrittenForTheOwner) {
  auto c = connect("workmonitor_owner");
  auto me = c.query(filled(kSelectUser, {kAlice}));
  ASSERT_TRUE(me) << me.error().message;
  EXPECT_EQ(me->rows(), 1);
  auto ins = c.query(filled(kInsertEntry, {kAlice, "2026-01-05 09:00:00+00", kProjectA}));
  ASSERT_TRUE(ins) << ins.error().message;
  EXPECT_EQ(ins->affected(), 1);
  EXPECT_EQ(scalar(std::string("select company_id from public.time_entries where user_id = '") + kAlice + "'"),
            kCompanyA)
      << "the company is the person's";
  auto upd = c.query(filled(kUpdateName, {"New Name", kAlice}));
  ASSERT_TRUE(upd) << upd.error().message;
  EXPECT_EQ(upd->affected(), 1);
  EXPECT_EQ(scalar(std::string("select full_name from public.users where user_id = '") + kAlice + "'"), "New Name");

  // The login read: as written it names users.password_hash, the one deliberate deviation...
  auto verbatim = c.query(filled(kLogin, {"alice@a.test"}));
  ASSERT_FALSE(verbatim);
  EXPECT_NE(verbatim.error().message.find("password_hash"), std::string::npos) << verbatim.error().message;
  // ...and through the function it returns the report's columns, in its order.
  auto login = c.query(filled(kLoginHere, {"alice@a.test"}));
  ASSERT_TRUE(login) << login.error().message;
  ASSERT_EQ(login->rows(), 1);
  EXPECT_EQ(login->value(0, 0), kAlice);
  EXPECT_EQ(login->value(0, 1), "alice@a.test");
  EXPECT_EQ(login->value(0, 2), kHash);
  EXPECT_EQ(login->value(0, 3), "employee");
  EXPECT_EQ(login->value(0, 4), kCompanyA);
  EXPECT_EQ(login->value(0, 5), "fulltime");
}

// The runtime role, the §4.3.3 way: the claim set with SET LOCAL inside a transaction; each statement then
// sees and changes only what that person may.
TEST_F(ReportQueries, UnderTheClaimThePersonSeesAndChangesOnlyTheirOwnRows) {
  auto c = connect("workmonitor_app");
  ASSERT_TRUE(c.exec("begin"));
  ASSERT_TRUE(c.exec(withClaim(kAlice)));
  auto me = c.query(filled(kSelectUser, {kAlice}));
  ASSERT_TRUE(me) << me.error().message;
  EXPECT_EQ(me->rows(), 1);
  auto other_company = c.query(filled(kSelectUser, {kCarol}));
  ASSERT_TRUE(other_company);
  EXPECT_EQ(other_company->rows(), 0) << "another company's person is invisible";
  auto ins = c.query(filled(kInsertEntry, {kAlice, "2026-01-05 09:00:00+00", kProjectA}));
  ASSERT_TRUE(ins) << ins.error().message;
  EXPECT_EQ(ins->affected(), 1);
  auto self = c.query(filled(kUpdateName, {"Alice A.", kAlice}));
  ASSERT_TRUE(self) << self.error().message;
  EXPECT_EQ(self->affected(), 1);
  auto count = c.query(kCountEntries);
  ASSERT_TRUE(count);
  EXPECT_EQ(count->value(0, 0), "1") << "only Alice's entry, not Carol's";
  ASSERT_TRUE(c.exec("commit"));

  // A colleague's row is readable (the company's people) but not Alice's to change: the policy refuses it.
  ASSERT_TRUE(c.exec("begin"));
  ASSERT_TRUE(c.exec(withClaim(kAlice)));
  auto colleague = c.query(filled(kUpdateName, {"Renamed", kBob}));
  EXPECT_FALSE(colleague) << "an employee cannot rename a colleague";
  ASSERT_TRUE(c.exec("rollback"));
  EXPECT_EQ(scalar(std::string("select full_name from public.users where user_id = '") + kBob + "'"), "Bob");

  // Nobody writes time for someone else: Alice inserting Bob's entry is refused by the policy.
  ASSERT_TRUE(c.exec("begin"));
  ASSERT_TRUE(c.exec(withClaim(kAlice)));
  auto forged = c.query(filled(kInsertEntry, {kBob, "2026-01-05 10:00:00+00", kProjectA}));
  EXPECT_FALSE(forged) << "an entry for a colleague must be refused";
  ASSERT_TRUE(c.exec("rollback"));
  ASSERT_TRUE(c.exec("begin"));
  ASSERT_TRUE(c.exec(withClaim(kAlice)));
  EXPECT_FALSE(c.query(filled(kInsertEntry, {kCarol, "2026-01-05 10:00:00+00", kProjectA})))
      << "nor for another company's person";
  ASSERT_TRUE(c.exec("rollback"));

  // The password hashes are not the runtime role's to read, except the one the login function returns.
  auto hashes = c.query("select password_hash from auth.credentials");
  EXPECT_FALSE(hashes) << "the runtime role must not read the hash column";
  auto login = c.query(filled(kLoginHere, {"ALICE@a.test"}));
  ASSERT_TRUE(login) << login.error().message;
  EXPECT_EQ(login->rows(), 1);
  auto unknown = c.query(filled(kLoginHere, {"nobody@a.test"}));
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->rows(), 0);
}

// §7.2: each person counts their own entries; the admin counts the company's.
TEST_F(ReportQueries, UserIsolationAsTheReportTestsIt) {
  {
    auto c = connect("workmonitor_owner");
    ASSERT_TRUE(c.query(filled(kInsertEntry, {kAlice, "2026-01-05 09:00:00+00", kProjectA})));
    ASSERT_TRUE(c.query(filled(kInsertEntry, {kAlice, "2026-01-05 11:00:00+00", kProjectA})));
    ASSERT_TRUE(c.query(filled(kInsertEntry, {kBob, "2026-01-05 09:00:00+00", kProjectA})));
  }
  auto countAs = [&](const char* user) {
    auto c = connect("workmonitor_app");
    EXPECT_TRUE(c.exec("begin"));
    EXPECT_TRUE(c.exec(withClaim(user)));
    auto r = c.query(kCountEntries);
    EXPECT_TRUE(r) << (r ? "" : r.error().message);
    return r ? std::string(r->value(0, 0)) : std::string();
  };
  EXPECT_EQ(countAs(kAlice), "2");
  EXPECT_EQ(countAs(kBob), "1");
  EXPECT_EQ(countAs(kAdminA), "3") << "the admin sees all company entries";
  EXPECT_EQ(countAs(kCarol), "1") << "company B's own entry only";
}

}  // namespace
}  // namespace wm::test
