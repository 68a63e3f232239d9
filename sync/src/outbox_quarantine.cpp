// The quarantine: revisions the server rejected (HTTP_API.md `rejected`) leave the upload queue with their
// reason, so one bad record cannot block or loop the uploader, and people can still see what it was.
#include "outbox_sqlite.h"

namespace wm::sync::detail {

Result<void> SqliteOutbox::quarantine(const std::vector<QuarantineRequest>& rejected) {
  if (rejected.empty()) return {};
  return call(Op::kWrite, [&]() -> Result<void> {
    auto copy = db_.prepare(
        "INSERT INTO quarantine (id, revision, kind, reason, at_ms, data) "
        "SELECT id, ?2, kind, ?3, ?4, data FROM records WHERE id = ?1 "
        "ON CONFLICT (id, revision) DO UPDATE SET reason = excluded.reason, at_ms = excluded.at_ms");
    if (!copy) return std::unexpected(copy.error());
    const int64_t now = toUnixMs(clock_.wall());
    for (const auto& q : rejected) {
      copy->bind(1, q.id);
      copy->bind(2, q.revision);
      copy->bind(3, q.reason);
      copy->bind(4, now);
      int rc = copy->step();
      copy->reset();
      if (rc != SQLITE_DONE) return fail(Errc::kIo, "cannot quarantine record " + q.id + ": " + db_.lastError());
      // Same rule as markSent: the rejected revision is settled, a newer one is still pending.
      mark_sent_.bind(1, q.id);
      mark_sent_.bind(2, q.revision);
      rc = mark_sent_.step();
      mark_sent_.reset();
      if (rc != SQLITE_DONE) return fail(Errc::kIo, "cannot quarantine record " + q.id + ": " + db_.lastError());
    }
    const std::string trim =
        "DELETE FROM quarantine WHERE rowid NOT IN (SELECT rowid FROM quarantine ORDER BY at_ms DESC, rowid DESC "
        "LIMIT " +
        std::to_string(kMaxQuarantined) + ")";
    return db_.exec(trim.c_str());
  });
}

Result<std::vector<QuarantinedRecord>> SqliteOutbox::quarantined(size_t limit) {
  std::vector<QuarantinedRecord> out;
  auto r = call(Op::kRead, [&]() -> Result<void> {
    auto st = db_.prepare(
        "SELECT id, kind, revision, reason, at_ms FROM quarantine ORDER BY at_ms DESC, rowid DESC LIMIT ?1");
    if (!st) return std::unexpected(st.error());
    st->bind(1, static_cast<int64_t>(std::min<size_t>(limit, INT64_MAX)));
    int rc;
    while ((rc = st->step()) == SQLITE_ROW) {
      out.push_back(QuarantinedRecord{std::string(st->text(0)), std::string(st->text(1)), st->int64(2),
                                      std::string(st->text(3)), st->int64(4)});
    }
    if (rc != SQLITE_DONE) return fail(Errc::kIo, "cannot read the quarantine: " + db_.lastError());
    return {};
  });
  if (!r) return std::unexpected(r.error());
  return out;
}

}  // namespace wm::sync::detail
