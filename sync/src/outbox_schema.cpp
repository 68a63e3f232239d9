// The outbox's own schema and its migrations. Each migration runs once, in its own transaction, and moves
// PRAGMA user_version forward; a database written by a newer build is refused by open() (moved aside).
#include <array>
#include <string>

#include "outbox_sqlite.h"

namespace wm::sync::detail {
namespace {

// Index i takes the schema from version i to i + 1. Append only; never edit a shipped entry.
constexpr std::array<const char*, kSchemaVersion> kMigrations{
    // 1: records with their upload state, small key/value state, and drop counters.
    // `priority` is api::retentionPriority(kind) at write time so eviction needs no kind table;
    // `sent_revision` is the highest revision the server acknowledged (pending while revision > it).
    R"sql(
CREATE TABLE records (
  id TEXT PRIMARY KEY NOT NULL,
  kind TEXT NOT NULL,
  priority INTEGER NOT NULL,
  revision INTEGER NOT NULL,
  sent_revision INTEGER NOT NULL DEFAULT 0,
  start_ms INTEGER NOT NULL,
  end_ms INTEGER,
  duration_ms INTEGER NOT NULL,
  data TEXT NOT NULL
);
CREATE INDEX records_start ON records (start_ms);
CREATE INDEX records_pending ON records (start_ms) WHERE revision > sent_revision;
CREATE TABLE state (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE dropped (kind TEXT PRIMARY KEY NOT NULL, count INTEGER NOT NULL) WITHOUT ROWID;
)sql",
    // 2: records the server rejected, with its reason (HTTP_API.md `rejected`): kept for people to look at,
    // never resent. `data` is the stored record at the time, so a bad record can be inspected after a fix.
    R"sql(
CREATE TABLE quarantine (
  id TEXT NOT NULL,
  revision INTEGER NOT NULL,
  kind TEXT NOT NULL,
  reason TEXT NOT NULL,
  at_ms INTEGER NOT NULL,
  data TEXT NOT NULL,
  UNIQUE (id, revision)
);
CREATE INDEX quarantine_at ON quarantine (at_ms);
)sql",
};

}  // namespace

Result<void> migrate(Db& db) {
  auto version = db.queryInt("PRAGMA user_version");
  if (!version) return std::unexpected(version.error());
  if (*version > kSchemaVersion) {
    return fail(Errc::kCorrupt, "database schema version " + std::to_string(*version) +
                                    " is newer than this build understands (" + std::to_string(kSchemaVersion) + ")");
  }
  if (*version == 0) {
    // A database with tables but no version is someone else's file, not an empty outbox.
    auto tables = db.queryInt("SELECT count(*) FROM sqlite_master");
    if (!tables) return std::unexpected(tables.error());
    if (*tables > 0) return fail(Errc::kCorrupt, "the file holds a database that is not an outbox");
  }
  for (int64_t v = *version; v < kSchemaVersion; ++v) {
    const std::string sql = std::string("BEGIN IMMEDIATE;") + kMigrations[static_cast<size_t>(v)] +
                            "PRAGMA user_version = " + std::to_string(v + 1) + ";COMMIT;";
    if (auto r = db.exec(sql.c_str()); !r) {
      (void)db.exec("ROLLBACK");
      return fail(r.error().code, "migration to schema " + std::to_string(v + 1) + " failed: " + r.error().message);
    }
  }
  return {};
}

}  // namespace wm::sync::detail
