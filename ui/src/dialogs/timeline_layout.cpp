// The day picture's geometry (timeline_model.h): computed once per data or width change, painted as is.
#include <algorithm>
#include <cmath>

#include "dialogs/timeline_model.h"

namespace wm::tray {

namespace {

// Lane heights in pixels; the day bar is the tallest: it is the picture.
constexpr double kTickRow = 16, kDayHeight = 30, kSpanHeight = 14, kActivityHeight = 26, kUsbHeight = 14;
constexpr double kLaneGap = 4, kRightMargin = 8;
constexpr double kThumbW = 48, kThumbH = 30;
constexpr double kSlack = 3;  // instants and hairline spans are hit within this many pixels

double laneHeight(TimelineLane l) {
  switch (l) {
    case TimelineLane::kDay:
      return kDayHeight;
    case TimelineLane::kApps:
    case TimelineLane::kWebsites:
      return kSpanHeight;
    case TimelineLane::kActivity:
      return kActivityHeight;
    case TimelineLane::kUsb:
      return kUsbHeight;
    case TimelineLane::kScreenshots:
      return kThumbH;
  }
  return kSpanHeight;
}

}  // namespace

int TimelineGeometry::itemAt(QPointF p) const {
  int lane = -1;
  for (size_t l = 0; l < lane_rects.size(); ++l)
    if (p.y() >= lane_rects[l].top() && p.y() < lane_rects[l].bottom()) lane = static_cast<int>(l);
  if (lane < 0) return -1;
  const QRectF& row = lane_rects[static_cast<size_t>(lane)];
  int best = -1;
  double best_d = 0;
  for (size_t i = 0; i < item_rects.size(); ++i) {
    const QRectF& r = item_rects[i];
    if (r.center().y() < row.top() || r.center().y() > row.bottom()) continue;  // another lane
    if (p.x() < r.left() - kSlack || p.x() > r.right() + kSlack) continue;
    // Inside beats near; among overlapping instants the nearest centre wins.
    const bool inside = p.x() >= r.left() && p.x() <= r.right();
    const double d = (inside && r.width() > 2 * kSlack ? 0.0 : std::abs(p.x() - r.center().x())) +
                     (inside && item_thumb.size() > i && item_thumb[i] ? -0.5 : 0.0);
    if (best < 0 || d < best_d) best = static_cast<int>(i), best_d = d;
  }
  return best;
}

TimelineGeometry layoutTimeline(const TimelineDay& day, int width, const QTimeZone& tz, const TimelineMetrics& m) {
  TimelineGeometry g;
  g.width = width;
  const double left = m.label_width;
  const double bar_w = std::max(40.0, width - left - kRightMargin);
  const double span_ms = static_cast<double>(std::max<int64_t>(1, day.to_ms - day.from_ms));
  const auto xOf = [&](int64_t ms) {
    return left + std::clamp(static_cast<double>(ms - day.from_ms) / span_ms, 0.0, 1.0) * bar_w;
  };

  double y = std::max(kTickRow, m.line_height);
  for (TimelineLane l : kTimelineLanes) {
    g.lane_rects.emplace_back(left, y, bar_w, laneHeight(l));
    y += laneHeight(l) + kLaneGap;
  }
  g.bar = g.lane_rects[0];

  // Hour ticks in local time (a DST day has 23 or 25 of them); a label every k hours so they do not touch.
  const double hour_px = bar_w * 3'600'000.0 / span_ms;
  const double label_px = 2.6 * m.line_height * 0.6 + 6;
  int every = 1;
  for (int k : {1, 2, 3, 4, 6, 12, 24}) {
    every = k;
    if (hour_px * k >= label_px) break;
  }
  QDateTime t = QDateTime::fromMSecsSinceEpoch(day.from_ms, QTimeZone::utc()).toTimeZone(tz);
  t = QDateTime(t.date(), QTime(t.time().hour(), 0), tz);
  if (t.toMSecsSinceEpoch() < day.from_ms) t = t.addSecs(3600);
  for (int guard = 0; guard < 200 && t.toMSecsSinceEpoch() <= day.to_ms; ++guard, t = t.addSecs(3600)) {
    const int64_t ms = t.toMSecsSinceEpoch();
    const int hour = t.time().hour();
    TimelineTick tick;
    tick.x = xOf(ms);
    if (hour % every == 0) {
      const int shown = ms == day.to_ms && hour == 0 ? 24 : hour;
      tick.label = (shown < 10 ? "0" : "") + std::to_string(shown);
    }
    g.ticks.push_back(std::move(tick));
  }
  g.now_x = day.now_ms >= day.from_ms && day.now_ms <= day.to_ms ? xOf(day.now_ms) : -1;

  g.lane_empty.assign(std::size(kTimelineLanes), true);
  for (const TimelineItem& it : day.items) g.lane_empty[static_cast<size_t>(it.lane)] = false;
  g.item_rects.reserve(day.items.size());
  g.item_thumb.assign(day.items.size(), false);
  double last_thumb_right = -1e9;
  for (size_t i = 0; i < day.items.size(); ++i) {
    const TimelineItem& it = day.items[i];
    const QRectF& lane = g.lane_rects[static_cast<size_t>(it.lane)];
    const double x0 = xOf(it.start_ms), x1 = xOf(it.end_ms);
    QRectF r;
    switch (it.lane) {
      case TimelineLane::kDay:
      case TimelineLane::kApps:
      case TimelineLane::kWebsites:
        // At least a pixel: a one-minute span on a narrow window is still there to see and to hover.
        r = QRectF(x0, lane.top(), std::max(1.0, x1 - x0), lane.height());
        break;
      case TimelineLane::kActivity: {
        const double h = day.max_count > 0 ? lane.height() * static_cast<double>(it.count) / day.max_count : 0.0;
        const double w = std::max(1.0, x1 - x0 - (x1 - x0 > 3 ? 1.0 : 0.0));  // a gap between wide bars
        r = QRectF(x0, lane.bottom() - std::max(1.0, h), w, std::max(1.0, h));
        break;
      }
      case TimelineLane::kUsb:
        r = QRectF(x0 - 4, lane.top() + 1, 8, lane.height() - 2);
        break;
      case TimelineLane::kScreenshots: {
        // A thumbnail where there is room (left to right), a thin marker where it would cover the last one.
        const double tx = std::clamp(x0 - kThumbW / 2, left, left + bar_w - kThumbW);
        if (tx >= last_thumb_right + 2) {
          r = QRectF(tx, lane.top(), kThumbW, kThumbH);
          g.item_thumb[i] = true;
          last_thumb_right = r.right();
        } else {
          r = QRectF(x0 - 1.5, lane.top() + kThumbH - 8, 3, 8);
        }
        break;
      }
    }
    g.item_rects.push_back(r);
  }

  // The legend flows in lines under the lanes.
  y = g.lane_rects.back().bottom() + 2 * kLaneGap;
  double x = left;
  const double sw = 14, sh = std::min(12.0, m.line_height - 2);
  const auto textWidth = [&](const std::string& s) {
    return m.text_width ? m.text_width(s) : 7.0 * static_cast<double>(s.size());
  };
  for (size_t i = 0; i < day.legend.size(); ++i) {
    const double tw = textWidth(day.legend[i].label);
    if (x > left && x + sw + 4 + tw > width - kRightMargin) {
      x = left;
      y += m.line_height + 2;
    }
    LegendBox box;
    box.swatch = QRectF(x, y + (m.line_height - sh) / 2, sw, sh);
    box.text = QRectF(x + sw + 4, y, tw + 1, m.line_height);
    box.entry = i;
    g.legend.push_back(box);
    x = box.text.right() + 12;
  }
  g.height = static_cast<int>(std::ceil(y + (day.legend.empty() ? 0 : m.line_height) + 4));
  return g;
}

}  // namespace wm::tray
