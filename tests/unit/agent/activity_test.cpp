// ActivityAggregator: input counts become one closed activity record per wall-clock minute while the user is
// working, with active seconds and the 10-minute slot's activity percentage; nothing while not working.
#include "workmonitor/agent/activity.h"

#include <gtest/gtest.h>

#include <vector>

#include "workmonitor/api/records.h"

namespace wm::agent {
namespace {

using api::Record;
using api::RecordKind;
using namespace std::chrono_literals;

class Recorder : public RecordSink {
 public:
  void put(const Record& r) override { records.push_back(r); }
  void setState(const std::string&, const std::string&) override {}
  std::vector<Record> records;
};

platform::InputCounts counts(uint32_t keys, uint32_t clicks = 0, uint32_t moves = 0, uint32_t scrolls = 0) {
  return platform::InputCounts{keys, clicks, moves, scrolls};
}

class ActivityTest : public ::testing::Test {
 protected:
  // ManualClock starts at 2026-01-01T00:00:00.000Z: a minute and a slot boundary.
  ManualClock clock;
  UuidV7Generator ids{clock};
  Recorder sink;
  bool working = true;
  ActivityAggregator agg{clock, ids, sink, [this] { return working; }};
  const int64_t t0 = toUnixMs(clock.wall());

  /// Input every second for `seconds` seconds (one delivery a second, as the platform sends them).
  void typeFor(int seconds, uint32_t keys_per_second = 3) {
    for (int i = 0; i < seconds; ++i) {
      clock.advance(1s);
      agg.add(counts(keys_per_second, 0, 10));
      agg.refresh();  // what the daemon's minute timer would do
    }
  }
  /// Time passes without input; the daemon's timer fires at each deadline.
  void waitFor(Millis d) {
    const auto until = clock.mono() + d;
    while (clock.mono() < until) {
      auto next = agg.untilNextDeadline();
      Millis step = until - clock.mono();
      if (next && *next + 1ms < step) step = *next + 1ms;
      clock.advance(step);
      agg.refresh();
    }
  }
};

TEST_F(ActivityTest, OneClosedRecordPerMinuteWithCountsAndActiveSeconds) {
  agg.refresh();  // the timer starts: gate open at 00:00:00
  clock.advance(500ms);
  agg.add(counts(5, 2, 40, 1));  // second 0
  clock.advance(1s);
  agg.add(counts(3, 0, 0, 0));  // second 1
  clock.advance(200ms);
  agg.add(counts(1, 0, 0, 0));  // still second 1: not a new active second
  EXPECT_TRUE(sink.records.empty()) << "nothing until the minute is over";

  ASSERT_TRUE(agg.untilNextDeadline());
  EXPECT_EQ(*agg.untilNextDeadline(), 60s - 1700ms);
  clock.advance(*agg.untilNextDeadline());
  agg.refresh();
  ASSERT_EQ(sink.records.size(), 1u);
  const Record& r = sink.records[0];
  EXPECT_EQ(r.kind, RecordKind::kActivity);
  EXPECT_EQ(r.start_ms, t0);
  ASSERT_TRUE(r.end_ms);
  EXPECT_EQ(*r.end_ms, t0 + 60'000);
  EXPECT_EQ(r.duration_ms, 60'000);
  EXPECT_EQ(r.data["keystrokes"], 9);
  EXPECT_EQ(r.data["clicks"], 2);
  EXPECT_EQ(r.data["moves"], 40);
  EXPECT_EQ(r.data["scrolls"], 1);
  EXPECT_EQ(r.data["mouse_events"], 43);
  EXPECT_EQ(r.data["active_seconds"], 2);
  EXPECT_EQ(r.data["active_ms"], 2000);
  EXPECT_EQ(r.data["slot_start_ms"], t0);
  EXPECT_EQ(r.data["slot_active_seconds"], 2);
  EXPECT_EQ(r.data["slot_tracked_seconds"], 60);
  EXPECT_EQ(r.data["activity_percent"], 3);  // 2 of 60 s
  // A valid record as the outbox and the server read it.
  auto parsed = api::recordFromJson(api::toJson(r));
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_FALSE(parsed->isOpen());
  // The next minute is already open (tracking goes on), from its boundary.
  EXPECT_EQ(*agg.untilNextDeadline(), 60s);
}

TEST_F(ActivityTest, CountsSplitAtTheMinuteBoundary) {
  clock.advance(58s);
  agg.add(counts(4));  // 00:00:58
  clock.advance(1s);
  agg.add(counts(6));  // 00:00:59
  clock.advance(1500ms);
  agg.add(counts(7));  // 00:01:00.5: the first minute is closed first, these go to the second
  ASSERT_EQ(sink.records.size(), 1u);
  EXPECT_EQ(sink.records[0].start_ms, t0 + 58'000) << "the record starts when the gate was first seen open";
  EXPECT_EQ(*sink.records[0].end_ms, t0 + 60'000);
  EXPECT_EQ(sink.records[0].data["keystrokes"], 10);
  EXPECT_EQ(sink.records[0].data["active_seconds"], 2);
  waitFor(60s);
  ASSERT_GE(sink.records.size(), 2u);
  const Record& second = sink.records[1];
  EXPECT_EQ(second.start_ms, t0 + 60'000);
  EXPECT_EQ(*second.end_ms, t0 + 120'000);
  EXPECT_EQ(second.data["keystrokes"], 7);
  EXPECT_EQ(second.data["active_seconds"], 1);
}

TEST_F(ActivityTest, ActiveSecondsGiveTheSlotPercentage) {
  agg.refresh();
  // Ten minutes: 30 active seconds in each of the first five minutes, nothing in the last five.
  for (int minute = 0; minute < 5; ++minute) {
    typeFor(30);
    waitFor(Millis(t0 + (minute + 1) * 60'000 - toUnixMs(clock.wall())));
  }
  waitFor(5min);
  ASSERT_EQ(sink.records.size(), 10u) << "tracked minutes without input are recorded too (with zeros)";
  for (int i = 0; i < 10; ++i) {
    const Record& r = sink.records[static_cast<size_t>(i)];
    EXPECT_EQ(r.start_ms, t0 + i * 60'000);
    EXPECT_EQ(r.duration_ms, 60'000);
    EXPECT_EQ(r.data["slot_start_ms"], t0);
    EXPECT_EQ(r.data["active_seconds"], i < 5 ? 30 : 0) << "minute " << i;
    EXPECT_EQ(r.data["keystrokes"], i < 5 ? 90 : 0) << "minute " << i;
  }
  EXPECT_EQ(sink.records[0].data["activity_percent"], 50);  // cumulative: 30 of 60 s
  const Record& last = sink.records[9];
  EXPECT_EQ(last.data["slot_active_seconds"], 150);
  EXPECT_EQ(last.data["slot_tracked_seconds"], 600);
  EXPECT_EQ(last.data["activity_percent"], 25);  // Hubstaff: 150 active of 600 tracked seconds

  // The next slot starts from zero: input in every second of its first minute.
  agg.add(counts(3, 0, 10));
  typeFor(59);
  waitFor(1s);
  ASSERT_EQ(sink.records.size(), 11u);
  EXPECT_EQ(sink.records[10].data["slot_start_ms"], t0 + 600'000);
  EXPECT_EQ(sink.records[10].data["slot_active_seconds"], 60);
  EXPECT_EQ(sink.records[10].data["activity_percent"], 100);
}

TEST_F(ActivityTest, PercentageIsOverTrackedTimeNotTheWholeSlot) {
  working = false;
  agg.refresh();
  clock.advance(4min);
  working = true;
  agg.refresh();  // the gate opens at 00:04:00
  typeFor(45);
  clock.advance(15s);
  agg.refresh();  // 00:05:00: minute closes
  working = false;
  agg.refresh();
  ASSERT_EQ(sink.records.size(), 1u);
  EXPECT_EQ(sink.records[0].start_ms, t0 + 240'000);
  EXPECT_EQ(sink.records[0].data["slot_tracked_seconds"], 60);
  EXPECT_EQ(sink.records[0].data["activity_percent"], 75);  // 45 of the 60 tracked seconds
}

TEST_F(ActivityTest, NothingWhileTheGateIsClosedAndNoWakeUps) {
  working = false;
  agg.refresh();
  EXPECT_FALSE(agg.untilNextDeadline()) << "nothing open: nothing to wake up for";
  for (int i = 0; i < 180; ++i) {
    clock.advance(1s);
    agg.add(counts(2, 1, 5));  // input while idle / on a break / locked / no timer
  }
  agg.refresh();
  agg.flush();
  EXPECT_TRUE(sink.records.empty()) << "counts are not kept while not working";
}

TEST_F(ActivityTest, GateClosingFlushesTheOpenMinuteAndReopeningStartsANewRecord) {
  agg.refresh();
  typeFor(20);  // 00:00:00 - 00:00:20
  working = false;
  clock.advance(500ms);
  agg.refresh();  // idle, break, lock or timer stop: flush now
  ASSERT_EQ(sink.records.size(), 1u);
  EXPECT_EQ(sink.records[0].start_ms, t0);
  EXPECT_EQ(*sink.records[0].end_ms, t0 + 20'500);
  EXPECT_EQ(sink.records[0].data["active_seconds"], 20);
  EXPECT_FALSE(agg.untilNextDeadline());

  clock.advance(10s);
  agg.add(counts(9));  // not working: dropped
  working = true;
  clock.advance(5s);
  agg.refresh();  // 00:00:35.5
  clock.advance(1s);
  agg.add(counts(1));
  waitFor(30s);
  ASSERT_EQ(sink.records.size(), 2u);
  const Record& again = sink.records[1];
  EXPECT_EQ(again.start_ms, t0 + 35'500);
  EXPECT_EQ(*again.end_ms, t0 + 60'000);
  EXPECT_EQ(again.data["keystrokes"], 1);
  // Same slot: 21 active seconds over 20.5 + 24.5 tracked seconds.
  EXPECT_EQ(again.data["slot_active_seconds"], 21);
  EXPECT_EQ(again.data["slot_tracked_seconds"], 45);
  EXPECT_EQ(again.data["activity_percent"], 47);
}

TEST_F(ActivityTest, CountsArrivingWithTheGateOpenOpenAMinuteWithoutARefresh) {
  clock.advance(12s);
  agg.add(counts(2));
  clock.advance(3s);
  agg.flush();  // shutdown
  ASSERT_EQ(sink.records.size(), 1u);
  EXPECT_EQ(sink.records[0].start_ms, t0 + 12'000);
  EXPECT_EQ(*sink.records[0].end_ms, t0 + 15'000);
  EXPECT_EQ(sink.records[0].data["keystrokes"], 2);
  agg.flush();
  EXPECT_EQ(sink.records.size(), 1u) << "a second flush has nothing to write";
}

TEST_F(ActivityTest, DisablingFlushesAndStopsCounting) {
  agg.refresh();
  typeFor(3);
  agg.setEnabled(false);
  ASSERT_EQ(sink.records.size(), 1u);
  EXPECT_EQ(sink.records[0].data["keystrokes"], 9);
  typeFor(5);
  waitFor(2min);
  EXPECT_EQ(sink.records.size(), 1u) << "off means off";
  EXPECT_FALSE(agg.untilNextDeadline());
  agg.setEnabled(true);
  typeFor(2);
  agg.flush();
  ASSERT_EQ(sink.records.size(), 2u);
  EXPECT_EQ(sink.records[1].data["keystrokes"], 6);
}

TEST_F(ActivityTest, WallClockStepBackClosesTheMinuteWhereItWasLastSeen) {
  agg.refresh();
  typeFor(10);
  clock.jumpWall(-30s);
  agg.add(counts(1));
  ASSERT_EQ(sink.records.size(), 1u);
  EXPECT_EQ(sink.records[0].start_ms, t0);
  EXPECT_EQ(*sink.records[0].end_ms, t0 + 10'000);
  agg.flush();
  ASSERT_EQ(sink.records.size(), 2u);
  EXPECT_EQ(sink.records[1].data["keystrokes"], 1);
  EXPECT_GE(*sink.records[1].end_ms, sink.records[1].start_ms);
}

TEST_F(ActivityTest, RecordsHoldCountsOnly) {
  agg.refresh();
  typeFor(5);
  agg.flush();
  ASSERT_EQ(sink.records.size(), 1u);
  for (const auto& [key, value] : sink.records[0].data.items()) {
    EXPECT_TRUE(value.is_number_integer()) << key << " is not a count";
  }
  EXPECT_EQ(sink.records[0].data.size(), 11u);
}

}  // namespace
}  // namespace wm::agent
