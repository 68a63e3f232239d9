// Thin RAII handles over the SQLite C API for the outbox: a connection, a prepared statement, and the
// process-wide count of open connections that the one-connection test reads.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "workmonitor/common/result.h"

namespace wm::sync::detail {

/// Connections the outbox holds open in this process right now, and the most ever open at once.
/// Debian's SQLite 3.40 has the WAL-reset bug that needs two connections to one database, so the design
/// keeps one; tests assert it through these counters.
int64_t openConnectionCount();
int64_t peakConnectionCount();
/// Starts a new peak measurement from the current count (tests).
void resetPeakConnectionCount();

/// The error category of a failed SQLite result code.
Errc errcOf(int rc);

/// True for the result codes that mean "the file is damaged or not a database" (as opposed to I/O or
/// permission failures, which moving the file aside would not fix).
bool isCorruptionCode(int rc);

/// One prepared statement; reset after each use by the caller through Stmt::reset().
class Stmt {
 public:
  Stmt() = default;
  explicit Stmt(sqlite3_stmt* s) : s_(s) {}
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  Stmt(Stmt&& o) noexcept : s_(o.s_) { o.s_ = nullptr; }
  Stmt& operator=(Stmt&& o) noexcept;
  ~Stmt();

  explicit operator bool() const { return s_ != nullptr; }
  sqlite3_stmt* get() const { return s_; }

  void bind(int i, int64_t v) { sqlite3_bind_int64(s_, i, v); }
  // SQLITE_STATIC: callers keep the text alive until the statement is stepped and reset.
  void bind(int i, std::string_view v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
  }
  void bind(int i, std::optional<int64_t> v) {
    if (v) {
      bind(i, *v);
    } else {
      sqlite3_bind_null(s_, i);
    }
  }
  /// SQLITE_ROW, SQLITE_DONE or an error code.
  int step() { return sqlite3_step(s_); }
  void reset() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }

  int64_t int64(int col) const { return sqlite3_column_int64(s_, col); }
  bool isNull(int col) const { return sqlite3_column_type(s_, col) == SQLITE_NULL; }
  std::string_view text(int col) const;

 private:
  sqlite3_stmt* s_ = nullptr;
};

/// One connection. Opening and closing move the process-wide connection counters.
class Db {
 public:
  Db() = default;
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;
  Db(Db&& o) noexcept : db_(o.db_) { o.db_ = nullptr; }
  Db& operator=(Db&& o) noexcept;
  ~Db() { close(); }

  /// Opens read-write, creating the file; on failure returns the SQLite result code in the error message
  /// and `rc` (when given).
  static Result<Db> open(const std::string& path, int* rc = nullptr);
  void close();

  sqlite3* get() const { return db_; }
  explicit operator bool() const { return db_ != nullptr; }

  /// Runs SQL with no results (may hold several statements).
  Result<void> exec(const char* sql, int* rc = nullptr);
  Result<Stmt> prepare(std::string_view sql, int* rc = nullptr);
  /// Runs a statement that yields a single integer (e.g. a PRAGMA).
  Result<int64_t> queryInt(const char* sql, int* rc = nullptr);
  /// The error text of the last failed call, with the SQLite result code.
  std::string lastError() const;

 private:
  sqlite3* db_ = nullptr;
};

}  // namespace wm::sync::detail
