#include "tray_state.h"

#include "json_fields.h"

#include <QPainter>
#include <QPainterPath>
#include <QPixmap>

namespace wm::tray {

using nlohmann::json;

namespace {

using jf::field;
using jf::num;
using jf::str;

bool truthy(const json& j, const char* key) { return jf::flag(j, key); }

// Project (and task) name from the `projects` result, else the ids.
std::string projectLabel(const json& timer, const json& projects) {
  const std::string pid = str(timer, "project_id"), tid = str(timer, "task_id");
  std::string project = pid, task = tid;
  const json& list = field(projects, "projects");
  if (list.is_array()) {
    for (const auto& p : list) {
      if (str(p, "id") != pid) continue;
      if (!str(p, "name").empty()) project = str(p, "name");
      const json& tasks = field(p, "tasks");
      if (tasks.is_array())
        for (const auto& t : tasks)
          if (str(t, "id") == tid && !str(t, "name").empty()) task = str(t, "name");
    }
  }
  if (project.empty()) project = "no project";
  return task.empty() ? project : project + " / " + task;
}

std::vector<std::string> attentionReasons(const json& s) {
  std::vector<std::string> why;
  const json& sync = field(s, "sync");
  const json& agent = field(s, "agent");
  const json& consent = field(s, "consent");
  if (truthy(consent, "required")) why.push_back("Consent needed: monitoring waits for your answer");
  if (str(sync, "auth") == "sign_in_needed") {
    const std::string p = str(sync, "auth_problem");
    why.push_back("Sign-in needed" + (p.empty() ? std::string() : ": " + p));
  }
  const std::string display = str(agent, "display");
  if (!display.empty() && display != "ok") why.push_back("Display: " + display);
  // An upload error while the server answers (offline alone is the Offline state, not an error).
  const std::string last_error = str(sync, "last_error");
  if (!last_error.empty() && truthy(sync, "online")) why.push_back("Upload problem: " + last_error);
  if (!str(sync, "profile_problem").empty()) why.push_back("Company profile: " + str(sync, "profile_problem"));
  const int64_t quarantined = num(field(s, "outbox"), "quarantined");
  const json& recent = field(sync, "recent_quarantine");
  if (quarantined > 0 || (recent.is_array() && !recent.empty()))
    why.push_back(std::to_string(quarantined > 0 ? quarantined : static_cast<int64_t>(recent.size())) +
                  " record(s) refused by the server (quarantined)");
  return why;
}

}  // namespace

const char* trayStateName(TrayState s) {
  switch (s) {
    case TrayState::kNotTracking:
      return "not_tracking";
    case TrayState::kTracking:
      return "tracking";
    case TrayState::kIdle:
      return "idle";
    case TrayState::kOnBreak:
      return "on_break";
    case TrayState::kOffline:
      return "offline";
    case TrayState::kAttention:
      return "attention";
  }
  return "not_tracking";
}

std::string formatDuration(int64_t ms) {
  if (ms < 0) ms = 0;
  const int64_t minutes = ms / 60'000;
  const int64_t m = minutes % 60;
  return std::to_string(minutes / 60) + ":" + (m < 10 ? "0" : "") + std::to_string(m);
}

TrayView trayViewOf(const json& status, bool connected, const json& projects) {
  TrayView v;
  if (!connected || !status.is_object()) {
    v.state = TrayState::kAttention;
    v.attention.push_back("The WorkMonitor agent is not running");
    v.tooltip = "WorkMonitor: the agent is not running";
    return v;
  }
  const std::string state = str(status, "state");
  const json& timer = field(status, "timer");
  if (timer.is_object()) v.project = projectLabel(timer, projects);
  v.today_ms = status.contains("today_ms") ? num(status, "today_ms") : num(timer, "elapsed_ms");

  if (state == "tracking")
    v.state = TrayState::kTracking;
  else if (state == "idle")
    v.state = TrayState::kIdle;
  else if (state == "on_break")
    v.state = TrayState::kOnBreak;
  else
    v.state = TrayState::kNotTracking;

  const json& sync = field(status, "sync");
  const bool offline = str(sync, "mode") == "sync" && sync.contains("online") && !truthy(sync, "online") &&
                       num(field(status, "outbox"), "pending") > 0;
  v.attention = attentionReasons(status);
  if (!v.attention.empty())
    v.state = TrayState::kAttention;
  else if (offline)
    v.state = TrayState::kOffline;

  std::string line1;
  switch (state == "tracking"   ? TrayState::kTracking
          : state == "idle"     ? TrayState::kIdle
          : state == "on_break" ? TrayState::kOnBreak
                                : TrayState::kNotTracking) {
    case TrayState::kTracking:
      line1 = "Tracking: " + v.project;
      break;
    case TrayState::kIdle:
      line1 = "Idle" + (v.project.empty() ? std::string() : " (timer: " + v.project + ")");
      break;
    case TrayState::kOnBreak:
      line1 = "On a break";
      break;
    default:
      line1 = "Not tracking";
  }
  v.tooltip = "WorkMonitor — " + line1;
  v.tooltip += status.contains("today_ms") ? "\nToday: " + formatDuration(v.today_ms)
               : timer.is_object()         ? "\nThis entry: " + formatDuration(v.today_ms)
                                           : std::string();
  if (offline)
    v.tooltip += "\nOffline: " + std::to_string(num(field(status, "outbox"), "pending")) + " record(s) queued";
  for (const auto& a : v.attention) v.tooltip += "\n⚠ " + a;
  return v;
}

QIcon trayIcon(TrayState s) {
  QIcon icon;
  for (int size : {16, 22, 24, 32, 48}) {
    QPixmap pm(size, size);
    pm.fill(Qt::transparent);
    QPainter p(&pm);
    p.setRenderHint(QPainter::Antialiasing);
    const qreal m = size * 0.08;
    const QRectF r(m, m, size - 2 * m, size - 2 * m);
    p.setPen(QPen(QColor(40, 40, 40), qMax(1.0, size / 16.0)));
    switch (s) {
      case TrayState::kTracking: {  // green disc with a "play" triangle
        p.setBrush(QColor(46, 160, 67));
        p.drawEllipse(r);
        QPainterPath tri;
        tri.moveTo(r.left() + r.width() * 0.38, r.top() + r.height() * 0.28);
        tri.lineTo(r.left() + r.width() * 0.74, r.center().y());
        tri.lineTo(r.left() + r.width() * 0.38, r.top() + r.height() * 0.72);
        tri.closeSubpath();
        p.fillPath(tri, Qt::white);
        break;
      }
      case TrayState::kNotTracking:  // grey hollow ring
        p.setBrush(QColor(150, 150, 150));
        p.drawEllipse(r);
        p.setBrush(Qt::white);
        p.drawEllipse(r.adjusted(size * 0.25, size * 0.25, -size * 0.25, -size * 0.25));
        break;
      case TrayState::kIdle:  // amber disc, "z" bar
        p.setBrush(QColor(230, 170, 30));
        p.drawEllipse(r);
        p.fillRect(QRectF(r.left() + r.width() * 0.3, r.center().y() - size * 0.06, r.width() * 0.4, size * 0.12),
                   Qt::white);
        break;
      case TrayState::kOnBreak:  // blue rounded square with pause bars
        p.setBrush(QColor(50, 110, 210));
        p.drawRoundedRect(r, size * 0.2, size * 0.2);
        p.fillRect(QRectF(r.left() + r.width() * 0.3, r.top() + r.height() * 0.25, r.width() * 0.14, r.height() * 0.5),
                   Qt::white);
        p.fillRect(QRectF(r.left() + r.width() * 0.56, r.top() + r.height() * 0.25, r.width() * 0.14, r.height() * 0.5),
                   Qt::white);
        break;
      case TrayState::kOffline: {  // dark grey square with a diagonal slash
        p.setBrush(QColor(90, 90, 90));
        p.drawRect(r);
        p.setPen(QPen(Qt::white, qMax(1.5, size / 10.0)));
        p.drawLine(r.topLeft() + QPointF(size * 0.2, size * 0.2), r.bottomRight() - QPointF(size * 0.2, size * 0.2));
        break;
      }
      case TrayState::kAttention: {  // red triangle with "!"
        QPainterPath tri;
        tri.moveTo(r.center().x(), r.top());
        tri.lineTo(r.right(), r.bottom());
        tri.lineTo(r.left(), r.bottom());
        tri.closeSubpath();
        p.setBrush(QColor(210, 40, 40));
        p.drawPath(tri);
        p.fillRect(QRectF(r.center().x() - size * 0.05, r.top() + r.height() * 0.35, size * 0.1, r.height() * 0.33),
                   Qt::white);
        p.fillRect(QRectF(r.center().x() - size * 0.05, r.top() + r.height() * 0.76, size * 0.1, size * 0.1),
                   Qt::white);
        break;
      }
    }
    p.end();
    icon.addPixmap(pm);
  }
  return icon;
}

}  // namespace wm::tray
