// Sign-in: email + password → the agent's `login` job (agent/src/sync_service.cpp), with the agent's errors
// turned into sentences a person can act on.
#pragma once

#include <QDialog>
#include <QString>

#include "agent_api.h"

class QLabel;
class QLineEdit;
class QPushButton;

namespace wm::tray {

/// Runs a sync job (`login`, `enroll`, `logout`, `sync`): sends cmd, then polls `sync_job` until it is done
/// (or timeout_ms passes). `done` gets the job's result or its error; nothing runs after `context` is gone.
void runSyncJob(AgentApi& api, QObject* context, const std::string& cmd, nlohmann::json args, AgentApi::Reply done,
                int timeout_ms = 60000);

/// What to tell the person when sign-in failed (wrong password, server unreachable, rate-limited, ...).
QString signInErrorText(const Error& e);

class SignInDialog : public QDialog {
  Q_OBJECT
 public:
  explicit SignInDialog(AgentApi& api, QWidget* parent = nullptr);
  /// The text of the error line (empty when none): for tests.
  QString errorText() const;
  void setCredentials(const QString& email, const QString& password);
  /// Same as pressing "Sign in".
  void submit();

 signals:
  void signedIn(const nlohmann::json& result);

 private:
  void finished(Result<nlohmann::json> r);

  AgentApi& api_;
  QLineEdit* email_;
  QLineEdit* password_;
  QLabel* error_;
  QPushButton* submit_;
};

}  // namespace wm::tray
