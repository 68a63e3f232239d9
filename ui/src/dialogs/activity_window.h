// "My activity": what was recorded about the person today (time per project, apps, websites, idle,
// breaks, screenshot thumbnails) from `report`, plus the upload queue from `status`.
#pragma once

#include <QWidget>
#include <nlohmann/json.hpp>

#include "agent_api.h"
#include "dialogs/dialog_models.h"

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

 private:
  void render();
  void renderShots();
  void showError(const std::string& what, const Error& error);

  AgentApi& api_;
  nlohmann::json report_ = nlohmann::json::object();
  nlohmann::json status_ = nlohmann::json::object();
  nlohmann::json projects_ = nlohmann::json::object();
  ActivitySummary summary_;
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
