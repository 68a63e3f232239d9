// `workmonitor-server setup` on a brand-new PostgreSQL 15 cluster, as the server package's README tells an
// admin to run it: it creates the database and the roles, sets the runtime role's password, applies the
// migrations and verifies the schema; a second run changes nothing; a new password is set; a weak password
// or a caller who is not a superuser is refused before anything changes.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "pg_test_env.h"

namespace wm::test {
namespace {

std::string serverBinary() { return (binaryDir() / "server" / "workmonitor-server").string(); }

class ServerSetupTest : public PgTest {
 protected:
  // A database that does not exist yet: setup creates it.
  const std::string target_ = "workmonitor";

  int setup(const std::string& password, std::string& out, const std::string& user = "postgres") {
    const auto file = cluster_->socketDir() / "app-password";
    std::ofstream(file) << password << "\n";
    return runCommand(serverBinary() + " --db \"" + cluster_->conninfo(target_, user) + "\" setup --dir " +
                          migrationsDir().string() + " --app-password-file " + file.string() + " --app-host " +
                          cluster_->socketDir().string(),
                      out);
  }
  std::string onTarget(const std::string& sql) {
    auto c = server::db::Connection::open(cluster_->conninfo(target_));
    if (!c) return "no connection: " + c.error().message;
    auto r = c->query(sql);
    if (!r) return "error: " + r.error().message;
    return r->rows() ? std::string(r->value(0, 0)) : std::string();
  }
  static std::string databaseUrl(const std::string& out) {
    const auto at = out.find("DATABASE_URL=");
    if (at == std::string::npos) return {};
    const auto end = out.find('\n', at);
    return out.substr(at + 13, end == std::string::npos ? std::string::npos : end - at - 13);
  }
};

TEST_F(ServerSetupTest, ReadiesAFreshClusterAndASecondRunChangesNothing) {
  std::string out;
  ASSERT_EQ(setup("a-long-enough-password/+1", out), 0) << out;
  EXPECT_NE(out.find("created database workmonitor"), std::string::npos) << out;
  EXPECT_NE(out.find("set the password of workmonitor_app"), std::string::npos) << out;
  EXPECT_NE(out.find("applied 18 migration(s)"), std::string::npos) << out;
  EXPECT_NE(out.find("verify-schema: all"), std::string::npos) << out;
  EXPECT_EQ(onTarget("select count(*) from meta.schema_migrations"), "18");
  EXPECT_EQ(onTarget("select rolbypassrls::text || rolsuper::text from pg_roles where rolname = 'workmonitor_app'"),
            "falsefalse");

  // The printed URL is what the server's environment file gets: it names the runtime role, the password
  // percent-encoded, and the new database, and it connects.
  const std::string url = databaseUrl(out);
  ASSERT_TRUE(url.starts_with("postgresql://workmonitor_app:a-long-enough-password%2F%2B1@")) << out;
  EXPECT_TRUE(url.ends_with("/workmonitor")) << url;
  auto app = server::db::Connection::open(url);
  ASSERT_TRUE(app) << app.error().message;
  auto who = app->query("select current_user");
  ASSERT_TRUE(who);
  EXPECT_EQ(std::string(who->value(0, 0)), "workmonitor_app");

  ASSERT_EQ(setup("a-long-enough-password/+1", out), 0) << out;
  EXPECT_NE(out.find("Nothing changed"), std::string::npos) << out;
  EXPECT_EQ(out.find("  changed: "), std::string::npos) << out;

  ASSERT_EQ(setup("another-password-entirely", out), 0) << out;
  EXPECT_NE(out.find("changed: set the password of workmonitor_app"), std::string::npos) << out;
  EXPECT_EQ(out.find("migration(s)"), std::string::npos) << out;
}

TEST_F(ServerSetupTest, AWeakPasswordOrANonSuperuserIsRefusedBeforeAnythingChanges) {
  std::string out;
  EXPECT_EQ(setup("short", out), 1) << out;
  EXPECT_NE(out.find("at least 12 characters"), std::string::npos) << out;
  EXPECT_EQ(scalar("select count(*) from pg_database where datname = 'workmonitor'"), "0");

  ASSERT_TRUE(cluster_->createDatabase(target_));
  auto su = connect();
  ASSERT_TRUE(su.exec("create role plain login"));
  EXPECT_EQ(setup("a-long-enough-password", out, "plain"), 1) << out;
  EXPECT_NE(out.find("connect as a superuser"), std::string::npos) << out;
  EXPECT_EQ(onTarget("select count(*) from pg_roles where rolname = 'workmonitor_app'"), "0");
  EXPECT_EQ(onTarget("select count(*) from information_schema.schemata where schema_name = 'meta'"), "0");
}

}  // namespace
}  // namespace wm::test
