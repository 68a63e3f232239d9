// The size and age bounds. When the database is over max_bytes, rows are dropped in this order: records the
// server already has (nothing is lost but the local copy) before pending ones, then by
// api::retentionPriority (screenshots first), then oldest first. Kinds that are never dropped (time entries,
// consent events) are never touched, by either bound. Every drop is counted per kind in the `dropped` table
// (in the same transaction as the delete) and reported as an incident record.
#include <algorithm>

#include "outbox_sqlite.h"

namespace wm::sync::detail {
namespace {

// The age bound needs no second-by-second precision; scanning once a minute keeps it cheap.
constexpr Millis kAgeCheckEvery{60'000};
// Priorities at or above this are never dropped (api::neverDropped).
constexpr int64_t kNeverDropPriority = 100;
// Dropping for size goes down to this share of max_bytes, so the next few commits do not drop again.
constexpr int64_t kSizeTargetPercent = 90;

}  // namespace

Result<int64_t> SqliteOutbox::usedBytes() {
  auto pages = db_.queryInt("PRAGMA page_count");
  if (!pages) return std::unexpected(pages.error());
  auto free_pages = db_.queryInt("PRAGMA freelist_count");
  if (!free_pages) return std::unexpected(free_pages.error());
  return (*pages - *free_pages) * page_size_;
}

Result<void> SqliteOutbox::enforceBounds(bool force_age) {
  const MonoTime now = clock_.mono();
  const bool check_age = force_age || now - last_age_check_ >= kAgeCheckEvery;
  auto used = usedBytes();
  if (!used) return std::unexpected(used.error());
  if (!check_age && *used <= options_.max_bytes) return {};

  if (auto r = db_.exec("BEGIN IMMEDIATE"); !r) return r;
  auto rollback = [&](Error e) -> Result<void> {
    (void)db_.exec("ROLLBACK");
    return std::unexpected(std::move(e));
  };
  std::map<std::string, int64_t> dropped;
  if (check_age) {
    last_age_check_ = now;
    auto aged = dropForAge();
    if (!aged) return rollback(aged.error());
    dropped = std::move(*aged);
    if (auto u = usedBytes(); u) used = *u;
  }
  if (*used > options_.max_bytes) {
    auto sized = dropForSize(*used);
    if (!sized) return rollback(sized.error());
    for (const auto& [kind, n] : *sized) dropped[kind] += n;
  }
  if (dropped.empty()) return db_.exec("COMMIT");

  nlohmann::json counts = nlohmann::json::object();
  int64_t total = 0;
  for (const auto& [kind, n] : dropped) {
    counts[kind] = n;
    total += n;
  }
  if (auto r = countDropped(dropped); !r) return rollback(r.error());
  nlohmann::json detail{
      {"dropped", counts}, {"max_bytes", options_.max_bytes}, {"max_age_ms", options_.max_age.count()}};
  if (auto r = storeIncident("records_dropped", detail); !r) return rollback(r.error());
  if (auto r = db_.exec("COMMIT"); !r) return rollback(r.error());
  outboxLogger()->warn("outbox bounds: dropped {} records ({}) to stay within {} bytes and {} days", total,
                       counts.dump(), options_.max_bytes, options_.max_age.count() / 86'400'000);
  // Hand the freed pages back to the file system (auto_vacuum = INCREMENTAL), so the file shrinks too.
  (void)db_.exec("PRAGMA incremental_vacuum");
  return {};
}

Result<std::map<std::string, int64_t>> SqliteOutbox::dropForAge() {
  const int64_t cutoff = toUnixMs(clock_.wall()) - options_.max_age.count();
  // start_ms <= end_ms, so the start_ms condition only lets the index narrow the scan.
  const std::string where = " FROM records WHERE start_ms < ?1 AND end_ms IS NOT NULL AND end_ms < ?1 AND priority < " +
                            std::to_string(kNeverDropPriority);
  std::map<std::string, int64_t> dropped;
  auto count = db_.prepare("SELECT kind, count(*)" + where + " GROUP BY kind");
  if (!count) return std::unexpected(count.error());
  count->bind(1, cutoff);
  int rc;
  while ((rc = count->step()) == SQLITE_ROW) dropped[std::string(count->text(0))] = count->int64(1);
  if (rc != SQLITE_DONE) return fail(Errc::kIo, "cannot count aged records: " + db_.lastError());
  if (dropped.empty()) return dropped;
  auto del = db_.prepare("DELETE" + where);
  if (!del) return std::unexpected(del.error());
  del->bind(1, cutoff);
  if (del->step() != SQLITE_DONE) return fail(Errc::kIo, "cannot drop aged records: " + db_.lastError());
  return dropped;
}

Result<std::map<std::string, int64_t>> SqliteOutbox::dropForSize(int64_t used) {
  const int64_t target = options_.max_bytes / 100 * kSizeTargetPercent;
  std::map<std::string, int64_t> dropped;
  // The estimate of what a row occupies (payload plus key, header and index entries) can be far off (a 2 KB
  // row may hold a 4 KB page to itself), so page counts are measured again after each round, and one round
  // never goes past the class (sent or pending, priority) it started in: a wrong estimate then costs another
  // round, never records of a higher class while lower ones remain.
  auto pick = db_.prepare(
      "SELECT rowid, kind, length(data) + 2 * length(id) + 48, revision > sent_revision, "
      "priority FROM records WHERE priority < " +
      std::to_string(kNeverDropPriority) + " ORDER BY revision > sent_revision, priority, start_ms");
  auto del = db_.prepare("DELETE FROM records WHERE rowid = ?1");
  if (!pick) return std::unexpected(pick.error());
  if (!del) return std::unexpected(del.error());
  for (int round = 0; round < 64 && used > target; ++round) {
    std::vector<std::pair<int64_t, std::string>> victims;
    int64_t freed = 0;
    int rc = SQLITE_DONE;
    std::optional<std::pair<int64_t, int64_t>> round_class;
    while (freed < used - target && (rc = pick->step()) == SQLITE_ROW) {
      const std::pair<int64_t, int64_t> row_class{pick->int64(3), pick->int64(4)};
      if (!round_class) round_class = row_class;
      if (row_class != *round_class) break;
      victims.emplace_back(pick->int64(0), std::string(pick->text(1)));
      freed += pick->int64(2);
    }
    pick->reset();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
      return fail(Errc::kIo, "cannot choose records to drop: " + db_.lastError());
    }
    if (victims.empty()) {
      if (!warned_undroppable_) {
        outboxLogger()->warn(
            "outbox is over its size bound ({} > {} bytes) but holds only records that are "
            "never dropped (time entries, consent events)",
            used, options_.max_bytes);
        warned_undroppable_ = true;
      }
      break;
    }
    for (const auto& [rowid, kind] : victims) {
      del->bind(1, rowid);
      const int drc = del->step();
      del->reset();
      if (drc != SQLITE_DONE) return fail(Errc::kIo, "cannot drop a record: " + db_.lastError());
      ++dropped[kind];
    }
    auto u = usedBytes();
    if (!u) return std::unexpected(u.error());
    used = *u;
  }
  return dropped;
}

Result<void> SqliteOutbox::countDropped(const std::map<std::string, int64_t>& dropped) {
  auto st = db_.prepare(
      "INSERT INTO dropped (kind, count) VALUES (?1, ?2) ON CONFLICT (kind) DO UPDATE SET count = count + "
      "excluded.count");
  if (!st) return std::unexpected(st.error());
  for (const auto& [kind, n] : dropped) {
    st->bind(1, kind);
    st->bind(2, n);
    const int rc = st->step();
    st->reset();
    if (rc != SQLITE_DONE) return fail(Errc::kIo, "cannot count dropped records: " + db_.lastError());
  }
  return {};
}

}  // namespace wm::sync::detail
