// IdleWatcher on a real X server (Xvfb): the idle counter grows without input, xdotool input resets it, and
// the watcher turns threshold crossings into idle / active events.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>

#include "event_log.h"
#include "workmonitor/platform/idle.h"
#include "xvfb_fixture.h"

namespace wm::platform {
namespace {

using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;
using test::EventLog;
using test::XvfbSession;

class X11IdleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto session = XvfbSession::start();
    ASSERT_TRUE(session) << session.error().message;
    x_ = std::move(*session);
  }

  Millis idleNow() {
    auto ms = watcher_->idleTime();
    EXPECT_TRUE(ms) << ms.error().message;
    return ms ? *ms : Millis(-1);
  }

  // Real input through XTEST, which the server counts like a device event.
  void moveMouse(int x, int y) { ASSERT_TRUE(x_->xdotool({"mousemove", std::to_string(x), std::to_string(y)}).ok()); }

  std::unique_ptr<XvfbSession> x_;
  std::unique_ptr<IdleWatcher> watcher_ = makeIdleWatcher();
};

TEST_F(X11IdleTest, IdleTimeGrowsWithoutInputAndInputResetsIt) {
  moveMouse(10, 10);
  const Millis first = idleNow();
  ASSERT_GE(first.count(), 0);
  ASSERT_TRUE(test::waitUntil([&] { return idleNow() >= first + 700ms; }, 5s)) << "idle time does not grow";

  moveMouse(300, 200);
  EXPECT_TRUE(test::waitUntil([&] { return idleNow() < 500ms; }, 2s)) << "mouse input did not reset idle";

  ASSERT_TRUE(test::waitUntil([&] { return idleNow() >= 600ms; }, 5s));
  ASSERT_TRUE(x_->xdotool({"key", "shift"}).ok());
  EXPECT_TRUE(test::waitUntil([&] { return idleNow() < 500ms; }, 2s)) << "key input did not reset idle";
}

TEST_F(X11IdleTest, IdleEventAfterThresholdThenActiveOnInputThenIdleAgain) {
  constexpr Millis kThreshold{1500};
  EventLog<IdleEvent> events;
  moveMouse(10, 10);
  const auto started = Steady::now();
  ASSERT_TRUE(watcher_->start(kThreshold, [&](const IdleEvent& e) { events.push(e); }));

  auto idle = events.waitFor([](const IdleEvent& e) { return e.idle; }, 6s);
  ASSERT_TRUE(idle) << "no idle event after the threshold";
  EXPECT_GE(Steady::now() - started, kThreshold - 300ms) << "idle reported before the threshold could pass";
  EXPECT_GE(idle->since_last_input, kThreshold);
  EXPECT_LT(idle->since_last_input, kThreshold + 2s) << "idle detected late";
  EXPECT_EQ(events.size(), 1u) << "only the transition is reported";

  moveMouse(400, 300);
  size_t active_at = 0;
  auto active = events.waitFor([](const IdleEvent& e) { return !e.idle; }, 4s, 1, &active_at);
  ASSERT_TRUE(active) << "no active event after input";
  EXPECT_LT(active->since_last_input, 1500ms);

  // The watcher re-arms: without further input it goes idle again.
  auto again = events.waitFor([](const IdleEvent& e) { return e.idle; }, 6s, active_at + 1);
  ASSERT_TRUE(again) << "no second idle event";
  EXPECT_GE(again->since_last_input, kThreshold);

  watcher_->stop();
  const auto all = events.snapshot();
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i].idle, i % 2 == 0) << "events alternate, #" << i;
}

TEST_F(X11IdleTest, AlreadyIdleAtStartIsReportedAtOnce) {
  ASSERT_TRUE(test::waitUntil([&] { return idleNow() >= 800ms; }, 5s));
  EventLog<IdleEvent> events;
  ASSERT_TRUE(watcher_->start(Millis(500), [&](const IdleEvent& e) { events.push(e); }));
  auto idle = events.waitFor([](const IdleEvent& e) { return e.idle; }, 1s);
  ASSERT_TRUE(idle);
  EXPECT_GE(idle->since_last_input, 800ms) << "since_last_input is measured, not the threshold";
}

TEST_F(X11IdleTest, StopIsPromptEvenWithALongThresholdAndRestartWorks) {
  EventLog<IdleEvent> events;
  ASSERT_TRUE(watcher_->start(Millis(10 * 60 * 1000), [&](const IdleEvent& e) { events.push(e); }));
  auto second = watcher_->start(Millis(1000), [](const IdleEvent&) {});
  ASSERT_FALSE(second) << "a second start while running is refused";
  EXPECT_EQ(second.error().code, Errc::kInvalidInput);

  const auto before = Steady::now();
  watcher_->stop();
  EXPECT_LT(Steady::now() - before, 500ms) << "stop() must not wait for the next check";
  EXPECT_EQ(events.size(), 0u);

  ASSERT_TRUE(watcher_->start(Millis(300), [&](const IdleEvent& e) { events.push(e); }));
  EXPECT_TRUE(events.waitFor([](const IdleEvent& e) { return e.idle; }, 3s)) << "restart after stop works";
  watcher_->stop();
}

TEST_F(X11IdleTest, RejectsANonPositiveThreshold) {
  auto r = watcher_->start(Millis(0), [](const IdleEvent&) {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kInvalidInput);
}

}  // namespace
}  // namespace wm::platform
