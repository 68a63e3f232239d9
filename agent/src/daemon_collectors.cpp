// The daemon's wiring of keyboard/mouse activity counts and of lock, unlock, sleep and resume (issue 6).
#include "daemon_impl.h"

namespace wm::agent::daemon_detail {

// --- keyboard/mouse activity counts (issue 6) ---
// The platform counter runs only while activity_counts is on; without it (no display, no XInput2) the
// aggregator is off too, so no empty minutes are recorded for input nobody could count.
void Daemon::setActivityCounting(bool on) {
  if (!activity_ || stopping_) return;
  if (on && !input_) {
    auto counter = platform::makeInputCounter();
    auto ok = counter->start([this](const platform::InputCounts& c) {
      asio::post(io_, [this, c] {
        if (stopping_ || !activity_) return;
        activity_->add(c);
        armActivityTimer();
      });
    });
    if (ok) {
      input_ = std::move(counter);
      activity_problem_.clear();
    } else {
      activity_problem_ =
          ok.error().message.empty() ? "the input counter could not start (no reason given)" : ok.error().message;
      // No display is one fact, said once (by idle detection), not once per capability.
      if (idle_problem_.empty() || ok.error().code != Errc::kUnavailable)
        spdlog::warn("activity counts off: {}", activity_problem_);
    }
  } else if (!on && input_) {
    input_->stop();
    input_.reset();
  }
  // Off by consent (waiting or declined) is said as such; off by the settings needs no reason.
  if (!on) activity_problem_ = consent_ ? consent_->withheldReason("activity") : std::string();
  activity_->setEnabled(on && input_ != nullptr);
  activity_->refresh();
  armActivityTimer();
}

void Daemon::armActivityTimer() {
  if (stopping_ || !activity_) return;
  const auto wait = activity_->untilNextDeadline();
  if (!wait) {
    activity_timer_.cancel();  // not working: nothing to wake up for
    return;
  }
  activity_timer_.expires_after(*wait + Millis(1));
  activity_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec || stopping_) return;
    activity_->refresh();
    armActivityTimer();
  });
}
// --- end activity counts ---

// --- lock, unlock, sleep, resume (issue 6) ---
// Events go to the tracker on the io thread. For a sleep the watcher's thread waits (a few seconds at most)
// until the tracker has closed the spans and the outbox has committed them: logind holds the suspend for us
// only while that thread has not returned.
void Daemon::startSessionWatcher() {
  session_ = platform::makeSessionWatcher();
  auto ok = session_->start([this](platform::SessionEvent e) {
    if (e != platform::SessionEvent::kSleeping) {
      asio::post(io_, [this, e] { onSessionEvent(e); });
      return;
    }
    auto done = std::make_shared<std::promise<void>>();
    auto handled = done->get_future();
    asio::post(io_, [this, e, done] {
      onSessionEvent(e);
      done->set_value();
    });
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(4);
    while (handled.wait_for(std::chrono::milliseconds(50)) != std::future_status::ready) {
      if (session_closing_ || std::chrono::steady_clock::now() >= give_up) break;
    }
  });
  if (!ok) {
    session_problem_ = ok.error().message;
    session_.reset();
    spdlog::warn("lock and sleep events off: {}", session_problem_);
  }
}

void Daemon::onSessionEvent(platform::SessionEvent e) {
  if (stopping_) return;
  switch (e) {
    case platform::SessionEvent::kLocked:
      spdlog::info("screen locked ({})", config_.config.collectors.lock_as_break ? "a break" : "idle");
      tracker_->onLock(config_.config.collectors.lock_as_break);
      break;
    case platform::SessionEvent::kUnlocked:
      spdlog::info("screen unlocked");
      tracker_->onUnlock();
      break;
    case platform::SessionEvent::kSleeping:
      spdlog::info("going to sleep: spans end now");
      tracker_->onSuspend();
      if (auto ok = outbox_->flush(); !ok) spdlog::error("outbox commit before sleep failed: {}", ok.error().message);
      break;
    case platform::SessionEvent::kResumed:
      spdlog::info("resumed from sleep");
      tracker_->onResume();
      break;
  }
  scheduleTick();
}
// --- end session events ---

}  // namespace wm::agent::daemon_detail
