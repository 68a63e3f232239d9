// RLS cost on the hottest read: a user's latest 100 time entries, 1,000,000 rows across 100 users of 5
// companies. The same prepared query runs as the runtime role with the user's claim (RLS on) and as the owner
// (BYPASSRLS), interleaved in one run; prints median and p99 of each and their ratio. Fails when the RLS query
// is over 1.5x the unfiltered one or its median is 5 ms or more.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <string>
#include <vector>

#include "workmonitor/server/db/connection.h"
#include "workmonitor/server/testing/pg_cluster.h"

namespace {

using wm::server::db::Connection;

constexpr int kCompanies = 5;
constexpr int kUsersPerCompany = 20;
constexpr int kEntriesPerUser = 10'000;
constexpr int kWarmup = 300;
constexpr int kRuns = 5000;

// The server always names the user explicitly; RLS is the guard, the WHERE is the filter (see ARCHITECTURE.md).
constexpr const char* kLatest =
    "select id, project_id, task_id, start_time, end_time, duration_ms, source, note from public.time_entries "
    "where user_id = $1 order by start_time desc limit 100";

// Failures unwind to main() so the cluster's destructor stops PostgreSQL and removes its directory.
struct BenchFailure {
  std::string what;
};

[[noreturn]] void die(const std::string& what) { throw BenchFailure{what}; }

template <typename T>
T must(wm::Result<T> r, const char* what) {
  if (!r) die(std::string(what) + ": " + r.error().message);
  return std::move(*r);
}

void must(wm::Result<void> r, const char* what) {
  if (!r) die(std::string(what) + ": " + r.error().message);
}

std::string userId(int i) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "00000000-0000-4000-8000-%012d", 100 + i);
  return buf;
}

struct Stats {
  double median_ms, p99_ms;
};

Stats stats(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {v[v.size() / 2], v[static_cast<size_t>(static_cast<double>(v.size()) * 0.99)]};
}

double timeOne(Connection& conn, const std::string& user) {
  const auto t0 = std::chrono::steady_clock::now();
  auto r = must(conn.execPrepared("latest", {user}), "latest");
  const auto t1 = std::chrono::steady_clock::now();
  if (r.rows() != 100) die("expected 100 rows, got " + std::to_string(r.rows()));
  return std::chrono::duration<double, std::milli>(t1 - t0).count();
}

}  // namespace

int run() {
  const char* src = std::getenv("WM_SOURCE_DIR");
  const std::filesystem::path migrations = std::filesystem::path(src ? src : WM_SOURCE_DIR_FALLBACK) / "migrations";
  auto cluster = must(wm::server::testing::PgCluster::start(), "start PostgreSQL");
  if (auto r = cluster->createDatabase("bench"); !r) die(r.error().message);
  if (auto r = cluster->applyWithPsql("bench", migrations); !r) die(r.error().message);

  auto super = must(Connection::open(cluster->conninfo("bench")), "connect");
  std::string seed =
      "insert into public.companies (id, name) select ('00000000-0000-4000-8000-' || lpad(c::text, 12, '0'))::uuid, "
      "'company ' || c from generate_series(1, " +
      std::to_string(kCompanies) + ") c;\n";
  seed +=
      "insert into public.users (user_id, company_id, email, full_name, role) select ('00000000-0000-4000-8000-' || "
      "lpad((100 + u)::text, 12, '0'))::uuid, ('00000000-0000-4000-8000-' || lpad((1 + u / " +
      std::to_string(kUsersPerCompany) +
      ")::text, 12, '0'))::uuid, 'user' || u || '@bench', 'User ' || u, "
      "case when u % " +
      std::to_string(kUsersPerCompany) +
      " = 0 then 'admin' else 'employee' end "
      "from generate_series(0, " +
      std::to_string(kCompanies * kUsersPerCompany - 1) + ") u;\n";
  // Foreign-key triggers are skipped for the bulk load (superuser, replica role); the data satisfies them.
  seed +=
      "set session_replication_role = replica;\n"
      "insert into public.time_entries (company_id, user_id, start_time, end_time, duration_ms, source) "
      "select u.company_id, u.id, t.ts, t.ts + interval '25 minutes', 1500000, 'agent' "
      "from public.users u cross join generate_series(1, " +
      std::to_string(kEntriesPerUser) +
      ") g "
      "cross join lateral (select timestamptz '2025-01-01' + g * interval '37 minutes' "
      "+ (hashtext(u.id::text) % 600) * interval '1 second' as ts) t;\n"
      "set session_replication_role = origin;\n";
  const auto load0 = std::chrono::steady_clock::now();
  must(super.exec(seed), "seed");
  must(super.exec("vacuum analyze public.time_entries"), "vacuum");
  const double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - load0).count();
  const auto rows = must(super.query("select count(*) from public.time_entries"), "count").asInt(0, 0);
  std::printf("rls_bench: %lld time_entries, %d users in %d companies (loaded in %.1f s)\n", rows,
              kCompanies * kUsersPerCompany, kCompanies, load_s);

  auto rls = must(Connection::open(cluster->conninfo("bench", "workmonitor_app")), "connect as runtime role");
  auto owner = must(Connection::open(cluster->conninfo("bench", "workmonitor_owner")), "connect as owner");
  must(rls.prepare("latest", kLatest), "prepare");
  must(owner.prepare("latest", kLatest), "prepare");

  // Show the plan the RLS query gets: it must walk the (user_id, start_time) index.
  const std::string sample = userId(7);
  must(rls.query("select set_config('request.jwt.claim.sub', $1, false)", {sample}), "claim");
  auto plan = must(rls.query(std::string("explain (costs off) ") + kLatest, {sample}), "explain");
  std::printf("plan as the user (RLS on):\n");
  for (int i = 0; i < plan.rows(); ++i) std::printf("  %s\n", std::string(plan.value(i, 0)).c_str());

  std::vector<double> with_rls, without_rls, paired;
  for (int i = 0; i < kWarmup + kRuns; ++i) {
    const std::string user = userId(i % (kCompanies * kUsersPerCompany));
    // The claim is set outside the timed call: the server sets it once per transaction, not per query. The
    // owner gets the same untimed round trip (no effect without RLS), so both timed queries follow the same
    // pattern of client and server wake-ups.
    must(rls.query("select set_config('request.jwt.claim.sub', $1, false)", {user}), "claim");
    must(owner.query("select set_config('request.jwt.claim.sub', $1, false)", {user}), "claim");
    const double a = timeOne(rls, user);
    const double b = timeOne(owner, user);
    if (i >= kWarmup) {
      with_rls.push_back(a);
      without_rls.push_back(b);
      paired.push_back(a / b);
    }
  }
  const Stats r = stats(with_rls), o = stats(without_rls);
  const double ratio = r.median_ms / o.median_ms;
  std::printf("latest 100 entries of a user, %d runs each, interleaved:\n", kRuns);
  std::printf("  RLS (runtime role, claim set)   median %.3f ms  p99 %.3f ms\n", r.median_ms, r.p99_ms);
  std::printf("  owner without RLS (BYPASSRLS)   median %.3f ms  p99 %.3f ms\n", o.median_ms, o.p99_ms);
  std::printf("  ratio RLS / no RLS (median)     %.2fx   (target <= 1.5x, RLS median < 5 ms)\n", ratio);
  // Adjacent pairs see the same background load; their median ratio shows how much of the above is noise.
  std::printf("  median of paired ratios         %.2fx\n", stats(paired).median_ms);

  // For contrast: relying on RLS as the filter (no WHERE) cannot use the index through the OR'd policies.
  must(rls.query("select set_config('request.jwt.claim.sub', $1, false)", {sample}), "claim");
  std::vector<double> unfiltered;
  for (int i = 0; i < 5; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    must(rls.query("select id from public.time_entries order by start_time desc limit 100"), "unfiltered");
    unfiltered.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::printf("  (without WHERE user_id, RLS as the only filter: median %.1f ms over 5 runs)\n",
              stats(unfiltered).median_ms);

  const bool ok = ratio <= 1.5 && r.median_ms < 5.0;
  std::printf("rls_bench: %s\n", ok ? "within target" : "OUT OF TARGET");
  return ok ? 0 : 1;
}

int main() {
  try {
    return run();
  } catch (const BenchFailure& f) {
    std::fprintf(stderr, "rls_bench: %s\n", f.what.c_str());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rls_bench: %s\n", e.what());
    return 1;
  }
}
