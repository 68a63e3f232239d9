// The consent question: what the company's profile collects and who can see it; Accept or Decline is sent
// to the agent as `consent` (nothing but the timer runs until the person accepts).
#pragma once

#include <QDialog>
#include <nlohmann/json.hpp>

#include "agent_api.h"
#include "dialogs/dialog_models.h"

class QLabel;
class QPushButton;
class QVBoxLayout;

namespace wm::tray {

class ConsentDialog : public QDialog {
  Q_OBJECT
 public:
  explicit ConsentDialog(AgentApi& api, QWidget* parent = nullptr);
  /// Shows status.consent; a new version (or new changes) replaces what is shown.
  void setConsent(const nlohmann::json& consent);
  const ConsentModel& model() const { return model_; }

 private:
  void answer(const char* decision);

  AgentApi& api_;
  ConsentModel model_;
  QLabel* title_;
  QLabel* intro_;
  QLabel* changes_;
  QLabel* items_;
  QLabel* who_;
  QLabel* note_;
  QLabel* error_;
  QPushButton* accept_;
  QPushButton* decline_;
  QPushButton* close_;
};

}  // namespace wm::tray
