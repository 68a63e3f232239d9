#include "sqlite_db.h"

#include <atomic>

namespace wm::sync::detail {
namespace {

std::atomic<int64_t> g_open{0};
std::atomic<int64_t> g_peak{0};

void noteOpened() {
  const int64_t now = ++g_open;
  int64_t peak = g_peak.load();
  while (now > peak && !g_peak.compare_exchange_weak(peak, now)) {
  }
}

}  // namespace

int64_t openConnectionCount() { return g_open.load(); }
int64_t peakConnectionCount() { return g_peak.load(); }
void resetPeakConnectionCount() { g_peak.store(g_open.load()); }

Errc errcOf(int rc) {
  if (isCorruptionCode(rc)) return Errc::kCorrupt;
  const int primary = rc & 0xff;
  return primary == SQLITE_BUSY || primary == SQLITE_LOCKED ? Errc::kBusy : Errc::kIo;
}

bool isCorruptionCode(int rc) {
  const int primary = rc & 0xff;
  return primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB;
}

Stmt& Stmt::operator=(Stmt&& o) noexcept {
  if (this != &o) {
    sqlite3_finalize(s_);
    s_ = o.s_;
    o.s_ = nullptr;
  }
  return *this;
}

Stmt::~Stmt() { sqlite3_finalize(s_); }

std::string_view Stmt::text(int col) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s_, col));
  if (!p) return {};
  return {p, static_cast<size_t>(sqlite3_column_bytes(s_, col))};
}

Db& Db::operator=(Db&& o) noexcept {
  if (this != &o) {
    close();
    db_ = o.db_;
    o.db_ = nullptr;
  }
  return *this;
}

Result<Db> Db::open(const std::string& path, int* rc) {
  Db db;
  // NOMUTEX: the connection is only ever used by one thread at a time (the outbox's writer).
  const int r =
      sqlite3_open_v2(path.c_str(), &db.db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (db.db_) noteOpened();
  if (rc) *rc = r;
  if (r != SQLITE_OK) {
    std::string msg = db.db_ ? db.lastError() : std::string(sqlite3_errstr(r));
    return fail(Errc::kIo, "cannot open database " + path + ": " + msg);
  }
  sqlite3_extended_result_codes(db.db_, 1);
  // Only matters at open: another process that holds the file (exclusive locking) may be just closing it.
  sqlite3_busy_timeout(db.db_, 2000);
  return db;
}

void Db::close() {
  if (!db_) return;
  // close_v2 so that a statement someone forgot cannot keep the handle (and the counter) alive silently.
  sqlite3_close_v2(db_);
  db_ = nullptr;
  --g_open;
}

Result<void> Db::exec(const char* sql, int* rc) {
  char* err = nullptr;
  const int r = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
  if (rc) *rc = r;
  if (r != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errstr(r);
    sqlite3_free(err);
    return fail(errcOf(r), msg + " (sqlite " + std::to_string(r) + ")");
  }
  return {};
}

Result<Stmt> Db::prepare(std::string_view sql, int* rc) {
  sqlite3_stmt* s = nullptr;
  const int r =
      sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &s, nullptr);
  if (rc) *rc = r;
  if (r != SQLITE_OK) {
    sqlite3_finalize(s);
    return fail(errcOf(r), lastError());
  }
  return Stmt(s);
}

Result<int64_t> Db::queryInt(const char* sql, int* rc) {
  auto st = prepare(sql, rc);
  if (!st) return std::unexpected(st.error());
  const int r = st->step();
  if (rc) *rc = r == SQLITE_ROW ? SQLITE_OK : r;
  if (r != SQLITE_ROW) {
    return fail(errcOf(r), lastError());
  }
  return st->int64(0);
}

std::string Db::lastError() const {
  return std::string(sqlite3_errmsg(db_)) + " (sqlite " + std::to_string(sqlite3_extended_errcode(db_)) + ")";
}

}  // namespace wm::sync::detail
