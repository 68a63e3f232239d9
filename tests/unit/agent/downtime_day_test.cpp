// Every minute accounted for (issue 14): the agent's own absences as downtime records (crash, clean stop,
// computer off, sleep), and the day picture (buildDay) that puts each moment of a range in one category, so the
// parts add up to the whole. Under a ManualClock: a "crash" is a tracker dropped without shutdown(), a "reboot"
// a new clock whose boot moment is later.
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "workmonitor/agent/downtime.h"
#include "workmonitor/agent/report.h"
#include "workmonitor/agent/tracker.h"

namespace wm::agent {
namespace {

using api::Record;
using api::RecordKind;
using nlohmann::json;
using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

constexpr int64_t kMin = 60'000;
constexpr int64_t kHour = 60 * kMin;

class StateSink : public RecordSink {
 public:
  void put(const Record& r) override {
    auto it = latest.find(r.id);
    ASSERT_TRUE(it == latest.end() || it->second.revision < r.revision) << "revision must grow: " << r.id;
    latest[r.id] = r;
  }
  void setState(const std::string& key, const std::string& value) override { state[key] = value; }
  std::vector<Record> of(RecordKind kind) const {
    std::vector<Record> out;
    for (const auto& [id, r] : latest)
      if (r.kind == kind) out.push_back(r);
    return out;
  }
  std::vector<Record> open() const {
    std::vector<Record> out;
    for (const auto& [id, r] : latest)
      if (r.isOpen()) out.push_back(r);
    return out;
  }
  std::vector<Record> all() const {
    std::vector<Record> out;
    for (const auto& [id, r] : latest) out.push_back(r);
    return out;
  }
  std::optional<std::string> saved() const {
    auto it = state.find(Tracker::kStateKey);
    return it == state.end() ? std::nullopt : std::optional(it->second);
  }
  std::map<std::string, Record> latest;
  std::map<std::string, std::string> state;
};

// --- downtime records --------------------------------------------------------------------------------------

TEST(Downtime, ReasonFollowsTheBootAndTheWayTheRunEnded) {
  ManualClock clock;
  UuidV7Generator ids{clock};
  const int64_t boot = 1'000'000;
  auto reason = [&](bool clean, std::optional<int64_t> last_boot, int64_t this_boot) {
    auto r = downtimeSincePreviousRun(LastSignOfLife{5'000'000, clean, last_boot}, 6'000'000, this_boot, ids);
    EXPECT_TRUE(r);
    return r ? r->data["reason"].get<std::string>() : std::string();
  };
  EXPECT_EQ(reason(true, boot, boot), "shutdown");
  EXPECT_EQ(reason(false, boot, boot), "crash");
  EXPECT_EQ(reason(false, boot, boot + kMin), "crash") << "an NTP step is not a reboot";
  EXPECT_EQ(reason(true, boot, boot + 10 * kMin), "computer_off");
  EXPECT_EQ(reason(false, boot, 5'500'000), "computer_off") << "a power cut leaves no clean shutdown";
  // A state from an older agent has no boot moment: a boot after the last sign of life is a reboot.
  EXPECT_EQ(reason(false, std::nullopt, 5'500'000), "computer_off");
  EXPECT_EQ(reason(false, std::nullopt, boot), "crash");
  EXPECT_EQ(reason(true, std::nullopt, boot), "shutdown");
}

TEST(Downtime, RecordCoversTheGapExactly) {
  ManualClock clock;
  UuidV7Generator ids{clock};
  auto r = downtimeSincePreviousRun(LastSignOfLife{5'000'000, false, 1'000}, 9'000'000, 1'000, ids);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->kind, RecordKind::kDowntime);
  EXPECT_EQ(r->start_ms, 5'000'000);
  EXPECT_EQ(r->end_ms, 9'000'000);
  EXPECT_EQ(r->duration_ms, 4'000'000);
  EXPECT_FALSE(r->isOpen());
  EXPECT_EQ(r->data["clean"], false);
  EXPECT_EQ(r->data["since"], "last_heartbeat");
  EXPECT_FALSE(downtimeSincePreviousRun(LastSignOfLife{0, true, 1'000}, 9'000'000, 1'000, ids))
      << "no previous run, no gap";
  EXPECT_FALSE(downtimeSincePreviousRun(LastSignOfLife{9'000'000, true, 1'000}, 9'000'000, 1'000, ids));
  EXPECT_FALSE(downtimeSincePreviousRun(LastSignOfLife{9'500'000, true, 1'000}, 9'000'000, 1'000, ids))
      << "a clock set back is not a negative gap";
  Record s = suspendDowntime(9'000'000, minutes(30), ids);
  EXPECT_EQ(s.start_ms, 9'000'000 - 30 * kMin);
  EXPECT_EQ(s.end_ms, 9'000'000);
  EXPECT_EQ(s.data["reason"], "suspend");
}

TEST(Downtime, BootMomentSurvivesTimePassingAndSleepButNotAReboot) {
  ManualClock clock;
  const int64_t boot = bootedAtMs(clock);
  clock.advance(hours(3));
  EXPECT_EQ(bootedAtMs(clock), boot);
  clock.suspend(hours(1));
  EXPECT_EQ(bootedAtMs(clock), boot) << "time since boot runs on through a sleep";
  ManualClock rebooted(clock.wall() + hours(1));
  EXPECT_GT(bootedAtMs(rebooted) - boot, kBootTolerance.count());
}

class TrackerDowntimeTest : public ::testing::Test {
 protected:
  std::unique_ptr<Tracker> make(const Clock& c, UuidV7Generator& g) {
    auto t = std::make_unique<Tracker>(c, g, sink, config, [](const std::string&, const json&) {});
    t->restore(RestoredState{sink.open(), std::nullopt, sink.saved()});
    return t;
  }
  void advance(ManualClock& c, Tracker& t, Millis d) {
    while (d.count() > 0) {
      const Millis s = std::min<Millis>(d, seconds(30));
      c.advance(s);
      t.tick(Millis(0));
      d -= s;
    }
  }
  std::vector<Record> downtime() const { return sink.of(RecordKind::kDowntime); }

  ManualClock clock;
  UuidV7Generator ids{clock};
  StateSink sink;
  TrackerConfig config;
};

TEST_F(TrackerDowntimeTest, CrashIsCountedFromTheLastHeartbeat) {
  auto t = make(clock, ids);
  EXPECT_TRUE(downtime().empty()) << "a first run has no previous run to miss";
  const int64_t first = toUnixMs(clock.wall());
  EXPECT_EQ(t->firstStartMs(), first);
  advance(clock, *t, minutes(10));  // heartbeats every 30 s, the last at +10 min
  const int64_t last_beat = toUnixMs(clock.wall());
  clock.advance(seconds(20));
  t.reset();  // SIGKILL: no shutdown
  clock.advance(hours(1));
  t = make(clock, ids);
  auto d = downtime();
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].data["reason"], "crash");
  EXPECT_EQ(d[0].start_ms, last_beat);
  EXPECT_EQ(d[0].end_ms, toUnixMs(clock.wall()));
  EXPECT_EQ(t->firstStartMs(), first) << "the first start is kept across runs";
}

TEST_F(TrackerDowntimeTest, CleanStopIsCountedFromTheShutdown) {
  auto t = make(clock, ids);
  advance(clock, *t, minutes(5));
  clock.advance(seconds(10));
  const int64_t stopped = toUnixMs(clock.wall());
  t->shutdown();
  t.reset();
  clock.advance(minutes(30));
  t = make(clock, ids);
  auto d = downtime();
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].data["reason"], "shutdown");
  EXPECT_EQ(d[0].data["clean"], true);
  EXPECT_EQ(d[0].start_ms, stopped);
  EXPECT_EQ(d[0].duration_ms, 30 * kMin);
}

TEST_F(TrackerDowntimeTest, RebootBetweenTwoRunsIsTheComputerOff) {
  auto t = make(clock, ids);
  advance(clock, *t, minutes(5));
  t->shutdown();
  t.reset();
  ManualClock after_reboot(clock.wall() + hours(8));  // a new boot: its time since boot starts again
  UuidV7Generator ids2{after_reboot};
  t = make(after_reboot, ids2);
  auto d = downtime();
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].data["reason"], "computer_off");
  EXPECT_EQ(d[0].duration_ms, 8 * kHour);
}

TEST_F(TrackerDowntimeTest, SleepWhileRunningIsRecordedEvenWithoutATimer) {
  auto t = make(clock, ids);
  advance(clock, *t, minutes(5));
  const int64_t slept_at = toUnixMs(clock.wall());
  clock.suspend(hours(2));
  t->tick(Millis(0));
  auto d = downtime();
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].data["reason"], "suspend");
  EXPECT_EQ(d[0].start_ms, slept_at);
  EXPECT_EQ(d[0].duration_ms, 2 * kHour);
  EXPECT_TRUE(sink.of(RecordKind::kIdlePeriod).empty()) << "nothing ran: no idle question, only the sleep";
}

TEST_F(TrackerDowntimeTest, NothingIsRecordedWithoutConsent) {
  config.monitoring_allowed = false;
  auto t = make(clock, ids);
  advance(clock, *t, minutes(5));
  clock.suspend(hours(1));
  t->tick(Millis(0));
  t.reset();
  clock.advance(hours(1));
  t = make(clock, ids);
  EXPECT_TRUE(downtime().empty());
}

TEST_F(TrackerDowntimeTest, StateFromAnOlderAgentLeavesTheFirstStartUnknown) {
  sink.state[Tracker::kStateKey] =
      json{{"version", 1}, {"saved_at_ms", toUnixMs(clock.wall()) - kHour}, {"clean_shutdown", true}}.dump();
  auto t = make(clock, ids);
  EXPECT_EQ(t->firstStartMs(), 0);
  ASSERT_EQ(downtime().size(), 1u);
  EXPECT_EQ(downtime()[0].duration_ms, kHour);
}

TEST_F(TrackerDowntimeTest, DamagedStateFieldsAreIgnoredNotFatal) {
  sink.state[Tracker::kStateKey] = json{
      {"version", 1},
      {"saved_at_ms", "yesterday"},
      {"last_present_ms", json::array()},
      {"booted_at_ms", "x"},
      {"first_start_ms", 1.5}}.dump();
  auto t = make(clock, ids);
  EXPECT_TRUE(downtime().empty()) << "no usable last sign of life: no invented gap";
  EXPECT_EQ(t->status()["state"], "not_tracking");
}

// --- the day picture ---------------------------------------------------------------------------------------

Record span(RecordKind kind, int64_t start, std::optional<int64_t> end, json data = json::object()) {
  static int n = 0;
  Record r;
  r.id = "r" + std::to_string(++n);
  r.kind = kind;
  r.revision = 1;
  r.start_ms = start;
  r.end_ms = end;
  r.duration_ms = end ? *end - start : 0;
  r.data = std::move(data);
  return r;
}

// Segments are contiguous, cover [from, to) exactly, never repeat a neighbour, and the totals are their sums.
void expectWholeRange(const json& day, int64_t from, int64_t to) {
  int64_t at = from;
  std::map<std::string, int64_t> sums;
  std::string prev;
  for (const auto& seg : day["timeline"]) {
    EXPECT_EQ(seg["start_ms"], at) << seg.dump();
    EXPECT_GT(seg["end_ms"].get<int64_t>(), seg["start_ms"].get<int64_t>()) << seg.dump();
    sums[seg["category"]] += seg["end_ms"].get<int64_t>() - seg["start_ms"].get<int64_t>();
    at = seg["end_ms"];
  }
  EXPECT_EQ(at, to);
  int64_t total = 0;
  for (const auto& c : dayCategories()) {
    ASSERT_TRUE(day["totals"].contains(c)) << c;
    EXPECT_EQ(day["totals"][c].get<int64_t>(), sums[c]) << c;
    total += day["totals"][c].get<int64_t>();
  }
  EXPECT_EQ(total, to - from);
}

std::vector<std::string> categoriesOf(const json& day) {
  std::vector<std::string> out;
  for (const auto& seg : day["timeline"]) out.push_back(seg["category"]);
  return out;
}

TEST(DayPicture, AnEmptyDayIsNotTrackedUpToNowAndFutureAfter) {
  const int64_t from = 0, to = 24 * kHour;
  json day = buildDay({}, from, to, 10 * kHour, ReportContext{});
  expectWholeRange(day, from, to);
  EXPECT_EQ(categoriesOf(day), (std::vector<std::string>{"not_tracked", "future"}));
  EXPECT_EQ(day["totals"]["future"], 14 * kHour);
}

TEST(DayPicture, TheStrongestClaimWinsWhereRecordsOverlap) {
  const int64_t h = kHour;
  std::vector<Record> rs{
      span(RecordKind::kAppUsage, 1 * h, 9 * h, {{"app", "editor"}}),
      span(RecordKind::kTimeEntry, 2 * h, 8 * h, {{"project_id", "p1"}}),
      span(RecordKind::kIdlePeriod, 3 * h, 4 * h, {{"reason", "idle"}, {"decision", "discard_continue"}}),
      span(RecordKind::kBreak, 5 * h, 6 * h),
      span(RecordKind::kIdlePeriod, 6 * h + 30 * kMin, 7 * h, {{"reason", "lock"}, {"decision", "keep"}}),
      span(RecordKind::kDowntime, 6 * h + 45 * kMin, 7 * h + 30 * kMin, {{"reason", "crash"}}),
  };
  json day = buildDay(rs, 0, 10 * h, 10 * h, ReportContext{});
  expectWholeRange(day, 0, 10 * h);
  EXPECT_EQ(categoriesOf(day),
            (std::vector<std::string>{"not_tracked", "auto", "worked", "idle", "worked", "break", "worked", "locked",
                                      "agent_not_running", "worked", "auto", "not_tracked"}));
  const json& t = day["totals"];
  EXPECT_EQ(t["auto"], 2 * h);
  EXPECT_EQ(t["idle"], h);
  EXPECT_EQ(t["break"], h);
  EXPECT_EQ(t["locked"], 15 * kMin);
  EXPECT_EQ(t["agent_not_running"], 45 * kMin);
  EXPECT_EQ(t["worked"], 2 * h + 30 * kMin + 30 * kMin);
  EXPECT_EQ(day["timeline"][3]["decision"], "discard_continue");
  EXPECT_EQ(day["timeline"][2]["project_id"], "p1");
  EXPECT_EQ(day["timeline"][8]["reason"], "crash");
}

TEST(DayPicture, SleepNamesAndLockedSleepsKeepTheirName) {
  const int64_t h = kHour;
  std::vector<Record> rs{
      // the sleep itself, announced by logind: an idle period begun by the suspend
      span(RecordKind::kIdlePeriod, 1 * h, 2 * h, {{"reason", "suspend"}, {"decision", "discard_continue"}}),
      // locked, then the lid closed: locked, except where the sleep's own record says asleep
      span(RecordKind::kIdlePeriod, 3 * h, 5 * h, {{"reason", "suspend"}, {"began_as", "lock"}}),
      span(RecordKind::kDowntime, 4 * h, 4 * h + 30 * kMin, {{"reason", "suspend"}}),
      // idle, then asleep
      span(RecordKind::kIdlePeriod, 6 * h, 7 * h, {{"reason", "suspend"}, {"began_as", "idle"}}),
  };
  json day = buildDay(rs, 0, 8 * h, 8 * h, ReportContext{});
  expectWholeRange(day, 0, 8 * h);
  EXPECT_EQ(categoriesOf(day), (std::vector<std::string>{"not_tracked", "asleep", "not_tracked", "locked", "asleep",
                                                         "locked", "not_tracked", "idle", "not_tracked"}));
}

TEST(DayPicture, OpenSpansRunToNowAndTheTimeBeforeTheFirstStartIsNotInstalled) {
  const int64_t h = kHour;
  std::vector<Record> rs{span(RecordKind::kTimeEntry, 9 * h, std::nullopt, {{"project_id", "p"}})};
  json day = buildDay(rs, 0, 24 * h, 11 * h, ReportContext{8 * h});
  expectWholeRange(day, 0, 24 * h);
  EXPECT_EQ(categoriesOf(day), (std::vector<std::string>{"agent_not_running", "not_tracked", "worked", "future"}));
  EXPECT_EQ(day["timeline"][0]["reason"], "not_installed");
  EXPECT_EQ(day["totals"]["worked"], 2 * h);
  // Records outside the range and broken spans (end before start) leave the range whole.
  rs.push_back(span(RecordKind::kBreak, -5 * h, -4 * h));
  rs.push_back(span(RecordKind::kIdlePeriod, 30 * h, 31 * h));
  rs.push_back(span(RecordKind::kDowntime, 5 * h, 4 * h));
  expectWholeRange(buildDay(rs, 0, 24 * h, 11 * h, ReportContext{8 * h}), 0, 24 * h);
}

TEST(DayPicture, AClockRoundingGapBetweenTwoSpansIsNoStretchOfItsOwn) {
  const int64_t h = kHour;
  std::vector<Record> rs{
      span(RecordKind::kTimeEntry, 1 * h, 2 * h, {{"project_id", "p"}}),
      span(RecordKind::kIdlePeriod, 2 * h + 2, 3 * h, {{"reason", "suspend"}}),  // 2 ms later
      span(RecordKind::kTimeEntry, 3 * h + 1, 4 * h, {{"project_id", "p"}}),
      span(RecordKind::kTimeEntry, 4 * h + 5000, 5 * h, {{"project_id", "p"}}),  // 5 s later: a real gap
  };
  json day = buildDay(rs, 0, 6 * h, 6 * h, ReportContext{});
  expectWholeRange(day, 0, 6 * h);
  EXPECT_EQ(categoriesOf(day), (std::vector<std::string>{"not_tracked", "worked", "asleep", "worked", "not_tracked",
                                                         "worked", "not_tracked"}));
  EXPECT_EQ(day["totals"]["not_tracked"], 1 * h + 5000 + 1 * h);
}

// The test: a scripted day through the real tracker — a crash, a sleep, an idle period, a break, a
// clean stop — sums to exactly 24 h in the report's JSON, each part where it happened.
TEST_F(TrackerDowntimeTest, ScriptedDaySumsToExactly24Hours) {
  config.idle_threshold = minutes(5);
  const int64_t day0 = toUnixMs(clock.wall());  // 2026-01-01T00:00Z
  auto t = make(clock, ids);                    // the first run on this computer, at midnight
  advance(clock, *t, hours(8));
  ASSERT_TRUE(t->startTimer({"p1", "", ""}));  // 08:00
  advance(clock, *t, hours(2));
  clock.advance(minutes(5));
  t->onIdle(minutes(5));  // 10:05: no input since 10:00
  clock.advance(minutes(25));
  t->onActive(Millis(0));  // 10:30
  ASSERT_TRUE(t->decideIdle(IdleDecision::kDiscardContinue));
  advance(clock, *t, minutes(90));
  ASSERT_TRUE(t->startBreak());  // 12:00
  advance(clock, *t, minutes(30));
  ASSERT_TRUE(t->endBreak());  // 12:30
  ASSERT_TRUE(t->startTimer({"p1", "", ""}));
  advance(clock, *t, minutes(90));
  t.reset();  // 14:00, just after a heartbeat: SIGKILL
  clock.advance(hours(1));
  t = make(clock, ids);  // 15:00
  ASSERT_TRUE(t->startTimer({"p2", "", ""}));
  advance(clock, *t, hours(2));
  clock.suspend(hours(1));  // 17:00 - 18:00, the lid closed
  t->tick(Millis(0));
  ASSERT_TRUE(t->decideIdle(IdleDecision::kDiscardContinue));
  advance(clock, *t, hours(1));
  ASSERT_TRUE(t->stopTimer());  // 19:00
  advance(clock, *t, hours(1));
  t->shutdown();  // 20:00
  t.reset();
  clock.advance(hours(1));
  t = make(clock, ids);  // 21:00
  advance(clock, *t, hours(3));

  const int64_t day1 = day0 + 24 * kHour;
  ASSERT_EQ(toUnixMs(clock.wall()), day1);
  json report = buildReport(sink.all(), day0, day1, day1, ReportContext{t->firstStartMs()});
  const json& day = report["day"];
  expectWholeRange(day, day0, day1);
  const json& totals = day["totals"];
  EXPECT_EQ(totals["worked"], (2 * 60 + 90 + 90 + 120 + 60) * kMin) << day.dump(1);
  EXPECT_EQ(totals["idle"], 30 * kMin);
  EXPECT_EQ(totals["break"], 30 * kMin);
  EXPECT_EQ(totals["asleep"], kHour);
  EXPECT_EQ(totals["agent_not_running"], 2 * kHour) << "the crash's hour and the stop's hour";
  EXPECT_EQ(totals["not_tracked"], (8 + 1 + 3) * kHour);
  EXPECT_EQ(totals["future"], 0);
  EXPECT_EQ(totals["auto"], 0);
  std::vector<std::string> reasons;
  for (const auto& seg : day["timeline"])
    if (seg["category"] == "agent_not_running") reasons.push_back(seg["reason"]);
  EXPECT_EQ(reasons, (std::vector<std::string>{"crash", "shutdown"}));
  EXPECT_EQ(report["tracked_ms"], totals["worked"]) << "the day's worked time is the report's tracked time";
  // The text report says the same.
  const std::string text = formatReport(report);
  EXPECT_NE(text.find("The whole day:"), std::string::npos) << text;
  EXPECT_NE(text.find("(together 24h 00m)"), std::string::npos) << text;
}

}  // namespace
}  // namespace wm::agent
