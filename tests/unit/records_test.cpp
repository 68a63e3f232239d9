#include <gtest/gtest.h>

#include "workmonitor/api/records.h"
#include "workmonitor/common/uuid.h"

namespace wm::api {
namespace {

Record sample() {
  ManualClock clock;
  UuidV7Generator gen(clock);
  Record r;
  r.id = gen.next();
  r.kind = RecordKind::kAppUsage;
  r.revision = 3;
  r.start_ms = 1000;
  r.end_ms = 5000;
  r.duration_ms = 4000;
  r.data = {{"app", "Firefox"}, {"title", "Docs"}};
  return r;
}

TEST(Records, JsonRoundTrip) {
  const Record r = sample();
  auto back = recordFromJson(toJson(r));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->id, r.id);
  EXPECT_EQ(back->kind, r.kind);
  EXPECT_EQ(back->revision, 3);
  EXPECT_EQ(back->end_ms, 5000);
  EXPECT_EQ(back->data["title"], "Docs");
}

TEST(Records, OpenSpanHasNullEnd) {
  Record r = sample();
  r.end_ms.reset();
  auto j = toJson(r);
  EXPECT_TRUE(j["end_ms"].is_null());
  auto back = recordFromJson(j);
  ASSERT_TRUE(back);
  EXPECT_TRUE(back->isOpen());
}

TEST(Records, RejectsMalformed) {
  auto base = toJson(sample());
  auto broken = [&](auto mutate) {
    auto j = base;
    mutate(j);
    return !recordFromJson(j).has_value();
  };
  EXPECT_TRUE(broken([](auto& j) { j["id"] = "123"; }));
  EXPECT_TRUE(broken([](auto& j) { j["kind"] = "keystrokes"; }));
  EXPECT_TRUE(broken([](auto& j) { j["revision"] = 0; }));
  EXPECT_TRUE(broken([](auto& j) { j["end_ms"] = 10; }));
  EXPECT_TRUE(broken([](auto& j) { j["data"] = "x"; }));
  EXPECT_TRUE(broken([](auto& j) { j.erase("start_ms"); }));
  EXPECT_FALSE(recordFromJson(nlohmann::json::array()).has_value());
}

TEST(Records, TimeEntriesAreNeverDroppedScreenshotsFirst) {
  EXPECT_TRUE(neverDropped(RecordKind::kTimeEntry));
  EXPECT_FALSE(neverDropped(RecordKind::kScreenshot));
  EXPECT_LT(retentionPriority(RecordKind::kScreenshot), retentionPriority(RecordKind::kAppUsage));
  for (auto k : {RecordKind::kIdlePeriod, RecordKind::kBreak, RecordKind::kAppUsage})
    EXPECT_EQ(kindFromName(kindName(k)), k);
}

}  // namespace
}  // namespace wm::api
