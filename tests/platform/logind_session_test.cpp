// The logind SessionWatcher for real: sd-bus against python3-dbusmock's logind template on a private bus
// (DBUS_SYSTEM_BUS_ADDRESS points there), signals emitted through the mock.
#include <pwd.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

#include <gtest/gtest.h>

#include "logind_mock.h"
#include "workmonitor/platform/session_events.h"

namespace wm::platform {
namespace {

using namespace std::chrono_literals;
using test::LogindMock;

const char* name(SessionEvent e) {
  switch (e) {
    case SessionEvent::kLocked:
      return "locked";
    case SessionEvent::kUnlocked:
      return "unlocked";
    case SessionEvent::kSleeping:
      return "sleeping";
    case SessionEvent::kResumed:
      return "resumed";
  }
  return "?";
}

// Events from the watcher's thread, waited for by the test.
class EventQueue {
 public:
  void push(SessionEvent e) {
    std::lock_guard lock(mu_);
    q_.push_back(e);
    cv_.notify_all();
  }
  std::optional<SessionEvent> next(std::chrono::milliseconds timeout = 5s) {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, timeout, [&] { return !q_.empty(); })) return std::nullopt;
    SessionEvent e = q_.front();
    q_.pop_front();
    return e;
  }
  bool empty() {
    std::lock_guard lock(mu_);
    return q_.empty();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<SessionEvent> q_;
};

// Waits until the mock lists `n` inhibitors; returns what it last saw.
std::vector<test::Inhibitor> waitForInhibitors(LogindMock& m, size_t n, std::chrono::milliseconds timeout = 5s) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  std::vector<test::Inhibitor> seen;
  do {
    auto list = m.inhibitors();
    EXPECT_TRUE(list) << (list ? "" : list.error().message);
    if (!list) return {};
    seen = *list;
    if (seen.size() == n) return seen;
    std::this_thread::sleep_for(20ms);
  } while (std::chrono::steady_clock::now() < end);
  return seen;
}

std::string userName() {
  const passwd* pw = ::getpwuid(::getuid());
  return pw != nullptr ? pw->pw_name : "user";
}

class LogindSessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The test process's own session must not leak into the discovery under test.
    if (const char* id = std::getenv("XDG_SESSION_ID")) old_session_id_ = id;
    ::unsetenv("XDG_SESSION_ID");
    auto m = LogindMock::start();
    ASSERT_TRUE(m) << m.error().message;
    mock_ = std::move(*m);
    auto s = mock_->addSession("c7", ::getuid(), userName());
    ASSERT_TRUE(s) << s.error().message;
    session_ = *s;
  }
  void TearDown() override {
    if (watcher_) watcher_->stop();
    watcher_.reset();
    mock_.reset();
    if (old_session_id_)
      ::setenv("XDG_SESSION_ID", old_session_id_->c_str(), 1);
    else
      ::unsetenv("XDG_SESSION_ID");
  }
  void startWatcher(SessionWatcher::Sink sink = {}) {
    watcher_ = makeSessionWatcher();
    if (!sink) sink = [this](SessionEvent e) { events_.push(e); };
    auto ok = watcher_->start(std::move(sink));
    ASSERT_TRUE(ok) << ok.error().message;
  }
  void expectNext(SessionEvent want) {
    auto got = events_.next();
    ASSERT_TRUE(got) << "no event; wanted " << name(want);
    EXPECT_EQ(name(*got), std::string(name(want)));
  }

  std::unique_ptr<LogindMock> mock_;
  std::string session_;
  std::unique_ptr<SessionWatcher> watcher_;
  EventQueue events_;
  std::optional<std::string> old_session_id_;
};

TEST_F(LogindSessionTest, SleepRunsTheSinkUnderTheDelayInhibitorThenReleasesIt) {
  ASSERT_TRUE(mock_->addGetSessionByPid(session_));
  std::optional<std::vector<test::Inhibitor>> held_during_sink;
  startWatcher([&](SessionEvent e) {
    // The suspend is held only while our inhibitor is there: it must still be there inside the sink.
    if (e == SessionEvent::kSleeping) {
      auto list = mock_->inhibitors();
      if (list) held_during_sink = *list;
    }
    events_.push(e);
  });

  auto taken = waitForInhibitors(*mock_, 1);
  ASSERT_EQ(taken.size(), 1u) << "start() takes a delay inhibitor for sleep";
  EXPECT_EQ(taken[0].what, "sleep");
  EXPECT_EQ(taken[0].mode, "delay");
  EXPECT_EQ(taken[0].who, "WorkMonitor");
  EXPECT_FALSE(taken[0].why.empty());

  ASSERT_TRUE(mock_->prepareForSleep(true));
  expectNext(SessionEvent::kSleeping);
  ASSERT_TRUE(held_during_sink);
  EXPECT_EQ(held_during_sink->size(), 1u) << "the inhibitor is held while the sink runs";
  EXPECT_TRUE(waitForInhibitors(*mock_, 0).empty()) << "released once the sink returned, so the sleep proceeds";

  ASSERT_TRUE(mock_->prepareForSleep(false));
  expectNext(SessionEvent::kResumed);
  EXPECT_EQ(waitForInhibitors(*mock_, 1).size(), 1u) << "taken again for the next sleep";

  // A second round works the same way.
  ASSERT_TRUE(mock_->prepareForSleep(true));
  expectNext(SessionEvent::kSleeping);
  EXPECT_TRUE(waitForInhibitors(*mock_, 0).empty());
  ASSERT_TRUE(mock_->prepareForSleep(false));
  expectNext(SessionEvent::kResumed);

  watcher_->stop();
  EXPECT_TRUE(waitForInhibitors(*mock_, 0).empty()) << "stop() releases the inhibitor";
}

TEST_F(LogindSessionTest, SlowSinkDelaysTheRelease) {
  ASSERT_TRUE(mock_->addGetSessionByPid(session_));
  startWatcher([&](SessionEvent e) {
    if (e == SessionEvent::kSleeping) std::this_thread::sleep_for(1500ms);  // the tracker closing spans
    events_.push(e);
  });
  ASSERT_EQ(waitForInhibitors(*mock_, 1).size(), 1u);
  ASSERT_TRUE(mock_->prepareForSleep(true));
  std::this_thread::sleep_for(700ms);
  EXPECT_EQ(waitForInhibitors(*mock_, 1, 0ms).size(), 1u) << "still held while the sink works";
  expectNext(SessionEvent::kSleeping);
  EXPECT_TRUE(waitForInhibitors(*mock_, 0).empty());
}

TEST_F(LogindSessionTest, LockSignalsAndLockedHintGiveOneEventPerChange) {
  ASSERT_TRUE(mock_->addGetSessionByPid(session_));
  startWatcher();
  auto locked = watcher_->isLocked();
  ASSERT_TRUE(locked) << locked.error().message;
  EXPECT_FALSE(*locked);

  ASSERT_TRUE(mock_->lock(session_));  // loginctl lock-session: the Lock signal
  expectNext(SessionEvent::kLocked);
  ASSERT_TRUE(mock_->setLockedHint(session_, true));  // the locker confirms: no second event
  ASSERT_TRUE(mock_->unlock(session_));
  expectNext(SessionEvent::kUnlocked);
  ASSERT_TRUE(mock_->setLockedHint(session_, false));

  // A locker that only sets LockedHint (no Lock signal) is seen too, and isLocked() reads the hint.
  ASSERT_TRUE(mock_->setLockedHint(session_, true));
  expectNext(SessionEvent::kLocked);
  locked = watcher_->isLocked();
  ASSERT_TRUE(locked);
  EXPECT_TRUE(*locked);
  ASSERT_TRUE(mock_->setLockedHint(session_, false));
  expectNext(SessionEvent::kUnlocked);
  std::this_thread::sleep_for(300ms);
  EXPECT_TRUE(events_.empty()) << "one event per change";
}

TEST_F(LogindSessionTest, AlreadyLockedAtStartIsReported) {
  ASSERT_TRUE(mock_->addGetSessionByPid(session_));
  ASSERT_TRUE(mock_->setLockedHint(session_, true));
  startWatcher();
  expectNext(SessionEvent::kLocked);
}

TEST_F(LogindSessionTest, SessionFoundThroughXdgSessionId) {
  // No GetSessionByPID answer (as for a process outside every session): XDG_SESSION_ID names it.
  auto other = mock_->addSession("c9", ::getuid() + 1, "someone-else");
  ASSERT_TRUE(other);
  ::setenv("XDG_SESSION_ID", "c7", 1);
  startWatcher();
  ASSERT_TRUE(mock_->lock(*other));  // not ours
  ASSERT_TRUE(mock_->lock(session_));
  expectNext(SessionEvent::kLocked);
  ASSERT_TRUE(mock_->unlock(session_));
  expectNext(SessionEvent::kUnlocked);
}

TEST_F(LogindSessionTest, SessionFoundThroughTheUsersDisplaySession) {
  // A systemd user service: no session by pid, no XDG_SESSION_ID; the user's display session is ours.
  auto shown = mock_->setUserDisplay(::getuid(), "c7", session_);
  ASSERT_TRUE(shown) << shown.error().message;
  startWatcher();
  ASSERT_TRUE(mock_->lock(session_));
  expectNext(SessionEvent::kLocked);
  auto locked = watcher_->isLocked();
  ASSERT_TRUE(locked) << locked.error().message;
}

TEST_F(LogindSessionTest, NoSessionStillReportsSleep) {
  startWatcher();  // no way to find a session: sleep events only
  auto locked = watcher_->isLocked();
  ASSERT_FALSE(locked);
  EXPECT_EQ(locked.error().code, Errc::kNotFound);
  ASSERT_TRUE(mock_->prepareForSleep(true));
  expectNext(SessionEvent::kSleeping);
  ASSERT_TRUE(mock_->prepareForSleep(false));
  expectNext(SessionEvent::kResumed);
}

TEST_F(LogindSessionTest, LogindGoingAwayEndsTheWatcherQuietly) {
  ASSERT_TRUE(mock_->addGetSessionByPid(session_));
  startWatcher();
  ASSERT_EQ(waitForInhibitors(*mock_, 1).size(), 1u);
  mock_->killBus();
  std::this_thread::sleep_for(300ms);
  const auto t = std::chrono::steady_clock::now();
  watcher_->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t, 1s);
  auto locked = watcher_->isLocked();
  EXPECT_FALSE(locked);
  // And a restart reports the missing bus instead of crashing.
  auto again = watcher_->start([](SessionEvent) {});
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Errc::kUnavailable);
}

TEST_F(LogindSessionTest, StopIsPromptAndStartTwiceIsRefused) {
  ASSERT_TRUE(mock_->addGetSessionByPid(session_));
  startWatcher();
  EXPECT_FALSE(watcher_->start([](SessionEvent) {}));
  const auto t = std::chrono::steady_clock::now();
  watcher_->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t, 1s);
  watcher_->stop();  // twice is fine
  startWatcher();    // and it starts again
  ASSERT_TRUE(mock_->lock(session_));
  expectNext(SessionEvent::kLocked);
}

TEST(LogindUnavailable, NoSystemBusIsUnavailable) {
  const char* old = std::getenv("DBUS_SYSTEM_BUS_ADDRESS");
  const std::optional<std::string> saved = old ? std::optional<std::string>(old) : std::nullopt;
  ::setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/wm-no-bus", 1);
  auto w = makeSessionWatcher();
  auto ok = w->start([](SessionEvent) {});
  ASSERT_FALSE(ok);
  EXPECT_EQ(ok.error().code, Errc::kUnavailable);
  EXPECT_NE(ok.error().message.find("D-Bus"), std::string::npos) << ok.error().message;
  auto locked = w->isLocked();
  ASSERT_FALSE(locked);
  EXPECT_EQ(locked.error().code, Errc::kUnavailable);
  w->stop();
  if (saved)
    ::setenv("DBUS_SYSTEM_BUS_ADDRESS", saved->c_str(), 1);
  else
    ::unsetenv("DBUS_SYSTEM_BUS_ADDRESS");
}

TEST(LogindUnavailable, BusWithoutLogindIsUnavailable) {
  LogindMock::Options o;
  o.logind = false;
  auto m = LogindMock::start(o);
  ASSERT_TRUE(m) << m.error().message;
  auto w = makeSessionWatcher();
  auto ok = w->start([](SessionEvent) {});
  ASSERT_FALSE(ok);
  EXPECT_EQ(ok.error().code, Errc::kUnavailable);
  EXPECT_NE(ok.error().message.find("logind"), std::string::npos) << ok.error().message;
}

}  // namespace
}  // namespace wm::platform
