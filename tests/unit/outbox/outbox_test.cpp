// Behaviour of the SQLite outbox: upsert and revisions, queries, state, the upload queue, group commit,
// the size and age bounds, and the one-connection rule.
#include <atomic>
#include <chrono>
#include <fstream>
#include <future>
#include <thread>

#include "outbox_test_util.h"
#include "sqlite_db.h"

namespace wm::sync {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using api::RecordKind;
using testing::makeRecord;
using testing::rawQuery;
using testing::TempDir;

class OutboxTest : public ::testing::Test {
 protected:
  OutboxOptions options() const {
    OutboxOptions o;
    o.path = dir_.path() / "state" / "outbox.db";
    o.commit_interval = 20ms;
    return o;
  }
  std::unique_ptr<Outbox> open(const OutboxOptions& o) {
    auto ob = Outbox::open(o, clock_);
    EXPECT_TRUE(ob) << ob.error().message;
    return ob ? std::move(*ob) : nullptr;
  }
  std::unique_ptr<Outbox> open() { return open(options()); }

  TempDir dir_;
  ManualClock clock_;
  UuidV7Generator ids_{clock_};
  const int64_t t0_ = toUnixMs(clock_.wall());
};

TEST_F(OutboxTest, UpsertKeepsTheHighestRevision) {
  auto ob = open();
  auto r = makeRecord(ids_, RecordKind::kAppUsage, t0_, std::nullopt, {{"app", "a"}});
  r.revision = 2;
  ASSERT_TRUE(ob->putSync(r));
  auto lower = r;
  lower.revision = 1;
  lower.data = {{"app", "older"}};
  ASSERT_TRUE(ob->putSync(lower));
  auto same = r;
  same.data = {{"app", "same revision"}};
  ASSERT_TRUE(ob->putSync(same));
  auto got = ob->get(r.id);
  ASSERT_TRUE(got && *got);
  EXPECT_EQ((*got)->revision, 2);
  EXPECT_EQ((*got)->data["app"], "a");
  EXPECT_TRUE((*got)->isOpen());

  auto higher = r;
  higher.revision = 3;
  higher.end_ms = t0_ + 5000;
  higher.duration_ms = 5000;
  higher.data = {{"app", "closed"}};
  ASSERT_TRUE(ob->putSync(higher));
  got = ob->get(r.id);
  ASSERT_TRUE(got && *got);
  EXPECT_EQ((*got)->revision, 3);
  EXPECT_EQ((*got)->end_ms, t0_ + 5000);
  EXPECT_EQ((*got)->duration_ms, 5000);
  EXPECT_EQ((*got)->data["app"], "closed");
  EXPECT_EQ(ob->stats()->records, 1);

  auto missing = ob->get(ids_.next());
  ASSERT_TRUE(missing);
  EXPECT_FALSE(*missing);
}

TEST_F(OutboxTest, RejectsInvalidRecordsThroughDone) {
  auto ob = open();
  auto r = makeRecord(ids_, RecordKind::kAppUsage, t0_, t0_);
  r.id = "not-a-uuid";
  auto res = ob->putSync(r);
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().code, Errc::kInvalidInput);
  r.id = ids_.next();
  r.revision = 0;
  EXPECT_FALSE(ob->putSync(r));
}

TEST_F(OutboxTest, QuerySelectsByOverlapKindAndOpenness) {
  auto ob = open();
  const auto before = makeRecord(ids_, RecordKind::kAppUsage, t0_, t0_ + 1000);           // ends at range start
  const auto overlap = makeRecord(ids_, RecordKind::kAppUsage, t0_ + 500, t0_ + 1500);    // crosses start
  const auto inside = makeRecord(ids_, RecordKind::kIdlePeriod, t0_ + 1200, t0_ + 1300);  // inside
  const auto point = makeRecord(ids_, RecordKind::kUsbEvent, t0_ + 1000, t0_ + 1000);     // point at start
  const auto open_span = makeRecord(ids_, RecordKind::kTimeEntry, t0_ + 100, std::nullopt);
  const auto after = makeRecord(ids_, RecordKind::kAppUsage, t0_ + 2000, t0_ + 3000);  // starts at range end
  for (const auto& r : {before, overlap, inside, point, open_span, after}) ob->put(r);

  RecordQuery q;
  q.from_ms = t0_ + 1000;
  q.to_ms = t0_ + 2000;
  auto got = ob->query(q);  // a query sees every put queued before it
  ASSERT_TRUE(got) << got.error().message;
  std::vector<std::string> ids;
  for (const auto& r : *got) ids.push_back(r.id);
  EXPECT_EQ(ids, (std::vector<std::string>{open_span.id, overlap.id, point.id, inside.id}));

  q.kinds = {RecordKind::kAppUsage, RecordKind::kUsbEvent};
  got = ob->query(q);
  ASSERT_TRUE(got);
  ASSERT_EQ(got->size(), 2u);
  EXPECT_EQ((*got)[0].id, overlap.id);
  EXPECT_EQ((*got)[1].id, point.id);

  RecordQuery open_q;
  open_q.open_only = true;
  got = ob->query(open_q);
  ASSERT_TRUE(got);
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].id, open_span.id);

  RecordQuery limited;
  limited.limit = 2;
  got = ob->query(limited);
  ASSERT_TRUE(got);
  ASSERT_EQ(got->size(), 2u);
  EXPECT_EQ((*got)[0].id, before.id);
}

TEST_F(OutboxTest, StateIsDurableKeyValue) {
  {
    auto ob = open();
    EXPECT_FALSE(*ob->getState("heartbeat"));
    ASSERT_TRUE(ob->setState("heartbeat", "1"));
    ASSERT_TRUE(ob->setState("heartbeat", "2"));
    ASSERT_TRUE(ob->setState("other", std::string("bin\0ary", 7)));
    EXPECT_EQ(*ob->getState("heartbeat"), "2");
  }
  auto ob = open();
  EXPECT_EQ(*ob->getState("heartbeat"), "2");
  EXPECT_EQ(*ob->getState("other"), std::string("bin\0ary", 7));
}

TEST_F(OutboxTest, PendingUntilTheLatestRevisionIsAcknowledged) {
  auto ob = open();
  auto a = makeRecord(ids_, RecordKind::kAppUsage, t0_ + 2, t0_ + 3);
  auto b = makeRecord(ids_, RecordKind::kTimeEntry, t0_ + 1, std::nullopt);
  auto c = makeRecord(ids_, RecordKind::kBreak, t0_ + 3, t0_ + 4);
  for (const auto& r : {a, b, c}) ob->put(r);
  auto p = ob->pending(10);
  ASSERT_TRUE(p);
  ASSERT_EQ(p->size(), 3u);
  EXPECT_EQ((*p)[0].id, b.id);  // oldest first
  EXPECT_EQ(ob->pending(2)->size(), 2u);

  ASSERT_TRUE(ob->markSent({{a.id, 1}, {b.id, 1}, {ids_.next(), 1}}));  // an unknown id is harmless
  p = ob->pending(10);
  ASSERT_EQ(p->size(), 1u);
  EXPECT_EQ((*p)[0].id, c.id);
  EXPECT_EQ(ob->stats()->pending, 1);

  // The running entry changes: its new revision is pending again, and a late ack of the old one does not
  // hide it.
  b.revision = 2;
  b.end_ms = t0_ + 10;
  ob->put(b);
  ASSERT_TRUE(ob->markSent({{b.id, 1}}));
  p = ob->pending(10);
  ASSERT_EQ(p->size(), 2u);
  EXPECT_EQ((*p)[0].id, b.id);
  EXPECT_EQ((*p)[0].revision, 2);
  ASSERT_TRUE(ob->markSent({{b.id, 2}, {c.id, 1}}));
  EXPECT_TRUE(ob->pending(10)->empty());
  EXPECT_EQ(ob->stats()->pending, 0);
  EXPECT_EQ(ob->stats()->records, 3);
}

TEST_F(OutboxTest, GroupCommitAcknowledgesOnlyAfterTheCommit) {
  auto o = options();
  o.commit_interval = 300ms;
  auto ob = open(o);
  const fs::path snapshot = dir_.path() / "snapshot.db";
  constexpr int kPuts = 500;
  std::atomic<int> acked{0};
  std::atomic<int> visible_at_ack{-1};
  std::promise<void> all_done;
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::string> ids;
  for (int i = 0; i < kPuts; ++i) {
    auto r = makeRecord(ids_, RecordKind::kAppUsage, t0_ + i, t0_ + i + 1);
    ids.push_back(r.id);
    const bool first = i == 0;
    ob->put(r, [&, first, path = o.path](Result<void> res) {
      ASSERT_TRUE(res) << res.error().message;
      if (first) {
        // Copy the files as they are on disk at the moment of the ack: the copy must already hold the record.
        fs::copy_file(path, snapshot);
        fs::copy_file(path.string() + "-wal", snapshot.string() + "-wal");
        visible_at_ack = std::stoi(rawQuery(snapshot, "SELECT count(*) FROM records"));
      }
      if (++acked == kPuts) all_done.set_value();
    });
  }
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(acked.load(), 0) << "nothing may be acknowledged before the group commit";
  ASSERT_EQ(all_done.get_future().wait_for(5s), std::future_status::ready);
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_GE(waited, 250ms);
  EXPECT_LT(waited, 1s) << "records must be durable within a second";
  EXPECT_EQ(visible_at_ack.load(), kPuts) << "all puts share one transaction, committed before any ack";
}

TEST_F(OutboxTest, DefaultIntervalMakesRecordsDurableWithinASecond) {
  auto o = options();
  o.commit_interval = OutboxOptions{}.commit_interval;
  auto ob = open(o);
  std::promise<Result<void>> done;
  const auto start = std::chrono::steady_clock::now();
  ob->put(makeRecord(ids_, RecordKind::kAppUsage, t0_, t0_), [&](Result<void> r) { done.set_value(r); });
  auto f = done.get_future();
  ASSERT_EQ(f.wait_for(1s), std::future_status::ready);
  EXPECT_TRUE(f.get());
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
}

TEST_F(OutboxTest, ClosingCommitsWhatIsQueued) {
  std::vector<std::string> ids;
  {
    auto o = options();
    o.commit_interval = 10s;
    auto ob = open(o);
    for (int i = 0; i < 100; ++i) {
      auto r = makeRecord(ids_, RecordKind::kActivity, t0_ + i, t0_ + i);
      ids.push_back(r.id);
      ob->put(r);
    }
  }
  auto ob = open();
  EXPECT_EQ(ob->stats()->records, 100);
  EXPECT_TRUE(*ob->get(ids.back()));
}

TEST_F(OutboxTest, DoneCallbacksMayPutButNotWaitOnTheWriter) {
  auto ob = open();
  std::promise<std::pair<bool, bool>> seen;
  auto follow = makeRecord(ids_, RecordKind::kAppUsage, t0_ + 1, t0_ + 2);
  ob->put(makeRecord(ids_, RecordKind::kAppUsage, t0_, t0_), [&](Result<void>) {
    const bool sync_refused = !ob->flush();  // would deadlock: the writer would wait for itself
    ob->put(follow);
    seen.set_value({sync_refused, true});
  });
  auto f = seen.get_future();
  ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
  EXPECT_TRUE(f.get().first);
  ASSERT_TRUE(ob->flush());
  ASSERT_TRUE(ob->flush());
  EXPECT_TRUE(*ob->get(follow.id));
}

TEST_F(OutboxTest, SizeBoundDropsLowestValueFirstAndCounts) {
  auto o = options();
  o.max_bytes = 400 * 1024;
  std::vector<std::string> time_entries, sent_spans, pending_spans;
  {
    auto ob = open(o);
    for (int i = 0; i < 50; ++i) {
      auto te = makeRecord(ids_, RecordKind::kTimeEntry, t0_ + i, t0_ + i + 1, {{"note", std::string(500, 't')}});
      time_entries.push_back(te.id);
      ob->put(te);
      auto sent = makeRecord(ids_, RecordKind::kAppUsage, t0_ + i, t0_ + i + 1, {{"title", std::string(200, 's')}});
      sent_spans.push_back(sent.id);
      ob->put(sent);
      auto pend = makeRecord(ids_, RecordKind::kAppUsage, t0_ + i, t0_ + i + 1, {{"title", std::string(200, 'p')}});
      pending_spans.push_back(pend.id);
      ob->put(pend);
    }
    std::vector<std::pair<std::string, int64_t>> acks;
    for (const auto& id : sent_spans) acks.emplace_back(id, 1);
    ASSERT_TRUE(ob->markSent(acks));
    // Screenshots (the lowest value) until well over the bound.
    for (int i = 0; i < 400; ++i) {
      ob->put(
          makeRecord(ids_, RecordKind::kScreenshot, t0_ + 100 + i, t0_ + 100 + i, {{"jpeg", std::string(2000, 'x')}}));
    }
    ASSERT_TRUE(ob->flush());
    ASSERT_TRUE(ob->flush());  // the bound is applied right after each commit

    auto s = ob->stats();
    ASSERT_TRUE(s);
    EXPECT_LE(s->bytes, o.max_bytes);
    EXPECT_GT(s->dropped["screenshot"], 0);
    EXPECT_EQ(s->dropped["app_usage"], 50) << "uploaded spans go before anything still pending";
    EXPECT_EQ(s->dropped.count("time_entry"), 0u);
    for (const auto& id : time_entries) EXPECT_TRUE(*ob->get(id)) << "time entries are never dropped";
    for (const auto& id : sent_spans) EXPECT_FALSE(*ob->get(id));
    for (const auto& id : pending_spans) EXPECT_TRUE(*ob->get(id)) << "pending spans outrank screenshots";

    RecordQuery q;
    q.kinds = {RecordKind::kIncident};
    auto incidents = ob->query(q);
    ASSERT_TRUE(incidents);
    ASSERT_FALSE(incidents->empty());
    EXPECT_EQ(incidents->back().data["what"], "records_dropped");
    EXPECT_GT(incidents->back().data["detail"]["dropped"]["screenshot"].get<int64_t>(), 0);
  }
  // The counters are persisted.
  auto ob = open(o);
  auto s = ob->stats();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->dropped["app_usage"], 50);
  EXPECT_GT(s->dropped["screenshot"], 0);
}

TEST_F(OutboxTest, OnlyUndroppableLeftStaysAndKeepsWorking) {
  auto o = options();
  o.max_bytes = 64 * 1024;
  auto ob = open(o);
  for (int i = 0; i < 200; ++i) {
    ob->put(makeRecord(ids_, RecordKind::kTimeEntry, t0_ + i, t0_ + i, {{"note", std::string(1000, 'n')}}));
  }
  ASSERT_TRUE(ob->flush());
  EXPECT_EQ(ob->stats()->records, 200);
  EXPECT_EQ(ob->stats()->dropped.count("time_entry"), 0u);
}

TEST_F(OutboxTest, AgeBoundDropsOldClosedRecordsOnly) {
  auto o = options();
  o.max_age = std::chrono::hours(24 * 30);
  auto ob = open(o);
  const int64_t day = 86'400'000;
  auto old_span = makeRecord(ids_, RecordKind::kAppUsage, t0_ - 41 * day, t0_ - 40 * day);
  auto old_entry = makeRecord(ids_, RecordKind::kTimeEntry, t0_ - 41 * day, t0_ - 40 * day);
  auto old_open = makeRecord(ids_, RecordKind::kIdlePeriod, t0_ - 41 * day, std::nullopt);
  auto recent = makeRecord(ids_, RecordKind::kAppUsage, t0_ - 10 * day, t0_ - 10 * day + 5);
  for (const auto& r : {old_span, old_entry, old_open, recent}) ob->put(r);
  ASSERT_TRUE(ob->flush());
  // The age bound runs about once a minute of (injected) time.
  clock_.advance(61s);
  ASSERT_TRUE(ob->putSync(makeRecord(ids_, RecordKind::kActivity, t0_, t0_)));
  EXPECT_FALSE(*ob->get(old_span.id));
  EXPECT_TRUE(*ob->get(old_entry.id));
  EXPECT_TRUE(*ob->get(old_open.id));
  EXPECT_TRUE(*ob->get(recent.id));
  EXPECT_EQ(ob->stats()->dropped["app_usage"], 1);
}

TEST_F(OutboxTest, UsesExactlyOneConnection) {
  detail::resetPeakConnectionCount();
  const int64_t before = detail::openConnectionCount();
  auto ob = open();
  for (int i = 0; i < 100; ++i) ob->put(makeRecord(ids_, RecordKind::kAppUsage, t0_ + i, t0_ + i));
  ASSERT_TRUE(ob->setState("k", "v"));
  ASSERT_TRUE(ob->query({}));
  ASSERT_TRUE(ob->pending(10));
  ASSERT_TRUE(ob->markSent({}));
  ASSERT_TRUE(ob->stats());
  ASSERT_TRUE(ob->flush());
  EXPECT_EQ(detail::openConnectionCount(), before + 1);
  EXPECT_EQ(detail::peakConnectionCount(), before + 1);

  // And the operating system agrees: the database and its WAL are open once in this process.
  const fs::path db = fs::canonical(options().path);
  int db_fds = 0, wal_fds = 0;
  for (const auto& e : fs::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    const fs::path target = fs::read_symlink(e.path(), ec);
    if (ec) continue;
    if (target == db) ++db_fds;
    if (target == fs::path(db.string() + "-wal")) ++wal_fds;
  }
  EXPECT_EQ(db_fds, 1);
  EXPECT_EQ(wal_fds, 1);
  EXPECT_FALSE(fs::exists(db.string() + "-shm")) << "exclusive locking: no shared wal-index";
  ob.reset();
  EXPECT_EQ(detail::openConnectionCount(), before);
}

TEST_F(OutboxTest, ASecondConnectionIsRefused) {
  auto ob = open();
  ASSERT_TRUE(ob->putSync(makeRecord(ids_, RecordKind::kAppUsage, t0_, t0_)));
  detail::resetPeakConnectionCount();

  // A second outbox on the file in this process is refused before it opens a connection...
  auto second = Outbox::open(options(), clock_);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, Errc::kBusy);
  EXPECT_EQ(detail::peakConnectionCount(), 1);
  // ...and any other connection (another process, a tool) is locked out by the exclusive lock.
  EXPECT_NE(rawQuery(options().path, "SELECT count(*) FROM records").find("locked"), std::string::npos);
  // Nothing was mistaken for damage.
  for (const auto& e : fs::directory_iterator(options().path.parent_path())) {
    EXPECT_EQ(e.path().filename().string().find(".corrupt-"), std::string::npos) << e.path();
  }
  EXPECT_EQ(ob->stats()->records, 1);
  ob.reset();
  EXPECT_EQ(rawQuery(options().path, "SELECT count(*) FROM records"), "1") << "the lock ends with the outbox";
}

// A value replaced by a higher revision (a window title withheld after it was written) stays in the files as an
// old page image until scrub(): then neither the database nor its WAL holds its bytes.
TEST_F(OutboxTest, ScrubLeavesNoTraceOfAReplacedValueInTheFiles) {
  auto bytesOnDisk = [&](const std::string& needle) {
    int found = 0;
    for (const char* suffix : {"", "-wal"}) {
      std::ifstream in(options().path.string() + suffix, std::ios::binary);
      const std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (content.find(needle) != std::string::npos) ++found;
    }
    return found;
  };
  auto ob = open();
  auto r = makeRecord(ids_, RecordKind::kAppUsage, t0_, std::nullopt, {{"app", "browser"}, {"title", "SecretTitle-1"}});
  ASSERT_TRUE(ob->putSync(r));
  for (int i = 0; i < 20; ++i)  // other records, so the page is rewritten more than once
    ASSERT_TRUE(ob->putSync(makeRecord(ids_, RecordKind::kAppUsage, t0_ + i, t0_ + i + 1, {{"app", "x"}})));
  r.revision += 1;
  r.data["title"] = "";
  ASSERT_TRUE(ob->putSync(r));
  // Without scrub the old title is still in a file (the control: this test can fail).
  EXPECT_GE(bytesOnDisk("SecretTitle-1"), 1);

  auto again =
      makeRecord(ids_, RecordKind::kAppUsage, t0_, std::nullopt, {{"app", "browser"}, {"title", "SecretTitle-2"}});
  ASSERT_TRUE(ob->putSync(again));
  again.revision += 1;
  again.data["title"] = "";
  ob->put(again);  // queued, not committed yet: scrub commits it first
  std::promise<Result<void>> done;
  ob->scrub([&](Result<void> res) { done.set_value(res); });
  auto res = done.get_future().get();
  ASSERT_TRUE(res) << res.error().message;
  EXPECT_EQ(bytesOnDisk("SecretTitle-1"), 0);
  EXPECT_EQ(bytesOnDisk("SecretTitle-2"), 0);
  EXPECT_EQ(fs::file_size(options().path.string() + "-wal"), 0u);
  auto got = ob->get(again.id);
  ASSERT_TRUE(got && *got);
  EXPECT_EQ((*got)->revision, again.revision);
  EXPECT_EQ((*got)->data["title"], "");
  EXPECT_EQ(ob->stats().value().records, 22);
}

}  // namespace
}  // namespace wm::sync
