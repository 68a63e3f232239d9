// The stack end-to-end fixture, shared by the stack_e2e_tests sources: a private PostgreSQL 15 cluster with
// the migrations, the real workmonitor-server binary on a free loopback port (as the runtime role), and the
// real workmonitor-agent binary signed in through its CLI; faults (processes killed, the database restarted,
// a proxy cutting the network) and the ledgers that compare the agent's outbox with PostgreSQL.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "agent_process.h"
#include "tcp_proxy.h"
#include "test_util.h"
#include "workmonitor/agent/control_client.h"
#include "workmonitor/common/clock.h"
#include "workmonitor/server/db/connection.h"
#include "workmonitor/server/testing/pg_cluster.h"
#include "workmonitor/sync/outbox.h"
#include "workmonitor/sync/transport.h"
#include "xvfb_fixture.h"

extern char** environ;

namespace wm::stack_e2e {

using nlohmann::json;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

inline constexpr const char* kSecret = "e2e-secret-0123456789-abcdefghijklmnopqrstuvwxyz";
inline constexpr const char* kPassword = "correct horse battery";

using test::freePort;
using test::runShell;
using test::sh;

// The status code of GET path on 127.0.0.1:port, or -1 when nothing answers.
using test::httpStatus;

/// A child process with stdout/stderr appended to a log file; environment = ours plus `env`, minus `unset`.
class Child {
 public:
  Child(const std::vector<std::string>& argv, const fs::path& log, const std::map<std::string, std::string>& env,
        const std::set<std::string>& unset = {}) {
    std::vector<std::string> envs;
    for (char** e = environ; *e; ++e) {
      const std::string kv = *e;
      const std::string key = kv.substr(0, kv.find('='));
      if (!env.count(key) && !unset.count(key)) envs.push_back(kv);
    }
    for (const auto& [k, v] : env) envs.push_back(k + "=" + v);
    std::vector<char*> cargv, cenv;
    for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
    cargv.push_back(nullptr);
    for (const auto& e : envs) cenv.push_back(const_cast<char*>(e.c_str()));
    cenv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    if (posix_spawn(&pid_, cargv[0], &fa, nullptr, cargv.data(), cenv.data()) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&fa);
  }
  ~Child() { stop(SIGKILL); }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  bool running() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    return true;
  }
  /// Sends sig and reaps; returns the exit status (128 + signal when killed), -1 if it did not end in 15 s.
  int stop(int sig) {
    if (pid_ <= 0) return -1;
    ::kill(pid_, sig);
    int status = 0;
    const bool done = test::waitUntil([&] { return ::waitpid(pid_, &status, WNOHANG) == pid_; }, 15s);
    if (!done) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
    }
    pid_ = -1;
    if (!done) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

 private:
  pid_t pid_ = -1;
};

/// What a record id is on either side: its kind and revision.
using Ledger = std::map<std::string, std::pair<std::string, int64_t>>;

class StackE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("wm-stack-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    auto c = server::testing::PgCluster::start();
    ASSERT_TRUE(c) << c.error().message;
    cluster_ = std::move(*c);
    ASSERT_TRUE(cluster_->createDatabase("wm"));
    std::string out;
    ASSERT_EQ(runShell(std::string(WM_SERVER_BINARY) + " --db " + sh(cluster_->conninfo("wm")) + " migrate --dir " +
                           sh(std::string(WM_SOURCE_DIR) + "/migrations") + " 2>&1",
                       &out),
              0)
        << out;
    company_a_ = admin("admin create-company 'Company A'");
    company_b_ = admin("admin create-company 'Company B'");
    employee_ = addUser(company_a_, "emp@a.test", "employee");
    admin_a_ = addUser(company_a_, "admin@a.test", "admin");
    admin_b_ = addUser(company_b_, "admin@b.test", "admin");
    server_port_ = freePort();
    startServer();
    socket_ = dir_ / "run" / "agent.sock";
    writeConfig(json{{"idle_threshold_s", 2},
                     {"idle_decision_timeout_s", 2},
                     {"idle_default_decision", "discard_continue"},
                     {"heartbeat_s", 1},
                     {"pulse_s", 1}});
  }
  void TearDown() override {
    agent_.reset();
    server_.reset();
    proxy_.reset();
    x_.reset();
    cluster_.reset();
    if (!HasFailure()) fs::remove_all(dir_);  // kept for the logs when something failed
  }

  // --- the server ---
  std::string admin(const std::string& args, const std::string& stdin_text = "") {
    std::string out;
    const std::string cmd = (stdin_text.empty() ? "" : "printf '%s\\n' " + sh(stdin_text) + " | ") + WM_SERVER_BINARY +
                            " --db " + sh(cluster_->conninfo("wm")) + " " + args + " 2>>" +
                            sh((dir_ / "admin.log").string());
    EXPECT_EQ(runShell(cmd, &out), 0) << cmd << ": " << out;
    return out;
  }
  std::string addUser(const std::string& company, const std::string& email, const std::string& role) {
    // bcrypt cost 4: the tests sign in many times; the cost is the server's business, not what is tested here.
    return admin("admin create-user --company " + company + " --email " + email + " --role " + role +
                     " --full-name 'E2E " + role + "' --password-stdin --bcrypt-cost 4",
                 kPassword);
  }
  void startServer() {
    server_.reset();
    std::map<std::string, std::string> env{{"DATABASE_URL", cluster_->conninfo("wm", "workmonitor_app")},
                                           {"JWT_SECRET", kSecret},
                                           {"JWT_ALGORITHM", "HS256"},
                                           {"DB_POOL_SIZE", "4"},
                                           {"BACKEND_URL", "http://127.0.0.1:" + std::to_string(server_port_)}};
    for (const auto& [k, v] : server_env_) env[k] = v;
    server_ = std::make_unique<Child>(
        std::vector<std::string>{WM_SERVER_BINARY, "serve", "--listen", "127.0.0.1:" + std::to_string(server_port_),
                                 "--screenshot-dir", (dir_ / "shots").string(), "--migrations-dir",
                                 std::string(WM_SOURCE_DIR) + "/migrations"},
        dir_ / "server.log", env);
    ASSERT_GT(server_->pid(), 0);
    ASSERT_TRUE(
        test::waitUntil([&] { return httpStatus(server_port_, "/readyz") == 200 || !server_->running(); }, 20s, 50ms));
    ASSERT_EQ(httpStatus(server_port_, "/readyz"), 200) << "the server is not ready; see " << dir_ / "server.log";
  }

  // --- the agent ---
  void writeConfig(json j) { test::writeAgentConfig(dir_ / "agent.json", std::move(j)); }
  /// Starts the agent against url. Without a display unless the test runs an Xvfb session.
  void startAgent(const std::string& url) {
    agent_ = std::make_unique<Child>(
        std::vector<std::string>{WM_AGENT_BINARY, "--state-dir", (dir_ / "state").string(), "--socket",
                                 socket_.string(), "--config", (dir_ / "agent.json").string(), "run", "--server", url},
        dir_ / "agent.stderr", std::map<std::string, std::string>{},
        x_ ? std::set<std::string>{} : std::set<std::string>{"DISPLAY"});
    ASSERT_GT(agent_->pid(), 0);
    ASSERT_TRUE(test::waitUntil([&] { return agent::ControlClient::connect(socket_, Millis(500)).has_value(); }, 15s))
        << "the agent did not open its control socket";
  }
  json call(const std::string& cmd, const json& args = json::object()) { return test::callAgent(socket_, cmd, args); }
  /// `workmonitor-agent login` with the password on stdin, as a person would pipe it.
  void login() {
    std::string out;
    const std::string cmd = "printf '%s\\n' " + sh(kPassword) + " | " + WM_AGENT_BINARY + " --socket " +
                            sh(socket_.string()) + " login --email emp@a.test 2>&1";
    ASSERT_EQ(runShell(cmd, &out), 0) << out;
    EXPECT_NE(out.find("emp@a.test"), std::string::npos) << out;
  }
  /// Starts a sync job without waiting for it.
  void kickSync() { EXPECT_TRUE(call("sync").contains("job")); }
  /// `sync` until nothing is queued (a failed round is retried: after a fault the first ones may fail).
  void syncUntilDrained(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    json last;
    std::string last_error;
    while (std::chrono::steady_clock::now() < deadline) {
      auto c = agent::ControlClient::connect(socket_);
      ASSERT_TRUE(c);
      auto started = c->call("sync");
      ASSERT_TRUE(started) << started.error().message;
      const int64_t job = (*started)["job"];
      std::optional<Result<json>> done;
      while (!done && std::chrono::steady_clock::now() < deadline) {
        auto st = c->call("sync_job", {{"job", job}});
        if (!st || (*st).value("done", false)) {
          done = st;
          break;
        }
        std::this_thread::sleep_for(50ms);
      }
      if (done && *done) {
        last = (**done)["result"];
        if (last.value("pending", -1) == 0) {
          EXPECT_EQ(last.value("quarantined", -1), 0) << last.dump();
          return;
        }
      } else if (done) {
        last_error = done->error().message;
      }
      std::this_thread::sleep_for(200ms);
    }
    FAIL() << "the queue did not drain: " << last.dump() << " " << last_error << "; status "
           << call("status")["sync"].dump();
  }
  /// Everything in the agent's outbox, read after it exited (the outbox allows one connection).
  Ledger agentLedger(std::map<std::string, std::vector<api::Record>>* by_kind = nullptr) {
    ManualClock clock;
    sync::OutboxOptions o;
    o.path = dir_ / "state" / "outbox.db";
    auto ob = sync::Outbox::open(o, clock);
    EXPECT_TRUE(ob) << (ob ? "" : ob.error().message);
    if (!ob) return {};
    auto st = (*ob)->stats();
    EXPECT_TRUE(st && st->pending == 0 && st->quarantined == 0) << "everything was acknowledged";
    auto r = (*ob)->query(sync::RecordQuery{});
    EXPECT_TRUE(r);
    Ledger out;
    if (!r) return out;
    for (const auto& rec : *r) {
      auto& slot = out[rec.id];
      slot.first = api::kindName(rec.kind);
      slot.second = std::max(slot.second, rec.revision);
      if (by_kind) (*by_kind)[slot.first].push_back(rec);
    }
    return out;
  }

  // --- PostgreSQL ---
  server::db::Connection connect(const std::string& user = "postgres") {
    auto c = server::db::Connection::open(cluster_->conninfo("wm", user));
    if (!c) throw std::runtime_error(c.error().message);
    return std::move(*c);
  }
  long long count(const std::string& sql) {
    auto c = server::db::Connection::open(cluster_->conninfo("wm"));
    if (!c) return -1;  // the database may be restarting
    auto r = c->query(sql);
    return r && r->rows() ? r->asInt(0, 0) : -1;
  }
  /// The revision ledger of the employee's records as the owner sees it (RLS does not apply to superuser).
  Ledger serverLedger() {
    auto c = connect();
    auto r =
        c.query("select record_id::text, kind, revision from agent.record_revisions where user_id = $1", {employee_});
    EXPECT_TRUE(r) << (r ? "" : r.error().message);
    Ledger out;
    for (int i = 0; r && i < r->rows(); ++i)
      out[std::string(r->value(i, 0))] = {std::string(r->value(i, 1)), r->asInt(i, 2)};
    return out;
  }
  /// After recovery: every record the agent produced is in PostgreSQL once, at its latest revision, with its
  /// row in the kind's table, and nothing else is.
  void expectExactlyOnce(const Ledger& agent_side) {
    const Ledger server_side = serverLedger();
    EXPECT_EQ(server_side.size(), agent_side.size());
    size_t missing = 0, stale = 0;
    for (const auto& [id, kr] : agent_side) {
      auto it = server_side.find(id);
      if (it == server_side.end()) {
        ++missing;
      } else {
        EXPECT_EQ(it->second.first, kr.first) << id;
        if (it->second.second != kr.second) ++stale;
      }
    }
    EXPECT_EQ(missing, 0u) << "records the agent produced that never reached PostgreSQL";
    EXPECT_EQ(stale, 0u) << "records whose latest revision did not reach PostgreSQL";
    for (const auto& [id, kr] : server_side) EXPECT_TRUE(agent_side.count(id)) << "unknown record " << id;
    // One row per record in the kind's table.
    std::map<std::string, long long> per_kind;
    for (const auto& [id, kr] : agent_side) ++per_kind[kr.first];
    const std::map<std::string, std::string> table{{"time_entry", "public.time_entries"},
                                                   {"app_usage", "public.app_usage"},
                                                   {"idle_period", "public.idle_periods"},
                                                   {"break", "public.breaks"}};
    for (const auto& [kind, n] : per_kind) {
      if (!table.count(kind)) continue;
      EXPECT_EQ(count("select count(*) from " + table.at(kind) + " where user_id = '" + employee_ + "'"), n) << kind;
    }
  }
  /// One value of sql run as the server's runtime role, in a transaction carrying who's claims.
  long long countAs(const std::string& who, const std::string& role, const std::string& company,
                    const std::string& sql) {
    auto c = connect("workmonitor_app");
    auto tx = c.begin();
    EXPECT_TRUE(tx);
    const json claims{{"sub", who}, {"role", role}, {"company_id", company}, {"employment_type", "full_time"}};
    auto s = c.query("select set_config('request.jwt.claim.sub', $1, true), set_config('request.jwt.claims', $2, true)",
                     {who, claims.dump()});
    EXPECT_TRUE(s) << (s ? "" : s.error().message);
    auto r = c.query(sql);
    EXPECT_TRUE(r) << sql << ": " << (r ? "" : r.error().message);
    return r && r->rows() ? r->asInt(0, 0) : -1;
  }
  std::set<std::string> titlesAs(const std::string& who, const std::string& role, const std::string& company) {
    auto c = connect("workmonitor_app");
    auto tx = c.begin();
    const json claims{{"sub", who}, {"role", role}, {"company_id", company}, {"employment_type", "full_time"}};
    EXPECT_TRUE(
        c.query("select set_config('request.jwt.claim.sub', $1, true), set_config('request.jwt.claims', $2, true)",
                {who, claims.dump()}));
    auto r = c.query("select distinct window_title from public.app_usage where user_id = $1", {employee_});
    std::set<std::string> out;
    for (int i = 0; r && i < r->rows(); ++i) out.insert(std::string(r->value(i, 0)));
    return out;
  }

  // --- faults ---
  /// Agent → proxy → server; the proxy held, records queued, a sync started, and the server has committed at
  /// least one batch whose reply the agent never got: the window where a lost or doubled record would show.
  void queueManyAndHoldFirstReply() {
    proxy_ = std::make_unique<test::TcpProxy>(server_port_);
    startAgent("http://127.0.0.1:" + std::to_string(proxy_->port()));
    login();
    syncUntilDrained(20s);  // what sign-in produced is out of the way
    const int64_t acknowledged = call("status")["sync"].value("uploaded", int64_t{-1});
    proxy_->setMode(test::TcpProxy::Mode::kHoldReplies);
    // ~1,300 records (more than two 500-record batches): every start/stop cycle is one time entry, and its
    // stop a second revision of it.
    for (int i = 0; i < 650; ++i) {
      ASSERT_EQ(call("start", {{"note", "cycle " + std::to_string(i)}})["state"], "tracking");
      ASSERT_EQ(call("stop")["state"], "not_tracking");
    }
    kickSync();
    ASSERT_TRUE(test::waitUntil(
        [&] { return count("select count(*) from agent.record_revisions where user_id = '" + employee_ + "'") > 0; },
        30s, 10ms))
        << "no batch reached PostgreSQL";
    EXPECT_EQ(call("status")["sync"].value("uploaded", int64_t{-2}), acknowledged)
        << "the server's reply must not have reached the agent: that is the window under test";
  }
  /// SIGTERM (everything flushed), then the outbox is compared with PostgreSQL.
  void stopAgentAndCheck() {
    ASSERT_EQ(agent_->stop(SIGTERM), 0) << "clean shutdown";
    const Ledger ours = agentLedger();
    EXPECT_GE(ours.size(), 650u);
    expectExactlyOnce(ours);
  }
  void restartDatabase() {
    const std::string as_pg = ::geteuid() == 0 ? "runuser -u nobody -- " : "";
    const fs::path data = cluster_->socketDir() / "data";
    std::string out;
    ASSERT_EQ(runShell(as_pg + (cluster_->binDir() / "pg_ctl").string() + " -D " + data.string() + " -l " +
                           (cluster_->socketDir() / "server.log").string() + " -m fast -w -t 60 restart 2>&1",
                       &out),
              0)
        << out;
  }

  // --- the admin API ---
  /// One admin API request with admin@a.test's token (signed in on first use).
  sync::HttpResponse adminCall(const std::string& method, const std::string& path, const json& body = nullptr,
                               sync::Headers headers = {}) {
    if (!transport_) transport_ = sync::makeCurlTransport(sync::TransportOptions{});
    auto send = [&](const std::string& m, const std::string& p, const std::string& b, sync::Headers h) {
      sync::HttpRequest req;
      req.method = m;
      req.url = "http://127.0.0.1:" + std::to_string(server_port_) + p;
      req.body = b;
      h.emplace_back("Content-Type", "application/json");
      req.headers = std::move(h);
      auto r = transport_->send(req);
      EXPECT_TRUE(r) << m << " " << p << ": " << (r ? "" : r.error().message);
      return r ? *r : sync::HttpResponse{};
    };
    if (admin_token_.empty()) {
      auto r = send("POST", "/auth/login", json{{"email", "admin@a.test"}, {"password", kPassword}}.dump(), {});
      EXPECT_EQ(r.status, 200) << r.body;
      admin_token_ = json::parse(r.body, nullptr, false).value("access_token", "");
    }
    headers.emplace_back("Authorization", "Bearer " + admin_token_);
    return send(method, path, body.is_null() ? "" : body.dump(), std::move(headers));
  }

  fs::path dir_, socket_;
  std::unique_ptr<server::testing::PgCluster> cluster_;
  std::unique_ptr<test::XvfbSession> x_;
  std::unique_ptr<test::TcpProxy> proxy_;
  std::unique_ptr<Child> server_, agent_;
  uint16_t server_port_ = 0;
  std::map<std::string, std::string> server_env_;  // more of the server's environment (startServer())
  std::string company_a_, company_b_, employee_, admin_a_, admin_b_;
  std::unique_ptr<sync::HttpTransport> transport_;
  std::string admin_token_;
};

}  // namespace wm::stack_e2e
