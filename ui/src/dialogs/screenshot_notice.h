// The "a screenshot was just taken" notice: a small frameless popup in the screen's corner with the shot's
// thumbnail, closed after a few seconds (or a click), so the person always knows when the screen is captured.
#pragma once

#include <QWidget>
#include <nlohmann/json.hpp>

class QLabel;
class QTimer;

namespace wm::tray {

class ScreenshotNotice : public QWidget {
  Q_OBJECT
 public:
  explicit ScreenshotNotice(QWidget* parent = nullptr);
  /// Shows the `screenshot` event ({id, monitor, width, height, taken_at, unchanged, path}) for `ms`; a shot
  /// whose file cannot be read is announced in words only.
  void showShot(const nlohmann::json& shot, int ms = 5000);
  bool hasThumbnail() const { return has_thumbnail_; }

 protected:
  void mousePressEvent(QMouseEvent* event) override;
  void paintEvent(QPaintEvent* event) override;

 private:
  QLabel* image_;
  QLabel* caption_;
  QTimer* timer_;
  bool has_thumbnail_ = false;
};

}  // namespace wm::tray
