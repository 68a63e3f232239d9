// Screen lock and sleep in the tracking state machine (issue 6), under a ManualClock: a lock is idle time from
// the lock (answered at the unlock) or, with lock_as_break, a break from lock to unlock; a sleep behind the
// lock screen lasts until the unlock, and a suspend gap is never work.
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "workmonitor/agent/tracker.h"

namespace wm::agent {
namespace {

using api::Record;
using api::RecordKind;
using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

constexpr int64_t kMin = 60'000;

// Latest revision of every record, checking that revisions only grow.
class LatestSink : public RecordSink {
 public:
  void put(const Record& r) override {
    auto it = latest.find(r.id);
    ASSERT_TRUE(it == latest.end() || it->second.revision < r.revision) << "revision must grow: " << r.id;
    latest[r.id] = r;
  }
  void setState(const std::string&, const std::string&) override {}
  std::vector<Record> of(RecordKind kind) const {
    std::vector<Record> out;
    for (const auto& [id, r] : latest)
      if (r.kind == kind) out.push_back(r);
    return out;
  }
  size_t openCount() const {
    size_t n = 0;
    for (const auto& [id, r] : latest) n += r.isOpen() ? 1 : 0;
    return n;
  }
  std::map<std::string, Record> latest;
};

class TrackerLockTest : public ::testing::Test {
 protected:
  TrackerLockTest() {
    tracker = std::make_unique<Tracker>(
        clock, ids, sink, config, [this](const std::string& n, const nlohmann::json& d) { events.emplace_back(n, d); });
    t0 = toUnixMs(clock.wall());
  }
  void advance(Millis d) {
    while (d.count() > 0) {
      const Millis s = std::min<Millis>(d, seconds(30));
      clock.advance(s);
      tracker->tick();
      d -= s;
    }
  }
  const nlohmann::json* lastEvent(const std::string& name) const {
    for (auto it = events.rbegin(); it != events.rend(); ++it)
      if (it->first == name) return &it->second;
    return nullptr;
  }
  int64_t workMs() const {
    int64_t total = 0;
    for (const auto& e : sink.of(RecordKind::kTimeEntry)) total += e.duration_ms;
    return total;
  }

  ManualClock clock;
  UuidV7Generator ids{clock};
  LatestSink sink;
  TrackerConfig config;
  std::vector<std::pair<std::string, nlohmann::json>> events;
  std::unique_ptr<Tracker> tracker;
  int64_t t0 = 0;
};

TEST_F(TrackerLockTest, LockIsIdleFromTheLockAndTheQuestionComesAtTheUnlock) {
  tracker->onWindow({"editor", "/usr/bin/editor", 7, "a.cpp", "editor"});
  ASSERT_TRUE(tracker->startTimer({"p1", "", ""}));
  advance(minutes(10));
  tracker->onLock(false);
  EXPECT_TRUE(tracker->locked());
  EXPECT_FALSE(tracker->collecting());
  nlohmann::json st = tracker->status();
  EXPECT_EQ(st["state"], "idle");
  EXPECT_EQ(st["idle"]["reason"], "lock");
  EXPECT_EQ(st["locked"], true);
  EXPECT_EQ(sink.of(RecordKind::kAppUsage)[0].end_ms, t0 + 10 * kMin) << "app usage stops at the lock";

  advance(minutes(20));
  tracker->onActive(Millis(0));  // typing the password at the lock screen is not a return to work
  EXPECT_EQ(tracker->status()["state"], "idle");
  EXPECT_EQ(lastEvent("idle_return"), nullptr);
  advance(minutes(1));
  tracker->onUnlock();
  EXPECT_FALSE(tracker->locked());
  const nlohmann::json* q = lastEvent("idle_return");
  ASSERT_NE(q, nullptr) << "the idle-return question is asked at the unlock";
  EXPECT_EQ((*q)["reason"], "lock");
  EXPECT_EQ((*q)["duration_ms"], 21 * kMin);
  EXPECT_EQ(tracker->status()["state"], "idle_decision_pending");

  ASSERT_TRUE(tracker->decideIdle(IdleDecision::kDiscardContinue));
  EXPECT_TRUE(tracker->collecting());
  advance(minutes(5));
  auto entries = sink.of(RecordKind::kTimeEntry);
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].end_ms, t0 + 10 * kMin) << "the entry ends at the lock";
  EXPECT_EQ(entries[1].start_ms, t0 + 31 * kMin) << "and goes on from the unlock";
  auto idle = sink.of(RecordKind::kIdlePeriod);
  ASSERT_EQ(idle.size(), 1u);
  EXPECT_EQ(idle[0].start_ms, t0 + 10 * kMin);
  EXPECT_EQ(idle[0].end_ms, t0 + 31 * kMin);
  EXPECT_EQ(idle[0].data["decision"], "discard_continue");
}

TEST_F(TrackerLockTest, LockKeptAsWorkCountsTheLockedTime) {
  ASSERT_TRUE(tracker->startTimer({"p1", "", ""}));
  advance(minutes(10));
  tracker->onLock(false);
  advance(minutes(5));
  tracker->onUnlock();
  ASSERT_TRUE(tracker->decideIdle(IdleDecision::kKeep));
  advance(minutes(5));
  ASSERT_TRUE(tracker->stopTimer());
  EXPECT_EQ(workMs(), 20 * kMin);
  EXPECT_EQ(sink.of(RecordKind::kTimeEntry).size(), 1u);
}

TEST_F(TrackerLockTest, AlreadyIdleBeforeTheLockKeepsTheEarlierIdleStart) {
  ASSERT_TRUE(tracker->startTimer({"p1", "", ""}));
  advance(minutes(10));
  tracker->onIdle(minutes(5));  // last input at t0+5m; the screensaver locks a little later
  advance(minutes(1));
  tracker->onLock(false);
  advance(minutes(10));
  tracker->onUnlock();
  ASSERT_TRUE(tracker->decideIdle(IdleDecision::kDiscard));
  auto idle = sink.of(RecordKind::kIdlePeriod);
  ASSERT_EQ(idle.size(), 1u) << "one idle period, not one for the idle and one for the lock";
  EXPECT_EQ(idle[0].start_ms, t0 + 5 * kMin);
  EXPECT_EQ(idle[0].end_ms, t0 + 21 * kMin);
  EXPECT_EQ(workMs(), 5 * kMin);
  EXPECT_EQ(tracker->status()["state"], "not_tracking");
}

TEST_F(TrackerLockTest, LockAsBreakIsABreakAndTheTimerGoesOnAtTheUnlock) {
  ASSERT_TRUE(tracker->startTimer({"p1", "t1", "n"}));
  advance(minutes(10));
  tracker->onLock(true);
  EXPECT_FALSE(tracker->collecting());
  EXPECT_EQ(tracker->status()["state"], "on_break");
  EXPECT_EQ(tracker->status()["locked"], true);
  advance(minutes(15));
  tracker->onActive(Millis(0));
  EXPECT_EQ(tracker->status()["state"], "on_break");
  tracker->onUnlock();
  EXPECT_EQ(lastEvent("idle_return"), nullptr) << "a break asks nothing";
  EXPECT_EQ(tracker->status()["state"], "tracking");
  EXPECT_TRUE(tracker->collecting());
  advance(minutes(5));
  auto breaks = sink.of(RecordKind::kBreak);
  ASSERT_EQ(breaks.size(), 1u);
  EXPECT_EQ(breaks[0].data["reason"], "lock");
  EXPECT_EQ(breaks[0].start_ms, t0 + 10 * kMin);
  EXPECT_EQ(breaks[0].end_ms, t0 + 25 * kMin);
  auto entries = sink.of(RecordKind::kTimeEntry);
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].end_ms, t0 + 10 * kMin);
  EXPECT_EQ(entries[1].start_ms, t0 + 25 * kMin);
  EXPECT_EQ(entries[1].data["project_id"], "p1");
  EXPECT_EQ(entries[1].data["task_id"], "t1");
  EXPECT_EQ(entries[1].data["source"], "after_lock");
  EXPECT_TRUE(sink.of(RecordKind::kIdlePeriod).empty());
}

TEST_F(TrackerLockTest, LockAsBreakAfterIdleStartsTheBreakAtTheLastInput) {
  ASSERT_TRUE(tracker->startTimer({"p1", "", ""}));
  advance(minutes(10));
  tracker->onIdle(minutes(5));
  tracker->onLock(true);
  advance(minutes(10));
  tracker->onUnlock();
  auto breaks = sink.of(RecordKind::kBreak);
  ASSERT_EQ(breaks.size(), 1u);
  EXPECT_EQ(breaks[0].start_ms, t0 + 5 * kMin);
  EXPECT_EQ(breaks[0].end_ms, t0 + 20 * kMin);
  auto idle = sink.of(RecordKind::kIdlePeriod);
  ASSERT_EQ(idle.size(), 1u);
  EXPECT_FALSE(idle[0].isOpen());
  EXPECT_EQ(idle[0].data["decision"], "break");
  EXPECT_EQ(sink.of(RecordKind::kTimeEntry)[0].end_ms, t0 + 5 * kMin);
  EXPECT_EQ(tracker->status()["state"], "tracking");
  EXPECT_EQ(sink.openCount(), 1u) << "only the continued entry is open";
}

TEST_F(TrackerLockTest, ManualBreakRunsOnThroughALock) {
  ASSERT_TRUE(tracker->startTimer({"p1", "", ""}));
  advance(minutes(5));
  ASSERT_TRUE(tracker->startBreak());
  tracker->onLock(true);
  advance(minutes(5));
  tracker->onUnlock();
  EXPECT_EQ(tracker->status()["state"], "on_break") << "the user's own break is theirs to end";
  ASSERT_TRUE(tracker->endBreak());
  EXPECT_EQ(sink.of(RecordKind::kBreak).size(), 1u);
}

TEST_F(TrackerLockTest, LockWithoutATimerRecordsNothingButStopsCollecting) {
  tracker->onLock(false);
  EXPECT_TRUE(tracker->locked());
  EXPECT_TRUE(sink.latest.empty());
  tracker->onUnlock();
  EXPECT_EQ(lastEvent("idle_return"), nullptr);
  tracker->onLock(false);
  tracker->onLock(false);  // Lock signal and LockedHint: one lock
  tracker->onUnlock();
  tracker->onUnlock();
  EXPECT_TRUE(sink.latest.empty());
}

TEST_F(TrackerLockTest, SleepBehindTheLockLastsUntilTheUnlockAndIsNeverWork) {
  ASSERT_TRUE(tracker->startTimer({"p1", "", ""}));
  advance(minutes(10));
  tracker->onLock(false);  // t0+10m
  advance(minutes(2));
  tracker->onSuspend();  // t0+12m, PrepareForSleep(true)
  EXPECT_EQ(sink.of(RecordKind::kTimeEntry)[0].end_ms, t0 + 10 * kMin) << "the entry ends at the lock";
  clock.suspend(hours(1));
  tracker->onResume();  // t0+72m: awake, but still behind the lock screen
  EXPECT_EQ(lastEvent("idle_return"), nullptr) << "no question while the screen is still locked";
  EXPECT_FALSE(tracker->collecting());
  advance(minutes(3));  // more than the decision timeout would allow, had the question been asked
  tracker->onUnlock();  // t0+75m
  const nlohmann::json* q = lastEvent("idle_return");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ((*q)["reason"], "suspend");
  for (const auto& c : (*q)["choices"]) EXPECT_NE(c, "keep") << "a sleep is never kept as work";
  ASSERT_TRUE(tracker->decideIdle(IdleDecision::kKeep));  // turned into discard_continue
  advance(minutes(5));
  auto idle = sink.of(RecordKind::kIdlePeriod);
  ASSERT_EQ(idle.size(), 1u) << "lock and sleep are one absence";
  EXPECT_EQ(idle[0].start_ms, t0 + 10 * kMin);
  EXPECT_EQ(idle[0].end_ms, t0 + 75 * kMin);
  EXPECT_EQ(idle[0].duration_ms, 65 * kMin);
  EXPECT_EQ(idle[0].data["began_as"], "lock");
  EXPECT_EQ(idle[0].data["decision"], "discard_continue");
  auto entries = sink.of(RecordKind::kTimeEntry);
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[1].start_ms, t0 + 75 * kMin);
  ASSERT_TRUE(tracker->stopTimer());
  EXPECT_EQ(workMs(), 15 * kMin) << "10 min before the lock, 5 after the unlock";
  EXPECT_EQ(sink.openCount(), 0u);
}

TEST_F(TrackerLockTest, LockAfterTheSleepAnnouncementStillHoldsTheAbsenceToTheUnlock) {
  // Screen lockers often lock on PrepareForSleep itself, so the lock arrives just after the sleep.
  ASSERT_TRUE(tracker->startTimer({"p1", "", ""}));
  advance(minutes(10));
  tracker->onSuspend();
  tracker->onLock(false);
  clock.suspend(hours(2));
  tracker->tick();  // the resume seen by the clocks before logind's signal
  tracker->onResume();
  EXPECT_EQ(lastEvent("idle_return"), nullptr);
  advance(minutes(1));
  tracker->onUnlock();
  ASSERT_NE(lastEvent("idle_return"), nullptr);
  ASSERT_TRUE(tracker->decideIdle(IdleDecision::kDiscard));
  auto idle = sink.of(RecordKind::kIdlePeriod);
  ASSERT_EQ(idle.size(), 1u);
  EXPECT_EQ(idle[0].start_ms, t0 + 10 * kMin);
  EXPECT_EQ(idle[0].end_ms, t0 + (10 + 120 + 1) * kMin);
  EXPECT_EQ(workMs(), 10 * kMin);
  EXPECT_EQ(tracker->status()["state"], "not_tracking");
  EXPECT_EQ(sink.openCount(), 0u);
}

TEST_F(TrackerLockTest, LockAsBreakRunsThroughASleep) {
  ASSERT_TRUE(tracker->startTimer({"p1", "", ""}));
  advance(minutes(10));
  tracker->onLock(true);
  advance(minutes(1));
  tracker->onSuspend();
  clock.suspend(hours(1));
  tracker->onResume();
  advance(minutes(2));
  tracker->onUnlock();
  EXPECT_EQ(lastEvent("idle_return"), nullptr);
  auto breaks = sink.of(RecordKind::kBreak);
  ASSERT_EQ(breaks.size(), 1u);
  EXPECT_EQ(breaks[0].start_ms, t0 + 10 * kMin);
  EXPECT_EQ(breaks[0].end_ms, t0 + 73 * kMin);
  EXPECT_EQ(breaks[0].duration_ms, 63 * kMin);
  EXPECT_TRUE(sink.of(RecordKind::kIdlePeriod).empty());
  auto entries = sink.of(RecordKind::kTimeEntry);
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[1].start_ms, t0 + 73 * kMin);
  EXPECT_EQ(tracker->status()["state"], "tracking");
}

TEST_F(TrackerLockTest, IdleBeforeASleepIsOneRecordNotAnOrphan) {
  ASSERT_TRUE(tracker->startTimer({"p1", "", ""}));
  advance(minutes(10));
  tracker->onIdle(minutes(5));
  tracker->onSuspend();
  clock.suspend(hours(1));
  tracker->onResume();
  ASSERT_TRUE(tracker->decideIdle(IdleDecision::kDiscard));
  auto idle = sink.of(RecordKind::kIdlePeriod);
  ASSERT_EQ(idle.size(), 1u);
  EXPECT_FALSE(idle[0].isOpen());
  EXPECT_EQ(idle[0].start_ms, t0 + 5 * kMin);
  EXPECT_EQ(idle[0].end_ms, t0 + 70 * kMin);
  EXPECT_EQ(idle[0].data["reason"], "suspend");
  EXPECT_EQ(idle[0].data["began_as"], "idle");
  EXPECT_EQ(sink.openCount(), 0u);
}

TEST_F(TrackerLockTest, ShutdownWhileLockedClosesEverything) {
  ASSERT_TRUE(tracker->startTimer({"p1", "", ""}));
  advance(minutes(10));
  tracker->onLock(false);
  advance(minutes(10));
  tracker->shutdown();
  EXPECT_EQ(sink.openCount(), 0u);
  EXPECT_EQ(workMs(), 10 * kMin);
}

}  // namespace
}  // namespace wm::agent
