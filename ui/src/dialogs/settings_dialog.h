// The person's settings as the agent reports them; values locked by the company are shown but disabled
// ("set by your company"); changing an unlocked one sends `set_setting` and shows the agent's error if any.
#pragma once

#include <QDialog>
#include <nlohmann/json.hpp>

#include "agent_api.h"
#include "dialogs/dialog_models.h"

class QFormLayout;
class QLabel;
class QWidget;

namespace wm::tray {

class SettingsDialog : public QDialog {
  Q_OBJECT
 public:
  explicit SettingsDialog(AgentApi& api, QWidget* parent = nullptr);
  /// Asks the agent for the settings again.
  void reload();
  const std::vector<SettingRow>& rows() const { return rows_; }

 private:
  void setRows(const nlohmann::json& reply);
  QWidget* editorFor(const SettingRow& row, QWidget* parent);
  void save(const std::string& key, nlohmann::json value);
  void showError(const std::string& message);

  AgentApi& api_;
  std::vector<SettingRow> rows_;
  nlohmann::json last_reply_ = nlohmann::json::object();
  QWidget* form_widget_ = nullptr;
  QLabel* status_;
  QLabel* error_;
};

}  // namespace wm::tray
