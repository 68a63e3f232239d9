// workmonitor-server behind a real PgBouncer in transaction mode with ONE PostgreSQL backend: every request's
// claims are set with set_config(..., true) inside its own transaction, so requests of different users that
// PgBouncer interleaves on that single backend must never see (or write as) each other.
#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

#include "server_test_env.h"

namespace wm::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kPgBouncer = "/usr/sbin/pgbouncer";
// Only names the socket file: PgBouncer listens on a unix socket in the test's private directory, no TCP.
constexpr int kBouncerPort = 6432;
constexpr int kBatchesPerUser = 150;
constexpr int kRecordsPerBatch = 2;

using Rows = std::vector<std::map<std::string, std::string>>;

// The admin console speaks only the simple query protocol, so this goes through PQexec, not PQexecParams.
Rows simpleQuery(pg_conn* c, const std::string& sql) {
  Rows out;
  PGresult* r = PQexec(c, sql.c_str());
  if (PQresultStatus(r) == PGRES_TUPLES_OK) {
    for (int i = 0; i < PQntuples(r); ++i) {
      auto& row = out.emplace_back();
      for (int j = 0; j < PQnfields(r); ++j) row[PQfname(r, j)] = PQgetvalue(r, i, j);
    }
  } else {
    ADD_FAILURE() << sql << ": " << PQresultErrorMessage(r);
  }
  PQclear(r);
  return out;
}

std::string readText(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  std::string text = s.str();
  return text.size() > 3000 ? text.substr(text.size() - 3000) : text;
}

struct Uploader {
  Uploader(std::string e, std::string u, std::string c, std::string a)
      : email(std::move(e)), user_id(std::move(u)), company_id(std::move(c)), app(std::move(a)) {}
  std::string email, user_id, company_id, app;  // `app` tags every row this user uploads
  std::vector<json> batches;                    // prepared up front: the UUID generator is not thread-safe
  int batch_failures = 0, record_failures = 0, me_failures = 0;
  std::vector<std::string> first_errors;
  void note(std::string e) {
    if (first_errors.size() < 5) first_errors.push_back(std::move(e));
  }
};

class ServerPgBouncerTest : public ServerTest {
 protected:
  void SetUp() override {
    ServerTest::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_TRUE(std::filesystem::exists(kPgBouncer)) << "no " << kPgBouncer << " (apt-get install pgbouncer)";
    startPgBouncer();
    if (HasFatalFailure()) return;
    // The fixture's server talks to PostgreSQL directly; replace it with one whose pool goes through PgBouncer.
    // Its direct backends end asynchronously: wait for them, so the one-backend checks count only PgBouncer's.
    server_.reset();
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (scalar("select count(*) from pg_stat_activity where usename = 'workmonitor_app'") != "0") {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the direct server's backends did not go away";
      std::this_thread::sleep_for(20ms);
    }
    auto c = config();
    c.database = "host=" + bouncer_dir_.string() + " port=" + std::to_string(kBouncerPort) +
                 " dbname=wm user=workmonitor_app connect_timeout=5";
    c.pool_size = 4;
    c.threads = 4;
    c.transaction_pooling = true;  // what PGBOUNCER_URL sets: unnamed statements, no session settings
    startServer(c);
  }

  void TearDown() override {
    server_.reset();  // its connections close before PgBouncer goes away
    stopPgBouncer();
    ServerTest::TearDown();
  }

  void startPgBouncer() {
    // PgBouncer refuses to run as root, like PostgreSQL; the cluster's directory already belongs to `nobody`.
    bouncer_dir_ = cluster_->socketDir() / "pgbouncer";
    std::filesystem::create_directories(bouncer_dir_);
    const auto ini = bouncer_dir_ / "pgbouncer.ini";
    const auto users = bouncer_dir_ / "userlist.txt";
    {
      std::ofstream out(ini);
      out << "[databases]\n"
          << "wm = host=" << cluster_->socketDir().string() << " port=" << cluster_->port() << " dbname=wm\n"
          << "[pgbouncer]\n"
          << "unix_socket_dir = " << bouncer_dir_.string() << "\n"
          << "listen_port = " << kBouncerPort << "\n"
          << "auth_type = trust\n"
          << "auth_file = " << users.string() << "\n"
          << "admin_users = pgbouncer\n"
          << "pool_mode = transaction\n"
          // One backend for everything, so every interleaving of users really shares it.
          << "default_pool_size = 1\nmin_pool_size = 0\nreserve_pool_size = 0\nmax_db_connections = 1\n"
          << "max_client_conn = 50\n"
          // Recycling the backend mid-test would be harmless, but would muddle the one-backend check.
          << "server_lifetime = 3600\nserver_idle_timeout = 3600\n"
          << "logfile = " << (bouncer_dir_ / "pgbouncer.log").string() << "\n"
          << "pidfile = " << (bouncer_dir_ / "pgbouncer.pid").string() << "\n";
    }
    {
      // auth_type=trust still requires the user names to be listed.
      std::ofstream out(users);
      out << "\"workmonitor_app\" \"\"\n\"postgres\" \"\"\n\"pgbouncer\" \"\"\n";
    }
    uid_t uid = getuid();
    gid_t gid = getgid();
    if (geteuid() == 0) {
      const passwd* pw = getpwnam("nobody");
      ASSERT_NE(pw, nullptr);
      uid = pw->pw_uid;
      gid = pw->pw_gid;
      for (const auto& p : {bouncer_dir_, ini, users}) ASSERT_EQ(chown(p.c_str(), uid, gid), 0) << p;
    }
    const std::string stderr_path = (bouncer_dir_ / "stderr.log").string();
    const int err_fd = open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    ASSERT_GE(err_fd, 0);
    const std::string ini_path = ini.string();
    char* const argv[] = {const_cast<char*>(kPgBouncer), const_cast<char*>(ini_path.c_str()), nullptr};
    const bool drop = geteuid() == 0;
    // Fork from a process that already runs server threads: the child only makes async-signal-safe calls.
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      dup2(err_fd, 1);
      dup2(err_fd, 2);
      if (drop && (setgroups(0, nullptr) != 0 || setgid(gid) != 0 || setuid(uid) != 0)) _exit(126);
      execv(kPgBouncer, argv);
      _exit(127);
    }
    close(err_fd);
    bouncer_pid_ = pid;
    // Ready when the admin console answers; give up after 15 s with PgBouncer's own words.
    const auto deadline = std::chrono::steady_clock::now() + 15s;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (waitpid(bouncer_pid_, &status, WNOHANG) == bouncer_pid_) {
        bouncer_pid_ = -1;
        FAIL() << "pgbouncer exited: " << readText(stderr_path) << readText(bouncer_dir_ / "pgbouncer.log");
      }
      if (admin()) return;
      std::this_thread::sleep_for(50ms);
    }
    FAIL() << "pgbouncer did not accept connections: " << readText(bouncer_dir_ / "pgbouncer.log");
  }

  void stopPgBouncer() {
    if (bouncer_pid_ <= 0) return;
    kill(bouncer_pid_, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    int status = 0;
    while (waitpid(bouncer_pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        kill(bouncer_pid_, SIGKILL);
        waitpid(bouncer_pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(20ms);
    }
    bouncer_pid_ = -1;
  }

  /// A connection to PgBouncer's admin console, or nullopt while it is not up.
  std::optional<server::db::Connection> admin() {
    auto c = server::db::Connection::open("host=" + bouncer_dir_.string() + " port=" + std::to_string(kBouncerPort) +
                                          " dbname=pgbouncer user=pgbouncer connect_timeout=2");
    if (!c) return std::nullopt;
    return std::move(*c);
  }

  /// Rows visible to `user` through the runtime role with their claims, directly on PostgreSQL.
  Rows queryAs(const std::string& user, const std::string& sql) {
    auto conn = connect("workmonitor_app");
    EXPECT_TRUE(conn.exec("begin"));
    EXPECT_TRUE(conn.query("select set_config('request.jwt.claim.sub', $1, true)", {user}));
    return simpleQuery(conn.native(), sql);
  }

  void upload(Uploader& u) {
    auto login_reply = login(u.email);
    if (login_reply.status != 200) {
      u.note("login: " + std::to_string(login_reply.status) + " " + login_reply.body);
      ++u.batch_failures;
      return;
    }
    const std::string tok = login_reply.json().value("access_token", "");
    for (const auto& records : u.batches) {
      auto r = postBatch(tok, records);
      const json body = r.json();
      if (r.status != 200 || !body.contains("results") || body["results"].size() != records.size()) {
        ++u.batch_failures;
        u.note("batch: " + std::to_string(r.status) + " " + r.body);
      } else {
        for (size_t i = 0; i < records.size(); ++i) {
          const auto& res = body["results"][i];
          if (res.value("id", "") != records[i]["id"].get<std::string>() || res.value("status", "") != "stored") {
            ++u.record_failures;
            u.note("record: " + res.dump());
          }
        }
      }
      // Read under the claims in force: RLS hides the caller's row if another company's claims leaked in.
      auto me = call("GET", "/auth/me", "", bearer(tok));
      const json mj = me.json();
      const json user = mj.is_object() && mj.contains("user") ? mj["user"] : mj;
      if (me.status != 200 || !user.is_object() || user.value("user_id", "") != u.user_id ||
          user.value("company_id", "") != u.company_id) {
        ++u.me_failures;
        u.note("me: " + std::to_string(me.status) + " " + me.body);
      }
    }
  }

  std::filesystem::path bouncer_dir_;
  pid_t bouncer_pid_ = -1;
};

TEST_F(ServerPgBouncerTest, InterleavedUsersOnOneBackendNeverSeeEachOther) {
  const std::string bob = addUser(company_a_, "bob@a.test", "employee");
  const std::string carol = addUser(company_b_, "carol@b.test", "employee");
  // Two employees of one company and one of another: a leak across users and across companies both show.
  std::vector<Uploader> ups{{"alice@a.test", user_a_, company_a_, "app-alice"},
                            {"bob@a.test", bob, company_a_, "app-bob"},
                            {"carol@b.test", carol, company_b_, "app-carol"}};
  const long long t0 = nowMs() - 3600 * 1000;
  for (auto& u : ups) {
    for (int b = 0; b < kBatchesPerUser; ++b) {
      json recs = json::array();
      for (int k = 0; k < kRecordsPerBatch; ++k) {
        const long long t = t0 + (b * kRecordsPerBatch + k) * 1000LL;
        recs.push_back(makeRecord("app_usage", t, t + 500, {{"app", u.app}, {"title", u.email}}));
      }
      u.batches.push_back(std::move(recs));
    }
  }

  // Samples PostgreSQL's backends of the runtime role while the run goes on: PgBouncer must never open a second.
  std::atomic<bool> done{false};
  std::atomic<int> max_backends{0};
  std::thread sampler([&] {
    auto opened = server::db::Connection::open(cluster_->conninfo(db_));
    if (!opened) {
      max_backends = -1;  // reported below as a failure, not thrown across the thread
      return;
    }
    auto& conn = *opened;
    while (!done) {
      auto r = conn.query("select count(*) from pg_stat_activity where usename = 'workmonitor_app'");
      if (r) max_backends = std::max(max_backends.load(), static_cast<int>(r->asInt(0, 0)));
      std::this_thread::sleep_for(10ms);
    }
  });

  const auto started = std::chrono::steady_clock::now();
  {
    std::vector<std::jthread> threads;
    for (auto& u : ups) threads.emplace_back([&] { upload(u); });
  }
  done = true;
  sampler.join();
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  std::cout << "[ pgbouncer ] " << ups.size() * kBatchesPerUser << " batches + /auth/me in " << took.count() << " ms\n";

  for (const auto& u : ups) {
    std::string errs;
    for (const auto& e : u.first_errors) errs += "\n  " + e;
    EXPECT_EQ(u.batch_failures, 0) << u.email << errs;
    EXPECT_EQ(u.record_failures, 0) << u.email << errs;
    EXPECT_EQ(u.me_failures, 0) << u.email << errs;
  }

  // PgBouncer really multiplexed: several server connections (clients), one backend, all the transactions.
  auto console = admin();
  ASSERT_TRUE(console) << readText(bouncer_dir_ / "pgbouncer.log");
  int clients = 0, servers = 0;
  for (auto& row : simpleQuery(console->native(), "SHOW CLIENTS")) {
    if (row["database"] == "wm" && row["user"] == "workmonitor_app") ++clients;
  }
  for (auto& row : simpleQuery(console->native(), "SHOW SERVERS")) {
    if (row["database"] == "wm") ++servers;
  }
  long long xacts = 0;
  for (auto& row : simpleQuery(console->native(), "SHOW STATS")) {
    if (row["database"] == "wm") xacts = std::stoll(row["total_xact_count"]);
  }
  EXPECT_GE(clients, 2) << "the server's pool should hold several client connections to PgBouncer";
  EXPECT_EQ(servers, 1);
  EXPECT_GE(xacts, static_cast<long long>(ups.size()) * kBatchesPerUser * 2);
  EXPECT_EQ(max_backends.load(), 1);
  EXPECT_EQ(scalar("select count(*) from pg_stat_activity where usename = 'workmonitor_app'"), "1");

  // As the owner: every row carries the user and company of the token that uploaded it.
  const std::string expected = std::to_string(kBatchesPerUser * kRecordsPerBatch);
  for (const auto& u : ups) {
    EXPECT_EQ(scalar("select count(*) from public.app_usage where app_name = '" + u.app + "'"), expected) << u.email;
    EXPECT_EQ(scalar("select count(*) from public.app_usage where app_name = '" + u.app + "' and (user_id <> '" +
                     u.user_id + "' or company_id <> '" + u.company_id + "')"),
              "0")
        << u.email;
    EXPECT_EQ(scalar("select count(*) from agent.record_revisions r join public.app_usage a on a.id = r.record_id "
                     "where a.app_name = '" +
                     u.app + "' and r.user_id = '" + u.user_id + "'"),
              expected)
        << u.email;
  }
  EXPECT_EQ(scalar("select count(*) from public.app_usage"), std::to_string(ups.size() * kBatchesPerUser * 2));

  // As the runtime role with each user's claims: only their own rows are visible.
  for (const auto& u : ups) {
    auto rows =
        queryAs(u.user_id, "select app_name, user_id::text as u, count(*) as n from public.app_usage group by 1, 2");
    ASSERT_EQ(rows.size(), 1u) << u.email;
    EXPECT_EQ(rows[0]["app_name"], u.app);
    EXPECT_EQ(rows[0]["u"], u.user_id);
    EXPECT_EQ(rows[0]["n"], expected);
    auto revs = queryAs(u.user_id, "select count(*) as n, count(*) filter (where user_id::text <> '" + u.user_id +
                                       "') as other from agent.record_revisions");
    ASSERT_EQ(revs.size(), 1u);
    EXPECT_EQ(revs[0]["n"], expected) << u.email;
    EXPECT_EQ(revs[0]["other"], "0") << u.email;
  }
}

}  // namespace
}  // namespace wm::test
