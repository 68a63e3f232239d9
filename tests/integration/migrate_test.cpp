// The migration runner: pending files in order, one transaction each, checksums, the advisory lock, status.
#include <fstream>

#include "pg_test_env.h"
#include "workmonitor/server/migrate/migrator.h"

namespace wm::test {
namespace {

using server::migrate::ApplyOptions;
using server::migrate::loadMigrations;
using server::migrate::MigrationState;
using server::migrate::Migrator;

class Migrate : public PgTest {
 protected:
  // A private copy of migrations/ the test may edit.
  std::filesystem::path copyMigrations() {
    const auto dir = cluster_->socketDir() / "migrations-copy";
    std::filesystem::create_directories(dir);
    for (const auto& e : std::filesystem::directory_iterator(migrationsDir())) {
      if (e.path().extension() == ".sql") std::filesystem::copy_file(e.path(), dir / e.path().filename());
    }
    return dir;
  }
  static void append(const std::filesystem::path& file, const std::string& text) {
    std::ofstream out(file, std::ios::app);
    out << text;
  }
  int countState(const std::vector<server::migrate::StatusLine>& lines, MigrationState state) {
    int n = 0;
    for (const auto& l : lines) n += l.state == state;
    return n;
  }
};

TEST_F(Migrate, AppliesPendingInOrderAndRecordsThem) {
  auto files = loadMigrations(migrationsDir());
  ASSERT_TRUE(files) << files.error().message;
  ASSERT_EQ(files->size(), 18u);
  auto conn = connect();
  Migrator m(conn, *files);
  auto before = m.status();
  ASSERT_TRUE(before) << before.error().message;
  EXPECT_EQ(countState(*before, MigrationState::kPending), 18);

  auto applied = m.apply();
  ASSERT_TRUE(applied) << applied.error().message;
  ASSERT_EQ(applied->size(), 18u);
  for (size_t i = 0; i < applied->size(); ++i) EXPECT_EQ((*applied)[i], (*files)[i].version);
  EXPECT_EQ(scalar("select count(*) from pg_policies where schemaname = 'public'"), "141");
  EXPECT_EQ(scalar("select string_agg(version, ',' order by version) = string_agg(version, ',' order by applied_at, "
                   "version) from meta.schema_migrations"),
            "t");
  EXPECT_EQ(scalar("select count(distinct checksum) from meta.schema_migrations where length(checksum) = 64"), "18");

  auto after = m.status();
  ASSERT_TRUE(after);
  EXPECT_EQ(countState(*after, MigrationState::kApplied), 18);
  auto again = m.apply();
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_TRUE(again->empty()) << "nothing is pending the second time";
}

TEST_F(Migrate, RecordsAfterAPlainPsqlApplicationToo) {
  // An operator who followed the report's psql loop can switch to the runner: it re-applies (idempotently)
  // and records.
  applyMigrations();
  auto conn = connect();
  Migrator m(conn, *loadMigrations(migrationsDir()));
  auto applied = m.apply();
  ASSERT_TRUE(applied) << applied.error().message;
  EXPECT_EQ(applied->size(), 18u);
  EXPECT_EQ(scalar("select count(*) from pg_indexes where schemaname = 'public'"), "259");
}

TEST_F(Migrate, RefusesWhenAnAppliedFileChanged) {
  const auto dir = copyMigrations();
  auto conn = connect();
  {
    Migrator m(conn, *loadMigrations(dir));
    ASSERT_TRUE(m.apply());
  }
  const auto files = *loadMigrations(dir);
  append(files[3].path, "\n-- an edit after the fact\n");
  std::ofstream(dir / "20991231000000_add_probe.sql") << "create table public.probe_after (id int);\n";

  Migrator m(conn, *loadMigrations(dir));
  auto status = m.status();
  ASSERT_TRUE(status);
  EXPECT_EQ(countState(*status, MigrationState::kChanged), 1);
  EXPECT_EQ(countState(*status, MigrationState::kPending), 1);
  auto r = m.apply();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kCorrupt);
  EXPECT_NE(r.error().message.find(files[3].version), std::string::npos) << r.error().message;
  EXPECT_EQ(scalar("select to_regclass('public.probe_after') is null"), "t") << "nothing may run after a refusal";
}

TEST_F(Migrate, AFailingMigrationRollsBackAndIsNotRecorded) {
  const auto dir = copyMigrations();
  std::ofstream(dir / "20991231000000_half_done.sql") << "create table public.half_done (id int);\nselect 1/0;\n";
  auto conn = connect();
  Migrator m(conn, *loadMigrations(dir));
  auto r = m.apply();
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("half_done"), std::string::npos) << r.error().message;
  EXPECT_EQ(scalar("select to_regclass('public.half_done') is null"), "t");
  EXPECT_EQ(scalar("select count(*) from meta.schema_migrations"), "18") << "the good ones stay applied";
}

TEST_F(Migrate, WaitsForTheAdvisoryLock) {
  auto holder = connect();
  auto held = holder.query("select pg_advisory_lock($1)", {std::to_string(server::migrate::kMigrationLockKey)});
  ASSERT_TRUE(held) << held.error().message;

  auto conn = connect();
  Migrator m(conn, *loadMigrations(migrationsDir()));
  ApplyOptions quick;
  quick.lock_timeout = std::chrono::milliseconds(300);
  auto r = m.apply(quick);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kBusy);
  EXPECT_EQ(scalar("select to_regclass('public.users') is null"), "t");

  ASSERT_TRUE(holder.query("select pg_advisory_unlock($1)", {std::to_string(server::migrate::kMigrationLockKey)}));
  auto ok = m.apply(quick);
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->size(), 18u);
  EXPECT_EQ(scalar("select count(*) from pg_locks where locktype = 'advisory'"), "0") << "released after the run";
}

TEST_F(Migrate, CommandLineStatusAndApply) {
  const auto exe = (binaryDir() / "server" / "workmonitor-server").string();
  const std::string args = " --db '" + cluster_->conninfo(db_) + "' migrate --dir " + migrationsDir().string();
  std::string out;
  ASSERT_EQ(runCommand(exe + args + " --status", out), 0) << out;
  EXPECT_NE(out.find("18 migrations, 18 pending"), std::string::npos) << out;
  ASSERT_EQ(runCommand(exe + args, out), 0) << out;
  EXPECT_NE(out.find("applied 18 migration(s)"), std::string::npos) << out;
  ASSERT_EQ(runCommand(exe + args + " --status", out), 0) << out;
  EXPECT_NE(out.find("18 migrations, 0 pending"), std::string::npos) << out;
  EXPECT_NE(out.find("applied  20260102133909_fix_function_search_path_security"), std::string::npos) << out;
  ASSERT_EQ(runCommand(exe + " --db '" + cluster_->conninfo(db_) + "' verify-schema", out), 0) << out;
}

}  // namespace
}  // namespace wm::test
