#include "workmonitor/agent/tracker.h"

#include <algorithm>
#include <array>
#include <utility>

#include "workmonitor/agent/downtime.h"
#include "workmonitor/agent/heartbeat.h"

namespace wm::agent {

using api::Record;
using api::RecordKind;
using nlohmann::json;

namespace {

constexpr std::array<std::pair<IdleDecision, const char*>, 5> kDecisionNames{{
    {IdleDecision::kKeep, "keep"},
    {IdleDecision::kDiscard, "discard"},
    {IdleDecision::kDiscardContinue, "discard_continue"},
    {IdleDecision::kBreak, "break"},
    {IdleDecision::kReassign, "reassign"},
}};

json windowData(const platform::WindowInfo& w) {
  return json{{"app", w.app}, {"exe_path", w.exe_path}, {"pid", w.pid}, {"title", w.title}, {"wm_class", w.wm_class}};
}

// The fields that make two app spans "the same": pid changes (a restarted editor) do not split a span.
bool sameApp(const json& a, const json& b) {
  return a.value("app", "") == b.value("app", "") && a.value("exe_path", "") == b.value("exe_path", "") &&
         a.value("title", "") == b.value("title", "");
}

// An integer field of a saved state that may come from an older or damaged file: anything else is `fallback`.
int64_t jsonInt(const json& j, const char* key, int64_t fallback) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : fallback;
}

}  // namespace

const char* decisionName(IdleDecision d) {
  for (const auto& [k, n] : kDecisionNames)
    if (k == d) return n;
  return "keep";
}

std::vector<IdleDecision> allIdleDecisions() {
  std::vector<IdleDecision> all;
  for (const auto& [k, n] : kDecisionNames) all.push_back(k);
  return all;
}

std::optional<IdleDecision> decisionFromName(const std::string& name) {
  for (const auto& [k, n] : kDecisionNames)
    if (name == n) return k;
  if (name == "discard-continue") return IdleDecision::kDiscardContinue;
  return std::nullopt;
}

Tracker::Tracker(const Clock& clock, UuidV7Generator& ids, RecordSink& sink, TrackerConfig config, EventFn events)
    : clock_(clock), ids_(ids), sink_(sink), config_(config), events_(std::move(events)) {
  last_present_ = clock_.mono();
  last_tick_ = clock_.mono();
  drift_ = clock_.boot() - clock_.mono();
  next_heartbeat_ = clock_.mono() + config_.heartbeat_interval;
}

WallTime Tracker::wallAt(MonoTime t) const { return clock_.wall() - (clock_.mono() - t); }

Record Tracker::newRecord(RecordKind kind, MonoTime start, json data) {
  Record r;
  r.id = ids_.next();
  r.kind = kind;
  r.revision = 1;
  r.start_ms = toUnixMs(wallAt(start));
  r.data = std::move(data);
  return r;
}

Tracker::OpenSpan Tracker::openSpan(RecordKind kind, MonoTime start, json data) {
  OpenSpan s{newRecord(kind, start, std::move(data)), start};
  emit(s.rec);
  return s;
}

// The end of a span is its start plus the monotonic time it lasted, so a wall-clock step in between
// cannot stretch or shrink it.
void Tracker::closeSpan(OpenSpan& span, MonoTime end) {
  const auto dur = std::max<int64_t>(0, (end - span.mono_start).count());
  span.rec.duration_ms = dur;
  span.rec.end_ms = span.rec.start_ms + dur;
  span.rec.revision += 1;
  emit(span.rec);
}

void Tracker::emit(const Record& r) { sink_.put(r); }

bool Tracker::recordingApps() const {
  return config_.monitoring_allowed && (timerRunning() || config_.auto_tracking) && !break_ && !idle_ && !locked_;
}

void Tracker::setConfig(const TrackerConfig& config) {
  const bool was = recordingApps();
  config_ = config;
  const bool now_recording = recordingApps();
  if (was == now_recording) return;
  const MonoTime now = clock_.mono();
  if (now_recording) {
    maybeOpenAppSpan(now);
  } else {
    closeAppSpan(now);
  }
  announce();
}

std::vector<IdleDecision> Tracker::allowedDecisions() const {
  std::vector<IdleDecision> out;
  const bool suspend = pending_ && pending_->entry_already_split;
  for (IdleDecision d : config_.idle_decisions)
    if (!(suspend && d == IdleDecision::kKeep)) out.push_back(d);
  return out;
}

TimerSpec Tracker::specOf(const Record& entry) {
  return TimerSpec{entry.data.value("project_id", ""), entry.data.value("task_id", ""), entry.data.value("note", "")};
}

void Tracker::openEntry(const TimerSpec& spec, MonoTime start, const char* source) {
  entry_ = openSpan(
      RecordKind::kTimeEntry, start,
      json{{"project_id", spec.project_id}, {"task_id", spec.task_id}, {"note", spec.note}, {"source", source}});
}

void Tracker::closeEntry(MonoTime end) {
  if (!entry_) return;
  closeSpan(*entry_, std::max(end, entry_->mono_start));
  entry_.reset();
}

void Tracker::closeAppSpan(MonoTime end) {
  if (!app_) return;
  closeSpan(*app_, std::max(end, app_->mono_start));
  last_app_ = app_->rec;
  last_app_end_ = std::max(end, app_->mono_start);
  app_.reset();
}

void Tracker::maybeOpenAppSpan(MonoTime start) {
  if (!recordingApps() || app_ || window_.app.empty()) return;
  json data = windowData(window_);
  // Heartbeat rule: the same window again within the pulse window extends the last span.
  if (last_app_ && last_app_->end_ms) {
    Span last{last_app_->start_ms, *last_app_->end_ms, last_app_->data};
    Span next{toUnixMs(wallAt(start)), toUnixMs(wallAt(start)), data};
    last.data.erase("pid");
    next.data.erase("pid");
    if (mergeHeartbeat(last, next, config_.pulse)) {
      Record reopened = *last_app_;
      reopened.end_ms.reset();
      reopened.revision += 1;
      emit(reopened);
      app_ = OpenSpan{reopened, start - Millis(reopened.duration_ms) - (start - last_app_end_)};
      last_app_.reset();
      return;
    }
  }
  app_ = openSpan(RecordKind::kAppUsage, start, std::move(data));
}

void Tracker::onWindow(const platform::WindowInfo& window) {
  tick();
  const bool same = sameApp(windowData(window), windowData(window_));
  window_ = window;
  if (same && app_) return;
  const MonoTime now = clock_.mono();
  closeAppSpan(now);
  maybeOpenAppSpan(now);
}

Result<json> Tracker::startTimer(const TimerSpec& spec) {
  tick();
  if (pending_) applyDecision(config_.idle_default);
  const MonoTime now = clock_.mono();
  if (break_) {
    closeSpan(*break_, now);
    break_.reset();
    break_resume_.reset();
  }
  idle_.reset();  // an explicit start means the user is here
  if (entry_) {
    if (specOf(entry_->rec) == spec) return status();
    closeEntry(now);
  }
  openEntry(spec, now, "manual");
  maybeOpenAppSpan(now);
  saveState();
  announce();
  return status();
}

Result<json> Tracker::stopTimer() {
  tick();
  if (pending_) applyDecision(config_.idle_default);
  const MonoTime now = clock_.mono();
  if (break_) {
    closeSpan(*break_, now);
    break_.reset();
    break_resume_.reset();
  }
  if (!entry_) return fail(Errc::kInvalidInput, "no timer is running");
  closeEntry(idle_ ? idle_->span.mono_start : now);
  if (idle_) {
    closeSpan(idle_->span, now);
    idle_.reset();
  }
  if (!config_.auto_tracking) closeAppSpan(now);
  saveState();
  announce();
  return status();
}

Result<json> Tracker::startBreak() {
  tick();
  if (break_) return fail(Errc::kInvalidInput, "a break is already running");
  if (pending_) applyDecision(config_.idle_default);
  const MonoTime now = clock_.mono();
  idle_.reset();
  closeAppSpan(now);
  if (entry_) break_resume_ = specOf(entry_->rec);
  closeEntry(now);
  break_ = openSpan(RecordKind::kBreak, now, json{{"reason", "manual"}});
  saveState();
  announce();
  return status();
}

Result<json> Tracker::endBreak() {
  tick();
  if (!break_) return fail(Errc::kInvalidInput, "no break is running");
  const MonoTime now = clock_.mono();
  closeSpan(*break_, now);
  break_.reset();
  if (break_resume_) openEntry(*break_resume_, now, "after_break");
  break_resume_.reset();
  maybeOpenAppSpan(now);
  saveState();
  announce();
  return status();
}

void Tracker::onIdle(Millis since_last_input) {
  tick();
  if (idle_ || break_) return;
  if (!timerRunning() && !config_.auto_tracking) return;
  if (pending_) applyDecision(config_.idle_default);
  const MonoTime now = clock_.mono();
  // The idle period began at the last input, not when the threshold was noticed.
  const MonoTime start = std::max(now - since_last_input, entry_ ? entry_->mono_start : now - since_last_input);
  closeAppSpan(start);
  idle_ = ActiveIdle{
      openSpan(RecordKind::kIdlePeriod, start,
               json{{"reason", "idle"}, {"decision", "pending"}, {"entry_id", entry_ ? entry_->rec.id : ""}})};
  last_present_ = start;
  saveState();
  announce();
}

void Tracker::onActive(Millis since_last_input) {
  tick();
  if (!idle_) return;
  if (idle_->span.rec.data.value("reason", "") == "suspend") return;  // ends at the resume, not at input
  if (locked_) return;  // input at the lock screen (the password) is not a return to work
  const MonoTime now = clock_.mono();
  returnFromIdle(std::max(now - since_last_input, idle_->span.mono_start));
}

void Tracker::returnFromIdle(MonoTime back) {
  const MonoTime now = clock_.mono();
  OpenSpan span = idle_->span;
  idle_.reset();
  closeSpan(span, back);
  pending_ = PendingIdle{span.rec, span.mono_start, back, now + config_.idle_decision_timeout, false, std::nullopt};
  last_present_ = now;
  maybeOpenAppSpan(back);
  askIdleDecision(span.rec, false);
  saveState();
  announce();
}

Result<json> Tracker::decideIdle(IdleDecision decision, const std::string& idle_id,
                                 const std::optional<TimerSpec>& reassign_to) {
  tick();
  if (!pending_) return fail(Errc::kInvalidInput, "no idle period is waiting for a decision");
  if (!idle_id.empty() && idle_id != pending_->rec.id)
    return fail(Errc::kInvalidInput, "idle period " + idle_id + " is not the one waiting for a decision");
  // A suspend gap's "keep" is accepted and becomes discard_continue (applyDecision), as before; the
  // profile's list is the limit.
  const auto& allowed_by_profile = config_.idle_decisions;
  if (std::find(allowed_by_profile.begin(), allowed_by_profile.end(), decision) == allowed_by_profile.end()) {
    const auto allowed = allowedDecisions();
    std::string list;
    for (IdleDecision d : allowed) list += (list.empty() ? "" : ", ") + std::string(decisionName(d));
    return fail(Errc::kInvalidInput,
                std::string("'") + decisionName(decision) +
                    "' is not allowed for this idle period by your company's settings; allowed: " +
                    (list.empty() ? "none (the default applies when the question times out)" : list));
  }
  if (decision == IdleDecision::kReassign && (!reassign_to || reassign_to->project_id.empty()))
    return fail(Errc::kInvalidInput, "reassign needs the project_id (and task_id) the idle time was spent on");
  applyDecision(decision, reassign_to);
  return status();
}

void Tracker::applyDecision(IdleDecision decision, const std::optional<TimerSpec>& reassign_to) {
  if (!pending_) return;
  PendingIdle p = std::move(*pending_);
  pending_.reset();
  // A suspend gap is never work: "keep" continues the timer from the return instead.
  if (p.entry_already_split && decision == IdleDecision::kKeep) decision = IdleDecision::kDiscardContinue;

  std::optional<TimerSpec> spec = p.resume_spec;
  if (!p.entry_already_split && entry_ && decision != IdleDecision::kKeep) {
    spec = specOf(entry_->rec);
    // Time after the return up to this answer was work: it goes into the continued entry, not the old one.
    closeEntry(std::max(p.start, entry_->mono_start));
  }
  if (decision == IdleDecision::kBreak) {
    // Copied from the idle period's own times: they already account for any suspend inside it.
    Record b = newRecord(RecordKind::kBreak, p.start,
                         json{{"reason", p.rec.data.value("reason", "idle")}, {"idle_id", p.rec.id}});
    b.start_ms = p.rec.start_ms;
    b.end_ms = p.rec.end_ms;
    b.duration_ms = p.rec.duration_ms;
    emit(b);
  }
  if (decision == IdleDecision::kReassign && reassign_to) {
    // The idle time was work on something else: a closed entry of its own, with the idle period's times.
    Record e = newRecord(RecordKind::kTimeEntry, p.start,
                         json{{"project_id", reassign_to->project_id},
                              {"task_id", reassign_to->task_id},
                              {"note", reassign_to->note},
                              {"source", "reassigned"},
                              {"idle_id", p.rec.id}});
    e.start_ms = p.rec.start_ms;
    e.end_ms = p.rec.end_ms;
    e.duration_ms = p.rec.duration_ms;
    emit(e);
  }
  if (spec && !entry_ &&
      (decision == IdleDecision::kDiscardContinue || decision == IdleDecision::kBreak ||
       decision == IdleDecision::kReassign)) {
    openEntry(*spec, p.back, "after_idle");
  }
  if (!entry_ && !config_.auto_tracking) closeAppSpan(clock_.mono());
  p.rec.data["decision"] = decisionName(decision);
  p.rec.revision += 1;
  emit(p.rec);
  events_("idle_resolved", json{{"idle_id", p.rec.id}, {"decision", decisionName(decision)}});
  saveState();
  announce();
}

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

void Tracker::askIdleDecision(const Record& idle, bool suspend) {
  const IdleDecision def =
      suspend && config_.idle_default == IdleDecision::kKeep ? IdleDecision::kDiscardContinue : config_.idle_default;
  json choices = json::array();
  for (IdleDecision d : config_.idle_decisions)
    if (!(suspend && d == IdleDecision::kKeep)) choices.push_back(decisionName(d));
  events_("idle_return", json{{"idle_id", idle.id},
                              {"from", formatUtc(fromUnixMs(idle.start_ms))},
                              {"to", formatUtc(fromUnixMs(idle.end_ms.value_or(idle.start_ms)))},
                              {"duration_ms", idle.duration_ms},
                              {"reason", suspend ? "suspend" : idle.data.value("reason", "idle")},
                              {"choices", choices},
                              {"default", decisionName(def)},
                              {"timeout_ms", config_.idle_decision_timeout.count()}});
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

void Tracker::tick(std::optional<Millis> since_last_input) {
  const MonoTime now = clock_.mono();
  const Millis drift = clock_.boot() - now;
  const Millis slept = drift - drift_;
  drift_ = drift;
  if (slept >= config_.min_suspend) {
    // The sleep itself, whatever was running: a day's picture shows the computer asleep, not a hole.
    if (config_.monitoring_allowed) emit(suspendDowntime(toUnixMs(clock_.wall()), slept, ids_));
    if (idle_ && idle_->span.rec.data.value("reason", "") == "suspend") {
      finishAnnouncedSuspend(slept);  // we announced the sleep ourselves (onSuspend); this is the resume
    } else {
      // Nobody told us: the machine slept somewhere after the last check.
      handleSuspend(last_tick_, slept);
    }
  }
  last_tick_ = now;
  // With an idle source, its figure is the truth; without one, being called at all is the best sign of life.
  if (!idle_) last_present_ = since_last_input ? now - *since_last_input : now;
  if (pending_ && now >= pending_->deadline) applyDecision(config_.idle_default);
  if (now >= next_heartbeat_) {
    next_heartbeat_ = now + config_.heartbeat_interval;
    saveState();  // the last sign of life: after a crash, the agent's absence is counted from here
  }
}

void Tracker::saveState(bool clean_shutdown) {
  json s{{"version", 1},
         {"last_present_ms", toUnixMs(wallAt(idle_ ? idle_->span.mono_start : last_present_))},
         {"saved_at_ms", toUnixMs(clock_.wall())},
         {"clean_shutdown", clean_shutdown},
         {"booted_at_ms", bootedAtMs(clock_)}};
  if (first_start_ms_ > 0) s["first_start_ms"] = first_start_ms_;
  if (entry_) {
    s["timer"] = {{"entry_id", entry_->rec.id}};
  } else if (clean_shutdown && shutdown_entry_) {
    s["timer"] = {{"entry_id", *shutdown_entry_}};
  }
  if (break_resume_) {
    s["break_resume"] = {
        {"project_id", break_resume_->project_id}, {"task_id", break_resume_->task_id}, {"note", break_resume_->note}};
  }
  sink_.setState(kStateKey, s.dump());
}

void Tracker::shutdown() {
  tick();
  if (pending_) applyDecision(config_.idle_default);
  const MonoTime now = clock_.mono();
  closeAppSpan(now);
  if (idle_) {
    const MonoTime start = idle_->span.mono_start;
    closeSpan(idle_->span, now);
    idle_.reset();
    if (entry_) closeEntry(start);
  }
  if (entry_) {
    shutdown_entry_ = entry_->rec.id;
    closeEntry(now);
  }
  if (break_) {
    closeSpan(*break_, now);
    break_.reset();
  }
  last_present_ = now;
  saveState(true);
}

void Tracker::restore(const RestoredState& state) {
  const WallTime now_wall = clock_.wall();
  const MonoTime now = clock_.mono();
  json saved = json::object();
  if (state.saved) {
    try {
      saved = json::parse(*state.saved);
    } catch (const json::exception&) {
      saved = json::object();  // unreadable state: spans fall back to their own start times below
    }
    if (!saved.is_object()) saved = json::object();
  }
  const int64_t last_present_ms = jsonInt(saved, "last_present_ms", 0);
  const int64_t saved_at_ms = jsonInt(saved, "saved_at_ms", last_present_ms);
  // The first run on this computer starts the record of when the agent ran; a state from an older agent
  // without it leaves that unknown rather than claiming the agent was absent before.
  first_start_ms_ = state.saved ? jsonInt(saved, "first_start_ms", 0) : toUnixMs(now_wall);
  if (config_.monitoring_allowed) {
    LastSignOfLife last{saved_at_ms, saved.contains("clean_shutdown") && saved["clean_shutdown"] == true,
                        std::nullopt};
    if (saved.contains("booted_at_ms") && saved["booted_at_ms"].is_number_integer())
      last.booted_at_ms = saved["booted_at_ms"].get<int64_t>();
    if (auto gap = downtimeSincePreviousRun(last, toUnixMs(now_wall), bootedAtMs(clock_), ids_)) emit(*gap);
  }
  const bool recent = last_present_ms > 0 && toUnixMs(now_wall) - last_present_ms <= config_.resume_window.count();
  const std::string timer_id =
      saved.contains("timer") && saved["timer"].is_object() ? saved["timer"].value("entry_id", "") : "";

  auto closeAt = [&](Record r, int64_t end_ms) {
    end_ms = std::max(end_ms, r.start_ms);
    r.end_ms = end_ms;
    r.duration_ms = end_ms - r.start_ms;
    r.revision += 1;
    emit(r);
  };
  auto monoOf = [&](const Record& r) { return now - (now_wall - fromUnixMs(r.start_ms)); };

  for (const Record& r : state.open_records) {
    if (r.kind == RecordKind::kTimeEntry && !entry_ && recent) {
      entry_ = OpenSpan{r, monoOf(r)};  // a quick restart: the same entry runs on
      continue;
    }
    if (r.kind == RecordKind::kBreak && !break_ && recent) {
      break_ = OpenSpan{r, monoOf(r)};
      continue;
    }
    // After a crash an open span ends at the last moment the user was known to be present; idle periods
    // and breaks at the last moment the agent knew they were still going on.
    const bool absence = r.kind == RecordKind::kIdlePeriod || r.kind == RecordKind::kBreak;
    closeAt(r, absence ? saved_at_ms : last_present_ms);
  }
  if (!entry_ && recent && state.last_timer_entry && state.last_timer_entry->id == timer_id &&
      saved.value("clean_shutdown", false)) {
    // Stopped cleanly a moment ago: reopen the same entry (a higher revision with a null end).
    Record r = *state.last_timer_entry;
    r.end_ms.reset();
    r.revision += 1;
    emit(r);
    entry_ = OpenSpan{r, monoOf(r)};
  }
  if (break_ && saved.contains("break_resume") && saved["break_resume"].is_object()) {
    const json& b = saved["break_resume"];
    break_resume_ = TimerSpec{b.value("project_id", ""), b.value("task_id", ""), b.value("note", "")};
  }
  last_present_ = now;
  maybeOpenAppSpan(now);
  saveState();
  announce();
}

json Tracker::stateName() const {
  if (break_) return "on_break";
  if (idle_) return "idle";
  if (pending_) return "idle_decision_pending";
  if (entry_) return "tracking";
  return config_.auto_tracking ? "auto_tracking" : "not_tracking";
}

bool Tracker::collecting() const {
  return (timerRunning() || config_.auto_tracking) && !idle_ && !pending_ && !break_ && !locked_;
}

json Tracker::status() const {
  const MonoTime now = clock_.mono();
  json s{{"state", stateName()}, {"now", formatUtc(clock_.wall())}};
  if (entry_) {
    s["timer"] = {{"entry_id", entry_->rec.id},
                  {"project_id", entry_->rec.data.value("project_id", "")},
                  {"task_id", entry_->rec.data.value("task_id", "")},
                  {"note", entry_->rec.data.value("note", "")},
                  {"started_at", formatUtc(fromUnixMs(entry_->rec.start_ms))},
                  {"elapsed_ms", (now - entry_->mono_start).count()}};
  } else {
    s["timer"] = nullptr;
  }
  if (break_) {
    s["break"] = {{"break_id", break_->rec.id},
                  {"started_at", formatUtc(fromUnixMs(break_->rec.start_ms))},
                  {"elapsed_ms", (now - break_->mono_start).count()}};
  }
  if (idle_) {
    s["idle"] = {{"idle_id", idle_->span.rec.id},
                 {"since", formatUtc(fromUnixMs(idle_->span.rec.start_ms))},
                 {"reason", idle_->span.rec.data.value("reason", "idle")}};
  }
  if (pending_) {
    s["idle_pending"] = {{"idle_id", pending_->rec.id},
                         {"from", formatUtc(fromUnixMs(pending_->rec.start_ms))},
                         {"to", formatUtc(fromUnixMs(pending_->rec.end_ms.value_or(pending_->rec.start_ms)))},
                         {"duration_ms", pending_->rec.duration_ms},
                         {"default", decisionName(config_.idle_default)},
                         {"decides_in_ms", std::max<int64_t>(0, (pending_->deadline - now).count())}};
    json allowed = json::array();
    for (IdleDecision d : allowedDecisions()) allowed.push_back(decisionName(d));
    s["idle_pending"]["allowed"] = allowed;
  }
  if (!window_.app.empty()) s["window"] = {{"app", window_.app}, {"title", window_.title}};
  s["recording_apps"] = recordingApps();
  s["locked"] = locked_;
  return s;
}

MonoTime Tracker::nextDeadline() const {
  MonoTime next = next_heartbeat_;
  if (pending_) next = std::min(next, pending_->deadline);
  return next;
}

void Tracker::announce() { events_("state", status()); }

}  // namespace wm::agent
