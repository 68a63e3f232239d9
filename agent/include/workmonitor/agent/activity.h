// Keyboard/mouse activity per minute and the Hubstaff-style activity percentage per 10-minute slot, from the
// platform's InputCounts. Counts only: nothing here ever sees which key or where the pointer was.
// Single-threaded (the daemon's io thread), free of I/O of its own; time comes from the injected Clock.
//
// What is recorded
// ----------------
// One closed `activity` record per wall-clock minute (aligned to :00) while the gate is open (the user is
// working: Tracker::collecting()). The record spans the part of the minute the gate was open: start_ms is the
// minute's start or the moment the gate opened, end_ms the minute's end or the moment the gate closed (or the
// agent stopped). A minute in which the gate was never open produces nothing; a tracked minute without any
// input produces a record with zero counts (it lowers the slot's percentage, as it should). data:
//   keystrokes, clicks, moves, scrolls   counts in the span (a key press is one, auto-repeat is not counted)
//   mouse_events                          clicks + moves + scrolls
//   active_seconds                        seconds of the minute with any input at all
//   active_ms                             active_seconds * 1000 (the server's activity_logs.active_ms)
//   slot_start_ms                         start of the 10-minute wall-clock slot (:00, :10, ...) it belongs to
//   slot_active_seconds                   active seconds in the slot so far, this record included
//   slot_tracked_seconds                  seconds the gate was open in the slot so far, this record included
//   activity_percent                      round(100 * slot_active_seconds / slot_tracked_seconds), 0..100
// The slot figures are folded into the minute records (no separate summary record, which the server would
// store as one more activity_logs row and count twice): they are cumulative, so the slot's percentage is
// the one on its last record (greatest end_ms for that slot_start_ms). Slot totals live in memory only: a
// restart of the agent mid-slot starts the slot's count afresh.
//
// Time attribution: the platform delivers the counts gathered in the last second or so; they are counted
// in the second (and minute) they arrive, so a second is active when a delivery arrived in it.
#pragma once

#include <bitset>
#include <cstdint>
#include <functional>
#include <optional>

#include <nlohmann/json.hpp>

#include "workmonitor/agent/tracker.h"
#include "workmonitor/common/clock.h"
#include "workmonitor/common/uuid.h"
#include "workmonitor/platform/input_counts.h"

namespace wm::agent {

class ActivityAggregator {
 public:
  /// True while the user is working (Tracker::collecting()): only then are counts kept.
  using Gate = std::function<bool()>;
  static constexpr int64_t kMinuteMs = 60'000;
  static constexpr int64_t kSlotMs = 10 * kMinuteMs;

  ActivityAggregator(const Clock& clock, UuidV7Generator& ids, RecordSink& sink, Gate gate);

  /// Counts just delivered by the platform. Dropped while the gate is closed or the aggregator is disabled.
  void add(const platform::InputCounts& counts);
  /// The gate may have changed, or a deadline passed: closes a finished minute, opens one when the gate
  /// opened, and closes the open minute now when the gate closed. Call it at nextDeadline() as well.
  void refresh();
  /// The open minute (if any) ends now and is recorded: on shutdown.
  void flush();
  /// Off: the open minute is flushed and nothing more is kept until it is turned on again.
  void setEnabled(bool enabled);
  bool enabled() const { return enabled_; }

  /// How long until the open minute ends (refresh() then records it); nullopt when no minute is open, so
  /// there is nothing to wake up for.
  std::optional<Millis> untilNextDeadline() const;
  nlohmann::json status() const;

 private:
  struct Minute {
    int64_t minute_start = 0;  // aligned to the wall-clock minute
    int64_t start_ms = 0;      // where the record starts (the gate opened at or after minute_start)
    platform::InputCounts counts;
    std::bitset<60> active;  // seconds of the minute with input
  };
  struct Slot {
    int64_t start_ms = -1;
    int64_t active_seconds = 0;
    int64_t tracked_ms = 0;
  };

  int64_t nowMs() const;
  bool gateOpen() const;
  void update(int64_t now, bool gate);
  void open(int64_t start_ms);
  void close(int64_t end_ms);

  const Clock& clock_;
  UuidV7Generator& ids_;
  RecordSink& sink_;
  Gate gate_;
  bool enabled_ = true;
  std::optional<Minute> open_;
  Slot slot_;
  int64_t last_seen_ms_ = 0;  // the latest time update() saw, for closing a minute after a wall-clock step back
};

}  // namespace wm::agent
