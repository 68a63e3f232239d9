#include "dialogs/activity_window.h"

#include <QDateTime>
#include <QFileInfo>
#include <QGridLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QPixmap>
#include <QPointer>
#include <QPushButton>
#include <QScrollArea>
#include <QVBoxLayout>

#include "dialogs/widget_util.h"

namespace wm::tray {

using nlohmann::json;

namespace {

constexpr int kThumbWidth = 160;
constexpr int kThumbHeight = 100;
constexpr int kThumbColumns = 4;

QLabel* section(QVBoxLayout* layout, QWidget* parent, const char* title, const char* name) {
  auto* box = new QGroupBox(QString::fromLatin1(title), parent);
  auto* inner = new QVBoxLayout(box);
  QLabel* label = plainLabel({}, name, box);
  label->setTextInteractionFlags(Qt::TextSelectableByMouse);
  inner->addWidget(label);
  layout->addWidget(box);
  return label;
}

std::vector<std::string> texts(const std::vector<NamedTotal>& totals) {
  std::vector<std::string> out;
  for (const auto& t : totals) out.push_back(t.text);
  return out;
}

// A thumbnail, or a grey placeholder that says the file is gone (the spool may have been uploaded and
// cleaned, or the file deleted).
QWidget* thumbnail(const ShotThumb& shot, QWidget* parent) {
  auto* cell = new QWidget(parent);
  auto* v = new QVBoxLayout(cell);
  v->setContentsMargins(2, 2, 2, 2);
  auto* image = new QLabel(cell);
  image->setFixedSize(kThumbWidth, kThumbHeight);
  image->setAlignment(Qt::AlignCenter);
  const QImage img = readThumbnail(shot.path, QSize(kThumbWidth, kThumbHeight));
  if (img.isNull()) {
    image->setObjectName(QStringLiteral("shot_missing"));
    image->setText(QStringLiteral("(image not on this computer)"));
    image->setWordWrap(true);
    QPalette grey = image->palette();
    grey.setColor(QPalette::Window, QColor(0xdd, 0xdd, 0xdd));
    grey.setColor(QPalette::WindowText, QColor(0x55, 0x55, 0x55));
    image->setPalette(grey);
    image->setAutoFillBackground(true);
  } else {
    image->setObjectName(QStringLiteral("shot"));
    image->setPixmap(QPixmap::fromImage(img));
  }
  image->setToolTip(QString::fromStdString(shot.path));
  v->addWidget(image);
  auto* caption = plainLabel(shot.caption, "shot_caption", cell);
  caption->setAlignment(Qt::AlignHCenter);
  v->addWidget(caption);
  return cell;
}

}  // namespace

ActivityWindow::ActivityWindow(AgentApi& api, QWidget* parent) : QWidget(parent, Qt::Window), api_(api) {
  setObjectName(QStringLiteral("activity_window"));
  setWindowTitle(QStringLiteral("WorkMonitor — my activity today"));
  auto* outer = new QVBoxLayout(this);
  auto* top = new QHBoxLayout;
  tracked_ = plainLabel({}, "tracked", this);
  emphasize(tracked_, 1.3);
  top->addWidget(tracked_, 1);
  refresh_ = new QPushButton(QStringLiteral("Refresh"), this);
  refresh_->setObjectName(QStringLiteral("refresh"));
  top->addWidget(refresh_);
  outer->addLayout(top);
  error_ = plainLabel({}, "error", this);
  setTextColor(error_, QColor(0xb0, 0x00, 0x20));
  error_->hide();
  outer->addWidget(error_);

  auto* scroll = new QScrollArea(this);
  scroll->setWidgetResizable(true);
  auto* content = new QWidget(scroll);
  auto* layout = new QVBoxLayout(content);
  timeline_ = section(layout, content, "Timeline", "timeline");
  projects_label_ = section(layout, content, "Time per project", "projects");
  apps_ = section(layout, content, "Applications", "apps");
  websites_ = section(layout, content, "Websites", "websites");
  auto* idle_box = new QGroupBox(QStringLiteral("Idle and breaks"), content);
  auto* idle_layout = new QVBoxLayout(idle_box);
  idle_ = plainLabel({}, "idle", idle_box);
  breaks_ = plainLabel({}, "breaks", idle_box);
  idle_layout->addWidget(idle_);
  idle_layout->addWidget(breaks_);
  layout->addWidget(idle_box);
  auto* shots_box = new QGroupBox(QStringLiteral("Screenshots"), content);
  auto* shots_outer = new QVBoxLayout(shots_box);
  shots_ = new QWidget(shots_box);
  shots_layout_ = new QGridLayout(shots_);
  shots_outer->addWidget(shots_);
  layout->addWidget(shots_box);
  queue_ = section(layout, content, "Upload queue", "queue");
  layout->addStretch();
  scroll->setWidget(content);
  outer->addWidget(scroll, 1);

  connect(refresh_, &QPushButton::clicked, this, &ActivityWindow::refresh);
  resize(720, 640);
  render();
  renderShots();
}

void ActivityWindow::refresh() {
  error_->hide();
  const auto [from, to] = localDayRange(QDateTime::currentDateTimeUtc());
  QPointer<ActivityWindow> self(this);
  api_.call("report", {{"from_ms", from}, {"to_ms", to}}, [self](Result<json> r) {
    if (!self) return;
    if (!r) return self->showError("today's report", r.error());
    self->report_ = std::move(*r);
    self->render();
    self->renderShots();
  });
  api_.call("status", json::object(), [self](Result<json> r) {
    if (!self) return;
    if (!r) return self->showError("the upload queue", r.error());
    self->status_ = std::move(*r);
    self->render();
  });
  api_.call("projects", json::object(), [self](Result<json> r) {
    if (!self || !r) return;  // without names the ids are shown
    self->projects_ = std::move(*r);
    self->render();
  });
}

void ActivityWindow::showError(const std::string& what, const Error& error) {
  error_->setText(QString::fromStdString("Could not load " + what + ": " + error.message));
  error_->show();
}

void ActivityWindow::render() {
  summary_ = activitySummary(report_, status_, projects_);
  tracked_->setText(QString::fromStdString(summary_.tracked));
  timeline_->setText(QString::fromStdString(joinLines(summary_.timeline, "No time tracked today.")));
  projects_label_->setText(QString::fromStdString(joinLines(texts(summary_.projects), "None.")));
  apps_->setText(QString::fromStdString(joinLines(texts(summary_.apps), "None recorded.")));
  websites_->setText(QString::fromStdString(joinLines(texts(summary_.websites), "None recorded.")));
  idle_->setText(QString::fromStdString(summary_.idle));
  breaks_->setText(QString::fromStdString(summary_.breaks));
  queue_->setText(QString::fromStdString(joinLines(summary_.queue, "")));
}

// Apart from render(): the images are read again only when a new report arrives.
void ActivityWindow::renderShots() {
  while (QLayoutItem* item = shots_layout_->takeAt(0)) {
    if (QWidget* w = item->widget()) delete w;
    delete item;
  }
  if (summary_.screenshots.empty()) {
    shots_layout_->addWidget(plainLabel("No screenshots today.", "no_shots", shots_), 0, 0);
    return;
  }
  int i = 0;
  for (const ShotThumb& shot : summary_.screenshots) {
    shots_layout_->addWidget(thumbnail(shot, shots_), i / kThumbColumns, i % kThumbColumns);
    ++i;
  }
}

}  // namespace wm::tray
