// Outbox throughput: records/s through the real Outbox with its real durability settings (WAL,
// synchronous=FULL, group commit), counted until every done callback has reported its commit, against a
// plain batched INSERT of the same rows into the same schema (1000 rows per transaction, same WAL, locking and
// synchronous settings) measured in the same run. Target: >= 50,000 records/s and a ratio >= 0.7.
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <random>
#include <string>
#include <vector>

#include "workmonitor/common/uuid.h"
#include "workmonitor/sync/outbox.h"

namespace {

namespace fs = std::filesystem;
using namespace wm;
using Seconds = std::chrono::duration<double>;

constexpr double kTargetRate = 50'000;
constexpr double kTargetRatio = 0.7;
constexpr size_t kBaselineBatch = 1000;

// Realistic app-usage spans: the dominant record kind of a working day.
std::vector<api::Record> makeRecords(size_t n) {
  SystemClock clock;
  UuidV7Generator ids(clock);
  std::mt19937_64 rng(42);
  const char* apps[] = {"firefox", "code", "gnome-terminal", "libreoffice", "slack"};
  std::vector<api::Record> out;
  out.reserve(n);
  const int64_t t0 = toUnixMs(clock.wall());
  for (size_t i = 0; i < n; ++i) {
    api::Record r;
    r.id = ids.next();
    r.kind = api::RecordKind::kAppUsage;
    r.start_ms = t0 + static_cast<int64_t>(i) * 1000;
    r.end_ms = r.start_ms + 900;
    r.duration_ms = 900;
    const char* app = apps[rng() % 5];
    r.data = {{"app", app},
              {"exe", std::string("/usr/bin/") + app},
              {"pid", 1000 + rng() % 30000},
              {"title", "Document " + std::to_string(rng() % 100000) + " - " + app},
              {"wm_class", app}};
    out.push_back(std::move(r));
  }
  return out;
}

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("wm-outbox-bench-" + std::to_string(::getpid()));
  TempDir() {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

// Records/s through Outbox::put until the last done callback.
double runOutbox(const fs::path& db, const std::vector<api::Record>& records) {
  SystemClock clock;
  sync::OutboxOptions options;  // the defaults are the real settings
  options.path = db;
  auto outbox = sync::Outbox::open(options, clock);
  if (!outbox) {
    std::fprintf(stderr, "open failed: %s\n", outbox.error().message.c_str());
    std::exit(2);
  }
  std::atomic<size_t> acked{0};
  std::atomic<size_t> failed{0};
  std::promise<void> all;
  const size_t n = records.size();
  const auto start = std::chrono::steady_clock::now();
  for (const auto& r : records) {
    (*outbox)->put(r, [&](Result<void> res) {
      if (!res) ++failed;
      if (++acked == n) all.set_value();
    });
  }
  all.get_future().wait();
  const double secs = Seconds(std::chrono::steady_clock::now() - start).count();
  if (failed) {
    std::fprintf(stderr, "%zu puts failed\n", failed.load());
    std::exit(2);
  }
  return static_cast<double>(n) / secs;
}

// Records/s for a plain INSERT of the same rows into the same schema (made by the outbox itself, then
// closed), 1000 rows per transaction, WAL + synchronous=FULL. The rows' JSON is serialised before the clock
// starts, so the baseline is SQLite's own insert speed and the outbox pays for its serialisation, queue,
// upsert and callbacks in the ratio.
double runBaseline(const fs::path& db, const std::vector<api::Record>& records) {
  std::vector<std::string> data;
  data.reserve(records.size());
  for (const auto& r : records) data.push_back(r.data.dump());
  {
    SystemClock clock;
    sync::OutboxOptions options;
    options.path = db;
    if (!sync::Outbox::open(options, clock)) std::exit(2);
  }
  sqlite3* h = nullptr;
  if (sqlite3_open(db.c_str(), &h) != SQLITE_OK) std::exit(2);
  // The same settings the outbox runs with, so the ratio measures the outbox and not a configuration.
  sqlite3_exec(h, "PRAGMA locking_mode = EXCLUSIVE; PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;", nullptr,
               nullptr, nullptr);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(h,
                     "INSERT INTO records (id, kind, priority, revision, start_ms, end_ms, duration_ms, data) "
                     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                     -1, &st, nullptr);
  const auto start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < records.size(); i += kBaselineBatch) {
    sqlite3_exec(h, "BEGIN", nullptr, nullptr, nullptr);
    for (size_t j = i; j < std::min(records.size(), i + kBaselineBatch); ++j) {
      const auto& r = records[j];
      sqlite3_bind_text(st, 1, r.id.data(), static_cast<int>(r.id.size()), SQLITE_STATIC);
      sqlite3_bind_text(st, 2, api::kindName(r.kind), -1, SQLITE_STATIC);
      sqlite3_bind_int64(st, 3, api::retentionPriority(r.kind));
      sqlite3_bind_int64(st, 4, r.revision);
      sqlite3_bind_int64(st, 5, r.start_ms);
      sqlite3_bind_int64(st, 6, *r.end_ms);
      sqlite3_bind_int64(st, 7, r.duration_ms);
      sqlite3_bind_text(st, 8, data[j].data(), static_cast<int>(data[j].size()), SQLITE_STATIC);
      if (sqlite3_step(st) != SQLITE_DONE) {
        std::fprintf(stderr, "baseline insert failed: %s\n", sqlite3_errmsg(h));
        std::exit(2);
      }
      sqlite3_reset(st);
    }
    if (sqlite3_exec(h, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) std::exit(2);
  }
  const double secs = Seconds(std::chrono::steady_clock::now() - start).count();
  sqlite3_finalize(st);
  sqlite3_close(h);
  return static_cast<double>(records.size()) / secs;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main() {
  const size_t n =
      std::getenv("WM_BENCH_RECORDS") ? std::strtoull(std::getenv("WM_BENCH_RECORDS"), nullptr, 10) : 200'000;
  const int rounds = 3;
  const auto records = makeRecords(n);
  TempDir dir;
  std::vector<double> outbox, baseline;
  // Interleaved rounds on fresh files, so a noisy neighbour hurts both sides alike; medians are reported.
  for (int i = 0; i < rounds; ++i) {
    const fs::path a = dir.path / ("outbox-" + std::to_string(i) + ".db");
    const fs::path b = dir.path / ("baseline-" + std::to_string(i) + ".db");
    outbox.push_back(runOutbox(a, records));
    baseline.push_back(runBaseline(b, records));
    std::printf("round %d: outbox %.0f records/s, plain INSERT %.0f records/s\n", i + 1, outbox.back(),
                baseline.back());
  }
  const double rate = median(outbox);
  const double base = median(baseline);
  const double ratio = rate / base;
  const bool ok = rate >= kTargetRate && ratio >= kTargetRatio;
  std::printf("\noutbox benchmark (%zu app-usage records, WAL, synchronous=FULL, median of %d)\n", n, rounds);
  std::printf("  outbox put() until every commit ack : %10.0f records/s   (target >= %.0f)\n", rate, kTargetRate);
  std::printf("  plain INSERT, 1000 rows/transaction : %10.0f records/s\n", base);
  std::printf("  ratio outbox / plain INSERT         : %10.2f             (target >= %.2f)\n", ratio, kTargetRatio);
  std::printf("  %s\n", ok ? "targets met" : "TARGETS MISSED");
  return ok ? 0 : 1;
}
