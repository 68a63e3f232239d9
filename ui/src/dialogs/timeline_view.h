// The day picture of "my activity", painted with QPainter from the geometry timeline_model.h computes (once per
// data, width or font change: a paint only draws rects and cached pixmaps). Hover shows an item's details,
// a click or the arrow keys select one (selectionChanged), Enter or a double click opens a screenshot.
#pragma once

#include <QPixmap>
#include <QWidget>
#include <vector>

#include "dialogs/timeline_model.h"

namespace wm::tray {

class TimelineView : public QWidget {
  Q_OBJECT
 public:
  explicit TimelineView(QWidget* parent = nullptr);
  /// The day to show and one decoded thumbnail per day.shots entry (a null image for a missing file); the
  /// images are shrunk here once to the picture's thumbnail size.
  void setDay(TimelineDay day, const std::vector<QImage>& thumbnails,
              const QTimeZone& tz = QTimeZone::systemTimeZone());
  const TimelineDay& day() const { return day_; }
  const TimelineGeometry& geometryModel() const { return geometry_; }
  int selected() const { return selected_; }
  /// Selects item `index` of day().items (-1: none), updates the accessible description and emits
  /// selectionChanged.
  void setSelected(int index);
  bool hasHeightForWidth() const override { return true; }
  int heightForWidth(int width) const override;
  QSize sizeHint() const override;
  QSize minimumSizeHint() const override;

 signals:
  void selectionChanged(int index);
  void screenshotActivated(int shot_index);

 protected:
  void paintEvent(QPaintEvent*) override;
  void resizeEvent(QResizeEvent*) override;
  void changeEvent(QEvent*) override;
  bool event(QEvent*) override;
  void keyPressEvent(QKeyEvent*) override;
  void mousePressEvent(QMouseEvent*) override;
  void mouseDoubleClickEvent(QMouseEvent*) override;
  void mouseMoveEvent(QMouseEvent*) override;
  void leaveEvent(QEvent*) override;

 private:
  TimelineMetrics metrics() const;
  void relayout();
  void activate();

  TimelineDay day_;
  QTimeZone tz_ = QTimeZone::systemTimeZone();
  TimelineGeometry geometry_;
  std::vector<QPixmap> thumbs_;  // per day_.shots, at the picture's size
  int selected_ = -1;
  int hover_ = -1;
};

}  // namespace wm::tray
