// The workmonitor-server binary: refusals to start, the admin bootstrap commands, enrolment, profile, projects.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "server_test_env.h"

namespace wm::test {
namespace {

using nlohmann::json;

std::string serverBinary() { return (binaryDir() / "server" / "workmonitor-server").string(); }

class ServerStartupTest : public ServerTest {
 protected:
  // `serve` with a port that is never reached: every case here must exit before listening.
  int serve(const std::string& env, std::string& out) {
    return runCommand("env " + env + " timeout 20 " + serverBinary() + " serve --listen 127.0.0.1:1", out);
  }
  std::string appDb() { return "DATABASE_URL=\"" + cluster_->conninfo(db_, "workmonitor_app") + "\""; }
};

TEST_F(ServerStartupTest, RefusesUnsafeConfigurations) {
  std::string out;
  EXPECT_EQ(serve(appDb() + " JWT_SECRET=short", out), 2) << out;
  EXPECT_NE(out.find("at least 32 bytes"), std::string::npos) << out;
  EXPECT_EQ(serve(appDb() + " JWT_SECRET=workmonitor-secret-key-2024-change-in-production", out), 2) << out;
  EXPECT_NE(out.find("sample"), std::string::npos) << out;
  EXPECT_NE(serve(appDb() + " JWT_SECRET=" + kTestSecret + " JWT_ALGORITHM=RS256", out), 0) << out;
  EXPECT_NE(out.find("HS256"), std::string::npos) << out;
  const std::string su = "DATABASE_URL=\"" + cluster_->conninfo(db_, "postgres") + "\"";
  EXPECT_EQ(serve(su + " JWT_SECRET=" + kTestSecret, out), 2) << out;
  EXPECT_NE(out.find("superuser"), std::string::npos) << out;
  const std::string owner = "DATABASE_URL=\"" + cluster_->conninfo(db_, "workmonitor_owner") + "\"";
  EXPECT_EQ(serve(owner + " JWT_SECRET=" + kTestSecret, out), 2) << out;
  EXPECT_NE(out.find("BYPASSRLS"), std::string::npos) << out;
  EXPECT_NE(serve(appDb() + " JWT_SECRET=" + kTestSecret + " SIGNUP=yes", out), 0) << out;
  EXPECT_NE(out.find("SIGNUP must be disabled, first or open"), std::string::npos) << out;
  EXPECT_EQ(out.find(kTestSecret), std::string::npos) << "the secret must never be printed";
}

TEST_F(ServerStartupTest, ReadyzComparesTheDatabaseWithTheMigrationFiles) {
  // The fixture applied the files with psql (the report's way): no ledger, so nothing to compare.
  auto r = call("GET", "/readyz");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["migrations"], "unrecorded");
  // As `workmonitor-server migrate` records them (the ledger is the owner's; the server reads it through
  // auth.schema_version()).
  for (const auto& f : std::filesystem::directory_iterator(migrationsDir())) {
    const std::string name = f.path().filename().string();
    if (f.path().extension() == ".sql")
      scalar("insert into meta.schema_migrations (version, name, checksum) values ('" + name.substr(0, 14) + "', '" +
             name + "', 'x')");
  }
  r = call("GET", "/readyz");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["migrations"], "current");
  EXPECT_EQ(r.json()["schema_version"], "20260102133909");
  // A server given one more migration file than the database has applied is not ready.
  const auto dir = cluster_->socketDir() / "newer-migrations";
  std::filesystem::create_directories(dir);
  for (const auto& f : std::filesystem::directory_iterator(migrationsDir())) {
    if (f.path().extension() == ".sql") std::filesystem::copy_file(f.path(), dir / f.path().filename());
  }
  std::ofstream(dir / "29990101000000_future_change.sql") << "select 1;\n";
  auto c = config();
  c.migrations_dir = dir;
  startServer(c);
  r = call("GET", "/readyz");
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("migrations pending"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("29990101000000"), std::string::npos) << r.body;
}

TEST_F(ServerStartupTest, AdminBootstrapEnrolProfileProjects) {
  const std::string db = "--db \"" + cluster_->conninfo(db_, "postgres") + "\" ";
  std::string company, out;
  ASSERT_EQ(runCommand(serverBinary() + " " + db + "admin create-company 'Acme' 2>/dev/null", company), 0) << company;
  company.erase(company.find_last_not_of("\n") + 1);
  std::string admin, user;
  ASSERT_EQ(runCommand("echo 'admin password 1' | " + serverBinary() + " " + db + "admin create-user --company " +
                           company + " --email boss@acme.test --role admin --password-stdin --bcrypt-cost 4",
                       admin),
            0)
      << admin;
  ASSERT_EQ(runCommand("echo 'user password 1' | " + serverBinary() + " " + db + "admin create-user --company " +
                           company + " --email Emp@Acme.test --role employee --password-stdin --bcrypt-cost 4",
                       user),
            0)
      << user;
  user.erase(user.find_last_not_of("\n") + 1);
  auto r = call("POST", "/auth/login", json{{"email", "emp@acme.test"}, {"password", "user password 1"}}.dump());
  ASSERT_EQ(r.status, 200) << r.body;

  std::string tok;
  ASSERT_EQ(runCommand(serverBinary() + " " + db + "admin enrollment-token --company " + company + " --user " + user +
                           " 2>/dev/null",
                       tok),
            0)
      << tok;
  tok.erase(tok.find_last_not_of("\n") + 1);
  const json device{{"hostname", "pc-1"}, {"os", "linux"}, {"os_version", "12"}, {"agent_version", "0.1.0"}};
  auto e = call("POST", "/api/v1/agent/enroll", json{{"enrollment_token", tok}, {"device", device}}.dump());
  ASSERT_EQ(e.status, 200) << e.body;
  EXPECT_EQ(e.json()["user"]["user_id"], user);
  EXPECT_FALSE(e.json()["device_id"].get<std::string>().empty());
  // Single use.
  EXPECT_EQ(call("POST", "/api/v1/agent/enroll", json{{"enrollment_token", tok}, {"device", device}}.dump()).status,
            401);
  // A tampered token (another user id) finds nothing.
  std::string forged = tok;
  forged.replace(5 + 37, 36, admin_a_);
  EXPECT_EQ(call("POST", "/api/v1/agent/enroll", json{{"enrollment_token", forged}, {"device", device}}.dump()).status,
            401);
  // The device credential refreshes like any other.
  EXPECT_EQ(call("POST", "/auth/refresh", json{{"refresh_token", e.json()["refresh_token"]}}.dump()).status, 200);

  const std::string at = e.json()["access_token"];
  auto p = call("GET", "/api/v1/agent/profile", "", bearer(at));
  ASSERT_EQ(p.status, 200) << p.body;
  EXPECT_EQ(p.json()["settings"], json::object());
  scalar("insert into agent.config_profiles (company_id, name, body, is_default) values ('" + company +
         "', 'default', '{\"idle_threshold_s\": 120}', true)");
  p = call("GET", "/api/v1/agent/profile", "", bearer(at));
  ASSERT_EQ(p.status, 200);
  EXPECT_EQ(p.json()["settings"]["idle_threshold_s"], 120);
  const std::string etag = p.headers["etag"];
  ASSERT_FALSE(etag.empty());
  auto h = bearer(at);
  h["If-None-Match"] = etag;
  EXPECT_EQ(call("GET", "/api/v1/agent/profile", "", h).status, 304);
  scalar("update agent.config_profiles set body = '{\"idle_threshold_s\": 60}'");
  EXPECT_EQ(call("GET", "/api/v1/agent/profile", "", h).status, 200);

  scalar(
      "insert into public.projects (id, company_id, name) values "
      "('00000000-0000-4000-8000-000000000001', '" +
      company + "', 'Website')");
  scalar("insert into public.tasks (company_id, project_id, title) values ('" + company +
         "', '00000000-0000-4000-8000-000000000001', 'Design')");
  scalar("insert into public.projects (company_id, name) values ('" + company_b_ + "', 'Secret of B')");
  auto pr = call("GET", "/api/v1/agent/projects", "", bearer(at));
  ASSERT_EQ(pr.status, 200) << pr.body;
  ASSERT_EQ(pr.json()["projects"].size(), 1u) << pr.body;
  EXPECT_EQ(pr.json()["projects"][0]["name"], "Website");
  EXPECT_EQ(pr.json()["projects"][0]["tasks"][0]["name"], "Design");
}

}  // namespace
}  // namespace wm::test
