// libpq behind RAII handles: a connection, query results, transactions as objects, prepared statements.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "workmonitor/common/result.h"

struct pg_conn;
struct pg_result;

namespace wm::server::db {

/// A text-format parameter; nullopt is SQL NULL.
using Param = std::optional<std::string>;

/// The rows of one statement. Values are text (libpq text format).
class QueryResult {
 public:
  QueryResult() = default;
  explicit QueryResult(pg_result* res);

  int rows() const;
  int columns() const;
  bool isNull(int row, int col) const;
  /// The value as text; empty for NULL.
  std::string_view value(int row, int col) const;
  std::optional<std::string> optional(int row, int col) const;
  long long asInt(int row, int col) const;
  /// Rows inserted, updated or deleted by the statement (0 when not applicable).
  long long affected() const;
  /// The command tag, e.g. "INSERT 0 1" or "ROLLBACK".
  std::string_view commandTag() const;

 private:
  struct Clear {
    void operator()(pg_result* r) const;
  };
  std::unique_ptr<pg_result, Clear> res_;
};

class Transaction;

/// One libpq connection. Move-only; closed on destruction.
class Connection {
 public:
  /// Connects with a libpq conninfo string or URI ("" uses the PG* environment variables).
  [[nodiscard]] static Result<Connection> open(const std::string& conninfo);

  Connection(Connection&&) noexcept = default;
  Connection& operator=(Connection&&) noexcept = default;
  ~Connection() = default;

  /// Runs SQL through the simple protocol: several statements are allowed, no parameters.
  [[nodiscard]] Result<QueryResult> exec(std::string_view sql);
  /// Runs one statement with parameters ($1, $2, ...).
  [[nodiscard]] Result<QueryResult> query(std::string_view sql, const std::vector<Param>& params = {});
  [[nodiscard]] Result<void> prepare(const std::string& name, std::string_view sql);
  [[nodiscard]] Result<QueryResult> execPrepared(const std::string& name, const std::vector<Param>& params = {});
  /// One statement of a pipelined run (pointers and text must outlive the call): a prepared statement by
  /// name, or, with name == nullptr, the text `sql` as an unnamed statement (for transaction poolers).
  struct PreparedCall {
    const std::string* name;
    const std::vector<Param>* params;
    std::string_view sql = {};
  };
  /// Runs already-prepared statements in libpq pipeline mode, so many statements cost a few round trips
  /// instead of one each; results in order. The first failing statement's error is returned (inside a
  /// transaction the later ones are then aborted, exactly as if they had been sent one by one).
  [[nodiscard]] Result<std::vector<QueryResult>> execPreparedPipeline(const std::vector<PreparedCall>& calls);
  /// Starts a transaction that rolls back unless committed.
  [[nodiscard]] Result<Transaction> begin();

  pg_conn* native() const { return conn_.get(); }

 private:
  struct Finish {
    void operator()(pg_conn* c) const;
  };
  explicit Connection(pg_conn* conn);
  Result<QueryResult> check(pg_result* res, std::string_view what);

  std::unique_ptr<pg_conn, Finish> conn_;
};

/// A transaction on a connection; the destructor rolls back one that was neither committed nor rolled back.
class Transaction {
 public:
  explicit Transaction(Connection& conn) : conn_(&conn) {}
  Transaction(Transaction&& other) noexcept : conn_(other.conn_) { other.conn_ = nullptr; }
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction();

  [[nodiscard]] Result<void> commit();
  [[nodiscard]] Result<void> rollback();
  Connection& connection() { return *conn_; }

 private:
  Connection* conn_;
};

/// The SQLSTATE an Error from this library carries at the start of its message ("42501: ..."), or "".
std::string_view sqlState(const Error& error);

}  // namespace wm::server::db
