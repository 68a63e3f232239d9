// Shared by the drain and load benchmarks: a throwaway PostgreSQL 15 with the migrations, a company with
// users (made the way `admin create-user --bcrypt-cost 4` makes them), identical databases cloned from one
// template (one for the server, one for the direct-libpq baseline), workmonitor-server's HTTP API in-process
// as the runtime role, realistic mixed agent records, and the baseline's multi-row INSERTs.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "workmonitor/api/records.h"
#include "workmonitor/server/db/connection.h"
#include "workmonitor/server/http/server.h"
#include "workmonitor/server/testing/pg_cluster.h"

namespace wm::bench {

// Failures unwind to main() so the cluster's destructor stops PostgreSQL and removes its directory.
struct BenchFailure {
  std::string what;
};

[[noreturn]] void die(const std::string& what);

template <typename T>
T must(Result<T> r, const char* what) {
  if (!r) die(std::string(what) + ": " + r.error().message);
  return std::move(*r);
}
void must(Result<void> r, const char* what);

inline constexpr const char* kPassword = "bench password 0123";
inline constexpr const char* kJwtSecret = "bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz";

struct BenchUser {
  std::string id;
  std::string email;
};

/// The cluster, a template database with the migrations, a company and `users` employees.
class BenchStack {
 public:
  BenchStack(int users, const char* name);
  /// A new database cloned from the template: same schema, same company and users (same ids).
  std::string cloneDatabase(const std::string& name);
  std::unique_ptr<server::http::HttpServer> startServer(const std::string& database, int threads, int pool);
  /// A connection as the runtime role (RLS applies).
  server::db::Connection connectApp(const std::string& database);
  server::db::Connection connectSuper(const std::string& database);

  const std::string& companyId() const { return company_; }
  const std::vector<BenchUser>& users() const { return users_; }

 private:
  std::unique_ptr<server::testing::PgCluster> cluster_;
  std::string company_;
  std::vector<BenchUser> users_;
};

/// `n` records of one user's working days, oldest first, ending now: app usage with window titles (the most
/// common kind), activity counters, websites, time entries, idle periods with decisions, breaks.
std::vector<api::Record> makeRecords(size_t n, uint64_t seed);

/// The claims JSON the baseline sets (what the server derives from a token).
std::string claimsJson(const BenchUser& user, const std::string& company);

/// Inserts records with plain multi-row INSERTs: per transaction, the claims are set (RLS on, as the runtime
/// role), then one INSERT of up to `rows` ledger rows (agent.record_revisions) and one INSERT of the same
/// records into their kind's table. Records are grouped by kind so every statement carries `rows` rows.
/// Returns the number of transactions.
size_t insertDirect(server::db::Connection& conn, const BenchUser& user, const std::string& company,
                    const std::vector<api::Record>& records, size_t rows);

double seconds(std::chrono::steady_clock::duration d);

}  // namespace wm::bench
