// The SQLite implementation of wm::sync::Outbox (internal): one connection, owned by one writer thread that
// takes commands from a queue and acknowledges writes only after the COMMIT that made them durable.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <spdlog/logger.h>

#include "sqlite_db.h"
#include "workmonitor/common/uuid.h"
#include "workmonitor/sync/outbox.h"

namespace wm::sync::detail {

/// The "outbox" spdlog logger (made from the default logger's sinks when the application did not register one).
std::shared_ptr<spdlog::logger> outboxLogger();

/// Schema version this build writes (PRAGMA user_version); migrations live in outbox_schema.cpp.
inline constexpr int64_t kSchemaVersion = 2;
/// Runs the migrations from the stored version up to kSchemaVersion, each in its own transaction.
Result<void> migrate(Db& db);

/// This process's claim on a database path: a second outbox on the same file in one process is refused
/// before it opens a second connection. Released when the claim is destroyed.
class PathClaim {
 public:
  PathClaim() = default;
  /// Claims `key` (a canonical path); an empty claim when this process already holds it.
  static PathClaim take(const std::string& key);
  PathClaim(PathClaim&& o) noexcept : key_(std::exchange(o.key_, {})) {}
  PathClaim& operator=(PathClaim&& o) noexcept;
  PathClaim(const PathClaim&) = delete;
  PathClaim& operator=(const PathClaim&) = delete;
  ~PathClaim() { release(); }
  explicit operator bool() const { return !key_.empty(); }

 private:
  void release();
  std::string key_;
};

/// A record flattened into the columns it is stored in (the JSON is serialised on the caller's thread).
struct Row {
  std::string id;
  std::string kind;
  int64_t priority = 0;
  int64_t revision = 1;
  int64_t start_ms = 0;
  std::optional<int64_t> end_ms;
  int64_t duration_ms = 0;
  std::string data;
};
Row toRow(const api::Record& r);

class SqliteOutbox final : public Outbox {
 public:
  SqliteOutbox(OutboxOptions options, const Clock& clock, PathClaim claim, Db db,
               std::vector<OutboxIncident> incidents);
  ~SqliteOutbox() override;
  SqliteOutbox(const SqliteOutbox&) = delete;
  SqliteOutbox& operator=(const SqliteOutbox&) = delete;

  /// Prepares the statements, stores the startup incidents, applies the bounds and starts the writer.
  /// A failure here is reported by open() (the statements fail to prepare on a foreign schema).
  Result<void> start();

  void put(api::Record r, Done done) override;
  Result<void> putSync(api::Record r) override;
  Result<void> flush() override;
  void scrub(Done done) override;
  Result<std::vector<api::Record>> query(const RecordQuery& q) override;
  Result<std::optional<api::Record>> get(const std::string& id) override;
  Result<void> setState(const std::string& key, const std::string& value) override;
  Result<std::optional<std::string>> getState(const std::string& key) override;
  Result<std::vector<api::Record>> pending(size_t max) override;
  Result<std::vector<api::Record>> pendingExcept(size_t max, const std::unordered_set<std::string>& exclude) override;
  Result<void> markSent(const std::vector<std::pair<std::string, int64_t>>& acknowledged) override;
  Result<void> quarantine(const std::vector<QuarantineRequest>& rejected) override;
  Result<std::vector<QuarantinedRecord>> quarantined(size_t limit) override;
  Result<OutboxStats> stats() override;
  std::vector<OutboxIncident> startupIncidents() const override { return incidents_; }

 private:
  enum class Op { kPut, kWrite, kRead, kFlush, kScrub };
  // kWrite/kRead run `fn` on the writer thread inside the open transaction; `done` follows the commit for
  // everything but kRead, which is answered at once (reads see every command queued before them).
  struct Command {
    Op op = Op::kPut;
    Row row;
    std::function<Result<void>()> fn;
    Done done;
  };

  void enqueue(Command c);
  /// Queues a command and waits for its completion; refuses to deadlock when called from the writer.
  Result<void> call(Op op, std::function<Result<void>()> fn);
  bool onWriterThread() const { return std::this_thread::get_id() == writer_.get_id(); }

  // Writer thread only.
  void run();
  void execute(Command& c);
  Result<void> begin();
  void commit();
  Result<void> upsert(const Row& row);
  void afterCommit();
  void abandonIfRolledBack(const Error& why);
  /// Steps `st` to the end, appending every readable record; ids of unreadable rows go to `malformed`.
  /// Rows whose id is in `skip` are stepped over without being decoded; stepping ends once `out` holds `limit`.
  Result<void> readRecords(Stmt& st, std::vector<api::Record>& out, std::vector<std::string>* malformed,
                           const std::unordered_set<std::string>* skip = nullptr, size_t limit = SIZE_MAX);
  Result<void> storeIncident(const std::string& what, const nlohmann::json& detail);
  // Bounds (outbox_bounds.cpp).
  Result<int64_t> usedBytes();
  Result<void> enforceBounds(bool force_age);
  Result<std::map<std::string, int64_t>> dropForSize(int64_t used);
  Result<std::map<std::string, int64_t>> dropForAge();
  Result<void> countDropped(const std::map<std::string, int64_t>& dropped);

  OutboxOptions options_;
  const Clock& clock_;
  PathClaim claim_;  // declared before db_, so released only after the connection is closed
  Db db_;
  std::vector<OutboxIncident> incidents_;
  UuidV7Generator ids_;

  Stmt upsert_;
  Stmt get_;
  Stmt set_state_;
  Stmt get_state_;
  Stmt pending_;
  Stmt mark_sent_;
  Stmt quarantine_;

  // Writer-thread state.
  bool txn_open_ = false;
  bool commit_now_ = false;
  size_t txn_rows_ = 0;
  std::chrono::steady_clock::time_point txn_deadline_;
  std::vector<Done> acks_;
  int64_t last_commit_ms_ = 0;
  MonoTime last_age_check_{};
  int64_t page_size_ = 4096;
  bool warned_undroppable_ = false;

  // The queue between callers and the writer.
  std::mutex mu_;
  std::condition_variable work_cv_;
  std::condition_variable space_cv_;
  std::vector<Command> queue_;
  bool stop_ = false;
  std::thread writer_;
};

}  // namespace wm::sync::detail
