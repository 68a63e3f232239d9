// A fixed-size libpq connection pool. Connections are opened lazily, handed out as RAII leases, and
// dropped (to be reopened) when libpq reports them broken.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "workmonitor/server/db/connection.h"

namespace wm::server::http {

/// A pooled connection plus the names of the statements prepared on it.
struct PooledConnection {
  db::Connection conn;
  std::set<std::string> prepared;
  /// Behind a transaction pooler (PgBouncer pool_mode=transaction) consecutive transactions of this
  /// connection may run on different backends, so a named statement prepared on one is missing (26000) or
  /// already there (42P05) on another: every statement is then sent unnamed, with its text.
  bool unnamed = false;
  /// Prepares `name` once per connection, then runs it.
  Result<db::QueryResult> run(const std::string& name, std::string_view sql, const std::vector<db::Param>& params);
  /// Prepares `name` once per connection (outside any pipeline), so it can then be pipelined.
  Result<void> ensurePrepared(const std::string& name, std::string_view sql);
};

class Pool;

class Lease {
 public:
  Lease(Pool* pool, std::unique_ptr<PooledConnection> c) : pool_(pool), c_(std::move(c)) {}
  Lease(Lease&&) noexcept = default;
  Lease& operator=(Lease&&) = delete;
  ~Lease();
  PooledConnection& operator*() { return *c_; }
  PooledConnection* operator->() { return c_.get(); }

 private:
  Pool* pool_;
  std::unique_ptr<PooledConnection> c_;
};

class Pool {
 public:
  /// `session_sql` runs once on every new connection (e.g. statement_timeout).
  Pool(std::string conninfo, int size, std::string session_sql, bool transaction_pooling = false);
  /// Waits up to `wait` for a free connection; kBusy when none frees up, kUnavailable when the database is down.
  Result<Lease> acquire(std::chrono::milliseconds wait);
  int size() const { return size_; }
  int inUse() const { return in_use_.load(); }

 private:
  friend class Lease;
  void release(std::unique_ptr<PooledConnection> c);

  std::string conninfo_;
  int size_;
  std::string session_sql_;
  bool transaction_pooling_ = false;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<PooledConnection>> idle_;
  int open_ = 0;  // connections that exist (idle or leased) or are being opened
  std::atomic<int> in_use_{0};
};

}  // namespace wm::server::http
