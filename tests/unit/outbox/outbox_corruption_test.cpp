// Damaged storage: whatever state the files are in, open() either gives a working outbox (moving the damage
// aside and keeping an incident for upload) or, when nothing can be created at all, a clear error.
#include <algorithm>
#include <fstream>
#include <set>

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

class OutboxCorruptionTest : public ::testing::Test {
 protected:
  OutboxOptions options() const {
    OutboxOptions o;
    o.path = dir_.path() / "outbox.db";
    o.commit_interval = 20ms;
    return o;
  }
  // Writes `n` records through a real outbox and closes it.
  std::vector<std::string> fill(int n) {
    std::vector<std::string> ids;
    auto ob = Outbox::open(options(), clock_);
    EXPECT_TRUE(ob);
    if (!ob) return ids;
    for (int i = 0; i < n; ++i) {
      auto r = makeRecord(ids_, RecordKind::kAppUsage, t0_ + i, t0_ + i + 1, {{"title", std::string(300, 'a')}});
      ids.push_back(r.id);
      (*ob)->put(r);
    }
    EXPECT_TRUE((*ob)->flush());
    return ids;
  }
  std::vector<fs::path> aside() const {
    std::vector<fs::path> out;
    for (const auto& e : fs::directory_iterator(dir_.path())) {
      if (e.path().filename().string().find(".corrupt-") != std::string::npos) out.push_back(e.path());
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  // Opens what is there and checks the outbox works and reports exactly one incident of `what`.
  std::unique_ptr<Outbox> openExpectingIncident(const std::string& what) {
    auto ob = Outbox::open(options(), clock_);
    EXPECT_TRUE(ob) << ob.error().message;
    if (!ob) return nullptr;
    auto incidents = (*ob)->startupIncidents();
    EXPECT_EQ(incidents.size(), 1u);
    if (incidents.empty()) return std::move(*ob);
    EXPECT_EQ(incidents[0].what, what);
    EXPECT_NE(incidents[0].detail.find(".corrupt-"), std::string::npos) << incidents[0].detail;
    // Kept for upload as an incident record.
    RecordQuery q;
    q.kinds = {RecordKind::kIncident};
    auto stored = (*ob)->query(q);
    EXPECT_TRUE(stored);
    EXPECT_EQ(stored->size(), 1u);
    if (stored && !stored->empty()) {
      EXPECT_EQ(stored->front().data["what"], what);
      const auto pending = (*ob)->pending(100000);
      EXPECT_TRUE(std::any_of(pending->begin(), pending->end(), [&](const api::Record& r) {
        return r.id == stored->front().id;
      })) << "the incident is queued for upload";
    }
    // And it takes new records.
    EXPECT_TRUE((*ob)->putSync(makeRecord(ids_, RecordKind::kAppUsage, t0_, t0_)));
    return std::move(*ob);
  }

  TempDir dir_;
  ManualClock clock_;
  UuidV7Generator ids_{clock_};
  const int64_t t0_ = toUnixMs(clock_.wall());
};

TEST_F(OutboxCorruptionTest, FileThatIsNotADatabase) {
  {
    std::ofstream f(options().path);
    for (int i = 0; i < 200; ++i) f << "this is a text file, not a database\n";
  }
  auto ob = openExpectingIncident("corrupt_database");
  EXPECT_EQ(aside().size(), 1u);
}

TEST_F(OutboxCorruptionTest, TruncatedDatabase) {
  fill(2000);
  const auto size = fs::file_size(options().path);
  ASSERT_GT(size, 100'000u);
  fs::resize_file(options().path, size / 2);
  auto ob = openExpectingIncident("corrupt_database");
  EXPECT_EQ((*ob->stats()).records, 2);  // the incident and the new record: a fresh database
  ASSERT_GE(aside().size(), 1u);
  EXPECT_EQ(fs::file_size(aside()[0]), size / 2) << "the damaged file is kept as it was";
}

TEST_F(OutboxCorruptionTest, DatabaseTruncatedInsideItsHeader) {
  fill(10);
  fs::resize_file(options().path, 50);
  auto ob = openExpectingIncident("corrupt_database");
}

TEST_F(OutboxCorruptionTest, DamagedPageInTheMiddle) {
  fill(3000);
  {
    // Overwrite the interior of a few pages (leaving the header): a b-tree page full of garbage.
    std::fstream f(options().path, std::ios::in | std::ios::out | std::ios::binary);
    const std::string garbage(4096, '\xA5');
    for (int page : {3, 7, 11}) {
      f.seekp(static_cast<std::streamoff>(page) * 4096);
      f.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
    }
  }
  auto ob = openExpectingIncident("corrupt_database");
}

TEST_F(OutboxCorruptionTest, GarbageWalIsMovedAsideAndTheDatabaseKept) {
  const auto ids = fill(100);
  {
    std::ofstream wal(options().path.string() + "-wal", std::ios::binary);
    for (int i = 0; i < 1000; ++i) wal << "garbage-wal-bytes";
  }
  auto ob = openExpectingIncident("corrupt_wal");
  // The main file is consistent without its WAL (a checkpoint wrote everything when it was closed).
  EXPECT_TRUE(*ob->get(ids.front()));
  EXPECT_TRUE(*ob->get(ids.back()));
  const auto moved = aside();
  ASSERT_EQ(moved.size(), 1u);
  EXPECT_TRUE(moved[0].string().ends_with("-wal"));
  EXPECT_EQ(fs::file_size(moved[0]), 17u * 1000);
}

TEST_F(OutboxCorruptionTest, ForeignDatabaseIsMovedAside) {
  EXPECT_EQ(rawQuery(options().path, "SELECT 1"), "open failed");  // no file yet
  { std::ofstream touch(options().path); }
  rawQuery(options().path, "CREATE TABLE records (something_else TEXT)");
  auto ob = openExpectingIncident("corrupt_database");
}

TEST_F(OutboxCorruptionTest, DatabaseFromANewerBuildIsMovedAside) {
  fill(1);
  rawQuery(options().path, "PRAGMA user_version = 99");
  auto ob = openExpectingIncident("corrupt_database");
}

TEST_F(OutboxCorruptionTest, RepeatedDamageKeepsOnlyTheLastFewAside) {
  detail::resetPeakConnectionCount();
  for (int i = 0; i < 6; ++i) {
    {
      auto ob = Outbox::open(options(), clock_);
      ASSERT_TRUE(ob) << ob.error().message;
    }
    clock_.advance(1s);
    std::ofstream f(options().path, std::ios::trunc);
    f << std::string(8192, 'z');
  }
  auto ob = openExpectingIncident("corrupt_database");
  std::set<std::string> sets;
  for (const auto& p : aside()) {
    std::string name = p.filename().string();
    if (name.ends_with("-wal") || name.ends_with("-shm")) name.resize(name.size() - 4);
    sets.insert(name);
  }
  EXPECT_EQ(sets.size(), 3u);
  EXPECT_LE(detail::peakConnectionCount(), 1) << "the damaged connection is closed before the fresh one opens";
}

TEST_F(OutboxCorruptionTest, MalformedStoredJsonDoesNotCrash) {
  const auto ids = fill(3);
  rawQuery(options().path, "UPDATE records SET data = '{not json' WHERE id = '" + ids[0] + "'");
  rawQuery(options().path, "UPDATE records SET kind = 'from_the_future' WHERE id = '" + ids[1] + "'");
  auto ob = Outbox::open(options(), clock_);
  ASSERT_TRUE(ob) << ob.error().message;
  EXPECT_TRUE((*ob)->startupIncidents().empty()) << "the file itself is sound";
  auto all = (*ob)->query({});
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ(all->front().id, ids[2]);
  auto one = (*ob)->get(ids[0]);
  ASSERT_TRUE(one);
  EXPECT_FALSE(*one);
  // The upload queue is not blocked by rows that can never be read.
  auto p = (*ob)->pending(10);
  ASSERT_TRUE(p);
  ASSERT_EQ(p->size(), 1u);
  EXPECT_EQ((*ob)->stats()->pending, 1);
}

TEST_F(OutboxCorruptionTest, UncreatableDatabaseIsAClearError) {
  const fs::path file = dir_.path() / "a-file";
  { std::ofstream(file) << "x"; }
  OutboxOptions o = options();
  o.path = file / "outbox.db";  // its "directory" is a regular file
  auto ob = Outbox::open(o, clock_);
  ASSERT_FALSE(ob);
  EXPECT_EQ(ob.error().code, Errc::kIo);
  EXPECT_NE(ob.error().message.find(file.string()), std::string::npos) << ob.error().message;

  o.path = dir_.path();  // a directory, not a file
  o.path /= "";
  ob = Outbox::open(o, clock_);
  ASSERT_FALSE(ob);

  fs::create_directories(dir_.path() / "is-a-dir.db");
  o.path = dir_.path() / "is-a-dir.db";
  ob = Outbox::open(o, clock_);
  ASSERT_FALSE(ob);
  EXPECT_EQ(ob.error().code, Errc::kIo);
  EXPECT_TRUE(fs::is_directory(o.path)) << "nothing is moved aside when the problem is not damage";
}

}  // namespace
}  // namespace wm::sync
