// The tracker's state across runs (split from tracker.cpp): what a heartbeat saves, the clean shutdown, and
// the restore at the next start, which also records the gap between the two runs as a downtime record.
#include "workmonitor/agent/downtime.h"
#include "workmonitor/agent/tracker.h"

namespace wm::agent {

using api::Record;
using api::RecordKind;
using nlohmann::json;

namespace {

// An integer field of a saved state that may come from an older or damaged file: anything else is `fallback`.
int64_t jsonInt(const json& j, const char* key, int64_t fallback) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : fallback;
}

}  // namespace

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
    LastSignOfLife last{saved_at_ms, saved.contains("clean_shutdown") && saved["clean_shutdown"] == true, std::nullopt};
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

}  // namespace wm::agent
