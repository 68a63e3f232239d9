// workmonitor-tray: the tray icon of the WorkMonitor agent. A client of the agent's control socket; it starts
// the agent when none runs, and quitting it leaves the agent running.
#include <cstdio>
#include <memory>

#include <QApplication>
#include <QCommandLineParser>
#include <QDir>
#include <QElapsedTimer>
#include <QFont>
#include <QStandardPaths>
#include <QSystemTrayIcon>
#include <QThread>
#include <QTimer>

#include "agent_link.h"
#include "dialogs/dialog_host.h"
#include "tray_app.h"
#include "window_report.h"
#include "workmonitor/agent/paths.h"
#include "workmonitor/platform/autostart.h"

namespace {

std::optional<std::filesystem::path> pathOpt(const QCommandLineParser& p, const QString& name) {
  if (!p.isSet(name)) return std::nullopt;
  return std::filesystem::path(p.value(name).toStdString());
}

}  // namespace

int main(int argc, char** argv) {
  QApplication app(argc, argv);
  QApplication::setApplicationName("workmonitor-tray");
  QApplication::setApplicationVersion(WM_VERSION);
  QApplication::setQuitOnLastWindowClosed(false);  // closing a dialog must not end the tray
  // Text in scripts that need no shaping (Latin, Greek, Cyrillic...: the tray's own words and most names) is
  // laid out by Qt directly, without kerning or ligatures; scripts that need shaping (Arabic, Indic...) still
  // go through HarfBuzz. Shaping every label would keep HarfBuzz's OpenType code and the font's shaping
  // tables resident in the tray (~0.5 MB) from the first window on, for a cosmetic difference.
  QFont font = QApplication::font();
  font.setStyleStrategy(QFont::PreferNoShaping);
  QApplication::setFont(font);

  QCommandLineParser parser;
  parser.setApplicationDescription("The WorkMonitor tray icon: timer, projects, breaks, sign-in.");
  parser.addHelpOption();
  parser.addVersionOption();
  parser.addOptions({
      {"socket", "The agent's control socket (default $XDG_RUNTIME_DIR/workmonitor/agent.sock).", "path"},
      {"state-dir", "The agent's state directory (passed to an agent the tray starts).", "dir"},
      {"config", "The agent's settings file (passed to an agent the tray starts).", "file"},
      {"agent-binary", "The workmonitor-agent to start when none runs (default: next to the tray, else PATH).", "path"},
      {"no-start-agent", "Do not start the agent when none runs."},
      {"no-autostart", "Do not register the tray to start at login on the first run."},
      {"tray-timeout", "Seconds to wait for a system tray to appear (default 30).", "s", "30"},
      {"debug-ui",
       "Print state changes and what each window shows, with where its buttons are, to stdout (for tests)."},
  });
  parser.process(app);

  const wm::agent::AgentPaths paths =
      wm::agent::resolvePaths(pathOpt(parser, "state-dir"), pathOpt(parser, "socket"), pathOpt(parser, "config"));
  QStringList passthrough;
  for (const char* flag : {"state-dir", "socket", "config"})
    if (parser.isSet(flag)) passthrough << QString("--") + flag << parser.value(flag);

  // The desktop's tray may come up after the session starts us: wait for it.
  const int timeout_ms = parser.value("tray-timeout").toInt() * 1000;
  QElapsedTimer waited;
  waited.start();
  while (!QSystemTrayIcon::isSystemTrayAvailable()) {
    if (waited.elapsed() >= timeout_ms) {
      std::fprintf(stderr,
                   "workmonitor-tray: no system tray appeared within %d s. The desktop needs a notification area "
                   "(system tray) for WorkMonitor's icon; the agent keeps tracking without it (`workmonitor-agent "
                   "status`).\n",
                   timeout_ms / 1000);
      return 2;
    }
    QThread::msleep(250);
    QCoreApplication::processEvents();
  }

  if (!parser.isSet("no-autostart")) {
    const QString marker =
        QDir(QStandardPaths::writableLocation(QStandardPaths::GenericConfigLocation)).filePath("workmonitor/tray.ini");
    auto autostart = wm::platform::makeAutostart();
    const QString what = wm::tray::enableAutostartOnFirstRun(
        *autostart, marker, QCoreApplication::applicationFilePath(), passthrough.join(' '));
    if (parser.isSet("debug-ui")) std::printf("wm-tray: %s\n", what.toUtf8().constData());
  }

  wm::tray::AgentLinkOptions lo;
  lo.socket = QString::fromStdString(paths.socket.string());
  lo.agent_args = passthrough;
  lo.agent_run_args = {"--quiet"};
  lo.agent_binary = parser.value("agent-binary");
  lo.start_agent = !parser.isSet("no-start-agent");
  wm::tray::AgentLink link(lo);

  auto dialogs = wm::tray::makeDialogHost(link);
  wm::tray::TrayAppOptions to;
  to.debug_ui = parser.isSet("debug-ui");
  wm::tray::TrayApp tray(link, dialogs.get(), to);
  tray.attach(link);
  QObject::connect(&tray, &wm::tray::TrayApp::quitRequested, &app, &QApplication::quit);
  std::unique_ptr<wm::tray::WindowReporter> reporter;
  if (to.debug_ui)
    reporter = std::make_unique<wm::tray::WindowReporter>([](const QString& line) {
      std::printf("wm-tray: %s\n", line.toUtf8().constData());
      std::fflush(stdout);
    });
  link.open();
  const int rc = QApplication::exec();
  if (to.debug_ui) std::printf("wm-tray: quit (the agent keeps running)\n");
  return rc;
}
