// Shared pieces of the outbox tests: a temporary directory, record factories and raw SQLite access to a
// database file the outbox is NOT holding open (a copy, or after the outbox was closed).
#pragma once

#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <optional>
#include <random>
#include <string>

#include <gtest/gtest.h>

#include "workmonitor/common/uuid.h"
#include "workmonitor/sync/outbox.h"

namespace wm::sync::testing {

namespace fs = std::filesystem;

/// A fresh directory per test, removed afterwards.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = fs::temp_directory_path() / ("wm-outbox-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

inline api::Record makeRecord(UuidV7Generator& ids, api::RecordKind kind, int64_t start_ms,
                              std::optional<int64_t> end_ms, nlohmann::json data = nlohmann::json::object()) {
  api::Record r;
  r.id = ids.next();
  r.kind = kind;
  r.start_ms = start_ms;
  r.end_ms = end_ms;
  r.duration_ms = end_ms ? *end_ms - start_ms : 0;
  r.data = std::move(data);
  return r;
}

/// Runs SQL on a database file with a connection of its own; only for files no outbox holds open.
inline std::string rawQuery(const fs::path& db_path, const std::string& sql) {
  sqlite3* db = nullptr;
  std::string out;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    return "open failed";
  }
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
    out = std::string("prepare failed: ") + sqlite3_errmsg(db);
  } else {
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      if (!out.empty()) out += "\n";
      const auto* t = sqlite3_column_text(st, 0);
      out += t ? reinterpret_cast<const char*>(t) : "NULL";
    }
    if (rc != SQLITE_DONE) out = std::string("step failed: ") + sqlite3_errmsg(db);
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

}  // namespace wm::sync::testing
