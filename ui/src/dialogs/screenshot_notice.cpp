#include "dialogs/screenshot_notice.h"

#include <QGuiApplication>
#include <QLabel>
#include <QPainter>
#include <QPixmap>
#include <QScreen>
#include <QTimer>
#include <QVBoxLayout>

#include "dialogs/dialog_models.h"
#include "dialogs/widget_util.h"

namespace wm::tray {

namespace {
constexpr int kThumbWidth = 240;
constexpr int kThumbHeight = 150;
constexpr int kMargin = 16;
}  // namespace

ScreenshotNotice::ScreenshotNotice(QWidget* parent)
    : QWidget(parent, Qt::ToolTip | Qt::FramelessWindowHint | Qt::WindowStaysOnTopHint) {
  setObjectName(QStringLiteral("screenshot_notice"));
  setAttribute(Qt::WA_ShowWithoutActivating);
  auto* layout = new QVBoxLayout(this);
  image_ = new QLabel(this);
  image_->setObjectName(QStringLiteral("thumbnail"));
  image_->setAlignment(Qt::AlignCenter);
  layout->addWidget(image_);
  caption_ = plainLabel({}, "caption", this);
  layout->addWidget(caption_);
  timer_ = new QTimer(this);
  timer_->setSingleShot(true);
  connect(timer_, &QTimer::timeout, this, &QWidget::close);
}

void ScreenshotNotice::showShot(const nlohmann::json& shot, int ms) {
  const QImage img = readThumbnail(jsonString(shot, "path"), QSize(kThumbWidth, kThumbHeight));
  has_thumbnail_ = !img.isNull();
  if (has_thumbnail_) {
    image_->setPixmap(QPixmap::fromImage(img));
    image_->show();
  } else {
    image_->clear();
    image_->hide();
  }
  QDateTime taken = parseAgentTime(shot.is_object() && shot.contains("taken_at") ? shot["taken_at"] : nlohmann::json());
  if (!taken.isValid()) taken = QDateTime::currentDateTimeUtc();
  std::string text = "Screenshot taken at " + localClock(taken, QTimeZone::systemTimeZone());
  if (const std::string monitor = jsonString(shot, "monitor"); !monitor.empty()) text += " (" + monitor + ")";
  if (jsonBool(shot, "unchanged")) text += " — screen unchanged, the earlier shot is kept";
  text += ".";
  caption_->setText(QString::fromStdString(text));
  adjustSize();
  if (const QScreen* screen = QGuiApplication::primaryScreen()) {
    const QRect area = screen->availableGeometry();
    move(area.right() - width() - kMargin, area.bottom() - height() - kMargin);
  }
  show();
  raise();
  timer_->start(ms);
}

void ScreenshotNotice::mousePressEvent(QMouseEvent*) { close(); }

// A light card with a grey frame, painted here rather than by a style sheet (see setTextColor).
void ScreenshotNotice::paintEvent(QPaintEvent*) {
  QPainter p(this);
  p.fillRect(rect(), QColor(0xfa, 0xfa, 0xfa));
  p.setPen(QColor(0x88, 0x88, 0x88));
  p.drawRect(rect().adjusted(0, 0, -1, -1));
}

}  // namespace wm::tray
