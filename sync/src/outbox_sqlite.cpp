// The writer thread and the commands it runs. Every call, reads included, is a command to the one thread
// that owns the one connection (see outbox.h for why). Writes join an open transaction that is committed at
// the latest commit_interval after it began (group commit: one fsync for many records), and their `done`
// callbacks run only after that COMMIT returned.
#include <spdlog/spdlog.h>

#include <future>
#include <utility>

#include "outbox_sqlite.h"

namespace wm::sync::detail {
namespace {

// Callers wait beyond this many queued commands, so a producer faster than the disk cannot grow memory
// without bound.
constexpr size_t kMaxQueued = 50000;
// A transaction is committed early at this many rows, which bounds the WAL and the acks held in memory.
constexpr size_t kMaxTxnRows = 20000;

constexpr const char* kRecordColumns = "id, kind, revision, start_ms, end_ms, duration_ms, data";

void callDone(Outbox::Done& done, Result<void> r) {
  if (!done) return;
  // A throwing callback must not take the writer thread (and every later commit) down with it.
  try {
    done(std::move(r));
  } catch (const std::exception& e) {
    outboxLogger()->error("an outbox done callback threw: {}", e.what());
  } catch (...) {
    outboxLogger()->error("an outbox done callback threw");
  }
}

}  // namespace

Row toRow(const api::Record& r) {
  Row row;
  row.id = r.id;
  row.kind = api::kindName(r.kind);
  row.priority = api::retentionPriority(r.kind);
  row.revision = r.revision;
  row.start_ms = r.start_ms;
  row.end_ms = r.end_ms;
  row.duration_ms = r.duration_ms;
  // Window titles are not always valid UTF-8; replacing bad bytes keeps dump() from throwing.
  row.data = r.data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return row;
}

SqliteOutbox::SqliteOutbox(OutboxOptions options, const Clock& clock, PathClaim claim, Db db,
                           std::vector<OutboxIncident> incidents)
    : options_(std::move(options)),
      clock_(clock),
      claim_(std::move(claim)),
      db_(std::move(db)),
      incidents_(std::move(incidents)),
      ids_(clock) {}

SqliteOutbox::~SqliteOutbox() {
  if (writer_.joinable()) {
    {
      std::lock_guard lk(mu_);
      stop_ = true;
    }
    work_cv_.notify_one();
    space_cv_.notify_all();
    writer_.join();  // the writer commits what is queued before it returns
  }
}

Result<void> SqliteOutbox::start() {
  struct Spec {
    Stmt* stmt;
    std::string sql;
  };
  const std::string cols = kRecordColumns;
  const Spec specs[] = {
      {&upsert_,
       "INSERT INTO records (id, kind, priority, revision, start_ms, end_ms, duration_ms, data) "
       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, "
       "priority = excluded.priority, revision = excluded.revision, start_ms = excluded.start_ms, "
       "end_ms = excluded.end_ms, duration_ms = excluded.duration_ms, data = excluded.data "
       "WHERE excluded.revision > records.revision"},
      {&get_, "SELECT " + cols + " FROM records WHERE id = ?1"},
      {&set_state_,
       "INSERT INTO state (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value"},
      {&get_state_, "SELECT value FROM state WHERE key = ?1"},
      {&pending_, "SELECT " + cols + " FROM records WHERE revision > sent_revision ORDER BY start_ms LIMIT ?1"},
      {&mark_sent_, "UPDATE records SET sent_revision = max(sent_revision, min(revision, ?2)) WHERE id = ?1"},
      {&quarantine_, "UPDATE records SET sent_revision = revision WHERE id = ?1"},
  };
  for (const auto& s : specs) {
    auto st = db_.prepare(s.sql);
    // The schema version said this is our schema; a statement that does not fit it means it is not.
    if (!st) return fail(Errc::kCorrupt, "the outbox schema does not match its version: " + st.error().message);
    *s.stmt = std::move(*st);
  }
  auto page_size = db_.queryInt("PRAGMA page_size");
  if (!page_size) return std::unexpected(page_size.error());
  page_size_ = *page_size;

  if (!incidents_.empty()) {
    if (auto r = db_.exec("BEGIN IMMEDIATE"); !r) return r;
    for (const auto& inc : incidents_) {
      if (auto r = storeIncident(inc.what, inc.detail); !r) {
        (void)db_.exec("ROLLBACK");
        return r;
      }
    }
    if (auto r = db_.exec("COMMIT"); !r) return r;
  }
  last_age_check_ = clock_.mono();
  if (auto r = enforceBounds(true); !r)
    outboxLogger()->warn("could not apply the outbox bounds: {}", r.error().message);
  writer_ = std::thread([this] { run(); });
  return {};
}

// ---- caller side -------------------------------------------------------------------------------------------

void SqliteOutbox::put(api::Record r, Done done) {
  if (!isUuidV7(r.id)) {
    callDone(done, fail(Errc::kInvalidInput, "record id must be a UUIDv7, got '" + r.id + "'"));
    return;
  }
  if (r.revision < 1) {
    callDone(done, fail(Errc::kInvalidInput, "record revision must be >= 1"));
    return;
  }
  Command c;
  c.op = Op::kPut;
  c.row = toRow(r);
  c.done = std::move(done);
  enqueue(std::move(c));
}

void SqliteOutbox::enqueue(Command c) {
  std::unique_lock lk(mu_);
  // The writer itself never waits for space: it is the one that makes it.
  if (!onWriterThread()) space_cv_.wait(lk, [&] { return queue_.size() < kMaxQueued || stop_; });
  queue_.push_back(std::move(c));
  const bool was_empty = queue_.size() == 1;
  lk.unlock();
  if (was_empty) work_cv_.notify_one();
}

Result<void> SqliteOutbox::call(Op op, std::function<Result<void>()> fn) {
  if (onWriterThread()) {
    return fail(Errc::kInternal, "a synchronous outbox call was made from a done callback; use put() there");
  }
  std::promise<Result<void>> promise;
  auto future = promise.get_future();
  Command c;
  c.op = op;
  c.fn = std::move(fn);
  c.done = [&promise](Result<void> r) { promise.set_value(std::move(r)); };
  enqueue(std::move(c));
  return future.get();
}

Result<void> SqliteOutbox::putSync(api::Record r) {
  if (onWriterThread()) return fail(Errc::kInternal, "putSync() was called from a done callback; use put() there");
  std::promise<Result<void>> promise;
  auto future = promise.get_future();
  put(std::move(r), [&promise](Result<void> res) { promise.set_value(std::move(res)); });
  if (auto f = flush(); !f) return f;
  return future.get();
}

Result<void> SqliteOutbox::flush() { return call(Op::kFlush, {}); }

void SqliteOutbox::scrub(Done done) {
  Command c;
  c.op = Op::kScrub;
  c.done = std::move(done);
  enqueue(std::move(c));
}

Result<std::vector<api::Record>> SqliteOutbox::query(const RecordQuery& q) {
  std::vector<api::Record> out;
  auto r = call(Op::kRead, [&]() -> Result<void> {
    std::string sql = std::string("SELECT ") + kRecordColumns +
                      " FROM records WHERE start_ms < ?1 AND (end_ms IS NULL OR end_ms > ?2 OR start_ms >= ?2)";
    if (q.open_only) sql += " AND end_ms IS NULL";
    if (!q.kinds.empty()) {
      sql += " AND kind IN (";
      for (size_t i = 0; i < q.kinds.size(); ++i) sql += (i ? ", ?" : "?") + std::to_string(i + 4);
      sql += ")";
    }
    sql += " ORDER BY start_ms, id LIMIT ?3";
    auto st = db_.prepare(sql);
    if (!st) return std::unexpected(st.error());
    st->bind(1, q.to_ms);
    st->bind(2, q.from_ms);
    st->bind(3, static_cast<int64_t>(std::min<size_t>(q.limit, INT64_MAX)));
    for (size_t i = 0; i < q.kinds.size(); ++i) st->bind(static_cast<int>(i + 4), api::kindName(q.kinds[i]));
    return readRecords(*st, out, nullptr);
  });
  if (!r) return std::unexpected(r.error());
  return out;
}

Result<std::optional<api::Record>> SqliteOutbox::get(const std::string& id) {
  std::vector<api::Record> out;
  auto r = call(Op::kRead, [&]() -> Result<void> {
    get_.bind(1, id);
    auto res = readRecords(get_, out, nullptr);
    get_.reset();
    return res;
  });
  if (!r) return std::unexpected(r.error());
  if (out.empty()) return std::optional<api::Record>();
  return std::optional<api::Record>(std::move(out.front()));
}

Result<void> SqliteOutbox::setState(const std::string& key, const std::string& value) {
  return call(Op::kWrite, [&]() -> Result<void> {
    set_state_.bind(1, key);
    set_state_.bind(2, value);
    const int rc = set_state_.step();
    set_state_.reset();
    if (rc != SQLITE_DONE) return fail(Errc::kIo, "cannot store state '" + key + "': " + db_.lastError());
    return {};
  });
}

Result<std::optional<std::string>> SqliteOutbox::getState(const std::string& key) {
  std::optional<std::string> value;
  auto r = call(Op::kRead, [&]() -> Result<void> {
    get_state_.bind(1, key);
    const int rc = get_state_.step();
    if (rc == SQLITE_ROW) value = std::string(get_state_.text(0));
    get_state_.reset();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return fail(Errc::kIo, "cannot read state: " + db_.lastError());
    return {};
  });
  if (!r) return std::unexpected(r.error());
  return value;
}

Result<std::vector<api::Record>> SqliteOutbox::pending(size_t max) { return pendingExcept(max, {}); }

Result<std::vector<api::Record>> SqliteOutbox::pendingExcept(size_t max,
                                                             const std::unordered_set<std::string>& exclude) {
  std::vector<api::Record> out;
  auto r = call(Op::kRead, [&]() -> Result<void> {
    std::vector<std::string> malformed;
    // Each excluded id can take at most one of the rows read, so this many rows hold `max` others if there are.
    const size_t rows = max > SIZE_MAX - exclude.size() ? SIZE_MAX : max + exclude.size();
    pending_.bind(1, static_cast<int64_t>(std::min<size_t>(rows, INT64_MAX)));
    auto res = readRecords(pending_, out, &malformed, exclude.empty() ? nullptr : &exclude, max);
    pending_.reset();
    // A row that cannot be read back can never be uploaded; leaving it pending would hand the uploader the
    // same unreadable row forever, so it is taken off the upload queue (it stays in the file).
    for (const auto& id : malformed) {
      quarantine_.bind(1, id);
      (void)quarantine_.step();
      quarantine_.reset();
    }
    return res;
  });
  if (!r) return std::unexpected(r.error());
  return out;
}

Result<void> SqliteOutbox::markSent(const std::vector<std::pair<std::string, int64_t>>& acknowledged) {
  return call(Op::kWrite, [&]() -> Result<void> {
    for (const auto& [id, revision] : acknowledged) {
      mark_sent_.bind(1, id);
      mark_sent_.bind(2, revision);
      const int rc = mark_sent_.step();
      mark_sent_.reset();
      if (rc != SQLITE_DONE) return fail(Errc::kIo, "cannot mark records sent: " + db_.lastError());
    }
    return {};
  });
}

Result<OutboxStats> SqliteOutbox::stats() {
  OutboxStats s;
  auto r = call(Op::kRead, [&]() -> Result<void> {
    auto records = db_.queryInt("SELECT count(*) FROM records");
    auto pending = db_.queryInt("SELECT count(*) FROM records WHERE revision > sent_revision");
    auto bytes = usedBytes();
    if (!records) return std::unexpected(records.error());
    if (!pending) return std::unexpected(pending.error());
    if (!bytes) return std::unexpected(bytes.error());
    auto quarantined = db_.queryInt("SELECT count(*) FROM quarantine");
    if (!quarantined) return std::unexpected(quarantined.error());
    s.quarantined = *quarantined;
    auto oldest = db_.queryInt("SELECT coalesce(min(start_ms), 0) FROM records WHERE revision > sent_revision");
    if (!oldest) return std::unexpected(oldest.error());
    s.oldest_pending_ms = *oldest;
    s.records = *records;
    s.pending = *pending;
    s.bytes = *bytes;
    s.last_commit_ms = last_commit_ms_;
    auto st = db_.prepare("SELECT kind, count FROM dropped");
    if (!st) return std::unexpected(st.error());
    int rc;
    while ((rc = st->step()) == SQLITE_ROW) s.dropped[std::string(st->text(0))] = st->int64(1);
    if (rc != SQLITE_DONE) return fail(Errc::kIo, "cannot read drop counters: " + db_.lastError());
    return {};
  });
  if (!r) return std::unexpected(r.error());
  return s;
}

// ---- writer thread -----------------------------------------------------------------------------------------

void SqliteOutbox::run() {
  std::vector<Command> batch;
  for (;;) {
    bool stopping = false;
    {
      std::unique_lock lk(mu_);
      auto ready = [&] { return !queue_.empty() || stop_; };
      if (txn_open_) {
        work_cv_.wait_until(lk, txn_deadline_, ready);
      } else {
        work_cv_.wait(lk, ready);
      }
      batch.swap(queue_);
      stopping = stop_ && batch.empty();
    }
    if (!batch.empty()) space_cv_.notify_all();
    for (auto& c : batch) {
      // Nothing may escape the writer thread: an exception there would end the process.
      try {
        execute(c);
      } catch (const std::exception& e) {
        outboxLogger()->error("outbox command failed: {}", e.what());
        callDone(c.done, fail(Errc::kInternal, std::string("outbox command failed: ") + e.what()));
      }
      if (txn_open_ && txn_rows_ >= kMaxTxnRows) commit();
    }
    batch.clear();
    if (txn_open_ && (commit_now_ || stopping || std::chrono::steady_clock::now() >= txn_deadline_)) commit();
    if (stopping) return;
  }
}

void SqliteOutbox::execute(Command& c) {
  switch (c.op) {
    case Op::kPut:
    case Op::kWrite: {
      auto r = begin();
      if (r) r = c.op == Op::kPut ? upsert(c.row) : c.fn();
      if (!r) {
        abandonIfRolledBack(r.error());
        callDone(c.done, std::move(r));
        return;
      }
      ++txn_rows_;
      if (c.done) acks_.push_back(std::move(c.done));
      // A synchronous write (state, acknowledgements) has a caller waiting on it: commit without delay.
      if (c.op == Op::kWrite) commit_now_ = true;
      return;
    }
    case Op::kRead: {
      auto r = c.fn();
      if (!r) abandonIfRolledBack(r.error());
      callDone(c.done, std::move(r));
      return;
    }
    case Op::kScrub: {
      // A checkpoint cannot run inside the open transaction: what is queued is committed first.
      if (txn_open_) commit();
      // TRUNCATE: every frame goes into the database file (whose freed space secure_delete has zeroed) and
      // the WAL file is cut to zero bytes, so no older page image remains in it.
      Result<void> r = db_.exec("PRAGMA wal_checkpoint(TRUNCATE)");
      if (!r) outboxLogger()->warn("outbox: cannot checkpoint the WAL: {}", r.error().message);
      callDone(c.done, std::move(r));
      return;
    }
    case Op::kFlush:
      if (!txn_open_) {
        callDone(c.done, {});
      } else {
        acks_.push_back(std::move(c.done));
        commit_now_ = true;
      }
      return;
  }
}

Result<void> SqliteOutbox::begin() {
  if (txn_open_) return {};
  if (auto r = db_.exec("BEGIN IMMEDIATE"); !r) return r;
  txn_open_ = true;
  commit_now_ = false;
  txn_rows_ = 0;
  txn_deadline_ = std::chrono::steady_clock::now() + options_.commit_interval;
  return {};
}

void SqliteOutbox::abandonIfRolledBack(const Error& why) {
  // Some errors (disk full, I/O, corruption) make SQLite roll the whole transaction back; the writes that
  // were waiting for its commit then failed too, and must hear so.
  if (!txn_open_ || !sqlite3_get_autocommit(db_.get())) return;
  txn_open_ = false;
  auto acks = std::exchange(acks_, {});
  for (auto& d : acks) callDone(d, fail(why.code, "the transaction was rolled back: " + why.message));
}

void SqliteOutbox::commit() {
  auto r = db_.exec("COMMIT");
  if (!r) {
    outboxLogger()->error("outbox commit failed: {}", r.error().message);
    (void)db_.exec("ROLLBACK");
  } else {
    last_commit_ms_ = toUnixMs(clock_.wall());
  }
  txn_open_ = false;
  commit_now_ = false;
  txn_rows_ = 0;
  auto acks = std::exchange(acks_, {});
  for (auto& d : acks) callDone(d, r);
  if (!r) return;
  if (auto b = enforceBounds(false); !b)
    outboxLogger()->warn("could not apply the outbox bounds: {}", b.error().message);
}

Result<void> SqliteOutbox::upsert(const Row& row) {
  upsert_.bind(1, row.id);
  upsert_.bind(2, row.kind);
  upsert_.bind(3, row.priority);
  upsert_.bind(4, row.revision);
  upsert_.bind(5, row.start_ms);
  upsert_.bind(6, row.end_ms);
  upsert_.bind(7, row.duration_ms);
  upsert_.bind(8, row.data);
  const int rc = upsert_.step();
  upsert_.reset();
  if (rc != SQLITE_DONE) {
    return fail(isCorruptionCode(rc) ? Errc::kCorrupt : Errc::kIo,
                "cannot store record " + row.id + ": " + db_.lastError());
  }
  return {};
}

Result<void> SqliteOutbox::readRecords(Stmt& st, std::vector<api::Record>& out, std::vector<std::string>* malformed,
                                       const std::unordered_set<std::string>* skip, size_t limit) {
  int rc = SQLITE_DONE;
  while (out.size() < limit && (rc = st.step()) == SQLITE_ROW) {
    api::Record rec;
    rec.id = std::string(st.text(0));
    if (skip && skip->contains(rec.id)) continue;
    auto kind = api::kindFromName(st.text(1));
    const std::string_view text = st.text(6);
    nlohmann::json data;
    try {
      data = nlohmann::json::parse(text.begin(), text.end(), nullptr, false);
    } catch (const std::exception&) {
      data = nlohmann::json(nlohmann::json::value_t::discarded);
    }
    if (!kind || data.is_discarded() || !data.is_object()) {
      // Stored bytes we cannot read (disk damage, a foreign writer) must not take the reader down.
      outboxLogger()->warn("skipping outbox record {} whose stored form is unreadable", rec.id);
      if (malformed) malformed->push_back(rec.id);
      continue;
    }
    rec.kind = *kind;
    rec.revision = st.int64(2);
    rec.start_ms = st.int64(3);
    if (!st.isNull(4)) rec.end_ms = st.int64(4);
    rec.duration_ms = st.int64(5);
    rec.data = std::move(data);
    out.push_back(std::move(rec));
  }
  // SQLITE_ROW: stopped at the limit with rows left.
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
    return fail(isCorruptionCode(rc) ? Errc::kCorrupt : Errc::kIo, "cannot read records: " + db_.lastError());
  }
  return {};
}

Result<void> SqliteOutbox::storeIncident(const std::string& what, const nlohmann::json& detail) {
  api::Record rec;
  rec.id = ids_.next();
  rec.kind = api::RecordKind::kIncident;
  rec.start_ms = toUnixMs(clock_.wall());
  rec.end_ms = rec.start_ms;
  rec.data = {{"what", what}, {"detail", detail}, {"source", "outbox"}};
  return upsert(toRow(rec));
}

}  // namespace wm::sync::detail
