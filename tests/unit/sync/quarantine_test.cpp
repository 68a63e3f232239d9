// The outbox's quarantine: rejected revisions leave the upload queue with their reason; later ones do not.
#include <gtest/gtest.h>

#include "outbox_test_util.h"
#include "workmonitor/sync/outbox.h"

namespace wm::sync {
namespace {

using testing::TempDir;

class QuarantineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    OutboxOptions o;
    o.path = dir_.path() / "outbox.db";
    auto ob = Outbox::open(o, clock_);
    ASSERT_TRUE(ob) << ob.error().message;
    outbox_ = std::move(*ob);
  }
  api::Record put(api::RecordKind kind = api::RecordKind::kAppUsage) {
    auto r = testing::makeRecord(ids_, kind, toUnixMs(clock_.wall()), toUnixMs(clock_.wall()) + 10);
    EXPECT_TRUE(outbox_->putSync(r));
    clock_.advance(Millis(10));
    return r;
  }
  TempDir dir_;
  ManualClock clock_;
  UuidV7Generator ids_{clock_};
  std::unique_ptr<Outbox> outbox_;
};

TEST_F(QuarantineTest, ARejectedRecordLeavesPendingKeepsItsReasonAndIsCounted) {
  auto a = put();
  auto b = put();
  ASSERT_TRUE(outbox_->quarantine({QuarantineRequest{a.id, a.revision, "end_ms before start_ms"}}));
  auto pending = outbox_->pending(10);
  ASSERT_TRUE(pending);
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].id, b.id);
  auto q = outbox_->quarantined(10);
  ASSERT_TRUE(q);
  ASSERT_EQ(q->size(), 1u);
  EXPECT_EQ((*q)[0].id, a.id);
  EXPECT_EQ((*q)[0].kind, "app_usage");
  EXPECT_EQ((*q)[0].reason, "end_ms before start_ms");
  EXPECT_EQ((*q)[0].at_ms, toUnixMs(clock_.wall()));
  auto st = outbox_->stats();
  ASSERT_TRUE(st);
  EXPECT_EQ(st->quarantined, 1);
  EXPECT_EQ(st->pending, 1);
  // The record itself is still there for the user's own view.
  EXPECT_TRUE(outbox_->get(a.id).value().has_value());
}

TEST_F(QuarantineTest, ALaterRevisionOfAQuarantinedRecordIsUploadedAgain) {
  auto a = put(api::RecordKind::kTimeEntry);
  ASSERT_TRUE(outbox_->quarantine({QuarantineRequest{a.id, 1, "bad"}}));
  EXPECT_TRUE(outbox_->pending(10)->empty());
  a.revision = 2;
  ASSERT_TRUE(outbox_->putSync(a));
  auto pending = outbox_->pending(10);
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].revision, 2);
}

TEST_F(QuarantineTest, QuarantiningTheSameRevisionTwiceKeepsOneEntryAndUnknownIdsAreHarmless) {
  auto a = put();
  ASSERT_TRUE(outbox_->quarantine({QuarantineRequest{a.id, 1, "first"}}));
  ASSERT_TRUE(outbox_->quarantine({QuarantineRequest{a.id, 1, "second"}, QuarantineRequest{ids_.next(), 1, "x"}}));
  auto q = outbox_->quarantined(10);
  ASSERT_EQ(q->size(), 1u);
  EXPECT_EQ((*q)[0].reason, "second");
  EXPECT_TRUE(outbox_->quarantine({}));
}

TEST_F(QuarantineTest, SurvivesReopen) {
  auto a = put();
  ASSERT_TRUE(outbox_->quarantine({QuarantineRequest{a.id, 1, "bad"}}));
  outbox_.reset();
  OutboxOptions o;
  o.path = dir_.path() / "outbox.db";
  auto ob = Outbox::open(o, clock_);
  ASSERT_TRUE(ob);
  EXPECT_TRUE((*ob)->startupIncidents().empty());
  EXPECT_EQ((*ob)->stats()->quarantined, 1);
}

TEST(QuarantineMigration, AVersionOneOutboxIsUpgradedInPlace) {
  TempDir dir;
  const auto path = dir.path() / "outbox.db";
  ManualClock clock;
  UuidV7Generator ids(clock);
  const int64_t now = toUnixMs(clock.wall());
  api::Record r = testing::makeRecord(ids, api::RecordKind::kBreak, now, now + 1000);
  {
    auto ob = Outbox::open(OutboxOptions{path}, clock);
    ASSERT_TRUE(ob);
    ASSERT_TRUE((*ob)->putSync(r));
  }
  // Make the file what a version-1 build left behind.
  testing::rawQuery(path, "DROP TABLE quarantine");
  testing::rawQuery(path, "PRAGMA user_version = 1");
  ASSERT_EQ(testing::rawQuery(path, "PRAGMA user_version"), "1");
  auto ob = Outbox::open(OutboxOptions{path}, clock);
  ASSERT_TRUE(ob) << ob.error().message;
  EXPECT_TRUE((*ob)->startupIncidents().empty());
  EXPECT_EQ((*ob)->pending(10)->size(), 1u);
  EXPECT_TRUE((*ob)->quarantine({QuarantineRequest{r.id, 1, "bad"}}));
  ob->reset();
  EXPECT_EQ(testing::rawQuery(path, "PRAGMA user_version"), "2");
}

}  // namespace
}  // namespace wm::sync
