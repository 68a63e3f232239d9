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

json windowData(const platform::WindowInfo& w) {
  return json{{"app", w.app}, {"exe_path", w.exe_path}, {"pid", w.pid}, {"title", w.title}, {"wm_class", w.wm_class}};
}

// The fields that make two app spans "the same": pid changes (a restarted editor) do not split a span.
bool sameApp(const json& a, const json& b) {
  return a.value("app", "") == b.value("app", "") && a.value("exe_path", "") == b.value("exe_path", "") &&
         a.value("title", "") == b.value("title", "");
}

}  // namespace

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

bool Tracker::retitleWindow(const platform::WindowInfo& window, MonoTime unconfirmed_since) {
  if (window.app != window_.app || window.exe_path != window_.exe_path) {
    onWindow(window);
    return false;
  }
  if (window.title == window_.title) return false;
  tick();
  window_ = window;
  const MonoTime now = clock_.mono();
  bool withheld = false;
  auto retitle = [&](Record& r) {
    withheld = withheld || (window.title.empty() && !r.data.value("title", "").empty());
    r.data["title"] = window.title;
    r.revision += 1;
    emit(r);
  };
  if (app_ && app_->mono_start > unconfirmed_since) {
    // A title shown before its browser spoke: what the browser says applies to the span from its start ...
    retitle(app_->rec);
    // ... and to the one before it, of the same app, shown since that moment too (a private window's first
    // title, the page a moment before).
    if (window.title.empty() && last_app_ && last_app_end_ - Millis(last_app_->duration_ms) > unconfirmed_since &&
        last_app_->data.value("exe_path", "") == window.exe_path && !last_app_->data.value("title", "").empty())
      retitle(*last_app_);
    return withheld;
  }
  closeAppSpan(now);  // what the browser said before held until now
  maybeOpenAppSpan(now);
  return false;
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
