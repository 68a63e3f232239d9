// Batch building by count and size, and reading the per-record reply.
#include <gtest/gtest.h>

#include "workmonitor/common/uuid.h"
#include "workmonitor/sync/batch.h"

namespace wm::sync {
namespace {

using nlohmann::json;

std::vector<api::Record> records(size_t n, size_t data_bytes = 10) {
  ManualClock clock;
  UuidV7Generator ids(clock);
  std::vector<api::Record> out;
  for (size_t i = 0; i < n; ++i) {
    api::Record r;
    r.id = ids.next();
    r.kind = api::RecordKind::kAppUsage;
    r.revision = static_cast<int64_t>(i % 3) + 1;
    r.start_ms = 1000 + static_cast<int64_t>(i);
    r.end_ms = r.start_ms + 5;
    r.duration_ms = 5;
    r.data = {{"title", std::string(data_bytes, 'x')}};
    out.push_back(r);
  }
  return out;
}

TEST(BuildBatch, TakesAtMostTheCountAndTheBodyIsTheDocumentedEnvelope) {
  auto rs = records(10);
  Batch b = buildBatch(rs, 4, 1 << 20, "batch-1", BatchHeader{"dev-1", "0.1.0"});
  ASSERT_EQ(b.records.size(), 4u);
  json body = json::parse(b.body);
  EXPECT_EQ(body["batch_id"], "batch-1");
  EXPECT_EQ(body["device_id"], "dev-1");
  EXPECT_EQ(body["agent_version"], "0.1.0");
  EXPECT_EQ(body["format_version"], api::kRecordFormatVersion);
  ASSERT_EQ(body["records"].size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    auto parsed = api::recordFromJson(body["records"][i]);
    ASSERT_TRUE(parsed) << parsed.error().message;
    EXPECT_EQ(parsed->id, rs[i].id);
    EXPECT_EQ(b.records[i], std::make_pair(rs[i].id, rs[i].revision));
  }
}

TEST(BuildBatch, CarriesTheQueueHealthWhenKnown) {
  auto rs = records(2);
  EXPECT_FALSE(json::parse(buildBatch(rs, 10, 1 << 20, "b", BatchHeader{"dev-1", "0.1.0"}).body).contains("queue"));
  json body = json::parse(
      buildBatch(rs, 10, 1 << 20, "b", BatchHeader{"dev-1", "0.1.0", QueueHealth{1200, 3, 1700000000000}}).body);
  EXPECT_EQ(body["queue"], (json{{"pending", 1200}, {"quarantined", 3}, {"oldest_pending_ms", 1700000000000}}));
  EXPECT_EQ(body["records"].size(), 2u);
}

TEST(BuildBatch, StopsBeforeTheSizeLimitButAlwaysTakesTheFirstRecord) {
  auto rs = records(10, 1000);
  Batch b = buildBatch(rs, 100, 3500, "b", {});
  EXPECT_GE(b.records.size(), 2u);
  EXPECT_LT(b.records.size(), 4u);
  EXPECT_LE(b.body.size(), 3500u);
  EXPECT_TRUE(json::parse(b.body, nullptr, false).is_object());

  Batch one = buildBatch(rs, 100, 10, "b", {});  // every record alone is over the limit
  ASSERT_EQ(one.records.size(), 1u);
  EXPECT_GT(one.body.size(), 10u);

  Batch none = buildBatch({}, 100, 1000, "b", {});
  EXPECT_TRUE(none.records.empty());
  EXPECT_EQ(json::parse(none.body)["records"].size(), 0u);
}

TEST(BuildBatch, InvalidUtf8InATitleDoesNotThrow) {
  auto rs = records(1);
  rs[0].data["title"] = std::string("bad \xff\xfe bytes");
  Batch b = buildBatch(rs, 10, 1 << 20, "b", {});
  EXPECT_TRUE(json::parse(b.body, nullptr, false).is_object());
}

TEST(ReadBatchReply, SortsStoredDuplicateAndRejectedAndIgnoresStrangers) {
  auto rs = records(4);
  Batch b = buildBatch(rs, 10, 1 << 20, "b", {});
  json reply{{"results",
              {{{"id", rs[0].id}, {"revision", rs[0].revision}, {"status", "stored"}},
               {{"id", rs[1].id}, {"revision", 99}, {"status", "duplicate"}},
               {{"id", rs[2].id}, {"revision", rs[2].revision}, {"status", "rejected"}, {"reason", "end before start"}},
               {{"id", "not-ours"}, {"status", "stored"}},
               {{"id", rs[0].id}, {"status", "rejected"}},  // a second answer for the same id is ignored
               "garbage"}}};
  auto out = readBatchReply(b, reply);
  ASSERT_TRUE(out);
  ASSERT_EQ(out->acknowledged.size(), 2u);
  EXPECT_EQ(out->acknowledged[0], std::make_pair(rs[0].id, rs[0].revision));
  // Acknowledged with the revision that was sent, not whatever the reply claims.
  EXPECT_EQ(out->acknowledged[1], std::make_pair(rs[1].id, rs[1].revision));
  ASSERT_EQ(out->rejected.size(), 1u);
  EXPECT_EQ(out->rejected[0].id, rs[2].id);
  EXPECT_EQ(out->rejected[0].reason, "end before start");
  EXPECT_EQ(out->unanswered, 1u);  // rs[3]

  EXPECT_FALSE(readBatchReply(b, json{{"nope", 1}}));
  EXPECT_FALSE(readBatchReply(b, json::array()));
}

// What the uploader needs to know to put a batch on the wire beside another: the records its records refer to
// (an idle period's entry, a screenshot's entry and the earlier shot it repeats) and its screenshots.
TEST(BuildBatch, KnowsItsScreenshotsAndTheRecordsItsRecordsReferTo) {
  auto rs = records(4);
  rs[1].kind = api::RecordKind::kIdlePeriod;
  rs[1].data = {{"decision", "keep"}, {"entry_id", "entry-1"}};
  rs[2].kind = api::RecordKind::kScreenshot;
  rs[2].data = {{"time_entry_id", "entry-2"}, {"same_as", "shot-0"}, {"unchanged", true}};
  rs[3].kind = api::RecordKind::kIdlePeriod;
  rs[3].data = {{"decision", "pending"}, {"entry_id", ""}};  // no entry: refers to nothing
  Batch b = buildBatch(rs, 10, 1 << 20, "b", BatchHeader{});
  EXPECT_EQ(b.references, (std::unordered_set<std::string>{"entry-1", "entry-2", "shot-0"}));
  EXPECT_EQ(b.screenshots, (std::unordered_set<std::string>{rs[2].id}));
  // Only the records taken count.
  Batch first = buildBatch(rs, 1, 1 << 20, "b1", BatchHeader{});
  EXPECT_TRUE(first.references.empty());
  EXPECT_TRUE(first.screenshots.empty());
}

}  // namespace
}  // namespace wm::sync
