// The durable local outbox: every record the agent makes is written here before anything else happens to it.
// SQLite in WAL mode behind ONE connection owned by ONE writer thread (Debian's SQLite 3.40 has the WAL-reset
// bug that needs two connections); every call, reads included, is a command to that thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "workmonitor/api/records.h"
#include "workmonitor/common/clock.h"
#include "workmonitor/common/result.h"

namespace wm::sync {

struct OutboxOptions {
  std::filesystem::path path;                   // the database file; -wal/-shm live beside it
  Millis commit_interval{200};                  // group-commit window: a put is durable within this (+ commit time)
  int64_t max_bytes = 512LL * 1024 * 1024;      // bound on the database size
  Millis max_age{std::chrono::hours(24 * 30)};  // records older than this (by end time) may be dropped
};

/// Which records a query wants. Empty kinds = all kinds. A record matches the time range when its span
/// [start, end or +inf) overlaps [from_ms, to_ms).
struct RecordQuery {
  std::vector<api::RecordKind> kinds;
  int64_t from_ms = 0;
  int64_t to_ms = INT64_MAX;
  bool open_only = false;
  size_t limit = 100000;
};

struct OutboxStats {
  int64_t records = 0;                     // rows stored
  int64_t pending = 0;                     // rows whose latest revision has not been acknowledged by the server
  int64_t bytes = 0;                       // database size (pages in use)
  std::map<std::string, int64_t> dropped;  // kind name -> records dropped by the size/age bound, ever
  int64_t last_commit_ms = 0;
  int64_t quarantined = 0;        // records the server rejected, kept with the reason and not resent
  int64_t oldest_pending_ms = 0;  // start of the oldest pending record; 0 when nothing is pending
};

/// The server said a record is invalid and will never accept it as is (HTTP_API.md, `rejected`).
struct QuarantineRequest {
  std::string id;
  int64_t revision = 0;  // the revision that was rejected; a later revision of the record is uploaded again
  std::string reason;
};

/// A quarantined record as `status` shows it.
struct QuarantinedRecord {
  std::string id;
  std::string kind;
  int64_t revision = 0;
  std::string reason;
  int64_t at_ms = 0;  // when it was quarantined (UTC unix ms)
};

/// Something that went wrong with local storage itself (e.g. a corrupt database moved aside at start).
/// The outbox also stores each incident as an api::RecordKind::kIncident record so it is uploaded.
struct OutboxIncident {
  std::string what;
  std::string detail;
};

class Outbox {
 public:
  using Done = std::function<void(Result<void>)>;

  /// Opens (or creates) the database, runs its migrations and `PRAGMA quick_check`. A corrupt database is
  /// moved aside with its -wal/-shm and a fresh one started; that is an incident, not a failure.
  /// The file is locked exclusively while open: a second open (this process or another) fails with
  /// Errc::kBusy. A file that cannot be created at all fails with Errc::kIo.
  static Result<std::unique_ptr<Outbox>> open(const OutboxOptions& options, const Clock& clock);
  virtual ~Outbox() = default;  // implementations commit what is queued and stop the writer

  /// Insert, or update when r.revision is higher than the stored one (a lower or equal one is ignored).
  /// `done` runs on the writer thread after the commit that made it durable, or with the error.
  /// May wait briefly when tens of thousands of writes are queued (backpressure). A `done` callback may call
  /// put() but no synchronous method (those would wait for the writer that runs them: they fail instead).
  virtual void put(api::Record r, Done done = {}) = 0;
  /// put() and wait for the commit.
  virtual Result<void> putSync(api::Record r) = 0;
  /// Waits until everything queued so far is committed.
  virtual Result<void> flush() = 0;
  /// Commits what is queued, then removes what earlier versions of rewritten or deleted records left in the
  /// files: the database zeroes freed space (secure_delete) and this checkpoints the WAL and truncates it to
  /// nothing. For a value that must not stay on disk once replaced (a window title withheld after it was
  /// written). `done` runs on the writer thread, like put()'s.
  virtual void scrub(Done done = {}) = 0;

  /// Reads see every write queued before them, committed or not yet. Rows whose stored form cannot be read
  /// back are skipped (and logged), never a crash.
  virtual Result<std::vector<api::Record>> query(const RecordQuery& q) = 0;
  virtual Result<std::optional<api::Record>> get(const std::string& id) = 0;

  /// Small durable key/value state (the agent's heartbeat, settings cache). Returns after its commit, which
  /// happens at once (it does not wait for the group-commit window).
  virtual Result<void> setState(const std::string& key, const std::string& value) = 0;
  virtual Result<std::optional<std::string>> getState(const std::string& key) = 0;

  /// Upload side: records whose stored revision is newer than the one the server acknowledged, oldest first.
  virtual Result<std::vector<api::Record>> pending(size_t max) = 0;
  /// pending(), leaving out the records whose ids are in `exclude` (a batch in flight): up to `max` of the
  /// others, oldest first. The default reads max + exclude.size() and filters; implementations may skip the
  /// excluded rows before decoding them.
  virtual Result<std::vector<api::Record>> pendingExcept(size_t max, const std::unordered_set<std::string>& exclude);
  /// The server stored (id, revision): a later revision of the same record stays pending.
  virtual Result<void> markSent(const std::vector<std::pair<std::string, int64_t>>& acknowledged) = 0;

  /// Moves rejected revisions off the upload queue into the quarantine table (with a copy of the stored
  /// record and the reason). Like markSent, a later revision of the same record stays pending. The table
  /// keeps the newest kMaxQuarantined entries.
  virtual Result<void> quarantine(const std::vector<QuarantineRequest>& rejected) = 0;
  /// The most recently quarantined records, newest first.
  virtual Result<std::vector<QuarantinedRecord>> quarantined(size_t limit) = 0;
  static constexpr int64_t kMaxQuarantined = 10000;

  virtual Result<OutboxStats> stats() = 0;
  /// Incidents found by open() (corrupt database moved aside, ...).
  virtual std::vector<OutboxIncident> startupIncidents() const = 0;
};

}  // namespace wm::sync
