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
QWidget* thumbnail(const ShotThumb& shot, const QImage& img, QWidget* parent) {
  auto* cell = new QWidget(parent);
  auto* v = new QVBoxLayout(cell);
  v->setContentsMargins(2, 2, 2, 2);
  auto* image = new QLabel(cell);
  image->setFixedSize(kThumbWidth, kThumbHeight);
  image->setAlignment(Qt::AlignCenter);
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
  auto* day_box = new QGroupBox(QStringLiteral("Today as a picture"), content);
  auto* day_layout = new QVBoxLayout(day_box);
  timeline_note_ = plainLabel({}, "timeline_note", day_box);
  timeline_note_->hide();
  day_layout->addWidget(timeline_note_);
  timeline_view_ = new TimelineView(day_box);
  day_layout->addWidget(timeline_view_);
  auto* details_row = new QHBoxLayout;
  timeline_details_ = plainLabel("Point at a part of the picture, or click it (or Tab to it and use the arrow keys).",
                                 "timeline_details", day_box);
  timeline_details_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  details_row->addWidget(timeline_details_, 1);
  timeline_preview_ = new QLabel(day_box);
  timeline_preview_->setObjectName(QStringLiteral("timeline_preview"));
  timeline_preview_->hide();
  details_row->addWidget(timeline_preview_);
  day_layout->addLayout(details_row);
  layout->addWidget(day_box);
  timeline_ = section(layout, content, "Time entries", "timeline");
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
  connect(timeline_view_, &TimelineView::selectionChanged, this, &ActivityWindow::showDetails);
  connect(timeline_view_, &TimelineView::screenshotActivated, this, &ActivityWindow::openShot);
  resize(960, 720);
  render();
  renderShots();
  renderDay();
}

void ActivityWindow::refresh() {
  error_->hide();
  const auto [from, to] = localDayRange(QDateTime::currentDateTimeUtc());
  QPointer<ActivityWindow> self(this);
  api_.call("report", {{"from_ms", from}, {"to_ms", to}}, [self](Result<json> r) {
    if (!self) return;
    if (!r) return self->showError("today's report", r.error());
    self->report_ = std::move(*r);
    self->thumbs_.clear();  // a new report: the files may have changed or gone
    self->render();
    self->renderShots();
    self->renderDay();
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
    self->renderDay();
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
    shots_layout_->addWidget(thumbnail(shot, thumbnailOf(shot.path), shots_), i / kThumbColumns, i % kThumbColumns);
    ++i;
  }
}

const QImage& ActivityWindow::thumbnailOf(const std::string& path) {
  auto it = thumbs_.find(path);
  if (it == thumbs_.end()) it = thumbs_.emplace(path, readThumbnail(path, QSize(kThumbWidth, kThumbHeight))).first;
  return it->second;
}

void ActivityWindow::renderDay() {
  TimelineDay day = timelineDay(report_, projects_);
  std::vector<QImage> images;
  for (const TimelineShot& shot : day.shots) images.push_back(thumbnailOf(shot.path));
  timeline_note_->setText(QString::fromStdString(day.note));
  timeline_note_->setVisible(!day.note.empty());
  const int keep = timeline_view_->selected();
  const size_t count = day.items.size();
  timeline_view_->setDay(std::move(day), images);
  // A refresh of the same day keeps the place the person was looking at.
  if (keep >= 0 && static_cast<size_t>(keep) < count) timeline_view_->setSelected(keep);
}

void ActivityWindow::showDetails(int index) {
  const TimelineDay& day = timeline_view_->day();
  timeline_preview_->hide();
  if (index < 0 || static_cast<size_t>(index) >= day.items.size()) {
    timeline_details_->setText(
        QStringLiteral("Point at a part of the picture, or click it (or Tab to it and use the arrow keys)."));
    return;
  }
  const TimelineItem& it = day.items[static_cast<size_t>(index)];
  timeline_details_->setText(QString::fromStdString(laneLabel(it.lane) + ": " + it.tooltip));
  if (it.shot_index >= 0) {
    const QImage& img = thumbnailOf(day.shots[static_cast<size_t>(it.shot_index)].path);
    if (!img.isNull()) {
      timeline_preview_->setPixmap(QPixmap::fromImage(img));
      timeline_preview_->show();
    }
  }
}

// The screenshot's thumbnail on its own, as large as the file has it (the agent keeps only the thumbnail
// on this computer once the screenshot is uploaded).
void ActivityWindow::openShot(int shot_index) {
  const TimelineDay& day = timeline_view_->day();
  if (shot_index < 0 || static_cast<size_t>(shot_index) >= day.shots.size()) return;
  const TimelineShot& shot = day.shots[static_cast<size_t>(shot_index)];
  if (viewer_) viewer_->close();
  auto* view = new QLabel(this, Qt::Window);
  view->setObjectName(QStringLiteral("shot_viewer"));
  view->setAttribute(Qt::WA_DeleteOnClose);
  view->setAlignment(Qt::AlignCenter);
  const QImage img = readThumbnail(shot.path, QSize(1280, 800));
  if (img.isNull()) {
    view->setText(QStringLiteral("(image not on this computer)"));
    view->resize(320, 120);
  } else {
    view->setPixmap(QPixmap::fromImage(img));
  }
  const QString when = QString::fromStdString(
      localClock(QDateTime::fromMSecsSinceEpoch(shot.at_ms, QTimeZone::utc()), QTimeZone::systemTimeZone()));
  view->setWindowTitle(QStringLiteral("WorkMonitor — screenshot at ") + when);
  view->setAccessibleName(QStringLiteral("Screenshot at ") + when);
  viewer_ = view;
  view->show();
}

}  // namespace wm::tray
