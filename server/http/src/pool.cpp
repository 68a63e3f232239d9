#include "workmonitor/server/http/pool.h"

#include <libpq-fe.h>

namespace wm::server::http {

Result<db::QueryResult> PooledConnection::run(const std::string& name, std::string_view sql,
                                              const std::vector<db::Param>& params) {
  if (unnamed) return conn.query(sql, params);
  if (!prepared.contains(name)) {
    auto p = conn.prepare(name, sql);
    if (!p) return std::unexpected(p.error());
    prepared.insert(name);
  }
  return conn.execPrepared(name, params);
}

Result<void> PooledConnection::ensurePrepared(const std::string& name, std::string_view sql) {
  if (unnamed || prepared.contains(name)) return {};
  if (auto p = conn.prepare(name, sql); !p) return std::unexpected(p.error());
  prepared.insert(name);
  return {};
}

Lease::~Lease() {
  if (pool_ != nullptr && c_) pool_->release(std::move(c_));
}

Pool::Pool(std::string conninfo, int size, std::string session_sql, bool transaction_pooling)
    : conninfo_(std::move(conninfo)),
      size_(size),
      // Session settings would land on whichever backend the pooler picked: set them on the role instead.
      session_sql_(transaction_pooling ? std::string() : std::move(session_sql)),
      transaction_pooling_(transaction_pooling) {}

Result<Lease> Pool::acquire(std::chrono::milliseconds wait) {
  std::unique_lock lock(mu_);
  if (!cv_.wait_for(lock, wait, [&] { return !idle_.empty() || open_ < size_; })) {
    return fail(Errc::kBusy, "all database connections are busy");
  }
  if (!idle_.empty()) {
    auto c = std::move(idle_.back());
    idle_.pop_back();
    ++in_use_;
    return Lease(this, std::move(c));
  }
  ++open_;
  lock.unlock();
  // Connecting happens outside the lock so one slow connect does not stall the other requests.
  auto conn = db::Connection::open(conninfo_);
  if (conn && !session_sql_.empty()) {
    if (auto s = conn->exec(session_sql_); !s) conn = std::unexpected(s.error());
  }
  if (!conn) {
    lock.lock();
    --open_;
    cv_.notify_one();
    return std::unexpected(conn.error());
  }
  ++in_use_;
  return Lease(this, std::make_unique<PooledConnection>(PooledConnection{std::move(*conn), {}, transaction_pooling_}));
}

void Pool::release(std::unique_ptr<PooledConnection> c) {
  --in_use_;
  // A request that failed half-way leaves its transaction open; end it so the connection can be reused.
  if (PQstatus(c->conn.native()) == CONNECTION_OK && PQtransactionStatus(c->conn.native()) != PQTRANS_IDLE) {
    (void)c->conn.exec("rollback");
  }
  const bool healthy =
      PQstatus(c->conn.native()) == CONNECTION_OK && PQtransactionStatus(c->conn.native()) == PQTRANS_IDLE;
  std::lock_guard lock(mu_);
  if (healthy) {
    idle_.push_back(std::move(c));
  } else {
    --open_;  // dropped; a later acquire opens a fresh one
  }
  cv_.notify_one();
}

}  // namespace wm::server::http
