#include "tray_app.h"

#include <cstdio>

#include <QAction>
#include <QCursor>
#include <QFont>
#include <QSettings>
#include <QTimer>

#include "agent_link.h"
#include "json_fields.h"
#include "memory_release.h"
#include "sign_in_dialog.h"
#include "workmonitor/platform/autostart.h"

namespace wm::tray {

using nlohmann::json;

namespace {

using jf::field;
using jf::str;

QString q(const std::string& s) { return QString::fromStdString(s); }

// Menu texts may hold '&' (a project called "R&D"): shown literally, not as a mnemonic.
QString literal(const std::string& s) { return q(s).replace('&', "&&"); }

void collectTexts(const QMenu& menu, const QString& prefix, QStringList& out) {
  for (QAction* a : menu.actions()) {
    if (!a->isVisible() || a->isSeparator()) continue;
    QString text = a->text();
    text.replace("&&", "\x01").remove('&').replace('\x01', '&');
    if (a->menu() != nullptr) {
      out << prefix + text + " ▸";
      collectTexts(*a->menu(), prefix + text + " ▸ ", out);
    } else {
      out << prefix + text;
    }
  }
}

QAction* findIn(const QMenu& menu, const QString& text) {
  for (QAction* a : menu.actions()) {
    if (!a->isVisible() || a->isSeparator()) continue;
    QString t = a->text();
    t.replace("&&", "\x01").remove('&').replace('\x01', '&');
    if (t == text) return a;
    if (a->menu() != nullptr)
      if (QAction* inner = findIn(*a->menu(), text)) return inner;
  }
  return nullptr;
}

}  // namespace

TrayApp::TrayApp(AgentApi& api, DialogHost* dialogs, TrayAppOptions options, QObject* parent)
    : QObject(parent), api_(api), dialogs_(dialogs), options_(options) {
  // The title says what is recorded now: bold and enabled so it reads plainly (a disabled entry is greyed
  // out); picking it shows what was recorded ("My activity").
  header_ = menu_.addAction("WorkMonitor", this, [this] {
    if (dialogs_) dialogs_->showMyActivity();
  });
  QFont bold = header_->font();
  bold.setBold(true);
  header_->setFont(bold);
  problems_sep_ = menu_.addSeparator();
  start_menu_ = menu_.addMenu("Start timer");
  stop_ = menu_.addAction("Stop timer", this, &TrayApp::stopTimer);
  take_break_ = menu_.addAction("Take a break", this, &TrayApp::takeBreak);
  end_break_ = menu_.addAction("End break", this, &TrayApp::endBreak);
  menu_.addSeparator();
  sync_now_ = menu_.addAction("Sync now", this, &TrayApp::syncNow);
  activity_ = menu_.addAction("My activity…", this, [this] {
    if (dialogs_) dialogs_->showMyActivity();
  });
  settings_ = menu_.addAction("Settings…", this, [this] {
    if (dialogs_) dialogs_->showSettings();
  });
  sign_in_action_ = menu_.addAction("Sign in…", this, &TrayApp::signIn);
  sign_out_ = menu_.addAction("Sign out", this, &TrayApp::signOut);
  quit_sep_ = menu_.addSeparator();
  quit_ = menu_.addAction("Quit WorkMonitor", this, [this] { emit quitRequested(); });

  connect(&menu_, &QMenu::aboutToShow, this, [this] {
    if (options_.debug_ui) debugPrint("menu: " + menuTexts().join(" | "));
  });
  projects_timer_ = new QTimer(this);
  projects_timer_->setInterval(options_.projects_refresh_ms);
  connect(projects_timer_, &QTimer::timeout, this, &TrayApp::fetchProjects);

  if (options_.show_icon) {
    icon_ = std::make_unique<QSystemTrayIcon>();
    icon_->setContextMenu(&menu_);
    // A left click opens the menu too (on X11 only the right button does by default).
    connect(icon_.get(), &QSystemTrayIcon::activated, this, [this](QSystemTrayIcon::ActivationReason why) {
      if (why == QSystemTrayIcon::Trigger) menu_.popup(QCursor::pos());
    });
  }
  rebuildProjects();
  view_ = trayViewOf(status_, connected_, projects_);
  refreshMenu();
  if (icon_) {
    icon_->show();
    if (options_.debug_ui) debugPrint("icon shown");
  }
}

TrayApp::~TrayApp() = default;

void TrayApp::attach(AgentLink& link) {
  connect(&link, &AgentLink::connected, this, [this] { setConnected(true); });
  connect(&link, &AgentLink::disconnected, this, [this] { setConnected(false); });
  connect(&link, &AgentLink::status, this, &TrayApp::onStatus);
  connect(&link, &AgentLink::event, this, &TrayApp::onEvent);
  connect(&link, &AgentLink::agentStarted, this, [this](qint64 pid, const QString& problem) {
    if (pid <= 0) notify("WorkMonitor agent", problem, true);
    if (options_.debug_ui) debugPrint(pid > 0 ? "started the agent, pid " + QString::number(pid) : problem);
  });
  if (link.isConnected()) setConnected(true);
}

void TrayApp::setConnected(bool connected) {
  if (connected_ == connected) return;
  connected_ = connected;
  if (options_.debug_ui) debugPrint(connected ? "connected" : "disconnected");
  if (connected) {
    fetchProjects();
    projects_timer_->start();
  } else {
    projects_timer_->stop();
    status_ = json();
  }
  view_ = trayViewOf(status_, connected_, projects_);
  refreshMenu();
}

void TrayApp::onStatus(const json& status) {
  if (!status.is_object()) return;
  status_ = status;
  view_ = trayViewOf(status_, connected_, projects_);
  refreshMenu();
  maybeOpenDialogs();
}

void TrayApp::maybeOpenDialogs() {
  const json& consent = field(status_, "consent");
  if (jf::flag(consent, "required")) {
    const std::string key = field(consent, "version").dump();
    if (key != consent_shown_) {
      consent_shown_ = key;
      if (dialogs_) dialogs_->showConsent(consent);
    }
  } else {
    consent_shown_.clear();
  }
  const json& idle = field(status_, "idle_pending");
  if (idle.is_object()) {
    const std::string id = field(idle, "idle_id").dump();
    if (id != idle_shown_) {
      idle_shown_ = id;
      if (dialogs_) dialogs_->showIdleReturn(idle);
    }
  } else if (!idle_shown_.empty()) {
    idle_shown_.clear();
    if (dialogs_) dialogs_->closeIdleReturn();
  }
}

void TrayApp::onEvent(const QString& name, const json& data) {
  if (options_.debug_ui) debugPrint("event: " + name);
  if (name == "idle_return") {
    const std::string id = field(data, "idle_id").dump();
    if (id != idle_shown_) {
      idle_shown_ = id;
      if (dialogs_) dialogs_->showIdleReturn(data);
    }
  } else if (name == "idle_resolved") {
    idle_shown_.clear();
    if (dialogs_) dialogs_->closeIdleReturn();
  } else if (name == "screenshot") {
    if (dialogs_) dialogs_->showScreenshotNotice(data);
  } else if (name == "state" && data.is_object() && data.contains("state")) {
    // The event is status-like: show it at once; the full status follows (AgentLink asks for it).
    json merged = status_.is_object() ? status_ : json::object();
    for (auto it = data.begin(); it != data.end(); ++it) merged[it.key()] = it.value();
    onStatus(merged);
  }
}

void TrayApp::onProjects(const json& projects) {
  if (!projects.is_object() || !projects.contains("projects")) return;
  projects_ = projects;
  projects_problem_.clear();
  rebuildProjects();
  view_ = trayViewOf(status_, connected_, projects_);
  refreshMenu();
}

void TrayApp::fetchProjects() {
  QPointer<TrayApp> self(this);
  api_.call("projects", json::object(), [self](Result<json> r) {
    if (!self) return;
    if (r) {
      self->onProjects(*r);
      return;
    }
    self->projects_problem_ = q(r.error().message);
    self->rebuildProjects();
  });
}

void TrayApp::rebuildProjects() {
  start_menu_->clear();
  const json& list = field(projects_, "projects");
  if (jf::flag(projects_, "offline") || (!projects_problem_.isEmpty() && list.is_array())) {
    QAction* note = start_menu_->addAction("Offline: list from " + literal(str(projects_, "fetched_at")));
    note->setEnabled(false);
  }
  if (list.is_array() && !list.empty()) {
    for (const auto& p : list) {
      const std::string pid = str(p, "id");
      const std::string name = str(p, "name").empty() ? pid : str(p, "name");
      const json& tasks = field(p, "tasks");
      if (tasks.is_array() && !tasks.empty()) {
        QMenu* sub = start_menu_->addMenu(literal(name));
        sub->addAction("(no task)", this, [this, pid] { startTimer(pid, ""); });
        for (const auto& t : tasks) {
          const std::string tid = str(t, "id");
          sub->addAction(literal(str(t, "name").empty() ? tid : str(t, "name")), this,
                         [this, pid, tid] { startTimer(pid, tid); });
        }
      } else {
        start_menu_->addAction(literal(name), this, [this, pid] { startTimer(pid, ""); });
      }
    }
    start_menu_->addSeparator();
  } else if (!projects_problem_.isEmpty()) {
    QAction* note = start_menu_->addAction("No project list: " + projects_problem_);
    note->setEnabled(false);
  }
  start_menu_->addAction("Without a project", this, [this] { startTimer("", ""); });
}

void TrayApp::refreshMenu() {
  const std::string state = str(status_, "state");
  const bool timer = field(status_, "timer").is_object();
  const json& sync = field(status_, "sync");
  const bool sync_mode = str(sync, "mode") == "sync";
  const bool signed_in = str(sync, "auth") == "signed_in";
  const json& allow = field(field(status_, "agent"), "allow_quit");

  // The first entry says what is recorded now; problems come after it and never replace it.
  header_->setText(literal(view_.title) +
                   (view_.today_ms > 0 || timer ? " · " + q(formatDuration(view_.today_ms)) : QString()));
  header_->setEnabled(connected_ && dialogs_ != nullptr);
  for (QAction* a : problem_actions_) {
    menu_.removeAction(a);
    a->deleteLater();
  }
  problem_actions_.clear();
  for (const auto& problem : view_.problems) {
    auto* a = new QAction("⚠ " + literal(problem.text), &menu_);
    a->setEnabled(false);
    menu_.insertAction(problems_sep_, a);
    problem_actions_.push_back(a);
  }

  start_menu_->menuAction()->setVisible(state != "tracking" && state != "idle");
  // After a decline the agent refuses a timer (only a new consent answer changes that): not offered.
  start_menu_->setEnabled(connected_ && view_.state != TrayState::kConsentDeclined);
  stop_->setVisible(timer || state == "tracking");
  take_break_->setVisible(state != "on_break");
  end_break_->setVisible(state == "on_break");
  sync_now_->setEnabled(connected_ && sync_mode);
  sign_in_action_->setVisible(!signed_in);
  sign_out_->setVisible(signed_in);
  for (QAction* a : {stop_, take_break_, end_break_, activity_, settings_, sign_in_action_, sign_out_})
    a->setEnabled(connected_);
  // Quit hidden only when the agent says so (company profile `allow_quit: false`).
  const bool allow_quit = !(allow.is_boolean() && !allow.get<bool>());
  quit_->setVisible(allow_quit);
  quit_sep_->setVisible(allow_quit);

  const size_t key = trayIconKey(view_.state, view_.badge());
  if (icon_) {
    // One QIcon per state and badge, drawn once: a new QIcon each time would fill QPixmapCache with copies
    // (the benchmark saw the RSS creep by ~6 MB/h with the state changing every second).
    if (icon_key_ != key) {
      if (icons_[key].isNull()) icons_[key] = trayIcon(view_.state, view_.badge());
      icon_->setIcon(icons_[key]);
    }
    icon_->setToolTip(q(view_.tooltip));
  }
  icon_key_ = key;
  if (options_.debug_ui) {
    QStringList why;
    for (const auto& p : view_.problems) why << QString(trayProblemName(p.kind)) + ": " + q(p.text);
    const QString line = QString("state: ") + trayStateName(view_.state) + " — " + q(view_.title) +
                         (why.isEmpty() ? "" : " (" + why.join("; ") + ")");
    if (line != last_state_line_) debugPrint(line);
    last_state_line_ = line;
  }
}

void TrayApp::send(const std::string& cmd, json args, const QString& what) {
  QPointer<TrayApp> self(this);
  api_.call(cmd, std::move(args), [self, what](Result<json> r) {
    if (!self) return;
    if (!r) {
      self->notify(what + " failed", q(r.error().message), true);
      return;
    }
    if (r->is_object() && r->contains("state")) self->onStatus(*r);
  });
}

void TrayApp::startTimer(const std::string& project_id, const std::string& task_id) {
  json args = json::object();
  if (!project_id.empty()) args["project_id"] = project_id;
  if (!task_id.empty()) args["task_id"] = task_id;
  send("start", std::move(args), "Start");
}
void TrayApp::stopTimer() { send("stop", json::object(), "Stop"); }
void TrayApp::takeBreak() { send("break_start", json::object(), "Break"); }
void TrayApp::endBreak() { send("break_end", json::object(), "End of break"); }

void TrayApp::syncNow() {
  QPointer<TrayApp> self(this);
  runSyncJob(api_, this, "sync", json::object(), [self](Result<json> r) {
    if (!self) return;
    if (r)
      self->notify("Sync", "Everything queued was uploaded.");
    else
      self->notify("Sync failed", q(r.error().message), true);
    self->api_.call("status", json::object(), [self](Result<json> s) {
      if (self && s) self->onStatus(*s);
    });
  });
}

void TrayApp::signIn() {
  if (!sign_in_) {
    sign_in_ = new SignInDialog(api_);
    sign_in_->setAttribute(Qt::WA_DeleteOnClose);
    releaseMemoryAfter(sign_in_.data());
    connect(sign_in_.data(), &SignInDialog::signedIn, this, [this](const json&) {
      notify("WorkMonitor", "Signed in.");
      QPointer<TrayApp> self(this);
      api_.call("status", json::object(), [self](Result<json> s) {
        if (self && s) self->onStatus(*s);
      });
    });
  }
  sign_in_->show();
  sign_in_->raise();
  sign_in_->activateWindow();
}

void TrayApp::signOut() {
  QPointer<TrayApp> self(this);
  runSyncJob(api_, this, "logout", json::object(), [self](Result<json> r) {
    if (!self) return;
    if (r)
      self->notify("WorkMonitor", "Signed out. Records stay on this computer until you sign in again.");
    else
      self->notify("Sign-out failed", q(r.error().message), true);
    self->api_.call("status", json::object(), [self](Result<json> s) {
      if (self && s) self->onStatus(*s);
    });
  });
}

QStringList TrayApp::menuTexts() const {
  QStringList out;
  collectTexts(menu_, QString(), out);
  return out;
}

QAction* TrayApp::findAction(const QString& text) const { return findIn(menu_, text); }

void TrayApp::notify(const QString& title, const QString& text, bool warning) {
  last_message_ = title + ": " + text;
  if (options_.debug_ui) debugPrint("message: " + last_message_);
  if (icon_ && icon_->isVisible() && QSystemTrayIcon::supportsMessages())
    icon_->showMessage(title, text, warning ? QSystemTrayIcon::Warning : QSystemTrayIcon::Information, 6000);
}

void TrayApp::debugPrint(const QString& what) const {
  std::printf("wm-tray: %s\n", what.toUtf8().constData());
  std::fflush(stdout);
}

QString enableAutostartOnFirstRun(platform::Autostart& autostart, const QString& settings_file,
                                  const QString& executable, const QString& args) {
  QSettings settings(settings_file, QSettings::IniFormat);
  if (settings.value("autostart/initialized", false).toBool()) return "autostart: left as the person chose";
  auto r = autostart.enable(executable.toStdString(), args.toStdString());
  if (!r) return "autostart: " + q(r.error().message);
  settings.setValue("autostart/initialized", true);
  settings.sync();
  return "autostart: enabled at login";
}

}  // namespace wm::tray
