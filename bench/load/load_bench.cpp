// Load: simulated agents on 127.0.0.1, each signed in as its own user, each posting gzip batches of 100
// records to POST /api/v1/agent/batches on a fixed schedule (open loop) so the offered load totals 200
// batches/s for a bounded time. Latency is measured from each batch's scheduled send time to its reply, so a
// server that falls behind is charged for the queueing too. Baseline in the same run, into an identical
// database: the same kind of batches' SQL work (the server's own statements: one set-based upsert per record
// kind, in one transaction with the claims set, as the runtime role) done directly through libpq by the same
// number of paced threads.
// Target: p99 < 100 ms at 200 batches/s.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "record_mapping.h"
#include "server_bench_fixture.h"
#include "workmonitor/common/uuid.h"
#include "workmonitor/server/http/gzip.h"
#include "workmonitor/sync/transport.h"

namespace {

using namespace wm;
using bench::die;
using bench::must;
using Clock = std::chrono::steady_clock;

constexpr int kRecordsPerBatch = 100;
constexpr double kTargetP99Ms = 100;

int envInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

struct Outcome {
  std::vector<double> latency_ms;  // from the scheduled send time to the reply
  std::vector<double> service_ms;  // from the actual send to the reply
  int failed = 0;
  Clock::time_point last_done{};
};

struct Summary {
  double p50, p99, max, s50, s99, rate;
  size_t done;
  int failed;
};

double pct(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(static_cast<double>(v.size()) * p))];
}

// Runs `agents` paced threads for `seconds`; each calls send(agent, k) for its k-th batch at its scheduled time.
template <typename Send>
Summary pace(int agents, double batches_per_s, int seconds, Send send) {
  const auto interval = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(static_cast<double>(agents) / batches_per_s));
  const int per_agent = static_cast<int>(batches_per_s * seconds / agents);
  std::vector<Outcome> out(static_cast<size_t>(agents));
  const auto start = Clock::now() + std::chrono::milliseconds(200);
  std::vector<std::thread> threads;
  for (int a = 0; a < agents; ++a) {
    threads.emplace_back([&, a] {
      Outcome& o = out[static_cast<size_t>(a)];
      // Agents are spread evenly over the interval, as independent machines would be.
      const auto phase = interval * a / agents;
      for (int k = 0; k < per_agent; ++k) {
        const auto due = start + phase + interval * k;
        std::this_thread::sleep_until(due);
        const auto sent = Clock::now();
        const bool ok = send(a, k);
        const auto done = Clock::now();
        if (!ok) ++o.failed;
        o.latency_ms.push_back(std::chrono::duration<double, std::milli>(done - due).count());
        o.service_ms.push_back(std::chrono::duration<double, std::milli>(done - sent).count());
        o.last_done = done;
      }
    });
  }
  for (auto& t : threads) t.join();
  std::vector<double> lat, svc;
  Summary s{};
  Clock::time_point last = start;
  for (auto& o : out) {
    lat.insert(lat.end(), o.latency_ms.begin(), o.latency_ms.end());
    svc.insert(svc.end(), o.service_ms.begin(), o.service_ms.end());
    s.failed += o.failed;
    last = std::max(last, o.last_done);
  }
  s.done = lat.size();
  s.rate = static_cast<double>(s.done) / bench::seconds(last - start);
  s.p50 = pct(lat, 0.50), s.p99 = pct(lat, 0.99), s.max = lat.empty() ? 0 : lat.back();
  s.s50 = pct(svc, 0.50), s.s99 = pct(svc, 0.99);
  return s;
}

void print(const char* what, const Summary& s) {
  std::printf("  %-34s %6.1f batches/s  p50 %6.2f ms  p99 %7.2f ms  max %7.2f ms  (service p50 %.2f / p99 %.2f ms)%s\n",
              what, s.rate, s.p50, s.p99, s.max, s.s50, s.s99,
              s.failed ? ("  FAILED " + std::to_string(s.failed)).c_str() : "");
}

}  // namespace

int run() {
  const int agents = envInt("WM_BENCH_AGENTS", 20);
  const int rate = envInt("WM_BENCH_RATE", 200);
  const int seconds = envInt("WM_BENCH_SECONDS", 20);
  const int threads = envInt("WM_BENCH_SERVER_THREADS", 4);
  const int pool = envInt("WM_BENCH_POOL", 8);
  const int per_agent = rate * seconds / agents;
  bench::BenchStack stack(agents, "Load Bench Co");
  const std::string srv_db = stack.cloneDatabase("load_server");
  const std::string base_db = stack.cloneDatabase("load_direct");
  const auto& users = stack.users();
  std::printf("load_bench: %d agents, %d batches/s offered (%d each, %d records per batch) for %d s per phase\n",
              agents, rate, rate / agents, kRecordsPerBatch, seconds);

  // Each agent's records, made before the clock runs: a fresh set per phase (new ids), same mix and sizes.
  auto makeBatches = [&](int a, uint64_t seed) {
    auto recs =
        bench::makeRecords(static_cast<size_t>(per_agent) * kRecordsPerBatch, seed * 1000 + static_cast<uint64_t>(a));
    std::vector<std::vector<api::Record>> batches(static_cast<size_t>(per_agent));
    for (size_t i = 0; i < recs.size(); ++i) batches[i / kRecordsPerBatch].push_back(std::move(recs[i]));
    return batches;
  };

  // --- baseline: the batches' SQL straight through libpq ---
  Summary base{};
  {
    std::vector<std::vector<std::vector<api::Record>>> work;
    std::vector<server::db::Connection> conns;
    for (int a = 0; a < agents; ++a) {
      work.push_back(makeBatches(a, 1));
      conns.push_back(stack.connectApp(base_db));
    }
    std::vector<std::string> claims;
    for (const auto& u : users) claims.push_back(bench::claimsJson(u, stack.companyId()));
    std::vector<std::set<std::string>> prepared(static_cast<size_t>(agents));
    base = pace(agents, rate, seconds, [&](int a, int k) {
      auto& c = conns[static_cast<size_t>(a)];
      auto& prep = prepared[static_cast<size_t>(a)];
      const auto& u = users[static_cast<size_t>(a)];
      auto run = [&](const std::string& name, std::string_view sql, const std::vector<server::db::Param>& p) {
        if (!prep.contains(name)) {
          if (!c.prepare(name, sql)) return false;
          prep.insert(name);
        }
        return c.execPrepared(name, p).has_value();
      };
      if (!c.exec("begin")) return false;
      bool ok =
          run("claims",
              "select set_config('request.jwt.claim.sub', $1, true), set_config('request.jwt.claims', $2, true)",
              {u.id, claims[static_cast<size_t>(a)]}) &&
          run("active", "select status = 'active' from public.users where user_id = $1::uuid and company_id = $2::uuid",
              {u.id, stack.companyId()});
      const long long now_ms =
          std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
              .count();
      // The server's statements: one set-based upsert per kind (each id appears once in these batches).
      std::vector<server::http::MappedRecord> mapped;
      for (const auto& r : work[static_cast<size_t>(a)][static_cast<size_t>(k)]) {
        auto m = server::http::mapRecord(r, now_ms);
        if (!m) return false;
        mapped.push_back(std::move(*m));
      }
      std::map<const server::http::KindSql*, std::vector<const server::http::MappedRecord*>> by_kind;
      for (const auto& m : mapped) by_kind[m.kind].push_back(&m);
      for (const auto& [kind, list] : by_kind) {
        if (!ok) break;
        ok = run(kind->set_name, kind->set_sql,
                 {server::http::setRows(*kind, list), stack.companyId(), u.id, std::nullopt, list.front()->params[3]});
      }
      if (!ok) {
        (void)c.exec("rollback");
        return false;
      }
      return c.exec("commit").has_value();
    });
  }

  // --- the server ---
  Summary srv{};
  {
    auto server = stack.startServer(srv_db, threads, pool);
    const std::string url = "http://127.0.0.1:" + std::to_string(server->port());
    std::vector<std::unique_ptr<sync::HttpTransport>> transports;
    std::vector<std::string> tokens;
    std::vector<std::vector<std::string>> bodies;
    SystemClock clock;
    UuidV7Generator ids(clock);
    for (int a = 0; a < agents; ++a) {
      transports.push_back(sync::makeCurlTransport(sync::TransportOptions{}));
      sync::HttpRequest login;
      login.method = "POST";
      login.url = url + "/auth/login";
      login.headers = {{"Content-Type", "application/json"}};
      login.body =
          nlohmann::json{{"email", users[static_cast<size_t>(a)].email}, {"password", bench::kPassword}}.dump();
      auto r = transports.back()->send(login);
      if (!r || r->status != 200) die("sign in failed for agent " + std::to_string(a));
      tokens.push_back(nlohmann::json::parse(r->body).at("access_token").get<std::string>());
      std::vector<std::string> mine;
      for (const auto& b : makeBatches(a, 2)) {
        nlohmann::json recs = nlohmann::json::array();
        for (const auto& r2 : b) recs.push_back(api::toJson(r2));
        const nlohmann::json body{{"batch_id", ids.next()},
                                  {"device_id", ""},
                                  {"agent_version", "bench"},
                                  {"format_version", 1},
                                  {"records", std::move(recs)}};
        mine.push_back(must(server::http::gzip(body.dump()), "gzip"));
      }
      bodies.push_back(std::move(mine));
    }
    std::atomic<long long> stored{0};
    srv = pace(agents, rate, seconds, [&](int a, int k) {
      sync::HttpRequest req;
      req.method = "POST";
      req.url = url + "/api/v1/agent/batches";
      req.headers = {{"Content-Type", "application/json"},
                     {"Content-Encoding", "gzip"},
                     {"Authorization", "Bearer " + tokens[static_cast<size_t>(a)]},
                     {"Idempotency-Key", std::to_string(a) + "-" + std::to_string(k)}};
      req.body = bodies[static_cast<size_t>(a)][static_cast<size_t>(k)];
      auto r = transports[static_cast<size_t>(a)]->send(req);
      if (!r || r->status != 200) return false;
      auto j = nlohmann::json::parse(r->body, nullptr, false);
      if (!j.is_object() || !j.contains("results")) return false;
      long long n = 0;
      for (const auto& x : j["results"]) n += x.value("status", "") == "stored";
      stored += n;
      return n == kRecordsPerBatch;
    });
    server.reset();
    auto super = stack.connectSuper(srv_db);
    const long long rows = must(super.query("select count(*) from agent.record_revisions"), "count").asInt(0, 0);
    std::printf("  server stored %lld records (%lld acknowledged as stored)\n", rows, stored.load());
  }

  print("direct libpq (same SQL, no HTTP)", base);
  print("agents -> workmonitor-server", srv);
  std::printf("  server threads %d, pool %d; offered %d batches/s = %d records/s\n", threads, pool, rate,
              rate * kRecordsPerBatch);
  std::printf("  ratio server / direct: p50 %.2fx  p99 %.2fx  throughput %.2f\n", srv.p50 / base.p50,
              srv.p99 / base.p99, srv.rate / base.rate);
  const bool ok = srv.failed == 0 && srv.p99 < kTargetP99Ms && srv.rate >= 0.95 * rate;
  std::printf("load_bench: %s (target p99 < %.0f ms at %d batches/s)\n", ok ? "within target" : "OUT OF TARGET",
              kTargetP99Ms, rate);
  return ok ? 0 : 1;
}

int main() {
  try {
    return run();
  } catch (const bench::BenchFailure& f) {
    std::fprintf(stderr, "load_bench: %s\n", f.what.c_str());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "load_bench: %s\n", e.what());
    return 1;
  }
}
