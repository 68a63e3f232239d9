// What a person can read in the tray's windows, as text: the GUI tests (and --debug-ui) check the real tray
// through it. `visibleTexts` lists a window's words; WindowReporter prints, whenever it changes, each visible
// top-level window (its X window id, title and words) and where its named buttons and menu entries are on
// the screen, so a test can screenshot that very window and click a real button with xdotool.
#pragma once

#include <functional>
#include <map>

#include <QObject>
#include <QString>
#include <QStringList>

class QTimer;
class QWidget;

namespace wm::tray {

/// Labels, buttons and group titles visible in `root` (in widget order), line breaks folded to spaces.
QStringList visibleTexts(const QWidget* root);

/// One line per fact about the top-level windows now visible (menus included), e.g.
///   window consent_dialog xid=1234 title="WorkMonitor — your consent" texts: Before … | Accept | Decline
///   button consent_dialog/accept "Accept" at 512,400
///   item "My activity…" at 1800,120
QStringList describeWindows();

/// Polls describeWindows() and hands each new or changed line to `print`, and "window NAME hidden" when a
/// window closes. Only with --debug-ui: costs nothing otherwise.
class WindowReporter : public QObject {
  Q_OBJECT
 public:
  explicit WindowReporter(std::function<void(const QString&)> print, int interval_ms = 250, QObject* parent = nullptr);

 private:
  void poll();
  std::function<void(const QString&)> print_;
  QTimer* timer_;
  std::map<QString, QStringList> shown_;  // window name → its lines as last printed
};

}  // namespace wm::tray
