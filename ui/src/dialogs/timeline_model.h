// The "my activity" day picture without any widget: the `report` reply's day (issue 14 contract: day.timeline,
// apps_timeline, websites_timeline, activity.slots, usb, screenshots) read tolerantly into lanes of items, each
// with its colour, pattern, tooltip and accessible text; then the geometry of every item for a given width.
// The view (timeline_view.h) paints these rects as they are, so the tests check the picture's logic here.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <QColor>
#include <QPalette>
#include <QRectF>
#include <QTimeZone>
#include <nlohmann/json.hpp>

namespace wm::tray {

/// The contract's categories, in legend order. A new one needs a style in categoryStyle() and a name in
/// categoryName(): the tests go over kTimelineCategories.
enum class TimelineCategory { kWorked, kAuto, kIdle, kBreak, kLocked, kAsleep, kAgentNotRunning, kNotTracked, kFuture };
inline constexpr TimelineCategory kTimelineCategories[] = {
    TimelineCategory::kWorked,          TimelineCategory::kAuto,       TimelineCategory::kIdle,
    TimelineCategory::kBreak,           TimelineCategory::kLocked,     TimelineCategory::kAsleep,
    TimelineCategory::kAgentNotRunning, TimelineCategory::kNotTracked, TimelineCategory::kFuture};

/// The contract's word ("agent_not_running").
std::string categoryName(TimelineCategory c);
std::optional<TimelineCategory> categoryFromName(const std::string& name);

/// How a category looks: a colour from the Okabe–Ito palette (readable with the common colour blindnesses)
/// and a pattern over it, so two categories never differ by hue alone. `color` invalid = the widget's base
/// colour (future, not tracked), so the empty parts follow a dark theme.
struct CategoryStyle {
  QColor color;
  Qt::BrushStyle pattern = Qt::SolidPattern;
  std::string label;  // "Agent not running"
};
CategoryStyle categoryStyle(TimelineCategory c);
/// Idle and locked time differ by the decision taken: discarded time is cross-hatched, kept (or pending)
/// time is hatched one way.
Qt::BrushStyle decisionPattern(TimelineCategory c, const std::string& decision);
/// The colour of the n-th project (in order of first appearance in the day), never one of the categories'.
QColor projectColor(size_t n);
/// The fill actually painted for `color` in `palette` (an invalid colour → palette base or mid).
QColor fillColor(TimelineCategory c, const QPalette& palette);
/// Black or white, whichever reads better over `fill` (the hatching and the text on a segment).
QColor inkOver(const QColor& fill);

/// "the computer was off" for an agent_not_running reason.
std::string downReasonText(const std::string& reason);
/// "discarded" for an idle decision.
std::string decisionText(const std::string& decision);

enum class TimelineLane { kDay, kApps, kWebsites, kActivity, kUsb, kScreenshots };
inline constexpr TimelineLane kTimelineLanes[] = {TimelineLane::kDay,      TimelineLane::kApps,
                                                  TimelineLane::kWebsites, TimelineLane::kActivity,
                                                  TimelineLane::kUsb,      TimelineLane::kScreenshots};
std::string laneLabel(TimelineLane lane);

struct TimelineItem {
  TimelineLane lane = TimelineLane::kDay;
  int64_t start_ms = 0, end_ms = 0;                           // end == start for an instant (USB event, screenshot)
  TimelineCategory category = TimelineCategory::kNotTracked;  // kDay only
  std::string project_id, decision, reason;                   // kDay
  std::string name;                                           // project / app / domain / device name
  std::string detail;                                         // task / window title / browser / action
  int project_index = -1;                                     // worked: which project colour
  int64_t count = 0;    // activity: input events in the slot; for the bar's height
  int shot_index = -1;  // screenshots: index into TimelineDay::shots
  QColor color;         // the fill (invalid = base)
  Qt::BrushStyle pattern = Qt::SolidPattern;
  std::string tooltip;     // several lines, times in local time
  std::string accessible;  // one sentence for screen readers
};

struct TimelineShot {
  std::string id, path, monitor;
  int64_t at_ms = 0;
  bool unchanged = false;
};

struct LegendEntry {
  std::string label;  // "Website redesign", "Automatic recording"
  QColor color;
  Qt::BrushStyle pattern = Qt::SolidPattern;
  TimelineCategory category = TimelineCategory::kWorked;
};

struct TimelineDay {
  int64_t from_ms = 0, to_ms = 0, now_ms = 0;
  bool has_day = false;             // the agent sent day.timeline (an older agent does not)
  std::string note;                 // shown over the picture when it is partial ("This agent does not send ...")
  std::vector<TimelineItem> items;  // lane by lane in kTimelineLanes order, each lane in time order
  std::vector<TimelineShot> shots;
  std::vector<LegendEntry> legend;
  int64_t max_count = 0;  // the busiest activity slot
  /// Indices into `items` of one lane.
  std::vector<int> lane(TimelineLane l) const;
};

/// The day picture of a `report` reply, names from a `projects` reply (ids when unknown), times in `tz`.
/// Never throws: what is missing or malformed is left out (and said in `note` when the day itself is missing).
TimelineDay timelineDay(const nlohmann::json& report, const nlohmann::json& projects,
                        const QTimeZone& tz = QTimeZone::systemTimeZone());

/// Left/Right: the previous/next item of the same lane; Up/Down: the nearest-in-time item of the lane above or
/// below (skipping empty lanes). -1 selects the first item. Returns `current` when there is nowhere to go.
enum class TimelineMove { kLeft, kRight, kUp, kDown, kHome, kEnd };
int timelineNeighbour(const TimelineDay& day, int current, TimelineMove move);

// --- geometry -------------------------------------------------------------------------------------------

struct TimelineTick {
  double x = 0;
  std::string label;  // "09" (empty for a tick without a label when there is no room)
};

struct LegendBox {
  QRectF swatch, text;
  size_t entry = 0;
};

struct TimelineGeometry {
  int width = 0, height = 0;
  QRectF bar;                       // the day lane
  std::vector<QRectF> lane_rects;   // per kTimelineLanes
  std::vector<QRectF> item_rects;   // per TimelineDay::items
  std::vector<bool> item_thumb;     // screenshots: drawn as a thumbnail (else a marker: no room at this width)
  std::vector<bool> lane_empty;     // per kTimelineLanes: nothing recorded there (said in the lane)
  std::vector<TimelineTick> ticks;  // hour boundaries in local time
  std::vector<LegendBox> legend;
  double now_x = -1;  // the "now" line (-1 when outside the range)
  /// The item under `p` (instants get a few pixels of slack), or -1.
  int itemAt(QPointF p) const;
};

struct TimelineMetrics {
  double label_width = 76;  // the lane names on the left
  double line_height = 16;  // a line of text
  /// The width of a legend text (the view passes its font's); default: 7 px a character.
  std::function<double(const std::string&)> text_width;
};

/// Where everything goes at `width` pixels: x is linear in time over [from_ms, to_ms).
TimelineGeometry layoutTimeline(const TimelineDay& day, int width, const QTimeZone& tz = QTimeZone::systemTimeZone(),
                                const TimelineMetrics& m = {});

}  // namespace wm::tray
