// The tracker's absences (split from tracker.cpp): sleep announced or seen on resume, screen lock and unlock.
// The idle-return question they lead to is the one of tracker.cpp.
#include "workmonitor/agent/tracker.h"

namespace wm::agent {

using api::Record;
using api::RecordKind;
using nlohmann::json;

void Tracker::onSuspend() {
  tick();
  handleSuspend(clock_.mono(), Millis(0));
}

void Tracker::onResume() {
  tick();  // with a boot clock, the resume was already seen here
  if (asleep_ && idle_ && idle_->span.rec.data.value("reason", "") == "suspend") finishAnnouncedSuspend(Millis(0));
}

void Tracker::finishAnnouncedSuspend(Millis slept) {
  asleep_ = false;
  idle_->span.mono_start -= slept;  // the sleep did not advance the monotonic clock
  if (locked_) {
    // Awake again behind the lock screen: the absence goes on until the unlock.
    saveState();
    announce();
    return;
  }
  closeSuspendIdle();
}

void Tracker::onLock(bool as_break) {
  tick();
  if (locked_) return;
  locked_ = true;
  const MonoTime now = clock_.mono();
  const bool asleep_idle = idle_ && idle_->span.rec.data.value("reason", "") == "suspend";
  // A break (manual) runs on, and a sleep's absence goes on to the unlock: nothing else changes.
  if (!break_ && !asleep_idle) {
    if (pending_) applyDecision(config_.idle_default);  // may continue the timer from the return
    if (timerRunning() || config_.auto_tracking || idle_) {
      if (!as_break) {
        // Idle from the lock (or from the last input, if the user was already idle before the lock).
        if (!idle_) {
          closeAppSpan(now);
          idle_ = ActiveIdle{
              openSpan(RecordKind::kIdlePeriod, now,
                       json{{"reason", "lock"}, {"decision", "pending"}, {"entry_id", entry_ ? entry_->rec.id : ""}})};
          last_present_ = now;
        }
      } else {
        // A break to the unlock. Already idle: the user left at the last input, so the break starts there and
        // the idle period is settled as part of it.
        MonoTime start = now;
        json data{{"reason", "lock"}};
        if (idle_) {
          OpenSpan idle = idle_->span;
          idle_.reset();
          start = idle.mono_start;
          idle.rec.data["decision"] = "break";
          closeSpan(idle, now);
          data["idle_id"] = idle.rec.id;
        }
        closeAppSpan(start);
        if (entry_) break_resume_ = specOf(entry_->rec);
        closeEntry(start);
        break_ = openSpan(RecordKind::kBreak, start, std::move(data));
      }
    }
  }
  saveState();
  announce();
}

void Tracker::onUnlock() {
  tick();
  if (!locked_) return;
  locked_ = false;
  const MonoTime now = clock_.mono();
  if (break_ && break_->rec.data.value("reason", "") == "lock") {
    closeSpan(*break_, now);
    break_.reset();
    if (break_resume_) openEntry(*break_resume_, now, "after_lock");
    break_resume_.reset();
    maybeOpenAppSpan(now);
  } else if (idle_ && !asleep_) {
    // The idle-return question, as for any idle period: the user is back at the unlock.
    if (idle_->span.rec.data.value("reason", "") == "suspend")
      closeSuspendIdle();
    else
      returnFromIdle(now);
    return;
  }
  saveState();
  announce();
}

// The suspend's idle period ends now and asks its question (it can never be kept as work).
void Tracker::closeSuspendIdle() {
  const MonoTime now = clock_.mono();
  OpenSpan s = idle_->span;
  idle_.reset();
  closeSpan(s, now);
  pending_ = PendingIdle{s.rec, s.mono_start, now, now + config_.idle_decision_timeout, true, suspend_spec_};
  suspend_spec_.reset();
  askIdleDecision(s.rec, true);
  saveState();
  announce();
}

// Everything open ends where the machine went to sleep. The gap becomes an idle period (reason "suspend")
// that is answered like any idle return, except that it can never be kept as work.
void Tracker::handleSuspend(MonoTime asleep_at, Millis gap) {
  const bool had_timer = timerRunning();
  std::optional<TimerSpec> spec = entry_ ? std::optional(specOf(entry_->rec)) : std::nullopt;
  if (pending_) applyDecision(config_.idle_default);
  MonoTime idle_start = asleep_at;
  std::optional<OpenSpan> carried;
  if (idle_) {  // already idle (or locked) before the lid closed: the same idle period goes on through the sleep
    idle_start = idle_->span.mono_start;
    carried = idle_->span;
    idle_.reset();
  }
  if (entry_) {
    spec = specOf(entry_->rec);
    closeEntry(idle_start);
  }
  closeAppSpan(idle_start);
  if (break_) {
    // A break runs on through the sleep: shift its monotonic origin so its duration includes the gap.
    break_->mono_start -= gap;
    return;
  }
  if (!had_timer && !config_.auto_tracking && !carried) return;
  // The sleep itself does not advance the monotonic clock; the period's length is awake time + gap.
  OpenSpan s;
  if (carried) {
    s = *carried;  // its start_ms was fixed before the gap
    if (s.rec.data.value("reason", "") != "suspend") s.rec.data["began_as"] = s.rec.data.value("reason", "idle");
    s.rec.data["reason"] = "suspend";
  } else {
    s = openSpan(RecordKind::kIdlePeriod, idle_start,
                 json{{"reason", "suspend"}, {"decision", "pending"}, {"entry_id", ""}});
    s.rec.start_ms -= gap.count();
  }
  s.mono_start -= gap;
  if (gap.count() == 0 || locked_) {
    // Announced before the sleep (logind): stays open until the resume is seen by tick(); slept behind the
    // lock screen: until the unlock.
    idle_ = ActiveIdle{s};
    if (spec || !carried) suspend_spec_ = spec;  // a second sleep behind the lock keeps the first one's timer
    asleep_ = gap.count() == 0;
  } else {
    const MonoTime now = clock_.mono();
    closeSpan(s, now);
    pending_ = PendingIdle{s.rec, s.mono_start + gap, now, now + config_.idle_decision_timeout, true, spec};
    askIdleDecision(s.rec, true);
  }
  saveState();
  announce();
}

}  // namespace wm::agent
