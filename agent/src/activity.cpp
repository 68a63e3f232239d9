#include "workmonitor/agent/activity.h"

#include <algorithm>
#include <cmath>

namespace wm::agent {

using nlohmann::json;

namespace {

int64_t floorTo(int64_t ms, int64_t unit) {
  const int64_t q = ms / unit;
  return (ms % unit < 0 ? q - 1 : q) * unit;
}

}  // namespace

ActivityAggregator::ActivityAggregator(const Clock& clock, UuidV7Generator& ids, RecordSink& sink, Gate gate)
    : clock_(clock), ids_(ids), sink_(sink), gate_(std::move(gate)) {}

int64_t ActivityAggregator::nowMs() const { return toUnixMs(clock_.wall()); }

bool ActivityAggregator::gateOpen() const { return enabled_ && gate_ && gate_(); }

void ActivityAggregator::add(const platform::InputCounts& counts) {
  const int64_t now = nowMs();
  update(now, gateOpen());
  if (!open_) return;  // not working: the counts are not kept
  Minute& m = *open_;
  m.counts.keys += counts.keys;
  m.counts.clicks += counts.clicks;
  m.counts.moves += counts.moves;
  m.counts.scrolls += counts.scrolls;
  if (counts.keys + counts.clicks + counts.moves + counts.scrolls > 0) {
    const int64_t second = std::clamp<int64_t>((now - m.minute_start) / 1000, 0, 59);
    m.active.set(static_cast<size_t>(second));
  }
}

void ActivityAggregator::refresh() { update(nowMs(), gateOpen()); }

void ActivityAggregator::flush() {
  if (open_) close(std::max(nowMs(), open_->start_ms));
}

void ActivityAggregator::setEnabled(bool enabled) {
  if (enabled_ == enabled) return;
  if (!enabled) flush();
  enabled_ = enabled;
  if (enabled) refresh();
}

std::optional<Millis> ActivityAggregator::untilNextDeadline() const {
  if (!open_) return std::nullopt;
  return Millis(std::max<int64_t>(0, open_->minute_start + kMinuteMs - nowMs()));
}

void ActivityAggregator::update(int64_t now, bool gate) {
  if (open_) {
    const int64_t minute_end = open_->minute_start + kMinuteMs;
    if (now >= minute_end) {
      // The minute is over. Tracking that went on through the boundary continues in the next minute from its
      // very start; after a longer gap (the io thread stalled, the machine slept) from now.
      close(minute_end);
      if (gate) open(now < minute_end + kMinuteMs ? minute_end : now);
    } else if (now < open_->start_ms) {
      // The wall clock stepped back: end the minute at the latest time it was seen, start afresh.
      close(std::clamp(last_seen_ms_, open_->start_ms, minute_end));
    }
  }
  last_seen_ms_ = now;
  if (gate && !open_) open(now);
  if (!gate && open_) close(now);
}

void ActivityAggregator::open(int64_t start_ms) {
  Minute m;
  m.minute_start = floorTo(start_ms, kMinuteMs);
  m.start_ms = start_ms;
  open_ = m;
}

void ActivityAggregator::close(int64_t end_ms) {
  const Minute m = *open_;
  open_.reset();
  const int64_t duration = std::max<int64_t>(0, end_ms - m.start_ms);
  const auto& c = m.counts;
  const bool any_input = c.keys + c.clicks + c.moves + c.scrolls > 0;
  if (duration == 0 && !any_input) return;  // the gate opened and closed in the same instant

  const int64_t slot_start = floorTo(m.minute_start, kSlotMs);
  if (slot_.start_ms != slot_start) slot_ = Slot{slot_start, 0, 0};
  const auto active_seconds = static_cast<int64_t>(m.active.count());
  slot_.active_seconds += active_seconds;
  slot_.tracked_ms += duration;
  const int64_t slot_tracked_seconds = (slot_.tracked_ms + 500) / 1000;
  int64_t percent = 0;
  if (slot_.tracked_ms > 0) {
    const double p = 100.0 * static_cast<double>(slot_.active_seconds) * 1000.0 / static_cast<double>(slot_.tracked_ms);
    percent = std::clamp<int64_t>(std::llround(p), 0, 100);
  } else if (slot_.active_seconds > 0) {
    percent = 100;
  }

  api::Record r;
  r.id = ids_.next();
  r.kind = api::RecordKind::kActivity;
  r.revision = 1;
  r.start_ms = m.start_ms;
  r.end_ms = m.start_ms + duration;
  r.duration_ms = duration;
  r.data = json{{"keystrokes", c.keys},
                {"clicks", c.clicks},
                {"moves", c.moves},
                {"scrolls", c.scrolls},
                {"mouse_events", static_cast<int64_t>(c.clicks) + c.moves + c.scrolls},
                {"active_seconds", active_seconds},
                {"active_ms", active_seconds * 1000},
                {"slot_start_ms", slot_start},
                {"slot_active_seconds", slot_.active_seconds},
                {"slot_tracked_seconds", slot_tracked_seconds},
                {"activity_percent", percent}};
  sink_.put(r);
}

json ActivityAggregator::status() const {
  json s{{"enabled", enabled_}, {"counting", open_.has_value()}};
  if (open_) {
    s["minute"] = {{"keystrokes", open_->counts.keys},
                   {"mouse_events", open_->counts.clicks + open_->counts.moves + open_->counts.scrolls},
                   {"active_seconds", open_->active.count()}};
  }
  if (slot_.start_ms >= 0) {
    s["slot"] = {{"start", formatUtc(fromUnixMs(slot_.start_ms))},
                 {"active_seconds", slot_.active_seconds},
                 {"tracked_seconds", (slot_.tracked_ms + 500) / 1000}};
  }
  return s;
}

}  // namespace wm::agent
