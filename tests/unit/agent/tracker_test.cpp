// The tracking state machine under a ManualClock: every case runs hours of agent time in microseconds.
// RecordingSink is a test double for the outbox (the outbox itself is tested in tests/unit/outbox).
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

class RecordingSink : public RecordSink {
 public:
  void put(const Record& r) override {
    puts.push_back(r);
    auto it = latest.find(r.id);
    ASSERT_TRUE(it == latest.end() || it->second.revision < r.revision)
        << "revision must grow on every change of " << r.id;
    latest[r.id] = r;
  }
  void setState(const std::string& key, const std::string& value) override { state[key] = value; }

  std::vector<Record> of(RecordKind kind) const {
    std::vector<Record> out;
    for (const auto& [id, r] : latest)
      if (r.kind == kind) out.push_back(r);
    return out;  // ids are UUIDv7, so map order is creation order
  }
  std::vector<Record> open() const {
    std::vector<Record> out;
    for (const auto& [id, r] : latest)
      if (r.isOpen()) out.push_back(r);
    return out;
  }

  std::vector<Record> puts;
  std::map<std::string, Record> latest;
  std::map<std::string, std::string> state;
};

struct Event {
  std::string name;
  nlohmann::json data;
};

class TrackerTest : public ::testing::Test {
 protected:
  TrackerTest() { tracker = make(); }

  std::unique_ptr<Tracker> make() {
    return std::make_unique<Tracker>(clock, ids, sink, config, [this](const std::string& n, const nlohmann::json& d) {
      events.push_back({n, d});
    });
  }
  int64_t nowMs() const { return toUnixMs(clock.wall()); }
  void advance(Millis d, Millis step = seconds(30)) {
    // Time passes in heartbeat-sized steps, as in the daemon.
    while (d.count() > 0) {
      const Millis s = std::min(d, step);
      clock.advance(s);
      tracker->tick();
      d -= s;
    }
  }
  const Event* lastEvent(const std::string& name) const {
    for (auto it = events.rbegin(); it != events.rend(); ++it)
      if (it->name == name) return &*it;
    return nullptr;
  }
  platform::WindowInfo window(const std::string& app, const std::string& title, int64_t pid = 42) {
    return {app, "/usr/bin/" + app, pid, title, app + "-instance"};
  }
  // The tracker sees the user idle for `idle_for` (threshold crossed) and then back.
  void goIdle(Millis idle_since) { tracker->onIdle(idle_since); }

  ManualClock clock;
  UuidV7Generator ids{clock};
  RecordingSink sink;
  TrackerConfig config;
  std::vector<Event> events;
  std::unique_ptr<Tracker> tracker;
};

TEST_F(TrackerTest, StartAndStopMakeOneClosedEntry) {
  const int64_t t0 = nowMs();
  ASSERT_TRUE(tracker->startTimer({"p1", "t1", "writing"}));
  EXPECT_EQ(tracker->status()["state"], "tracking");
  advance(minutes(10));
  ASSERT_TRUE(tracker->stopTimer());
  auto entries = sink.of(RecordKind::kTimeEntry);
  ASSERT_EQ(entries.size(), 1u);
  const Record& e = entries[0];
  EXPECT_TRUE(isUuidV7(e.id));
  EXPECT_EQ(e.start_ms, t0);
  EXPECT_EQ(e.end_ms, t0 + 600'000);
  EXPECT_EQ(e.duration_ms, 600'000);
  EXPECT_EQ(e.revision, 2);
  EXPECT_EQ(e.data["project_id"], "p1");
  EXPECT_EQ(e.data["task_id"], "t1");
  EXPECT_EQ(e.data["note"], "writing");
  EXPECT_EQ(tracker->status()["state"], "not_tracking");
  EXPECT_FALSE(tracker->stopTimer());  // nothing to stop: an error, not a crash
}

TEST_F(TrackerTest, OnlyOneEntryRunsAtATime) {
  ASSERT_TRUE(tracker->startTimer({"p1", "", ""}));
  advance(minutes(5));
  ASSERT_TRUE(tracker->startTimer({"p2", "", ""}));
  advance(minutes(5));
  auto entries = sink.of(RecordKind::kTimeEntry);
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].duration_ms, 300'000);
  EXPECT_FALSE(entries[0].isOpen());
  EXPECT_TRUE(entries[1].isOpen());
  EXPECT_EQ(sink.open().size(), 1u);
}

TEST_F(TrackerTest, IdleStartsAtTheLastInputNotAtDetection) {
  tracker->onWindow(window("editor", "a.cpp"));
  const int64_t t0 = nowMs();
  ASSERT_TRUE(tracker->startTimer({"p1", "", ""}));
  advance(minutes(10));
  tracker->onIdle(minutes(5));  // threshold crossed now; last input was 5 min ago
  auto idle = sink.of(RecordKind::kIdlePeriod);
  ASSERT_EQ(idle.size(), 1u);
  EXPECT_EQ(idle[0].start_ms, t0 + 300'000);
  EXPECT_TRUE(idle[0].isOpen());
  EXPECT_EQ(tracker->status()["state"], "idle");
  // The app span stopped at the last input too.
  auto apps = sink.of(RecordKind::kAppUsage);
  ASSERT_EQ(apps.size(), 1u);
  EXPECT_EQ(apps[0].end_ms, t0 + 300'000);
  // Window changes while idle are not app usage.
  tracker->onWindow(window("browser", "news"));
  EXPECT_EQ(sink.of(RecordKind::kAppUsage).size(), 1u);
}

class IdleDecisionTest : public TrackerTest {
 protected:
  // Timer from t0; idle from t0+5m (detected at t0+10m); back at t0+20m; the answer comes at t0+21m.
  void scenario() {
    t0 = nowMs();
    ASSERT_TRUE(tracker->startTimer({"p1", "t1", ""}));
    advance(minutes(10));
    tracker->onIdle(minutes(5));
    advance(minutes(10));
    tracker->onActive(Millis(0));
    const Event* ev = lastEvent("idle_return");
    ASSERT_NE(ev, nullptr);
    idle_id = ev->data["idle_id"];
    EXPECT_EQ(ev->data["duration_ms"], 900'000);
    EXPECT_EQ(tracker->status()["state"], "idle_decision_pending");
    advance(minutes(1));
  }
  int64_t t0 = 0;
  std::string idle_id;
};

TEST_F(IdleDecisionTest, KeepCountsTheIdleTimeAsWork) {
  scenario();
  ASSERT_TRUE(tracker->decideIdle(IdleDecision::kKeep, idle_id));
  advance(minutes(9));
  ASSERT_TRUE(tracker->stopTimer());
  auto entries = sink.of(RecordKind::kTimeEntry);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].duration_ms, 30 * 60'000);
  EXPECT_EQ(sink.of(RecordKind::kIdlePeriod)[0].data["decision"], "keep");
}

TEST_F(IdleDecisionTest, DiscardStopsTheTimerAtTheIdleStart) {
  scenario();
  ASSERT_TRUE(tracker->decideIdle(IdleDecision::kDiscard));
  auto entries = sink.of(RecordKind::kTimeEntry);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].end_ms, t0 + 5 * 60'000);
  EXPECT_EQ(tracker->status()["state"], "not_tracking");
  auto idle = sink.of(RecordKind::kIdlePeriod);
  EXPECT_EQ(idle[0].data["decision"], "discard");
  EXPECT_EQ(idle[0].start_ms, t0 + 5 * 60'000);
  EXPECT_EQ(idle[0].end_ms, t0 + 20 * 60'000);
}

TEST_F(IdleDecisionTest, DiscardAndContinueSplitsTheEntryAroundTheIdleTime) {
  scenario();
  ASSERT_TRUE(tracker->decideIdle(IdleDecision::kDiscardContinue));
  auto entries = sink.of(RecordKind::kTimeEntry);
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].end_ms, t0 + 5 * 60'000);
  EXPECT_EQ(entries[1].start_ms, t0 + 20 * 60'000);  // from the return, not from the answer
  EXPECT_TRUE(entries[1].isOpen());
  EXPECT_EQ(entries[1].data["project_id"], "p1");
  EXPECT_EQ(entries[1].data["task_id"], "t1");
}

TEST_F(IdleDecisionTest, BreakTurnsTheIdleTimeIntoABreak) {
  scenario();
  ASSERT_TRUE(tracker->decideIdle(IdleDecision::kBreak));
  auto breaks = sink.of(RecordKind::kBreak);
  ASSERT_EQ(breaks.size(), 1u);
  EXPECT_EQ(breaks[0].start_ms, t0 + 5 * 60'000);
  EXPECT_EQ(breaks[0].end_ms, t0 + 20 * 60'000);
  auto entries = sink.of(RecordKind::kTimeEntry);
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].end_ms, t0 + 5 * 60'000);
  EXPECT_EQ(entries[1].start_ms, t0 + 20 * 60'000);
}

TEST_F(IdleDecisionTest, NoAnswerAppliesTheConfiguredDefault) {
  config.idle_default = IdleDecision::kDiscard;
  tracker = make();
  scenario();
  EXPECT_EQ(tracker->status()["state"], "idle_decision_pending");
  advance(minutes(1));  // the 2-minute timeout passes (the answer window began at the return)
  EXPECT_EQ(tracker->status()["state"], "not_tracking");
  EXPECT_EQ(sink.of(RecordKind::kIdlePeriod)[0].data["decision"], "discard");
  ASSERT_NE(lastEvent("idle_resolved"), nullptr);
}

TEST_F(IdleDecisionTest, WrongIdleIdIsRejected) {
  scenario();
  EXPECT_FALSE(tracker->decideIdle(IdleDecision::kKeep, "0190aaaa-0000-7000-8000-000000000000"));
  EXPECT_TRUE(tracker->decideIdle(IdleDecision::kKeep, idle_id));
  EXPECT_FALSE(tracker->decideIdle(IdleDecision::kKeep));  // nothing pending any more
}

TEST_F(TrackerTest, IdleWithoutTimerRecordsNothing) {
  tracker->onIdle(minutes(5));
  tracker->onActive(Millis(0));
  EXPECT_TRUE(sink.latest.empty());
}

TEST_F(TrackerTest, BreakPausesEverythingButItself) {
  const int64_t t0 = nowMs();
  tracker->onWindow(window("editor", "a.cpp"));
  ASSERT_TRUE(tracker->startTimer({"p1", "", ""}));
  advance(minutes(10));
  ASSERT_TRUE(tracker->startBreak());
  EXPECT_FALSE(tracker->startBreak());
  const size_t apps_before = sink.of(RecordKind::kAppUsage).size();
  tracker->onWindow(window("browser", "lunch menu"));
  tracker->onIdle(minutes(5));
  advance(minutes(15));
  tracker->onActive(Millis(0));
  EXPECT_EQ(sink.of(RecordKind::kAppUsage).size(), apps_before);
  EXPECT_TRUE(sink.of(RecordKind::kIdlePeriod).empty());
  EXPECT_EQ(tracker->status()["state"], "on_break");
  ASSERT_TRUE(tracker->endBreak());
  auto breaks = sink.of(RecordKind::kBreak);
  ASSERT_EQ(breaks.size(), 1u);
  EXPECT_EQ(breaks[0].start_ms, t0 + 10 * 60'000);
  EXPECT_EQ(breaks[0].duration_ms, 15 * 60'000);
  auto entries = sink.of(RecordKind::kTimeEntry);
  ASSERT_EQ(entries.size(), 2u);  // the timer resumes on the same project after the break
  EXPECT_EQ(entries[0].duration_ms, 10 * 60'000);
  EXPECT_EQ(entries[1].start_ms, t0 + 25 * 60'000);
  EXPECT_EQ(entries[1].data["project_id"], "p1");
  EXPECT_EQ(sink.of(RecordKind::kAppUsage).back().data["app"], "browser");
  EXPECT_FALSE(tracker->endBreak());
}

TEST_F(TrackerTest, UnannouncedSuspendGapIsNeverWork) {
  const int64_t t0 = nowMs();
  ASSERT_TRUE(tracker->startTimer({"p1", "", ""}));
  advance(minutes(10));
  clock.suspend(hours(1));  // lid closed; the monotonic clock stands still
  tracker->tick();
  auto entries = sink.of(RecordKind::kTimeEntry);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].end_ms, t0 + 10 * 60'000);
  auto idle = sink.of(RecordKind::kIdlePeriod);
  ASSERT_EQ(idle.size(), 1u);
  EXPECT_EQ(idle[0].data["reason"], "suspend");
  EXPECT_EQ(idle[0].start_ms, t0 + 10 * 60'000);
  EXPECT_EQ(idle[0].end_ms, t0 + 70 * 60'000);
  const Event* ev = lastEvent("idle_return");
  ASSERT_NE(ev, nullptr);
  EXPECT_EQ(ev->data["reason"], "suspend");
  // "keep" is not on offer for a sleep: it continues the timer from the resume instead.
  ASSERT_TRUE(tracker->decideIdle(IdleDecision::kKeep));
  entries = sink.of(RecordKind::kTimeEntry);
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[1].start_ms, t0 + 70 * 60'000);
  EXPECT_EQ(sink.of(RecordKind::kIdlePeriod)[0].data["decision"], "discard_continue");
}

TEST_F(TrackerTest, AnnouncedSuspendClosesSpansAtTheSuspendTime) {
  const int64_t t0 = nowMs();
  tracker->onWindow(window("editor", "a.cpp"));
  ASSERT_TRUE(tracker->startTimer({"p1", "", ""}));
  advance(minutes(10));
  tracker->onSuspend();  // logind PrepareForSleep(true)
  EXPECT_EQ(sink.of(RecordKind::kTimeEntry)[0].end_ms, t0 + 10 * 60'000);
  EXPECT_EQ(sink.of(RecordKind::kAppUsage)[0].end_ms, t0 + 10 * 60'000);
  clock.suspend(hours(8));
  tracker->onResume();
  auto idle = sink.of(RecordKind::kIdlePeriod);
  ASSERT_EQ(idle.size(), 1u);
  EXPECT_EQ(idle[0].end_ms, t0 + (10 + 480) * 60'000);
  EXPECT_EQ(idle[0].duration_ms, 480 * 60'000);
  ASSERT_TRUE(tracker->decideIdle(IdleDecision::kDiscard));
  EXPECT_EQ(sink.of(RecordKind::kTimeEntry).size(), 1u);
  EXPECT_EQ(tracker->status()["state"], "not_tracking");
}

TEST_F(TrackerTest, WallClockJumpDoesNotCorruptSpans) {
  const int64_t t0 = nowMs();
  ASSERT_TRUE(tracker->startTimer({"p1", "", ""}));
  advance(minutes(10));
  clock.jumpWall(hours(1));  // NTP or the user sets the clock an hour ahead
  advance(minutes(5));
  clock.jumpWall(-hours(3));  // and then far back
  advance(minutes(5));
  ASSERT_TRUE(tracker->stopTimer());
  auto e = sink.of(RecordKind::kTimeEntry)[0];
  EXPECT_EQ(e.duration_ms, 20 * 60'000);
  EXPECT_EQ(e.start_ms, t0);
  EXPECT_EQ(*e.end_ms - e.start_ms, 20 * 60'000);
  EXPECT_TRUE(sink.of(RecordKind::kIdlePeriod).empty()) << "a wall-clock jump is not a suspend";
}

TEST_F(TrackerTest, CleanRestartKeepsTheSameEntryRunning) {
  ASSERT_TRUE(tracker->startTimer({"p1", "t1", "n"}));
  const std::string id = tracker->status()["timer"]["entry_id"];
  advance(minutes(10));
  tracker->shutdown();
  EXPECT_FALSE(sink.latest[id].isOpen()) << "shutdown closes spans at the shutdown time";
  clock.advance(seconds(20));
  tracker = make();
  tracker->restore(RestoredState{sink.open(), sink.latest[id], sink.state[Tracker::kStateKey]});
  auto st = tracker->status();
  EXPECT_EQ(st["state"], "tracking");
  EXPECT_EQ(st["timer"]["entry_id"], id);
  EXPECT_TRUE(sink.latest[id].isOpen());
  EXPECT_EQ(sink.latest[id].revision, 3);
  advance(minutes(5));
  ASSERT_TRUE(tracker->stopTimer());
  EXPECT_EQ(sink.of(RecordKind::kTimeEntry).size(), 1u);
}

TEST_F(TrackerTest, RestartAfterLongDowntimeLeavesTheTimerStopped) {
  ASSERT_TRUE(tracker->startTimer({"p1", "", ""}));
  const std::string id = tracker->status()["timer"]["entry_id"];
  advance(minutes(10));
  tracker->shutdown();
  const int64_t end = *sink.latest[id].end_ms;
  clock.advance(hours(12));
  tracker = make();
  tracker->restore(RestoredState{sink.open(), sink.latest[id], sink.state[Tracker::kStateKey]});
  EXPECT_EQ(tracker->status()["state"], "not_tracking");
  EXPECT_EQ(*sink.latest[id].end_ms, end);
}

TEST_F(TrackerTest, CrashClosesTheEntryAtTheLastKnownPresenceNotAtTheNextStart) {
  const int64_t t0 = nowMs();
  tracker->onWindow(window("editor", "a.cpp"));
  ASSERT_TRUE(tracker->startTimer({"p1", "", ""}));
  advance(minutes(10));
  clock.advance(seconds(30));
  tracker->tick(minutes(2));  // the heartbeat learns the last input was 2 minutes ago
  // SIGKILL: no shutdown. The agent comes back two hours later.
  clock.advance(hours(2));
  tracker = make();
  tracker->restore(RestoredState{sink.open(), std::nullopt, sink.state[Tracker::kStateKey]});
  auto e = sink.of(RecordKind::kTimeEntry)[0];
  EXPECT_FALSE(e.isOpen());
  EXPECT_EQ(*e.end_ms, t0 + 10 * 60'000 + 30'000 - 120'000);
  EXPECT_FALSE(sink.of(RecordKind::kAppUsage)[0].isOpen());
  EXPECT_TRUE(sink.open().empty());
  EXPECT_EQ(tracker->status()["state"], "not_tracking");
}

TEST_F(TrackerTest, CrashWhileIdleEndsTheEntryAtTheIdleStart) {
  const int64_t t0 = nowMs();
  ASSERT_TRUE(tracker->startTimer({"p1", "", ""}));
  advance(minutes(10));
  tracker->onIdle(minutes(5));
  advance(minutes(30));
  clock.advance(hours(1));
  tracker = make();
  tracker->restore(RestoredState{sink.open(), std::nullopt, sink.state[Tracker::kStateKey]});
  auto e = sink.of(RecordKind::kTimeEntry)[0];
  EXPECT_EQ(*e.end_ms, t0 + 5 * 60'000);
  auto idle = sink.of(RecordKind::kIdlePeriod)[0];
  EXPECT_FALSE(idle.isOpen());
  EXPECT_GE(*idle.end_ms, t0 + 39 * 60'000);  // the last heartbeat saw the user still away
}

TEST_F(TrackerTest, QuickRestartAfterCrashContinuesTheEntry) {
  ASSERT_TRUE(tracker->startTimer({"p1", "", ""}));
  const std::string id = tracker->status()["timer"]["entry_id"];
  advance(minutes(10));
  clock.advance(seconds(40));
  tracker = make();
  tracker->restore(RestoredState{sink.open(), std::nullopt, sink.state[Tracker::kStateKey]});
  EXPECT_EQ(tracker->status()["timer"]["entry_id"], id);
  EXPECT_EQ(tracker->status()["timer"]["elapsed_ms"], 10 * 60'000 + 40'000);
}

TEST_F(TrackerTest, CorruptSavedStateIsSurvived) {
  ASSERT_TRUE(tracker->startTimer({"p1", "", ""}));
  advance(minutes(1));
  tracker = make();
  tracker->restore(RestoredState{sink.open(), std::nullopt, std::string("{not json")});
  EXPECT_TRUE(sink.open().empty() || tracker->status()["state"] == "not_tracking");
}

TEST_F(TrackerTest, AppSpansFollowTheForegroundWindow) {
  const int64_t t0 = nowMs();
  tracker->onWindow(window("editor", "a.cpp"));
  EXPECT_TRUE(sink.of(RecordKind::kAppUsage).empty()) << "nothing is recorded before tracking starts";
  ASSERT_TRUE(tracker->startTimer({"p1", "", ""}));
  advance(minutes(1));
  tracker->onWindow(window("browser", "Docs"));
  advance(minutes(2));
  tracker->onWindow(window("browser", "Docs", 99));  // same app and title, another pid: same span
  advance(minutes(1));
  tracker->onWindow(window("browser", "Mail"));  // a title change is a new span
  advance(minutes(1));
  ASSERT_TRUE(tracker->stopTimer());
  auto apps = sink.of(RecordKind::kAppUsage);
  ASSERT_EQ(apps.size(), 3u);
  EXPECT_EQ(apps[0].data["app"], "editor");
  EXPECT_EQ(apps[0].data["exe_path"], "/usr/bin/editor");
  EXPECT_EQ(apps[0].data["pid"], 42);
  EXPECT_EQ(apps[0].data["wm_class"], "editor-instance");
  EXPECT_EQ(apps[0].start_ms, t0);
  EXPECT_EQ(apps[0].duration_ms, 60'000);
  EXPECT_EQ(apps[1].data["title"], "Docs");
  EXPECT_EQ(apps[1].duration_ms, 3 * 60'000);
  EXPECT_EQ(apps[2].data["title"], "Mail");
  for (const auto& a : apps) EXPECT_FALSE(a.isOpen());
}

TEST_F(TrackerTest, SameWindowWithinThePulseExtendsTheLastSpan) {
  tracker->onWindow(window("editor", "a.cpp"));
  ASSERT_TRUE(tracker->startTimer({"p1", "", ""}));
  advance(minutes(1));
  ASSERT_TRUE(tracker->stopTimer());
  clock.advance(seconds(5));  // within the 10 s pulse
  ASSERT_TRUE(tracker->startTimer({"p1", "", ""}));
  advance(minutes(1));
  ASSERT_TRUE(tracker->stopTimer());
  auto apps = sink.of(RecordKind::kAppUsage);
  ASSERT_EQ(apps.size(), 1u);
  EXPECT_EQ(apps[0].duration_ms, 125'000);
  clock.advance(seconds(11));  // beyond the pulse: a new span
  ASSERT_TRUE(tracker->startTimer({"p1", "", ""}));
  advance(minutes(1));
  EXPECT_EQ(sink.of(RecordKind::kAppUsage).size(), 2u);
}

TEST_F(TrackerTest, AutoTrackingRecordsAppsWithoutATimer) {
  config.auto_tracking = true;
  tracker = make();
  tracker->onWindow(window("editor", "a.cpp"));
  advance(minutes(1));
  tracker->onWindow(window("term", "bash"));
  EXPECT_EQ(sink.of(RecordKind::kAppUsage).size(), 2u);
  EXPECT_TRUE(sink.of(RecordKind::kTimeEntry).empty());
}

TEST_F(TrackerTest, HeartbeatSavesStateWhileTracking) {
  ASSERT_TRUE(tracker->startTimer({"p1", "", ""}));
  sink.state.clear();
  advance(seconds(29));
  EXPECT_FALSE(sink.state.count(Tracker::kStateKey)) << "no write between heartbeats";
  advance(seconds(1));
  ASSERT_TRUE(sink.state.count(Tracker::kStateKey));
  auto s = nlohmann::json::parse(sink.state[Tracker::kStateKey]);
  EXPECT_EQ(s["last_present_ms"], nowMs());
  EXPECT_FALSE(s["clean_shutdown"]);
}

TEST(IdleDecisionNames, RoundTrip) {
  for (auto d : {IdleDecision::kKeep, IdleDecision::kDiscard, IdleDecision::kDiscardContinue, IdleDecision::kBreak})
    EXPECT_EQ(decisionFromName(decisionName(d)), d);
  EXPECT_EQ(decisionFromName("discard-continue"), IdleDecision::kDiscardContinue);
  EXPECT_FALSE(decisionFromName("forever"));
}

// A browser says a moment after its window came to front that the window is private: the title goes from
// the spans shown since its previous word, not from the spans before.
TEST_F(TrackerTest, AWithheldTitleLeavesTheSpansShownSinceTheBrowsersPreviousWord) {
  ASSERT_TRUE(tracker->startTimer({"p1", "", ""}));
  tracker->onWindow(window("browser", "News"));
  advance(seconds(1));
  const MonoTime previous_word = clock.mono();  // the extension vouched for "News"
  advance(seconds(1));
  tracker->onWindow(window("browser", "Secret A"));  // the private window comes to front
  clock.advance(Millis(100));
  tracker->onWindow(window("browser", "Secret B"));
  clock.advance(Millis(100));
  // The extension: no window it may see. Titles already emitted are withheld: the caller is told (to scrub).
  EXPECT_TRUE(tracker->retitleWindow(window("browser", ""), previous_word));
  advance(seconds(30));
  tracker->onWindow(window("browser", ""));  // the same window again: no new span
  auto apps = sink.of(RecordKind::kAppUsage);
  ASSERT_EQ(apps.size(), 3u);
  EXPECT_EQ(apps[0].data["title"], "News");  // begun before the browser's previous word
  EXPECT_EQ(apps[1].data["title"], "");
  EXPECT_EQ(apps[2].data["title"], "");
  EXPECT_TRUE(apps[2].isOpen());
  for (const auto& r : sink.latest) EXPECT_EQ(r.second.data.dump().find("Secret"), std::string::npos) << r.first;
  EXPECT_EQ(tracker->status()["window"]["title"], "");
}

TEST_F(TrackerTest, ATitleTheBrowserAllowsFillsTheSpanItBeganWithoutOne) {
  ASSERT_TRUE(tracker->startTimer({"p1", "", ""}));
  tracker->onWindow(window("editor", "a.cpp"));
  advance(minutes(1));
  const MonoTime previous_word = clock.mono();  // the browser lost focus: "no window"
  clock.advance(Millis(50));
  tracker->onWindow(window("browser", ""));  // back to it: withheld until its extension speaks
  clock.advance(Millis(200));
  EXPECT_FALSE(tracker->retitleWindow(window("browser", "News"), previous_word));  // filled in, nothing withheld
  advance(minutes(1));
  // A title the browser now withholds from a span it had vouched for: that span ends, the rest has none.
  EXPECT_FALSE(tracker->retitleWindow(window("browser", ""), clock.mono() - seconds(1)));  // a new span, none kept
  advance(minutes(1));
  auto apps = sink.of(RecordKind::kAppUsage);
  ASSERT_EQ(apps.size(), 3u);
  EXPECT_EQ(apps[0].data["title"], "a.cpp");
  EXPECT_EQ(apps[1].data["title"], "News");
  EXPECT_EQ(apps[1].duration_ms, 60'200);
  EXPECT_EQ(apps[2].data["title"], "");
  // Another app in between: retitling is a plain window change.
  EXPECT_FALSE(tracker->retitleWindow(window("editor", "b.cpp"), clock.mono()));
  EXPECT_EQ(sink.of(RecordKind::kAppUsage).size(), 4u);
}

}  // namespace
}  // namespace wm::agent
