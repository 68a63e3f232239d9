// The tracking state machine: time entries, idle periods and their decisions, breaks, suspend gaps and app
// usage spans. Single-threaded and free of I/O: it reads an injected Clock, writes records to a RecordSink
// and announces changes through an event callback, so tests drive it hour by hour without waiting.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "workmonitor/api/records.h"
#include "workmonitor/common/clock.h"
#include "workmonitor/common/result.h"
#include "workmonitor/common/uuid.h"
#include "workmonitor/platform/foreground.h"

namespace wm::agent {

/// What to do with an idle period once the user is back.
enum class IdleDecision {
  kKeep,             // the idle time counts as work
  kDiscard,          // the idle time is removed and the timer stops at the idle start
  kDiscardContinue,  // the idle time is removed and the timer goes on from the return
  kBreak,            // the idle time becomes a break and the timer goes on from the return
  kReassign,         // the idle time becomes a time entry for another project/task (source "reassigned") and
                     // the timer goes on from the return
};

const char* decisionName(IdleDecision d);
std::optional<IdleDecision> decisionFromName(const std::string& name);
/// Every decision, in the order the idle-return question lists them.
std::vector<IdleDecision> allIdleDecisions();

struct TrackerConfig {
  Millis idle_threshold{std::chrono::minutes(5)};
  Millis idle_decision_timeout{std::chrono::minutes(2)};
  IdleDecision idle_default = IdleDecision::kDiscardContinue;
  Millis pulse{std::chrono::seconds(10)};         // heartbeat merge window for app spans
  bool auto_tracking = false;                     // record apps whenever the user is active
  Millis resume_window{std::chrono::minutes(5)};  // a restart within this keeps the timer running
  Millis heartbeat_interval{std::chrono::seconds(30)};
  Millis min_suspend{std::chrono::seconds(5)};  // boot-vs-monotonic drift that counts as a suspend
  /// The answers the person may give to the idle-return question (profile `idle_decisions`). The timeout's
  /// default applies whatever this says.
  std::vector<IdleDecision> idle_decisions = allIdleDecisions();
  /// App spans are recorded only while this is true: the daemon clears it until the person has consented to
  /// app usage (the timer itself runs regardless).
  bool monitoring_allowed = true;
};

/// What a timer is tracked against.
struct TimerSpec {
  std::string project_id;
  std::string task_id;
  std::string note;

  bool operator==(const TimerSpec&) const = default;
};

/// Where the tracker's output goes (the outbox in the agent; a recorder in tests).
class RecordSink {
 public:
  virtual ~RecordSink() = default;
  virtual void put(const api::Record& r) = 0;
  virtual void setState(const std::string& key, const std::string& value) = 0;
};

/// What survived from the previous run, read back from the outbox at start.
struct RestoredState {
  std::vector<api::Record> open_records;        // spans whose end is still null
  std::optional<api::Record> last_timer_entry;  // the entry named by the saved state, if closed cleanly
  std::optional<std::string> saved;             // the "tracker" state document of the previous run
};

class Tracker {
 public:
  using EventFn = std::function<void(const std::string& event, const nlohmann::json& data)>;
  static constexpr const char* kStateKey = "tracker";

  Tracker(const Clock& clock, UuidV7Generator& ids, RecordSink& sink, TrackerConfig config, EventFn events);

  /// Picks up where the previous run stopped: spans left open by a crash end at the last moment the user
  /// was known to be present; a timer stopped less than resume_window ago keeps running (same entry).
  void restore(const RestoredState& state);

  Result<nlohmann::json> startTimer(const TimerSpec& spec);
  Result<nlohmann::json> stopTimer();
  Result<nlohmann::json> startBreak();
  Result<nlohmann::json> endBreak();
  /// Answers the pending idle-return question. idle_id, when given, must name the pending period. A decision
  /// missing from config().idle_decisions is refused. kReassign needs `reassign_to` with a project_id: the idle
  /// time becomes a closed time entry for it (source "reassigned") and the running timer goes on from the return.
  Result<nlohmann::json> decideIdle(IdleDecision decision, const std::string& idle_id = {},
                                    const std::optional<TimerSpec>& reassign_to = std::nullopt);

  /// Platform input: the user has been without input for since_last_input (threshold crossed) ...
  void onIdle(Millis since_last_input);
  /// ... and is back (the last input was since_last_input ago).
  void onActive(Millis since_last_input);
  void onWindow(const platform::WindowInfo& window);
  /// The foreground window's title judged again when its browser's extension spoke. Spans of this window
  /// begun after `unconfirmed_since` (the browser's previous word) were shown without that word: the
  /// open one takes the new title in place, and when the title is withheld, so does the one before it if it
  /// is of the same app and also began after it. An older open span ends and a new one begins. Another
  /// window is onWindow(). True when a title already emitted was withheld by this (the caller scrubs the
  /// outbox, so the old title does not stay in its files).
  bool retitleWindow(const platform::WindowInfo& window, MonoTime unconfirmed_since);
  /// Explicit sleep notification (logind PrepareForSleep, WM_POWERBROADCAST): spans close now.
  void onSuspend();
  void onResume();
  /// The session's screen was locked (logind Lock / LockedHint). as_break: the locked time is a break and the
  /// timer goes on at the unlock; otherwise it is idle time from the lock, answered at the unlock like any
  /// idle return. Input while locked (typing the password) is not a return; a sleep while locked lasts until
  /// the unlock. collecting() is false while locked.
  void onLock(bool as_break);
  void onUnlock();
  bool locked() const { return locked_; }

  /// Periodic work: suspend detection, heartbeats, the idle-decision deadline. since_last_input, when
  /// known, sharpens the "last present" moment a crash would be closed at.
  void tick(std::optional<Millis> since_last_input = std::nullopt);
  /// Clean shutdown: every open span ends now; the timer is remembered for a quick restart.
  void shutdown();

  nlohmann::json status() const;
  /// True while the user is working: a timer runs (or auto tracking is on) and the user is not idle, not
  /// on a break and not asleep. Collectors (screenshots, activity counts) record only then.
  bool collecting() const;
  /// The running timer's time entry (screenshots name it in time_entry_id); nullopt when no timer runs.
  std::optional<std::string> currentEntryId() const {
    return entry_ ? std::optional<std::string>(entry_->rec.id) : std::nullopt;
  }
  /// When the agent first ran on this computer (Unix ms), from its saved state; 0 when unknown (a state
  /// written before this was kept). The day report counts the time before it as "not installed".
  int64_t firstStartMs() const { return first_start_ms_; }
  /// When tick() next has something to do.
  MonoTime nextDeadline() const;
  const TrackerConfig& config() const { return config_; }
  /// Applies at once: app spans start or stop when auto_tracking or monitoring_allowed changed.
  void setConfig(const TrackerConfig& config);
  /// The decisions the person may give for the pending question (suspend gaps cannot be kept as work).
  std::vector<IdleDecision> allowedDecisions() const;

 private:
  struct OpenSpan {
    api::Record rec;
    MonoTime mono_start;
  };
  struct PendingIdle {
    api::Record rec;  // the idle period, closed at the return
    MonoTime start;
    MonoTime back;
    MonoTime deadline;
    bool entry_already_split = false;  // a suspend closed the entry already
    std::optional<TimerSpec> resume_spec;
  };
  struct ActiveIdle {
    OpenSpan span;
  };

  bool timerRunning() const { return entry_.has_value(); }
  bool recordingApps() const;
  WallTime wallAt(MonoTime t) const;
  api::Record newRecord(api::RecordKind kind, MonoTime start, nlohmann::json data);
  OpenSpan openSpan(api::RecordKind kind, MonoTime start, nlohmann::json data);
  void closeSpan(OpenSpan& span, MonoTime end);
  void emit(const api::Record& r);
  void openEntry(const TimerSpec& spec, MonoTime start, const char* source);
  void closeEntry(MonoTime end);
  void closeAppSpan(MonoTime end);
  void maybeOpenAppSpan(MonoTime start);
  void applyDecision(IdleDecision decision, const std::optional<TimerSpec>& reassign_to = std::nullopt);
  void handleSuspend(MonoTime asleep_at, Millis gap);
  void finishAnnouncedSuspend(Millis slept);
  void closeSuspendIdle();
  void returnFromIdle(MonoTime back);
  void askIdleDecision(const api::Record& idle, bool suspend);
  void saveState(bool clean_shutdown = false);
  void announce();
  static TimerSpec specOf(const api::Record& entry);
  nlohmann::json stateName() const;

  const Clock& clock_;
  UuidV7Generator& ids_;
  RecordSink& sink_;
  TrackerConfig config_;
  EventFn events_;

  std::optional<OpenSpan> entry_;
  std::optional<OpenSpan> break_;
  std::optional<TimerSpec> break_resume_;
  std::optional<ActiveIdle> idle_;
  std::optional<PendingIdle> pending_;
  std::optional<OpenSpan> app_;
  std::optional<api::Record> last_app_;  // the last closed app span, for heartbeat merging
  MonoTime last_app_end_{};
  platform::WindowInfo window_;
  MonoTime last_present_;
  Millis drift_{0};  // boot - mono at the last check
  MonoTime last_tick_;
  MonoTime next_heartbeat_;
  std::optional<TimerSpec> suspend_spec_;      // the timer to continue after an announced sleep
  std::optional<std::string> shutdown_entry_;  // the entry a clean shutdown closed
  bool locked_ = false;                        // the screen is locked
  bool asleep_ = false;                        // an announced sleep has not been seen to end yet
  int64_t first_start_ms_ = 0;                 // see firstStartMs()
};

}  // namespace wm::agent
