#include "window_report.h"

#include <QAbstractButton>
#include <QAction>
#include <QApplication>
#include <QGroupBox>
#include <QLabel>
#include <QMenu>
#include <QTimer>
#include <QWidget>

namespace wm::tray {
namespace {

QString folded(QString s) {
  s.replace('\n', ' ');
  return s.simplified();
}

QString menuText(const QAction* a) {
  QString text = a->text();
  return text.replace("&&", "\x01").remove('&').replace('\x01', '&');
}

QString at(const QWidget* w, QPoint local) {
  const QPoint p = w->mapToGlobal(local);
  return QString("at %1,%2").arg(p.x()).arg(p.y());
}

// One word naming a top-level window: its object name, else "menu" / "menu:Start_timer" for the tray's
// menu and its submenus, else its class.
QString nameOf(const QWidget* w) {
  if (!w->objectName().isEmpty()) return w->objectName();
  if (const auto* menu = qobject_cast<const QMenu*>(w))
    return menu->title().isEmpty() ? QStringLiteral("menu") : "menu:" + menuText(menu->menuAction()).replace(' ', '_');
  return QString::fromLatin1(w->metaObject()->className());
}

}  // namespace

QStringList visibleTexts(const QWidget* root) {
  QStringList parts;
  // findChildren walks in creation order; that is close enough to reading order for these dialogs.
  for (const QWidget* w : root->findChildren<QWidget*>()) {
    if (!w->isVisibleTo(root)) continue;
    QString text;
    if (const auto* l = qobject_cast<const QLabel*>(w))
      text = l->text();
    else if (const auto* b = qobject_cast<const QAbstractButton*>(w))
      text = b->text();
    else if (const auto* g = qobject_cast<const QGroupBox*>(w))
      text = g->title();
    text = folded(text);
    if (!text.isEmpty()) parts << text;
  }
  return parts;
}

QStringList describeWindows() {
  QStringList lines;
  for (QWidget* w : QApplication::topLevelWidgets()) {
    if (!w->isVisible()) continue;
    const QString name = nameOf(w);
    if (const auto* menu = qobject_cast<const QMenu*>(w)) {
      QStringList items;
      for (QAction* a : menu->actions())
        if (a->isVisible() && !a->isSeparator()) items << menuText(a);
      lines << QString("window %1 xid=%2 title=\"\" texts: %3").arg(name).arg(w->winId()).arg(items.join(" | "));
      for (QAction* a : menu->actions())
        if (a->isVisible() && !a->isSeparator() && a->isEnabled())
          lines << QString("item \"%1\" %2").arg(menuText(a), at(w, menu->actionGeometry(a).center()));
      continue;
    }
    lines << QString("window %1 xid=%2 title=\"%3\" texts: %4")
                 .arg(name)
                 .arg(w->winId())
                 .arg(w->windowTitle(), visibleTexts(w).join(" | "));
    for (const QAbstractButton* b : w->findChildren<QAbstractButton*>()) {
      if (b->objectName().isEmpty() || !b->isVisibleTo(w) || !b->isEnabled()) continue;
      lines
          << QString("button %1/%2 \"%3\" %4").arg(name, b->objectName(), folded(b->text()), at(b, b->rect().center()));
    }
  }
  return lines;
}

WindowReporter::WindowReporter(std::function<void(const QString&)> print, int interval_ms, QObject* parent)
    : QObject(parent), print_(std::move(print)), timer_(new QTimer(this)) {
  timer_->setInterval(interval_ms);
  connect(timer_, &QTimer::timeout, this, &WindowReporter::poll);
  timer_->start();
}

void WindowReporter::poll() {
  std::map<QString, QStringList> now;
  QString current;
  for (const QString& line : describeWindows()) {
    if (line.startsWith("window ")) current = line.section(' ', 1, 1);
    now[current] << line;
  }
  for (const auto& [name, lines] : shown_)
    if (!now.contains(name)) print_("window " + name + " hidden");
  for (const auto& [name, lines] : now) {
    auto old = shown_.find(name);
    if (old != shown_.end() && old->second == lines) continue;
    for (const QString& line : lines) print_(line);
  }
  shown_ = std::move(now);
}

}  // namespace wm::tray
