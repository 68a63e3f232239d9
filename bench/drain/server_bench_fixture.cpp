#include "server_bench_fixture.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>

#include <nlohmann/json.hpp>

#include "workmonitor/common/clock.h"
#include "workmonitor/common/uuid.h"
#include "workmonitor/server/http/crypto.h"

namespace wm::bench {

using server::db::Connection;
using server::db::Param;

void die(const std::string& what) { throw BenchFailure{what}; }

void must(Result<void> r, const char* what) {
  if (!r) die(std::string(what) + ": " + r.error().message);
}

double seconds(std::chrono::steady_clock::duration d) { return std::chrono::duration<double>(d).count(); }

namespace {

std::filesystem::path migrationsDir() {
  const char* src = std::getenv("WM_SOURCE_DIR");
  return std::filesystem::path(src ? src : WM_SOURCE_DIR_FALLBACK) / "migrations";
}

std::string scalar(Connection& c, const std::string& sql, const std::vector<Param>& params = {}) {
  auto r = must(c.query(sql, params), "seed");
  return std::string(r.value(0, 0));
}

}  // namespace

BenchStack::BenchStack(int users, const char* name) {
  cluster_ = must(server::testing::PgCluster::start(), "start PostgreSQL");
  must(cluster_->createDatabase("tpl"), "create database");
  must(cluster_->applyWithPsql("tpl", migrationsDir()), "migrations");
  auto super = connectSuper("tpl");
  company_ = scalar(super, "insert into public.companies (name) values ($1) returning id", {std::string(name)});
  // Cost 4 is what `admin create-user --bcrypt-cost 4` would use: sign-in speed is not what is measured.
  const std::string hash = must(server::http::bcryptHash(kPassword, 4), "bcrypt");
  for (int i = 0; i < users; ++i) {
    BenchUser u;
    u.email = "agent" + std::to_string(i) + "@bench.test";
    u.id = scalar(super,
                  "insert into public.users (company_id, email, full_name, role) values ($1, $2, $3, 'employee') "
                  "returning user_id",
                  {company_, u.email, "Agent " + std::to_string(i)});
    must(super.query("insert into auth.credentials (user_id, password_hash) values ($1, $2)", {u.id, hash}),
         "credential");
    // The server stores monitoring records only under the person's grant (issue 15).
    must(super.query("insert into public.consent_audit_log (company_id, user_id, consent_type, action, created_at) "
                     "select $1::uuid, $2::uuid, c, 'granted', '2000-01-02' from unnest(array['app_usage', "
                     "'website_usage', 'screenshots', 'activity', 'usb']) as c",
                     {company_, u.id}),
         "consent");
    users_.push_back(std::move(u));
  }
}

std::string BenchStack::cloneDatabase(const std::string& name) {
  must(cluster_->createDatabase(name, "tpl"), "clone database");
  auto super = connectSuper(name);
  must(super.exec("analyze"), "analyze");
  return name;
}

std::unique_ptr<server::http::HttpServer> BenchStack::startServer(const std::string& database, int threads, int pool) {
  server::http::ServerConfig c;
  c.database = cluster_->conninfo(database, "workmonitor_app");
  c.pool_size = pool;
  c.threads = threads;
  c.jwt_secret = kJwtSecret;
  c.listen_host = "127.0.0.1";
  c.listen_port = 0;
  c.screenshot_dir = cluster_->socketDir() / "shots";
  c.migrations_dir = migrationsDir();
  // Many simulated agents sign in from one address within seconds.
  c.login_attempts_per_address = 1'000'000;
  // The benches measure throughput from one address at rates past what one agent ever sends: no upload limits.
  c.batches_limit = {0, 0, std::chrono::seconds(60)};
  c.screenshots_limit = {0, 0, std::chrono::seconds(60)};
  return must(server::http::HttpServer::start(c), "start workmonitor-server");
}

Connection BenchStack::connectApp(const std::string& database) {
  return must(Connection::open(cluster_->conninfo(database, "workmonitor_app")), "connect as workmonitor_app");
}

Connection BenchStack::connectSuper(const std::string& database) {
  return must(Connection::open(cluster_->conninfo(database)), "connect as superuser");
}

std::vector<api::Record> makeRecords(size_t n, uint64_t seed) {
  SystemClock clock;
  UuidV7Generator ids(clock);
  std::mt19937_64 rng(seed);
  static const char* kApps[][3] = {
      {"firefox", "/usr/lib/firefox/firefox", "Quarterly report - Google Docs - Mozilla Firefox"},
      {"code", "/usr/share/code/code", "sync_engine.cpp - workmonitor - Visual Studio Code"},
      {"gnome-terminal", "/usr/bin/gnome-terminal", "build@host: ~/src/workmonitor"},
      {"libreoffice", "/usr/lib/libreoffice/program/soffice.bin", "Invoice 2025-11.ods - LibreOffice Calc"},
      {"slack", "/usr/lib/slack/slack", "#engineering | Acme - Slack"},
      {"thunderbird", "/usr/lib/thunderbird/thunderbird", "Inbox - Thunderbird"}};
  static const char* kSites[][2] = {{"github.com", "https://github.com/acme/workmonitor/pull/"},
                                    {"docs.google.com", "https://docs.google.com/document/d/"},
                                    {"mail.google.com", "https://mail.google.com/mail/u/0/#inbox/"},
                                    {"stackoverflow.com", "https://stackoverflow.com/questions/"}};
  std::vector<api::Record> out;
  out.reserve(n);
  // Records are a few seconds apart and all in the past (the server refuses times a day in the future).
  int64_t t = toUnixMs(clock.wall()) - static_cast<int64_t>(n) * 6'000;
  for (size_t i = 0; i < n; ++i) {
    api::Record r;
    r.id = ids.next();
    r.revision = 1 + static_cast<int64_t>(rng() % 3);
    r.start_ms = t;
    const int roll = static_cast<int>(rng() % 100);
    const int64_t len = 1'000 + static_cast<int64_t>(rng() % 4'000);
    r.end_ms = t + len;
    r.duration_ms = len;
    if (roll < 55) {
      const auto& a = kApps[rng() % 6];
      r.kind = api::RecordKind::kAppUsage;
      r.data = {{"app", a[0]},
                {"exe_path", a[1]},
                {"title", std::string(a[2]) + " (" + std::to_string(rng() % 1000) + ")"},
                {"wm_class", a[0]},
                {"pid", 1000 + rng() % 30000}};
    } else if (roll < 70) {
      r.kind = api::RecordKind::kActivity;
      r.data = {{"keystrokes", rng() % 400}, {"mouse_events", rng() % 900}, {"active_ms", len - 100}};
    } else if (roll < 82) {
      const auto& s = kSites[rng() % 4];
      r.kind = api::RecordKind::kWebsiteUsage;
      r.data = {{"domain", s[0]},
                {"url", s[1] + std::to_string(rng() % 100000)},
                {"title", std::string("Page ") + std::to_string(rng() % 1000) + " - " + s[0]},
                {"browser", "firefox"}};
    } else if (roll < 90) {
      r.kind = api::RecordKind::kTimeEntry;
      r.data = {{"source", "timer"}, {"note", "Ticket WM-" + std::to_string(rng() % 5000)}};
    } else if (roll < 95) {
      r.kind = api::RecordKind::kIdlePeriod;
      static const char* kDecisions[] = {"keep", "discard", "discard_continue"};
      r.data = {{"decision", kDecisions[rng() % 3]}};
    } else {
      r.kind = api::RecordKind::kBreak;
      static const char* kTypes[] = {"rest", "meal", "other"};
      r.data = {{"break_type", kTypes[rng() % 3]}, {"note", "coffee"}};
    }
    out.push_back(std::move(r));
    t += 6'000;
  }
  return out;
}

std::string claimsJson(const BenchUser& user, const std::string& company) {
  return nlohmann::json{{"sub", user.id}, {"role", "employee"}, {"company_id", company}, {"email", user.email}}.dump();
}

namespace {

#define WM_TS "'epoch'::timestamptz + $%d::bigint * interval '1 millisecond'"

// One kind's table: its columns after (id, company_id, user_id), their SQL expressions ('%d' is the
// parameter number) and how a record fills them. The values are those the server stores.
struct KindTable {
  const char* table;
  const char* columns;
  std::vector<const char*> exprs;
  std::vector<Param> (*values)(const api::Record&);
};

std::string str(const nlohmann::json& d, const char* key) {
  auto it = d.find(key);
  return it != d.end() && it->is_string() ? it->get<std::string>() : std::string();
}
std::string num(const nlohmann::json& d, const char* key) {
  auto it = d.find(key);
  return it != d.end() && it->is_number_integer() ? std::to_string(it->get<long long>()) : "0";
}
std::string details(const nlohmann::json& d, std::initializer_list<const char*> columns) {
  nlohmann::json rest = d;
  for (const char* c : columns) rest.erase(c);
  return rest.dump();
}

const std::map<api::RecordKind, KindTable>& kindTables() {
  static const std::map<api::RecordKind, KindTable> k{
      {api::RecordKind::kAppUsage,
       {"app_usage",
        "started_at, ended_at, duration_ms, app_name, exe_path, window_title, details",
        {WM_TS, WM_TS, "$%d::bigint", "$%d", "$%d", "$%d", "$%d::jsonb"},
        [](const api::Record& r) -> std::vector<Param> {
          return {std::to_string(r.start_ms),
                  std::to_string(*r.end_ms),
                  std::to_string(r.duration_ms),
                  str(r.data, "app"),
                  str(r.data, "exe_path"),
                  str(r.data, "title"),
                  details(r.data, {"app", "exe_path", "title"})};
        }}},
      {api::RecordKind::kActivity,
       {"activity_logs",
        "started_at, ended_at, keystrokes, mouse_events, active_ms",
        {WM_TS, WM_TS, "$%d::integer", "$%d::integer", "$%d::bigint"},
        [](const api::Record& r) -> std::vector<Param> {
          return {std::to_string(r.start_ms), std::to_string(*r.end_ms), num(r.data, "keystrokes"),
                  num(r.data, "mouse_events"), num(r.data, "active_ms")};
        }}},
      {api::RecordKind::kWebsiteUsage,
       {"website_usage",
        "started_at, ended_at, duration_ms, domain, url, title, browser, details",
        {WM_TS, WM_TS, "$%d::bigint", "$%d", "$%d", "$%d", "$%d", "$%d::jsonb"},
        [](const api::Record& r) -> std::vector<Param> {
          return {std::to_string(r.start_ms),
                  std::to_string(*r.end_ms),
                  std::to_string(r.duration_ms),
                  str(r.data, "domain"),
                  str(r.data, "url"),
                  str(r.data, "title"),
                  str(r.data, "browser"),
                  details(r.data, {"domain", "url", "title", "browser"})};
        }}},
      {api::RecordKind::kTimeEntry,
       {"time_entries",
        "start_time, end_time, duration_ms, source, note",
        {WM_TS, WM_TS, "$%d::bigint", "$%d", "$%d"},
        [](const api::Record& r) -> std::vector<Param> {
          // The agent's "timer" is a source the table knows; the server keeps it.
          return {std::to_string(r.start_ms), std::to_string(*r.end_ms), std::to_string(r.duration_ms),
                  str(r.data, "source"), str(r.data, "note")};
        }}},
      {api::RecordKind::kIdlePeriod,
       {"idle_periods",
        "started_at, ended_at, duration_ms, decision, decided_at",
        {WM_TS, WM_TS, "$%d::bigint", "$%d", "now() + $%d::interval"},
        [](const api::Record& r) -> std::vector<Param> {
          const std::string d = str(r.data, "decision");
          return {std::to_string(r.start_ms), std::to_string(*r.end_ms), std::to_string(r.duration_ms),
                  d == "keep" ? "kept" : "discarded", "0 s"};
        }}},
      {api::RecordKind::kBreak,
       {"breaks",
        "started_at, ended_at, duration_ms, break_type, note",
        {WM_TS, WM_TS, "$%d::bigint", "$%d", "$%d"},
        [](const api::Record& r) -> std::vector<Param> {
          return {std::to_string(r.start_ms), std::to_string(*r.end_ms), std::to_string(r.duration_ms),
                  str(r.data, "break_type"), str(r.data, "note")};
        }}},
  };
  return k;
}

std::string expr(const char* pattern, int n) {
  char buf[128];
  std::snprintf(buf, sizeof buf, pattern, n, n);
  return buf;
}

}  // namespace

size_t insertDirect(Connection& conn, const BenchUser& user, const std::string& company,
                    const std::vector<api::Record>& records, size_t rows) {
  const std::string claims = claimsJson(user, company);
  std::map<api::RecordKind, std::vector<const api::Record*>> by_kind;
  for (const auto& r : records) by_kind[r.kind].push_back(&r);
  size_t transactions = 0;
  for (const auto& [kind, list] : by_kind) {
    const auto t = kindTables().find(kind);
    if (t == kindTables().end()) die("no baseline table for a record kind");
    const KindTable& kt = t->second;
    for (size_t from = 0; from < list.size(); from += rows) {
      const size_t to = std::min(list.size(), from + rows);
      std::string ledger =
          "insert into agent.record_revisions (record_id, company_id, user_id, kind, revision) values ";
      std::string table =
          std::string("insert into public.") + kt.table + " (id, company_id, user_id, " + kt.columns + ") values ";
      std::vector<Param> lp, tp;
      for (size_t i = from; i < to; ++i) {
        const api::Record& r = *list[i];
        const int l = static_cast<int>(lp.size());
        ledger += (i == from ? "" : ",") + expr("($%d::uuid, ", l + 1) + expr("$%d::uuid, ", l + 2) +
                  expr("$%d::uuid, ", l + 3) + expr("$%d, ", l + 4) + expr("$%d::bigint)", l + 5);
        lp.insert(lp.end(), {r.id, company, user.id, std::string(api::kindName(r.kind)), std::to_string(r.revision)});
        int p = static_cast<int>(tp.size());
        table += (i == from ? "(" : ",(") + expr("$%d::uuid, ", p + 1) + expr("$%d::uuid, ", p + 2) +
                 expr("$%d::uuid", p + 3);
        tp.insert(tp.end(), {r.id, company, user.id});
        p += 3;
        for (const char* e : kt.exprs) table += ", " + expr(e, ++p);
        table += ")";
        auto v = kt.values(r);
        tp.insert(tp.end(), v.begin(), v.end());
      }
      must(conn.exec("begin"), "begin");
      must(conn.query("select set_config('request.jwt.claim.sub', $1, true), set_config('request.jwt.claims', $2, "
                      "true)",
                      {user.id, claims}),
           "claims");
      must(conn.query(ledger, lp), "baseline ledger insert");
      must(conn.query(table, tp), "baseline table insert");
      must(conn.exec("commit"), "commit");
      ++transactions;
    }
  }
  return transactions;
}

}  // namespace wm::bench
