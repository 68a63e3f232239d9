// The idle-return question: "You were idle from 10:02 to 10:19 (17 min)" and the choices the profile
// allows; the answer goes to the agent as `idle_decision` with the idle period's id.
#pragma once

#include <QDialog>
#include <nlohmann/json.hpp>

#include "agent_api.h"
#include "dialogs/dialog_models.h"

class QComboBox;
class QLabel;
class QPushButton;
class QVBoxLayout;
class QWidget;

namespace wm::tray {

class IdleReturnDialog : public QDialog {
  Q_OBJECT
 public:
  explicit IdleReturnDialog(AgentApi& api, QWidget* parent = nullptr);
  /// Shows status.idle_pending or an idle_return event (replacing an earlier question).
  void setQuestion(const nlohmann::json& idle_pending);
  const IdleModel& model() const { return model_; }

 private:
  void decide(const std::string& decision, nlohmann::json extra = nlohmann::json::object());
  void makePicker();
  void showPicker();
  void fillProjects(const nlohmann::json& reply);
  void fillTasks();
  void setBusy(bool busy);

  AgentApi& api_;
  IdleModel model_;
  nlohmann::json projects_;  // the `projects` reply's list
  QLabel* sentence_;
  QLabel* default_note_;
  QLabel* error_;
  QVBoxLayout* choice_layout_;
  QWidget* choices_;
  QWidget* picker_ = nullptr;  // the project picker and its parts: made on the first "reassign"
  QLabel* picker_note_ = nullptr;
  QComboBox* project_ = nullptr;
  QComboBox* task_ = nullptr;
  QPushButton* reassign_confirm_ = nullptr;
};

}  // namespace wm::tray
