// The tray icon and its menu: shows what the agent reports (trayViewOf) and sends what the person picks
// (start/stop with a project and task, breaks, sync, sign-in...) through AgentApi. It holds no tracking state:
// everything it shows comes from the agent's status, events and project list.
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <string>

#include <QMenu>
#include <QObject>
#include <QPointer>
#include <QStringList>
#include <QSystemTrayIcon>
#include <nlohmann/json.hpp>

#include "agent_api.h"
#include "dialogs/dialog_host.h"
#include "sign_in_dialog.h"
#include "tray_state.h"

class QAction;

namespace wm::platform {
class Autostart;
}

namespace wm::tray {

class AgentLink;

struct TrayAppOptions {
  bool debug_ui = false;  // print the menu's texts and state changes to stdout (the GUI test reads them)
  bool show_icon = true;  // false in logic tests: no system tray needed
  int projects_refresh_ms = 5 * 60 * 1000;
};

class TrayApp : public QObject {
  Q_OBJECT
 public:
  /// dialogs may be null (then those windows do not open).
  TrayApp(AgentApi& api, DialogHost* dialogs, TrayAppOptions options = {}, QObject* parent = nullptr);
  ~TrayApp() override;

  /// Wires an AgentLink's signals to this (connected/disconnected/status/event).
  void attach(AgentLink& link);

  // What the agent says (AgentLink's signals, or a test).
  void setConnected(bool connected);
  void onStatus(const nlohmann::json& status);
  void onEvent(const QString& name, const nlohmann::json& data);
  void onProjects(const nlohmann::json& projects);

  // What the person picks (the menu's actions call these).
  void startTimer(const std::string& project_id, const std::string& task_id);
  void stopTimer();
  void takeBreak();
  void endBreak();
  void syncNow();
  void signIn();
  void signOut();
  void fetchProjects();

  QMenu* menu() { return &menu_; }
  QSystemTrayIcon* icon() { return icon_.get(); }
  const TrayView& view() const { return view_; }
  /// The texts of the visible menu entries, submenus as "Title ▸", one level deep ("Start ▸ Project / Task").
  QStringList menuTexts() const;
  /// The visible action with this text (searching submenus too), or null.
  QAction* findAction(const QString& text) const;
  /// Last message shown as a tray balloon (for tests).
  const QString& lastMessage() const { return last_message_; }
  SignInDialog* signInDialog() const { return sign_in_.data(); }

 signals:
  void quitRequested();

 private:
  void rebuildProjects();
  void refreshMenu();
  void notify(const QString& title, const QString& text, bool warning = false);
  void debugPrint(const QString& what) const;
  void send(const std::string& cmd, nlohmann::json args, const QString& what);
  void maybeOpenDialogs();

  AgentApi& api_;
  DialogHost* dialogs_;
  TrayAppOptions options_;
  QMenu menu_;
  QMenu* start_menu_ = nullptr;
  QAction* header_ = nullptr;
  QAction* problems_sep_ = nullptr;
  QAction* stop_ = nullptr;
  QAction* take_break_ = nullptr;
  QAction* end_break_ = nullptr;
  QAction* sync_now_ = nullptr;
  QAction* activity_ = nullptr;
  QAction* settings_ = nullptr;
  QAction* sign_in_action_ = nullptr;
  QAction* sign_out_ = nullptr;
  QAction* quit_sep_ = nullptr;
  QAction* quit_ = nullptr;
  std::vector<QAction*> problem_actions_;  // one disabled "⚠ ..." entry per TrayView problem
  std::unique_ptr<QSystemTrayIcon> icon_;
  QPointer<SignInDialog> sign_in_;
  bool connected_ = false;
  nlohmann::json status_;
  nlohmann::json projects_;  // the last `projects` result: shown (as cached) when the agent cannot refresh it
  QString projects_problem_;
  TrayView view_;
  std::optional<size_t> icon_key_;           // trayIconKey of the icon shown
  std::array<QIcon, kTrayIconCount> icons_;  // by trayIconKey (state and badge), drawn on first use
  std::string consent_shown_;                // version of the consent question already opened
  std::string idle_shown_;                   // idle_id of the idle question already opened
  QString last_message_;
  QString last_state_line_;  // --debug-ui: printed when it changes
  QTimer* projects_timer_ = nullptr;
};

/// On the tray's first run (no marker in `settings_file`), registers the tray to start at login and writes
/// the marker; later runs leave the person's choice alone. Returns what it did, for the log.
QString enableAutostartOnFirstRun(platform::Autostart& autostart, const QString& settings_file,
                                  const QString& executable, const QString& args);

}  // namespace wm::tray
