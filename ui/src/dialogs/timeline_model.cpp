#include "dialogs/timeline_model.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "dialogs/dialog_models.h"

namespace wm::tray {

using nlohmann::json;

// --- categories and their looks -------------------------------------------------------------------------

std::string categoryName(TimelineCategory c) {
  switch (c) {
    case TimelineCategory::kWorked:
      return "worked";
    case TimelineCategory::kAuto:
      return "auto";
    case TimelineCategory::kIdle:
      return "idle";
    case TimelineCategory::kBreak:
      return "break";
    case TimelineCategory::kLocked:
      return "locked";
    case TimelineCategory::kAsleep:
      return "asleep";
    case TimelineCategory::kAgentNotRunning:
      return "agent_not_running";
    case TimelineCategory::kNotTracked:
      return "not_tracked";
    case TimelineCategory::kFuture:
      return "future";
  }
  return {};
}

std::optional<TimelineCategory> categoryFromName(const std::string& name) {
  for (TimelineCategory c : kTimelineCategories)
    if (categoryName(c) == name) return c;
  return std::nullopt;
}

// Okabe & Ito's palette (2008), chosen to stay apart under protanopia, deuteranopia and tritanopia; the
// patterns carry the difference where two hues still come close (and in greyscale print).
CategoryStyle categoryStyle(TimelineCategory c) {
  switch (c) {
    case TimelineCategory::kWorked:
      return {projectColor(0), Qt::SolidPattern, "Worked"};
    case TimelineCategory::kAuto:
      return {QColor(0x56, 0xB4, 0xE9), Qt::Dense6Pattern, "Automatic recording"};
    case TimelineCategory::kIdle:
      return {QColor(0xF0, 0xE4, 0x42), Qt::FDiagPattern, "Idle"};
    case TimelineCategory::kBreak:
      return {QColor(0x00, 0x9E, 0x73), Qt::HorPattern, "Break"};
    case TimelineCategory::kLocked:
      return {QColor(0xCC, 0x79, 0xA7), Qt::VerPattern, "Screen locked"};
    case TimelineCategory::kAsleep:
      return {QColor(0x99, 0x99, 0x99), Qt::Dense5Pattern, "Computer asleep"};
    case TimelineCategory::kAgentNotRunning:
      return {QColor(0xD5, 0x5E, 0x00), Qt::BDiagPattern, "Agent not running"};
    case TimelineCategory::kNotTracked:
      return {QColor(), Qt::Dense7Pattern, "Not tracked"};
    case TimelineCategory::kFuture:
      return {QColor(), Qt::NoBrush, "Later today"};
  }
  return {};
}

Qt::BrushStyle decisionPattern(TimelineCategory c, const std::string& decision) {
  const bool discarded = decision == "discard" || decision == "discard_continue";
  if (c == TimelineCategory::kIdle) return discarded ? Qt::DiagCrossPattern : Qt::FDiagPattern;
  if (c == TimelineCategory::kLocked) return discarded ? Qt::CrossPattern : Qt::VerPattern;
  return categoryStyle(c).pattern;
}

QColor projectColor(size_t n) {
  // Okabe–Ito blue and orange first, then darker and lighter relatives that stay clear of the categories'
  // colours; a seventh project repeats (the legend names them all).
  static const QColor kColors[] = {QColor(0x00, 0x72, 0xB2), QColor(0xE6, 0x9F, 0x00), QColor(0x6A, 0x3D, 0x9A),
                                   QColor(0x8C, 0x6D, 0x1F), QColor(0x1F, 0x4E, 0x79), QColor(0xF5, 0xB9, 0x71)};
  return kColors[n % std::size(kColors)];
}

namespace {

QColor blend(const QColor& a, const QColor& b, double t) {
  return QColor::fromRgbF(static_cast<float>(a.redF() + (b.redF() - a.redF()) * t),
                          static_cast<float>(a.greenF() + (b.greenF() - a.greenF()) * t),
                          static_cast<float>(a.blueF() + (b.blueF() - a.blueF()) * t));
}

}  // namespace

QColor fillColor(TimelineCategory c, const QPalette& palette) {
  const QColor base = palette.color(QPalette::Base);
  if (c == TimelineCategory::kFuture) return base;
  if (c == TimelineCategory::kNotTracked) return blend(base, palette.color(QPalette::Text), 0.15);
  return categoryStyle(c).color;
}

QColor inkOver(const QColor& fill) {
  const double luma = 0.2126 * fill.redF() + 0.7152 * fill.greenF() + 0.0722 * fill.blueF();
  return luma > 0.45 ? QColor(0, 0, 0, 160) : QColor(255, 255, 255, 180);
}

std::string downReasonText(const std::string& reason) {
  if (reason == "shutdown") return "the agent was stopped or quit";
  if (reason == "crash") return "the agent ended without shutting down (a crash)";
  if (reason == "computer_off") return "the computer was off or restarting";
  if (reason == "not_installed") return "before the agent first ran on this computer";
  if (reason.empty()) return "no reason recorded";
  return "reason: " + reason;
}

std::string decisionText(const std::string& decision) {
  if (decision == "keep") return "kept as work time";
  if (decision == "discard") return "discarded, the timer stopped";
  if (decision == "discard_continue") return "discarded, the timer went on";
  if (decision == "break") return "counted as a break";
  if (decision == "reassign") return "moved to another project";
  if (decision == "pending" || decision.empty()) return "not answered yet";
  return decision;
}

std::string laneLabel(TimelineLane lane) {
  switch (lane) {
    case TimelineLane::kDay:
      return "Day";
    case TimelineLane::kApps:
      return "Apps";
    case TimelineLane::kWebsites:
      return "Websites";
    case TimelineLane::kActivity:
      return "Activity";
    case TimelineLane::kUsb:
      return "USB";
    case TimelineLane::kScreenshots:
      return "Screenshots";
  }
  return {};
}

std::vector<int> TimelineDay::lane(TimelineLane l) const {
  std::vector<int> out;
  for (size_t i = 0; i < items.size(); ++i)
    if (items[i].lane == l) out.push_back(static_cast<int>(i));
  return out;
}

// --- reading the report ---------------------------------------------------------------------------------

namespace {

const json& member(const json& j, const char* key) {
  static const json kNull;
  if (!j.is_object()) return kNull;
  const auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

const json& array(const json& j, const char* key) {
  static const json kEmpty = json::array();
  const json& m = member(j, key);
  return m.is_array() ? m : kEmpty;
}

// "10:02"; the end of the day is 24:00, not the next day's 00:00.
std::string clock(int64_t ms, const QTimeZone& tz, int64_t day_end = -1) {
  const QDateTime t = QDateTime::fromMSecsSinceEpoch(ms, QTimeZone::utc());
  if (ms == day_end && t.toTimeZone(tz).time() == QTime(0, 0)) return "24:00";
  return localClock(t, tz);
}

std::string span(int64_t from, int64_t to, const QTimeZone& tz, int64_t day_end) {
  return clock(from, tz, day_end) + "–" + clock(to, tz, day_end) + " (" + formatDurationShort(to - from) + ")";
}

struct Names {
  std::map<std::string, std::string> projects, tasks;
};

Names names(const json& reply) {
  Names n;
  for (const auto& p : array(reply, "projects")) {
    const std::string id = jsonString(p, "id");
    if (id.empty()) continue;
    n.projects[id] = jsonString(p, "name", id);
    for (const auto& t : array(p, "tasks"))
      if (const std::string tid = jsonString(t, "id"); !tid.empty()) n.tasks[tid] = jsonString(t, "name", tid);
  }
  return n;
}

void readDay(TimelineDay& day, const json& timeline, const Names& n, const QTimeZone& tz) {
  std::vector<std::string> project_order;
  for (const auto& s : timeline) {
    // An overlap (a malformed reply) is cut off at the previous segment's end: time in one place only.
    const int64_t prev_end = day.items.empty() ? day.from_ms : day.items.back().end_ms;
    const int64_t raw_start = jsonInt(s, "start_ms", -1);
    const int64_t start = std::max(raw_start, prev_end);
    const int64_t end = std::min(jsonInt(s, "end_ms", -1), day.to_ms);
    if (!s.is_object() || raw_start < 0 || end <= start) continue;
    const std::string word = jsonString(s, "category");
    const std::optional<TimelineCategory> known = categoryFromName(word);
    TimelineItem it;
    it.lane = TimelineLane::kDay;
    it.start_ms = start;
    it.end_ms = end;
    it.category = known.value_or(TimelineCategory::kNotTracked);
    it.project_id = jsonString(s, "project_id");
    it.decision = jsonString(s, "decision");
    it.reason = known ? jsonString(s, "reason") : "the agent called it “" + word + "”";
    const std::string task = jsonString(s, "task_id");
    // Equal neighbours are one segment for the eye (and one stop for the keyboard).
    if (!day.items.empty()) {
      TimelineItem& prev = day.items.back();
      if (prev.end_ms == start && prev.category == it.category && prev.project_id == it.project_id &&
          prev.decision == it.decision && prev.reason == it.reason && prev.detail == (task.empty() ? "" : task)) {
        prev.end_ms = end;
        continue;
      }
    }
    it.detail = task;
    day.items.push_back(std::move(it));
  }
  for (TimelineItem& it : day.items) {
    const CategoryStyle style = categoryStyle(it.category);
    std::string what = style.label;
    if (it.category == TimelineCategory::kWorked) {
      auto pos = std::find(project_order.begin(), project_order.end(), it.project_id);
      if (pos == project_order.end()) pos = project_order.insert(project_order.end(), it.project_id);
      it.project_index = static_cast<int>(pos - project_order.begin());
      const auto p = n.projects.find(it.project_id);
      it.name = it.project_id.empty() ? "(no project)" : p == n.projects.end() ? it.project_id : p->second;
      what += ": " + it.name;
      if (!it.detail.empty()) {
        const auto t = n.tasks.find(it.detail);
        it.detail = t == n.tasks.end() ? it.detail : t->second;
        what += " / " + it.detail;
      }
      it.color = projectColor(static_cast<size_t>(it.project_index));
      it.pattern = Qt::SolidPattern;
    } else {
      it.color = style.color;
      it.pattern = decisionPattern(it.category, it.decision);
      if (it.category == TimelineCategory::kIdle || it.category == TimelineCategory::kLocked)
        what += " — " + decisionText(it.decision);
      if (it.category == TimelineCategory::kAgentNotRunning || !it.reason.empty())
        what += " — " + (it.category == TimelineCategory::kAgentNotRunning ? downReasonText(it.reason) : it.reason);
    }
    it.tooltip = span(it.start_ms, it.end_ms, tz, day.to_ms) + "\n" + what;
    it.accessible = what + ", from " + clock(it.start_ms, tz, day.to_ms) + " to " + clock(it.end_ms, tz, day.to_ms) +
                    ", " + formatDurationShort(it.end_ms - it.start_ms);
  }
  // The legend: each project in order of appearance, then each category (and idle/locked variant) present.
  for (size_t i = 0; i < project_order.size(); ++i) {
    const auto p = n.projects.find(project_order[i]);
    std::string label = project_order[i].empty() ? "(no project)"
                        : p == n.projects.end()  ? project_order[i]
                                                 : p->second;
    day.legend.push_back({label, projectColor(i), Qt::SolidPattern, TimelineCategory::kWorked});
  }
  for (TimelineCategory c : kTimelineCategories) {
    if (c == TimelineCategory::kWorked) continue;
    std::vector<Qt::BrushStyle> seen;
    for (const TimelineItem& it : day.items) {
      if (it.category != c || std::find(seen.begin(), seen.end(), it.pattern) != seen.end()) continue;
      seen.push_back(it.pattern);
      std::string label = categoryStyle(c).label;
      if (it.pattern != categoryStyle(c).pattern) label += " (discarded)";
      day.legend.push_back({label, it.color, it.pattern, c});
    }
  }
}

void readSpans(TimelineDay& day, const json& list, TimelineLane lane, const char* name_key, const char* detail_key,
               const QTimeZone& tz) {
  for (const auto& s : list) {
    const int64_t start = std::max(jsonInt(s, "start_ms", -1), day.from_ms);
    const int64_t end = std::min(jsonInt(s, "end_ms", -1), day.to_ms);
    if (!s.is_object() || start < 0 || end <= start) continue;
    TimelineItem it;
    it.lane = lane;
    it.start_ms = start;
    it.end_ms = end;
    it.name = jsonString(s, name_key, "(unknown)");
    it.detail = jsonString(s, detail_key);
    const bool app = lane == TimelineLane::kApps;
    it.tooltip = span(start, end, tz, day.to_ms) + "\n" + (app ? "App: " : "Website: ") + it.name;
    if (!it.detail.empty()) it.tooltip += "\n" + std::string(app ? "Window: " : "Browser: ") + it.detail;
    it.accessible = std::string(app ? "App " : "Website ") + it.name + (it.detail.empty() ? "" : ", " + it.detail) +
                    ", from " + clock(start, tz, day.to_ms) + " to " + clock(end, tz, day.to_ms);
    day.items.push_back(std::move(it));
  }
}

void readActivity(TimelineDay& day, const json& activity, const QTimeZone& tz) {
  const int64_t slot = std::max<int64_t>(60'000, jsonInt(activity, "slot_ms", 600'000));
  for (const auto& s : array(activity, "slots")) {
    const int64_t start = jsonInt(s, "start_ms", -1);
    if (!s.is_object() || start < day.from_ms || start >= day.to_ms) continue;
    TimelineItem it;
    it.lane = TimelineLane::kActivity;
    it.start_ms = start;
    it.end_ms = std::min(start + slot, day.to_ms);
    const int64_t keys = std::max<int64_t>(0, jsonInt(s, "keystrokes"));
    const int64_t clicks = std::max<int64_t>(0, jsonInt(s, "clicks"));
    const int64_t moves = std::max<int64_t>(0, jsonInt(s, "moves"));
    const int64_t scrolls = std::max<int64_t>(0, jsonInt(s, "scrolls"));
    it.count = keys + clicks + moves + scrolls;
    day.max_count = std::max(day.max_count, it.count);
    const std::string counts = std::to_string(keys) + " keystrokes, " + std::to_string(clicks) + " clicks, " +
                               std::to_string(moves) + " mouse moves, " + std::to_string(scrolls) + " scrolls";
    it.tooltip = clock(it.start_ms, tz, day.to_ms) + "–" + clock(it.end_ms, tz, day.to_ms) + "\nActivity: " + counts +
                 "\nActive " + formatDurationShort(jsonInt(s, "active_seconds") * 1000) + " (" +
                 std::to_string(jsonInt(s, "activity_percent")) + " %) — counts only, never which keys";
    it.accessible = "Activity from " + clock(it.start_ms, tz, day.to_ms) + ": " + counts;
    day.items.push_back(std::move(it));
  }
}

void readUsb(TimelineDay& day, const json& usb, const QTimeZone& tz) {
  for (const auto& e : usb) {
    const int64_t at = jsonInt(e, "at_ms", -1);
    if (!e.is_object() || at < day.from_ms || at >= day.to_ms) continue;
    TimelineItem it;
    it.lane = TimelineLane::kUsb;
    it.start_ms = it.end_ms = at;
    it.name = jsonString(e, "device_name", "a USB device");
    it.detail = jsonString(e, "action", "event");
    const std::string action = it.detail == "present_at_start" ? "already plugged in" : it.detail;
    std::string ids = jsonString(e, "vendor_id") + ":" + jsonString(e, "product_id");
    if (ids == ":") ids.clear();
    const bool storage = jsonBool(e, "is_storage");
    it.tooltip = clock(at, tz) + " USB device " + action + ": " + it.name + (ids.empty() ? "" : " (" + ids + ")") +
                 (storage ? "\nA storage device (its files are never read)" : "");
    it.accessible = "USB device " + action + " at " + clock(at, tz) + ": " + it.name;
    day.items.push_back(std::move(it));
  }
}

void readShots(TimelineDay& day, const json& shots, const QTimeZone& tz) {
  for (const auto& s : shots) {
    int64_t at = jsonInt(s, "taken_at_ms", -1);
    if (at < 0) {
      const QDateTime t = parseAgentTime(member(s, "taken_at"));
      if (t.isValid()) at = t.toMSecsSinceEpoch();
    }
    if (!s.is_object() || at < day.from_ms || at >= day.to_ms) continue;
    TimelineShot shot;
    shot.id = jsonString(s, "id");
    shot.path = jsonString(s, "thumbnail");
    const json& monitor = member(s, "monitor");
    shot.monitor = monitor.is_string() ? monitor.get<std::string>() : monitor.is_number() ? monitor.dump() : "";
    shot.at_ms = at;
    shot.unchanged = jsonBool(s, "unchanged");
    TimelineItem it;
    it.lane = TimelineLane::kScreenshots;
    it.start_ms = it.end_ms = at;
    it.shot_index = static_cast<int>(day.shots.size());
    it.tooltip = clock(at, tz) + " Screenshot" + (shot.monitor.empty() ? "" : ", monitor " + shot.monitor) +
                 (shot.unchanged ? "\nThe screen had not changed since the previous one" : "") +
                 (shot.path.empty() ? "\nThe image is not on this computer" : "\nEnter or double-click opens it");
    it.accessible = "Screenshot at " + clock(at, tz) + (shot.monitor.empty() ? "" : ", monitor " + shot.monitor);
    day.shots.push_back(std::move(shot));
    day.items.push_back(std::move(it));
  }
}

void sortLane(TimelineDay& day, size_t from) {
  std::stable_sort(day.items.begin() + static_cast<std::ptrdiff_t>(from), day.items.end(),
                   [](const TimelineItem& a, const TimelineItem& b) { return a.start_ms < b.start_ms; });
}

}  // namespace

TimelineDay timelineDay(const json& report, const json& projects, const QTimeZone& tz) {
  TimelineDay day;
  const json& d = member(report, "day");
  const json& timeline = member(d, "timeline");
  day.has_day = timeline.is_array() && !timeline.empty();
  day.from_ms = jsonInt(report, "from_ms", -1);
  day.to_ms = jsonInt(report, "to_ms", -1);
  if (day.has_day && (day.from_ms < 0 || day.to_ms <= day.from_ms)) {  // the range from the segments
    day.from_ms = jsonInt(timeline.front(), "start_ms", -1);
    day.to_ms = jsonInt(timeline.back(), "end_ms", -1);
  }
  if (day.from_ms < 0 || day.to_ms <= day.from_ms) {  // no usable range: today, here
    const auto [f, t] = localDayRange(QDateTime::currentDateTimeUtc(), tz);
    day.from_ms = f;
    day.to_ms = t;
  }
  day.now_ms = jsonInt(report, "now_ms", -1);
  if (day.has_day) readDay(day, timeline, names(projects), tz);
  if (day.has_day && day.items.empty()) day.has_day = false;  // nothing usable in it
  if (!day.has_day)
    day.note =
        "This agent does not send the day picture (update WorkMonitor to see every minute of the day). What it "
        "sent is shown below.";
  size_t at = day.items.size();
  readSpans(day, array(report, "apps_timeline"), TimelineLane::kApps, "app", "title", tz);
  sortLane(day, at);
  at = day.items.size();
  readSpans(day, array(report, "websites_timeline"), TimelineLane::kWebsites, "domain", "browser", tz);
  sortLane(day, at);
  at = day.items.size();
  readActivity(day, member(report, "activity"), tz);
  sortLane(day, at);
  at = day.items.size();
  readUsb(day, array(report, "usb"), tz);
  sortLane(day, at);
  at = day.items.size();
  readShots(day, array(report, "screenshots"), tz);
  // Shots keep their index into `shots` while sorted.
  sortLane(day, at);
  return day;
}

// --- keyboard -------------------------------------------------------------------------------------------

int timelineNeighbour(const TimelineDay& day, int current, TimelineMove move) {
  const int n = static_cast<int>(day.items.size());
  if (n == 0) return -1;
  if (current < 0 || current >= n) return 0;
  const TimelineLane lane = day.items[current].lane;
  const auto sameLane = [&](int i) { return i >= 0 && i < n && day.items[i].lane == lane; };
  switch (move) {
    case TimelineMove::kLeft:
      return sameLane(current - 1) ? current - 1 : current;
    case TimelineMove::kRight:
      return sameLane(current + 1) ? current + 1 : current;
    case TimelineMove::kHome: {
      int i = current;
      while (sameLane(i - 1)) --i;
      return i;
    }
    case TimelineMove::kEnd: {
      int i = current;
      while (sameLane(i + 1)) ++i;
      return i;
    }
    case TimelineMove::kUp:
    case TimelineMove::kDown:
      break;
  }
  // The nearest item in time in the next non-empty lane up or down.
  const int step = move == TimelineMove::kUp ? -1 : 1;
  const double mid = (day.items[current].start_ms + day.items[current].end_ms) / 2.0;
  for (int l = static_cast<int>(lane) + step; l >= 0 && l < static_cast<int>(std::size(kTimelineLanes)); l += step) {
    int best = -1;
    double best_d = 0;
    for (int i = 0; i < n; ++i) {
      const TimelineItem& it = day.items[i];
      if (static_cast<int>(it.lane) != l) continue;
      const double d = mid < it.start_ms ? it.start_ms - mid : mid > it.end_ms ? mid - it.end_ms : 0.0;
      if (best < 0 || d < best_d) best = i, best_d = d;
    }
    if (best >= 0) return best;
  }
  return current;
}

}  // namespace wm::tray
