#include "dialogs/timeline_view.h"

#include <QAccessible>
#include <QHelpEvent>
#include <QKeyEvent>
#include <QMouseEvent>
#include <QPainter>
#include <QToolTip>

namespace wm::tray {

namespace {

constexpr int kPreferredWidth = 900;

QColor mix(const QColor& a, const QColor& b, double t) {
  return QColor::fromRgbF(static_cast<float>(a.redF() + (b.redF() - a.redF()) * t),
                          static_cast<float>(a.greenF() + (b.greenF() - a.greenF()) * t),
                          static_cast<float>(a.blueF() + (b.blueF() - a.blueF()) * t));
}

// A category's fill with its pattern over it in the ink that reads on that fill.
void fillPatterned(QPainter& p, const QRectF& r, const QColor& fill, Qt::BrushStyle pattern) {
  p.fillRect(r, fill);
  if (pattern != Qt::SolidPattern && pattern != Qt::NoBrush) p.fillRect(r, QBrush(inkOver(fill), pattern));
}

}  // namespace

TimelineView::TimelineView(QWidget* parent) : QWidget(parent) {
  setObjectName(QStringLiteral("timeline_view"));
  setFocusPolicy(Qt::StrongFocus);
  setMouseTracking(true);
  setAccessibleName(QStringLiteral("Day timeline"));
  setAccessibleDescription(QStringLiteral("No day loaded yet."));
  QSizePolicy policy(QSizePolicy::Expanding, QSizePolicy::Preferred);
  policy.setHeightForWidth(true);
  setSizePolicy(policy);
}

TimelineMetrics TimelineView::metrics() const {
  TimelineMetrics m;
  const QFontMetricsF fm(font());
  m.line_height = std::ceil(fm.height()) + 2;
  m.label_width = std::ceil(fm.horizontalAdvance(QStringLiteral("Screenshots"))) + 10;
  m.text_width = [fm](const std::string& s) { return fm.horizontalAdvance(QString::fromStdString(s)); };
  return m;
}

void TimelineView::setDay(TimelineDay day, const std::vector<QImage>& thumbnails, const QTimeZone& tz) {
  day_ = std::move(day);
  tz_ = tz;
  thumbs_.assign(day_.shots.size(), QPixmap());
  for (size_t i = 0; i < day_.shots.size() && i < thumbnails.size(); ++i)
    if (!thumbnails[i].isNull())
      thumbs_[i] = QPixmap::fromImage(thumbnails[i].scaled(48, 30, Qt::KeepAspectRatio, Qt::SmoothTransformation));
  selected_ = -1;
  hover_ = -1;
  relayout();
  setAccessibleDescription(QString::fromStdString(
      day_.items.empty() ? "Nothing recorded in this day."
                         : "The day as a picture; the arrow keys go through its " + std::to_string(day_.items.size()) +
                               " parts, Up and Down change the lane."));
  emit selectionChanged(-1);
}

void TimelineView::relayout() {
  geometry_ = layoutTimeline(day_, std::max(width(), 200), tz_, metrics());
  if (minimumHeight() != geometry_.height) {
    setMinimumHeight(geometry_.height);
    updateGeometry();
  }
  update();
}

int TimelineView::heightForWidth(int width) const {
  return layoutTimeline(day_, std::max(width, 200), tz_, metrics()).height;
}

QSize TimelineView::sizeHint() const { return {kPreferredWidth, heightForWidth(kPreferredWidth)}; }
QSize TimelineView::minimumSizeHint() const { return {300, heightForWidth(300)}; }

void TimelineView::resizeEvent(QResizeEvent*) { relayout(); }

void TimelineView::changeEvent(QEvent* e) {
  if (e->type() == QEvent::FontChange) relayout();
  if (e->type() == QEvent::PaletteChange) update();
  QWidget::changeEvent(e);
}

void TimelineView::setSelected(int index) {
  if (index < -1 || index >= static_cast<int>(day_.items.size())) index = -1;
  if (index == selected_) return;
  selected_ = index;
  if (index >= 0) {
    const TimelineItem& it = day_.items[static_cast<size_t>(index)];
    setAccessibleDescription(QString::fromStdString(laneLabel(it.lane) + ": " + it.accessible));
    QAccessibleEvent ev(this, QAccessible::DescriptionChanged);
    QAccessible::updateAccessibility(&ev);
  }
  update();
  emit selectionChanged(index);
}

void TimelineView::activate() {
  if (selected_ < 0) return;
  const TimelineItem& it = day_.items[static_cast<size_t>(selected_)];
  if (it.lane == TimelineLane::kScreenshots && it.shot_index >= 0) emit screenshotActivated(it.shot_index);
}

bool TimelineView::event(QEvent* e) {
  if (e->type() == QEvent::ToolTip) {
    auto* help = static_cast<QHelpEvent*>(e);
    const int i = geometry_.itemAt(help->pos());
    if (i < 0) {
      QToolTip::hideText();
      e->ignore();
    } else {
      QToolTip::showText(help->globalPos(), QString::fromStdString(day_.items[static_cast<size_t>(i)].tooltip), this,
                         geometry_.item_rects[static_cast<size_t>(i)].toAlignedRect());
    }
    return true;
  }
  return QWidget::event(e);
}

void TimelineView::keyPressEvent(QKeyEvent* e) {
  TimelineMove move;
  switch (e->key()) {
    case Qt::Key_Left:
      move = TimelineMove::kLeft;
      break;
    case Qt::Key_Right:
      move = TimelineMove::kRight;
      break;
    case Qt::Key_Up:
      move = TimelineMove::kUp;
      break;
    case Qt::Key_Down:
      move = TimelineMove::kDown;
      break;
    case Qt::Key_Home:
      move = TimelineMove::kHome;
      break;
    case Qt::Key_End:
      move = TimelineMove::kEnd;
      break;
    case Qt::Key_Return:
    case Qt::Key_Enter:
    case Qt::Key_Space:
      activate();
      return;
    default:
      QWidget::keyPressEvent(e);
      return;
  }
  setSelected(timelineNeighbour(day_, selected_, move));
}

void TimelineView::mousePressEvent(QMouseEvent* e) {
  setFocus(Qt::MouseFocusReason);
  const int i = geometry_.itemAt(e->position());
  if (i >= 0) setSelected(i);
}

void TimelineView::mouseDoubleClickEvent(QMouseEvent* e) {
  const int i = geometry_.itemAt(e->position());
  if (i < 0) return;
  setSelected(i);
  activate();
}

void TimelineView::mouseMoveEvent(QMouseEvent* e) {
  const int i = geometry_.itemAt(e->position());
  if (i != hover_) {
    hover_ = i;
    update();
  }
}

void TimelineView::leaveEvent(QEvent*) {
  if (hover_ >= 0) {
    hover_ = -1;
    update();
  }
}

void TimelineView::paintEvent(QPaintEvent*) {
  QPainter p(this);
  const QPalette& pal = palette();
  const QColor base = pal.color(QPalette::Base), text = pal.color(QPalette::Text);
  const QColor faint = mix(base, text, 0.25), span_a = mix(base, text, 0.45), span_b = mix(base, text, 0.3);
  p.fillRect(rect(), base);
  const TimelineGeometry& g = geometry_;
  if (g.lane_rects.empty()) return;

  // Lane names, lane backgrounds and the hour grid.
  p.setPen(text);
  for (size_t l = 0; l < g.lane_rects.size(); ++l) {
    const QRectF& r = g.lane_rects[l];
    p.drawText(QRectF(2, r.top(), r.left() - 6, r.height()), Qt::AlignRight | Qt::AlignVCenter,
               QString::fromStdString(laneLabel(kTimelineLanes[l])));
    if (l > 0) p.fillRect(r, mix(base, text, 0.05));
  }
  // A lane with nothing in it says so: "nothing recorded" is an answer the person may be looking for.
  p.setPen(mix(base, text, 0.55));
  for (size_t l = 1; l < g.lane_rects.size(); ++l)
    if (g.lane_empty[l])
      p.drawText(g.lane_rects[l].adjusted(6, 0, 0, 0), Qt::AlignLeft | Qt::AlignVCenter,
                 QStringLiteral("none recorded"));
  const double grid_bottom = g.lane_rects.back().bottom();
  for (const TimelineTick& t : g.ticks) {
    p.setPen(faint);
    p.drawLine(QPointF(t.x, g.bar.top() - 3), QPointF(t.x, grid_bottom));
    if (t.label.empty()) continue;
    p.setPen(text);
    p.drawText(QRectF(t.x - 20, 0, 40, g.bar.top() - 2), Qt::AlignHCenter | Qt::AlignBottom,
               QString::fromStdString(t.label));
  }

  // The items, lane by lane.
  bool alternate = false;
  TimelineLane last_lane = TimelineLane::kDay;
  for (size_t i = 0; i < day_.items.size(); ++i) {
    const TimelineItem& it = day_.items[i];
    const QRectF& r = g.item_rects[i];
    if (it.lane != last_lane) alternate = false, last_lane = it.lane;
    switch (it.lane) {
      case TimelineLane::kDay:
        if (it.category == TimelineCategory::kFuture) {
          p.fillRect(r, base);
          p.setPen(QPen(faint, 1, Qt::DashLine));
          p.drawRect(r.adjusted(0.5, 0.5, -0.5, -0.5));
        } else {
          const QColor fill = it.color.isValid() ? it.color : fillColor(it.category, pal);
          fillPatterned(p, r, fill, it.pattern);
        }
        break;
      case TimelineLane::kApps:
      case TimelineLane::kWebsites:
        // Neighbouring spans alternate in shade so where one app gives way to the next stays visible.
        p.fillRect(r, alternate ? span_b : span_a);
        alternate = !alternate;
        break;
      case TimelineLane::kActivity:
        p.fillRect(r, mix(base, text, 0.65));
        break;
      case TimelineLane::kUsb: {
        const QPointF c = r.center();
        const QPointF diamond[] = {{c.x(), r.top()}, {r.right(), c.y()}, {c.x(), r.bottom()}, {r.left(), c.y()}};
        p.setPen(Qt::NoPen);
        p.setBrush(categoryStyle(TimelineCategory::kAgentNotRunning).color);
        p.drawPolygon(diamond, 4);
        break;
      }
      case TimelineLane::kScreenshots:
        if (g.item_thumb[i] && it.shot_index >= 0 && !thumbs_[static_cast<size_t>(it.shot_index)].isNull()) {
          const QPixmap& px = thumbs_[static_cast<size_t>(it.shot_index)];
          p.drawPixmap(QPointF(r.left() + (r.width() - px.width()) / 2, r.top() + (r.height() - px.height()) / 2), px);
        } else if (g.item_thumb[i]) {  // the file is gone: a framed box
          p.setPen(faint);
          p.setBrush(Qt::NoBrush);
          p.drawRect(r.adjusted(0.5, 0.5, -0.5, -0.5));
          p.drawText(r, Qt::AlignCenter, QStringLiteral("?"));
        } else {
          p.fillRect(r, span_a);
        }
        break;
    }
  }
  if (g.now_x >= 0) {
    p.setPen(QPen(text, 2));
    p.drawLine(QPointF(g.now_x, g.bar.top() - 4), QPointF(g.now_x, g.bar.bottom() + 2));
  }

  // Hover and selection on top.
  const auto outline = [&](int i, const QColor& c, double w) {
    if (i < 0 || static_cast<size_t>(i) >= g.item_rects.size()) return;
    p.setPen(QPen(c, w));
    p.setBrush(Qt::NoBrush);
    p.drawRect(g.item_rects[static_cast<size_t>(i)].adjusted(-w / 2, -w / 2, w / 2, w / 2));
  };
  outline(hover_, text, 1);
  outline(selected_, pal.color(QPalette::Highlight), 2.5);

  // The legend.
  for (const LegendBox& box : g.legend) {
    const LegendEntry& e = day_.legend[box.entry];
    if (e.category == TimelineCategory::kFuture) {
      p.fillRect(box.swatch, base);
    } else {
      fillPatterned(p, box.swatch, e.color.isValid() ? e.color : fillColor(e.category, pal), e.pattern);
    }
    p.setPen(faint);
    p.setBrush(Qt::NoBrush);
    p.drawRect(box.swatch);
    p.setPen(text);
    p.drawText(box.text, Qt::AlignLeft | Qt::AlignVCenter, QString::fromStdString(e.label));
  }
  if (hasFocus()) {
    p.setPen(QPen(pal.color(QPalette::Highlight), 1, Qt::DotLine));
    p.drawRect(QRectF(rect()).adjusted(0.5, 0.5, -0.5, -0.5));
  }
}

}  // namespace wm::tray
