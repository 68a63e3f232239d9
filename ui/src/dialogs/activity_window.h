// "My activity": what was recorded about the person today from `report`: the day as a picture (timeline_view.h:
// every minute's kind, apps, websites, activity counts, USB events, screenshots at their times), then the
// same in words (time per project, apps, websites, idle, breaks, screenshot thumbnails), plus the upload
// queue from `status`.
#pragma once

#include <map>

#include <QImage>
#include <QPointer>
#include <QWidget>
#include <nlohmann/json.hpp>

#include "agent_api.h"
#include "dialogs/dialog_models.h"
#include "dialogs/timeline_view.h"

class QGridLayout;
class QLabel;
class QPushButton;

namespace wm::tray {

class ActivityWindow : public QWidget {
  Q_OBJECT
 public:
  explicit ActivityWindow(AgentApi& api, QWidget* parent = nullptr);
  /// Asks the agent again for today's report, the status and the project names.
  void refresh();
  const ActivitySummary& summary() const { return summary_; }
  TimelineView* timelineView() const { return timeline_view_; }
  /// The window showing screenshot `shot_index` of the day larger (Enter or a double click on it); null
  /// before one was opened or after it was closed.
  QWidget* shotViewer() const { return viewer_.data(); }

 private:
  void render();
  void renderShots();
  void renderDay();
  void showDetails(int index);
  void openShot(int shot_index);
  const QImage& thumbnailOf(const std::string& path);
  void showError(const std::string& what, const Error& error);

  AgentApi& api_;
  nlohmann::json report_ = nlohmann::json::object();
  nlohmann::json status_ = nlohmann::json::object();
  nlohmann::json projects_ = nlohmann::json::object();
  ActivitySummary summary_;
  std::map<std::string, QImage> thumbs_;  // by path: each file decoded once per report, for the grid and the picture
  TimelineView* timeline_view_;
  QLabel* timeline_note_;
  QLabel* timeline_details_;
  QLabel* timeline_preview_;
  QPointer<QWidget> viewer_;
  QLabel* tracked_;
  QLabel* timeline_;
  QLabel* projects_label_;
  QLabel* apps_;
  QLabel* websites_;
  QLabel* idle_;
  QLabel* breaks_;
  QLabel* queue_;
  QLabel* error_;
  QWidget* shots_;
  QGridLayout* shots_layout_;
  QPushButton* refresh_;
};

}  // namespace wm::tray
