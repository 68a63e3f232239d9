// InputCounter on a real X server (Xvfb + openbox): xdotool input (XTEST, which the server feeds through the
// same path as a device) is counted as key presses, clicks, scrolls and moves; nothing is delivered while
// there is no input; the thread neither wakes up while idle nor survives its display.
#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "event_log.h"
#include "workmonitor/platform/input_counts.h"
#include "xvfb_fixture.h"

namespace wm::platform {
namespace {

using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;
using test::EventLog;
using test::XvfbSession;

struct Delivery {
  InputCounts counts;
  Steady::time_point at;
};

InputCounts sum(const std::vector<Delivery>& ds, size_t from = 0) {
  InputCounts t;
  for (size_t i = from; i < ds.size(); ++i) {
    t.keys += ds[i].counts.keys;
    t.clicks += ds[i].counts.clicks;
    t.moves += ds[i].counts.moves;
    t.scrolls += ds[i].counts.scrolls;
  }
  return t;
}

/// Voluntary context switches of every thread of this process: each poll() that returns adds one.
long contextSwitches() {
  long total = 0;
  DIR* dir = opendir("/proc/self/task");
  if (dir == nullptr) return -1;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] == '.') continue;
    std::ifstream status(std::string("/proc/self/task/") + e->d_name + "/status");
    std::string line;
    while (std::getline(status, line)) {
      if (line.rfind("voluntary_ctxt_switches:", 0) == 0) total += std::atol(line.c_str() + 24);
    }
  }
  closedir(dir);
  return total;
}

double cpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

class X11InputCountsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto session = XvfbSession::start();
    ASSERT_TRUE(session) << session.error().message;
    x_ = std::move(*session);
    // Park the pointer first so the start position is not part of any test's counts.
    ASSERT_TRUE(x_->xdotool({"mousemove", "20", "20"}).ok());
    auto started = counter_->start([this](const InputCounts& c) { log_.push(Delivery{c, Steady::now()}); });
    ASSERT_TRUE(started) << started.error().message;
  }
  void TearDown() override { counter_->stop(); }

  /// Pointer motion as a device makes it. (`xdotool mousemove x y` warps the pointer with XWarpPointer, which
  /// is a client moving the cursor, not input: the server sends no raw event for it.)
  bool moveBy(int dx, int dy) {
    return x_->xdotool({"mousemove_relative", "--", std::to_string(dx), std::to_string(dy)}).ok();
  }

  /// Waits until no delivery has come for `quiet` (the counter's last window has closed); returns the total.
  InputCounts settle(size_t from = 0, std::chrono::milliseconds quiet = 1600ms) {
    size_t n = log_.size();
    for (int i = 0; i < 20; ++i) {
      std::this_thread::sleep_for(quiet);
      if (log_.size() == n) break;
      n = log_.size();
    }
    return sum(log_.snapshot(), from);
  }

  std::unique_ptr<XvfbSession> x_;
  std::unique_ptr<InputCounter> counter_ = makeInputCounter();
  EventLog<Delivery> log_;
};

TEST_F(X11InputCountsTest, TypedLowercaseStringCountsEachKeyOnce) {
  settle();
  const size_t from = log_.size();
  const std::string text = "hello world";  // lower case and space: no Shift, so exactly one press per char
  ASSERT_TRUE(x_->xdotool({"type", "--delay", "20", text}).ok());
  const InputCounts c = settle(from);
  EXPECT_EQ(c.keys, text.size());
  EXPECT_EQ(c.clicks, 0u);
  EXPECT_EQ(c.scrolls, 0u);
}

TEST_F(X11InputCountsTest, TypedMixedCaseStringCountsAtLeastEveryCharacter) {
  settle();
  const size_t from = log_.size();
  const std::string text = "Hello World";  // xdotool adds Shift presses for the capitals
  ASSERT_TRUE(x_->xdotool({"type", "--delay", "20", text}).ok());
  const InputCounts c = settle(from);
  EXPECT_GE(c.keys, text.size());
  EXPECT_LE(c.keys, text.size() + 2) << "at most one Shift press per capital";
}

// Behaviour check only: under Xvfb a held XTEST key produces no repeated raw presses at all, so this does not
// exercise the XIKeyRepeat filter in the module (a real keyboard's repeats would).
TEST_F(X11InputCountsTest, HeldKeyIsOnePress) {
  settle();
  const size_t from = log_.size();
  ASSERT_TRUE(x_->xdotool({"keydown", "a"}).ok());
  std::this_thread::sleep_for(1500ms);  // past the server's auto-repeat delay (660 ms by default)
  ASSERT_TRUE(x_->xdotool({"keyup", "a"}).ok());
  const InputCounts c = settle(from);
  EXPECT_EQ(c.keys, 1u) << "auto-repeat is not typing";
}

TEST_F(X11InputCountsTest, ClicksAndScrollsAreCountedApart) {
  settle();
  const size_t from = log_.size();
  constexpr int kClicks = 5;
  ASSERT_TRUE(x_->xdotool({"click", "--repeat", std::to_string(kClicks), "--delay", "30", "1"}).ok());
  ASSERT_TRUE(x_->xdotool({"click", "3"}).ok());
  ASSERT_TRUE(x_->xdotool({"click", "--repeat", "3", "--delay", "30", "4"}).ok());  // wheel up
  ASSERT_TRUE(x_->xdotool({"click", "5"}).ok());                                    // wheel down
  const InputCounts c = settle(from);
  EXPECT_EQ(c.clicks, static_cast<uint32_t>(kClicks + 1));
  EXPECT_EQ(c.scrolls, 4u);
  EXPECT_EQ(c.keys, 0u);
}

TEST_F(X11InputCountsTest, MouseMovesAreCounted) {
  settle();
  const size_t from = log_.size();
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(moveBy(30, 20));
  const InputCounts c = settle(from);
  EXPECT_GT(c.moves, 0u);
  EXPECT_EQ(c.keys, 0u);
  EXPECT_EQ(c.clicks, 0u);
}

TEST_F(X11InputCountsTest, DeliversAboutOnceASecondWhileThereIsInput) {
  settle();
  const size_t from = log_.size();
  const auto begin = Steady::now();
  int i = 0;
  while (Steady::now() - begin < 3500ms) {
    ASSERT_TRUE(moveBy(i % 2 == 0 ? 5 : -5, 0));
    ++i;
    std::this_thread::sleep_for(50ms);
  }
  settle(from);
  const auto ds = log_.snapshot();
  ASSERT_GT(ds.size(), from);
  const size_t n = ds.size() - from;
  // 3.5 s of input: three or four full windows plus the last partial one.
  EXPECT_GE(n, 3u);
  EXPECT_LE(n, 5u);
  for (size_t k = from + 1; k < ds.size(); ++k) {
    EXPECT_GE(ds[k].at - ds[k - 1].at, 900ms) << "deliveries come no more often than once a second";
  }
  for (size_t k = from; k < ds.size(); ++k) EXPECT_GT(ds[k].counts.moves, 0u) << "no empty deliveries";
}

TEST_F(X11InputCountsTest, NothingIsDeliveredAndNothingWakesUpWhileIdle) {
  settle();
  const size_t before = log_.size();
  const long switches_before = contextSwitches();
  ASSERT_GE(switches_before, 0);
  std::this_thread::sleep_for(2500ms);  // a window long enough for a periodic timer to show, not a condition
  const long switches = contextSwitches() - switches_before;
  EXPECT_EQ(log_.size(), before) << "a delivery without input";
  // The main thread's sleep accounts for one or two; a 1 s timer in the counter would add at least two more.
  EXPECT_LE(switches, 2) << "the counter thread wakes up while there is no input";

  ASSERT_TRUE(x_->xdotool({"key", "a"}).ok());
  auto d = log_.waitFor([](const Delivery& x) { return x.counts.keys > 0; }, 3s, before);
  ASSERT_TRUE(d) << "input after a quiet spell is delivered";
  EXPECT_EQ(d->counts.keys, 1u);
}

TEST_F(X11InputCountsTest, SecondStartIsRefusedAndStopIsPrompt) {
  auto again = counter_->start([](const InputCounts&) {});
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Errc::kInvalidInput);
  const auto t0 = Steady::now();
  counter_->stop();
  EXPECT_LT(Steady::now() - t0, 500ms);
  counter_->stop();  // twice is harmless
  // And it can be started again.
  auto restarted = counter_->start([this](const InputCounts& c) { log_.push(Delivery{c, Steady::now()}); });
  ASSERT_TRUE(restarted) << restarted.error().message;
  const size_t from = log_.size();
  ASSERT_TRUE(x_->xdotool({"click", "1"}).ok());
  EXPECT_TRUE(log_.waitFor([](const Delivery& x) { return x.counts.clicks == 1; }, 3s, from));
}

TEST_F(X11InputCountsTest, DisplayGoingAwayEndsTheThreadQuietly) {
  ASSERT_TRUE(moveBy(40, 40));
  ASSERT_TRUE(log_.waitFor([](const Delivery& x) { return x.counts.moves > 0; }, 3s));
  settle();
  x_->killServer();
  const double cpu_before = cpuSeconds();
  std::this_thread::sleep_for(1200ms);  // a window long enough to see a busy loop
  EXPECT_LT(cpuSeconds() - cpu_before, 0.3) << "the counter busy-loops after the server died";
  // The thread has ended on its own: start() no longer says "already started" but tries the dead display.
  Result<void> again;
  ASSERT_TRUE(test::waitUntil(
      [&] {
        again = counter_->start([](const InputCounts&) {});
        if (again) counter_->stop();  // another test's display on the same number: fine, but not ours
        return again.has_value() || again.error().code != Errc::kInvalidInput;
      },
      3s));
  const auto t0 = Steady::now();
  counter_->stop();
  EXPECT_LT(Steady::now() - t0, 500ms);
}

TEST(X11InputCountsNoDisplay, StartReportsUnavailable) {
  std::optional<std::string> old;
  if (const char* d = std::getenv("DISPLAY")) old = d;
  unsetenv("DISPLAY");
  auto counter = makeInputCounter();
  auto started = counter->start([](const InputCounts&) { ADD_FAILURE() << "no counts without a display"; });
  ASSERT_FALSE(started);
  EXPECT_EQ(started.error().code, Errc::kUnavailable);
  EXPECT_NE(started.error().message.find("no X display"), std::string::npos) << started.error().message;
  counter->stop();  // harmless when not started

  setenv("DISPLAY", ":9987", 1);  // nothing listens there
  auto refused = counter->start([](const InputCounts&) {});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::kUnavailable);
  if (old)
    setenv("DISPLAY", old->c_str(), 1);
  else
    unsetenv("DISPLAY");
}

}  // namespace
}  // namespace wm::platform
