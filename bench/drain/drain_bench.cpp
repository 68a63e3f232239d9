// Drain: 100,000 mixed records queued in a real agent outbox (sync::Outbox, real durability settings) are
// uploaded by the agent's real uploader (sync::SyncEngine over the libcurl transport with its defaults: gzip
// batches of 500 records, the next one prepared while others are on the wire, up to two on the wire when they
// do not refer to each other) to workmonitor-server's HTTP API on 127.0.0.1 (in-process, the `serve`
// defaults: 4 threads, pool 8, runtime role with RLS) until the outbox reports 0 pending. Baseline in the same run: the
// same rows inserted directly with libpq multi-row INSERTs (500 rows per statement, ledger + kind table, one
// transaction per 500 records, as the runtime role with the claims set so RLS applies) into an identical
// database. Target: >= 20,000 records/s and a ratio >= 0.5.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <future>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "server_bench_fixture.h"
#include "workmonitor/sync/outbox.h"
#include "workmonitor/sync/sync_engine.h"
#include "workmonitor/sync/transport.h"

namespace {

namespace fs = std::filesystem;
using namespace wm;
using bench::die;
using bench::must;

constexpr size_t kRecords = 100'000;
constexpr size_t kBaselineRows = 500;
constexpr double kTargetRate = 20'000;
constexpr double kTargetRatio = 0.5;
constexpr auto kDrainLimit = std::chrono::minutes(5);  // bounded: a stuck upload fails the bench

class MemoryCredentials : public sync::CredentialStore {
 public:
  Result<std::optional<std::string>> load() override { return token_; }
  Result<void> save(const std::string& t) override {
    token_ = t;
    return {};
  }
  Result<void> erase() override {
    token_.reset();
    return {};
  }

 private:
  std::optional<std::string> token_;
};

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("wm-drain-bench-" + std::to_string(::getpid()));
  TempDir() {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

int envInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

long long count(server::db::Connection& c, const char* sql) { return must(c.query(sql), "count").asInt(0, 0); }

}  // namespace

int run() {
  // WM_BENCH_SERVER_THREADS / WM_BENCH_POOL / WM_BENCH_BATCH / WM_BENCH_IN_FLIGHT / WM_BENCH_GZIP only for
  // experiments; the defaults are `serve`'s and the agent's.
  const int threads = envInt("WM_BENCH_SERVER_THREADS", 4);
  const int pool = envInt("WM_BENCH_POOL", 8);
  bench::BenchStack stack(1, "Drain Bench Co");
  const auto& user = stack.users().front();
  const std::string srv_db = stack.cloneDatabase("drain_server");
  const std::string base_db = stack.cloneDatabase("drain_direct");

  const auto records = bench::makeRecords(kRecords, 7);
  std::map<std::string, int> kinds;
  for (const auto& r : records) ++kinds[api::kindName(r.kind)];
  std::printf("drain_bench: %zu records:", records.size());
  for (const auto& [k, n] : kinds) std::printf(" %s %d", k.c_str(), n);
  std::printf("\n");

  // Baseline first, into its own identical database.
  double base_rate = 0;
  {
    auto conn = stack.connectApp(base_db);
    const auto t0 = std::chrono::steady_clock::now();
    const size_t tx = bench::insertDirect(conn, user, stack.companyId(), records, kBaselineRows);
    const double s = bench::seconds(std::chrono::steady_clock::now() - t0);
    base_rate = static_cast<double>(records.size()) / s;
    auto super = stack.connectSuper(base_db);
    const long long stored = count(super, "select count(*) from agent.record_revisions");
    if (stored != static_cast<long long>(kRecords)) die("baseline stored " + std::to_string(stored) + " rows");
    std::printf("  direct libpq multi-row INSERT: %zu transactions in %.2f s\n", tx, s);
  }

  TempDir dir;
  SystemClock clock;
  sync::OutboxOptions oo;  // the agent's real settings
  oo.path = dir.path / "outbox.db";
  auto outbox = must(sync::Outbox::open(oo, clock), "open outbox");
  const auto q0 = std::chrono::steady_clock::now();
  for (const auto& r : records) outbox->put(r);
  must(outbox->flush(), "flush outbox");
  const double queue_s = bench::seconds(std::chrono::steady_clock::now() - q0);
  const auto before = must(outbox->stats(), "outbox stats");
  if (before.pending != static_cast<int64_t>(kRecords)) die("outbox holds " + std::to_string(before.pending));
  std::printf("  queued in the outbox in %.2f s (%lld pending)\n", queue_s, static_cast<long long>(before.pending));

  auto server = stack.startServer(srv_db, threads, pool);
  const std::string url = "http://127.0.0.1:" + std::to_string(server->port());
  auto transport = sync::makeCurlTransport(sync::TransportOptions{});
  MemoryCredentials creds;
  sync::SyncOptions so;  // defaults: 500 records / 2 MiB per batch
  if (const int b = envInt("WM_BENCH_BATCH", 0); b > 0) so.batch_max_records = static_cast<size_t>(b);
  if (const int f = envInt("WM_BENCH_IN_FLIGHT", 0); f > 0) so.max_in_flight = static_cast<size_t>(f);
  if (const int z = envInt("WM_BENCH_GZIP", 0); z > 0) so.batch_gzip_level = z;
  so.server_url = url;
  so.seed = 1;
  const size_t batch = so.batch_max_records;
  sync::SyncEngine engine(so, *outbox, *transport, creds, clock,
                          [](const nlohmann::json&, const std::string&) -> Result<void> { return {}; });
  engine.start();

  const auto t0 = std::chrono::steady_clock::now();
  std::promise<Result<nlohmann::json>> signed_in;
  engine.login(user.email, bench::kPassword, [&](Result<nlohmann::json> r) { signed_in.set_value(std::move(r)); });
  must(signed_in.get_future().get(), "sign in");
  // Done when a `sync now` ends with nothing pending (the engine answers once its queue is empty); no
  // polling of the outbox, which would compete with the uploader for the outbox's writer thread.
  int64_t pending = before.pending;
  while (pending > 0) {
    if (std::chrono::steady_clock::now() - t0 > kDrainLimit) die("the outbox did not drain within 5 minutes");
    std::promise<Result<nlohmann::json>> synced;
    engine.syncNow([&](Result<nlohmann::json> r) { synced.set_value(std::move(r)); });
    auto fut = synced.get_future();
    if (fut.wait_until(t0 + kDrainLimit) != std::future_status::ready) {
      die("the outbox did not drain within 5 minutes");
    }
    auto summary = must(fut.get(), "sync now");
    pending = summary.value("pending", int64_t{-1});
    if (pending < 0) pending = must(outbox->stats(), "outbox stats").pending;
  }
  const double drain_s = bench::seconds(std::chrono::steady_clock::now() - t0);
  const auto st = engine.status();
  engine.stop();
  server.reset();

  auto super = stack.connectSuper(srv_db);
  const long long stored = count(super, "select count(*) from agent.record_revisions");
  const auto after = must(outbox->stats(), "outbox stats");
  if (stored != static_cast<long long>(kRecords) || after.quarantined != 0) {
    die("server stored " + std::to_string(stored) + " records, " + std::to_string(after.quarantined) + " quarantined");
  }
  const double rate = static_cast<double>(kRecords) / drain_s;
  const double ratio = rate / base_rate;
  std::printf("  drained through workmonitor-server (%d threads, pool %d): %.2f s, %lld acknowledged\n", threads, pool,
              drain_s, static_cast<long long>(st.uploaded));
  std::printf(
      "  batch size (agent)          %zu records, gzip %d JSON over HTTP/1.1 keep-alive, up to %zu on the wire\n",
      batch, so.batch_gzip_level, so.max_in_flight);
  std::printf("  agent -> server -> PG       %.0f records/s   (target >= %.0f)\n", rate, kTargetRate);
  std::printf("  direct libpq INSERT         %.0f records/s   (%zu rows per statement, runtime role, RLS on)\n",
              base_rate, kBaselineRows);
  std::printf("  ratio                       %.2f            (target >= %.2f)\n", ratio, kTargetRatio);
  const bool ok = rate >= kTargetRate && ratio >= kTargetRatio;
  std::printf("drain_bench: %s\n", ok ? "within target" : "OUT OF TARGET");
  return ok ? 0 : 1;
}

int main() {
  try {
    return run();
  } catch (const bench::BenchFailure& f) {
    std::fprintf(stderr, "drain_bench: %s\n", f.what.c_str());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "drain_bench: %s\n", e.what());
    return 1;
  }
}
