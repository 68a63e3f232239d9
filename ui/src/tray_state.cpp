#include "tray_state.h"

#include <algorithm>

#include <QDateTime>
#include <QPainter>
#include <QPainterPath>
#include <QPixmap>

#include "json_fields.h"

namespace wm::tray {

using nlohmann::json;

namespace {

using jf::field;
using jf::flag;
using jf::num;
using jf::str;

// ---- the one table: every state's name and words (its icon is drawStateShape's case for it) ----

constexpr std::array<TrayStateInfo, kTrayStateCount> kStates = {{
    {TrayState::kAgentNotRunning, "agent_not_running", "Agent not running — nothing is recorded",
     "The WorkMonitor agent does not answer: nothing is recorded on this computer until it runs again"},
    {TrayState::kTracking, "tracking", "Timer running: %1", "Your time and the apps in front are recorded"},
    {TrayState::kAutoTracking, "auto_tracking", "Recording automatically — apps in front are recorded",
     "No timer needed: your time and the apps in front are recorded while you are active"},
    {TrayState::kIdle, "idle", "Idle — nothing is recorded while you are away",
     "When you are back you will be asked what this time was"},
    {TrayState::kIdleDecisionPending, "idle_decision_pending", "%1 — waiting for your answer about the idle time",
     "Answer in the idle window; without an answer your company's default applies"},
    {TrayState::kOnBreak, "on_break", "On a break — nothing is recorded", "End the break from this menu"},
    {TrayState::kLocked, "locked", "Paused: screen locked — nothing is recorded",
     "Nothing is recorded while the screen is locked"},
    {TrayState::kAsleep, "asleep", "Paused: the computer went to sleep — nothing is recorded",
     "Nothing is recorded while the computer sleeps"},
    {TrayState::kConsentNeeded, "consent_needed", "Waiting for your consent — nothing is monitored until you answer",
     "Only a timer you start runs (its time, no apps) until you answer the consent question"},
    {TrayState::kConsentDeclined, "consent_declined", "Monitoring declined — nothing is recorded",
     "You declined monitoring on this computer: no timer, no apps (to change that: workmonitor-agent consent "
     "--grant)"},
    {TrayState::kNotTracking, "not_tracking", "Not tracking — nothing is recorded",
     "Start a timer from this menu to record your time and the apps in front"},
}};

// Row i describes state i: adding a state to the enum without its row here does not compile.
constexpr bool tableInEnumOrder() {
  for (size_t i = 0; i < kStates.size(); ++i)
    if (static_cast<size_t>(kStates[i].state) != i) return false;
  return true;
}
static_assert(kStates.size() == kTrayStateCount, "every TrayState needs its row in kStates");
static_assert(tableInEnumOrder(), "kStates rows must be in TrayState order");

constexpr std::array<const char*, kTrayProblemCount> kProblemNames = {"consent", "sign_in", "sync_failing", "offline",
                                                                      "attention"};

template <typename E, size_t N>
constexpr std::array<E, N> enumerate() {
  std::array<E, N> out{};
  for (size_t i = 0; i < N; ++i) out[i] = static_cast<E>(i);
  return out;
}
constexpr auto kAllStates = enumerate<TrayState, kTrayStateCount>();
constexpr auto kAllProblems = enumerate<TrayProblem, kTrayProblemCount>();

std::string replaced(std::string text, const std::string& with) {
  if (const auto at = text.find("%1"); at != std::string::npos) text.replace(at, 2, with);
  return text;
}

std::string records(int64_t n) { return std::to_string(n) + (n == 1 ? " record" : " records"); }
std::string recordsWait(int64_t n) { return records(n) + (n == 1 ? " waits" : " wait"); }

// An agent time ("2026-12-03T10:42:00.000Z") as the person's local "10:42"; empty when unreadable.
std::string localClock(const std::string& utc) {
  const QDateTime t = QDateTime::fromString(QString::fromStdString(utc), Qt::ISODateWithMs);
  return t.isValid() ? t.toLocalTime().toString("HH:mm").toStdString() : std::string();
}

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

// Whether the agent says it records the apps in front; an agent without the field is taken at its state.
bool recordingApps(const json& s, bool by_state) {
  const json& r = field(s, "recording_apps");
  return r.is_boolean() ? r.get<bool>() : by_state;
}

TrayState stateOf(const json& s) {
  const std::string state = str(s, "state");
  const std::string idle_reason = str(field(s, "idle"), "reason");
  const json& consent = field(s, "consent");
  if (state == "on_break") return TrayState::kOnBreak;
  if (flag(s, "locked") || (state == "idle" && (idle_reason == "lock" || idle_reason == "locked")))
    return TrayState::kLocked;
  if (state == "idle" && idle_reason == "suspend") return TrayState::kAsleep;
  if (state == "idle") return TrayState::kIdle;
  if (state == "idle_decision_pending") return TrayState::kIdleDecisionPending;
  if (state == "tracking" || field(s, "timer").is_object()) return TrayState::kTracking;
  // An agent that records apps is never shown as not recording, whatever else it says (a state name from a
  // newer agent, say).
  if (state == "auto_tracking" || recordingApps(s, false)) return TrayState::kAutoTracking;
  if (flag(consent, "required")) return TrayState::kConsentNeeded;
  if (str(consent, "decision") == "declined") return TrayState::kConsentDeclined;
  return TrayState::kNotTracking;
}

std::string joined(const json& list) {
  std::string out;
  if (list.is_array())
    for (const auto& c : list)
      if (c.is_string()) out += (out.empty() ? "" : ", ") + c.get<std::string>();
  return out;
}

std::vector<TrayProblemItem> problemsOf(const json& s, TrayState state) {
  std::vector<TrayProblemItem> out;
  const json& sync = field(s, "sync");
  const json& consent = field(s, "consent");
  const int64_t pending = num(field(s, "outbox"), "pending");
  const bool sync_mode = str(sync, "mode") == "sync";
  const std::string auth = str(sync, "auth");

  // Consent: the state itself when nothing runs; a problem when a timer or granted categories run meanwhile.
  if (flag(consent, "required") && state != TrayState::kConsentNeeded) {
    const std::string changes = joined(field(consent, "changes"));
    out.push_back({TrayProblem::kConsent, changes.empty()
                                              ? "Consent needed: monitoring waits for your answer"
                                              : "Consent needed for " + changes + ": they wait for your answer"});
  }
  if (sync_mode && auth == "sign_in_needed") {
    const std::string why = str(sync, "auth_problem");
    out.push_back({TrayProblem::kSignIn,
                   pending > 0 ? "Sign-in needed: " + recordsWait(pending) + " on this computer to be uploaded"
                               : "Sign-in needed" + (why.empty() ? "" : ": " + why)});
  } else if (sync_mode && auth == "signed_out" && pending > 0) {
    out.push_back(
        {TrayProblem::kSignIn, "Signed out: " + recordsWait(pending) + " on this computer until you sign in"});
  }
  const bool auth_ok = auth.empty() || auth == "signed_in";
  // An upload error while the server answers: failing, retried with backoff (offline alone is kOffline).
  const std::string last_error = str(sync, "last_error");
  if (sync_mode && auth_ok && !last_error.empty() && flag(sync, "online")) {
    std::string text = "Upload failing: " + last_error;
    if (pending > 0) text += " — " + records(pending) + " queued";
    if (const std::string next = localClock(str(sync, "next_retry_at")); !next.empty()) text += ", next try at " + next;
    out.push_back({TrayProblem::kSyncFailing, text});
  }
  if (const std::string enrol = str(field(sync, "auto_enroll"), "error"); sync_mode && !enrol.empty())
    out.push_back({TrayProblem::kSyncFailing, "Automatic enrolment failing: " + enrol});
  if (sync_mode && auth_ok && sync.contains("online") && !flag(sync, "online") && pending > 0)
    out.push_back(
        {TrayProblem::kOffline, "Offline: " + records(pending) + " queued, uploaded when the server can be reached"});
  const std::string display = str(field(s, "agent"), "display");
  if (!display.empty() && display != "ok") out.push_back({TrayProblem::kOther, "Display: " + display});
  if (!str(sync, "profile_problem").empty())
    out.push_back({TrayProblem::kOther, "Company profile: " + str(sync, "profile_problem")});
  const int64_t quarantined = num(field(s, "outbox"), "quarantined");
  const json& recent = field(sync, "recent_quarantine");
  if (quarantined > 0 || (recent.is_array() && !recent.empty()))
    out.push_back({TrayProblem::kOther, records(quarantined > 0 ? quarantined : static_cast<int64_t>(recent.size())) +
                                            " refused by the server (quarantined)"});
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.kind < b.kind; });
  return out;
}

// The state's words for this status: the table's, with what runs filled in.
void wordsFor(const json& s, TrayView& v, std::string& detail) {
  const TrayStateInfo& info = trayStateInfo(v.state);
  const bool timer = field(s, "timer").is_object();
  detail = info.detail;
  switch (v.state) {
    case TrayState::kTracking:
      v.title = replaced(info.title, v.project);
      if (!recordingApps(s, true)) {
        v.title += " — only the time is recorded";
        detail = flag(field(s, "consent"), "required") ? "The apps in front wait for your consent"
                                                       : "The apps in front are not recorded";
      }
      return;
    case TrayState::kIdleDecisionPending:
      v.title = replaced(info.title, timer                     ? "Timer running: " + v.project
                                     : recordingApps(s, false) ? std::string("Recording automatically")
                                                               : std::string("Nothing is recorded"));
      return;
    case TrayState::kIdle:
    case TrayState::kLocked:
    case TrayState::kAsleep: {
      v.title = info.title;
      const std::string since = localClock(str(field(s, "idle"), "since"));
      if (!since.empty()) detail = "Away since " + since + ". " + detail;
      if (timer) detail += "; the timer (" + v.project + ") is asked about when you are back";
      return;
    }
    case TrayState::kOnBreak: {
      v.title = info.title;
      const std::string since = localClock(str(field(s, "break"), "started_at"));
      if (!since.empty()) detail = "Since " + since + ". " + detail;
      return;
    }
    default:
      v.title = info.title;
  }
}

// ---- icons ----

void drawStateShape(QPainter& p, TrayState s, const QRectF& r, qreal size) {
  const QPen outline(QColor(40, 40, 40), qMax(1.0, size / 16.0));
  p.setPen(outline);
  const auto at = [&](qreal fx, qreal fy) { return QPointF(r.left() + r.width() * fx, r.top() + r.height() * fy); };
  const auto bar = [&](qreal fx, qreal fy, qreal fw, qreal fh) {
    p.fillRect(QRectF(at(fx, fy), QSizeF(r.width() * fw, r.height() * fh)), Qt::white);
  };
  switch (s) {
    case TrayState::kAgentNotRunning:  // grey hollow square with a cross
      p.setBrush(Qt::NoBrush);
      p.setPen(QPen(QColor(110, 110, 110), qMax(1.5, size / 10.0)));
      p.drawRect(r.adjusted(size * 0.04, size * 0.04, -size * 0.04, -size * 0.04));
      p.drawLine(at(0.25, 0.25), at(0.75, 0.75));
      p.drawLine(at(0.75, 0.25), at(0.25, 0.75));
      break;
    case TrayState::kTracking: {  // green disc with a "play" triangle
      p.setBrush(QColor(46, 160, 67));
      p.drawEllipse(r);
      QPainterPath tri;
      tri.moveTo(at(0.38, 0.28));
      tri.lineTo(at(0.74, 0.5));
      tri.lineTo(at(0.38, 0.72));
      tri.closeSubpath();
      p.fillPath(tri, Qt::white);
      break;
    }
    case TrayState::kAutoTracking:  // teal disc with a "record" ring and dot
      p.setBrush(QColor(0, 130, 140));
      p.drawEllipse(r);
      p.setPen(QPen(Qt::white, qMax(1.0, size / 14.0)));
      p.setBrush(Qt::NoBrush);
      p.drawEllipse(r.adjusted(r.width() * 0.2, r.height() * 0.2, -r.width() * 0.2, -r.height() * 0.2));
      p.setPen(Qt::NoPen);
      p.setBrush(Qt::white);
      p.drawEllipse(r.adjusted(r.width() * 0.38, r.height() * 0.38, -r.width() * 0.38, -r.height() * 0.38));
      break;
    case TrayState::kIdle:  // amber disc with a bar
      p.setBrush(QColor(230, 170, 30));
      p.drawEllipse(r);
      bar(0.28, 0.44, 0.44, 0.12);
      break;
    case TrayState::kIdleDecisionPending: {  // amber diamond with a bar and a dot: a question
      QPainterPath d;
      d.moveTo(at(0.5, 0));
      d.lineTo(at(1, 0.5));
      d.lineTo(at(0.5, 1));
      d.lineTo(at(0, 0.5));
      d.closeSubpath();
      p.setBrush(QColor(230, 170, 30));
      p.drawPath(d);
      bar(0.3, 0.36, 0.4, 0.11);
      bar(0.44, 0.58, 0.12, 0.12);
      break;
    }
    case TrayState::kOnBreak:  // blue rounded square with pause bars
      p.setBrush(QColor(50, 110, 210));
      p.drawRoundedRect(r, size * 0.2, size * 0.2);
      bar(0.3, 0.25, 0.14, 0.5);
      bar(0.56, 0.25, 0.14, 0.5);
      break;
    case TrayState::kLocked: {  // slate padlock: a shackle over a body
      p.setBrush(Qt::NoBrush);
      p.setPen(QPen(QColor(70, 80, 100), qMax(1.5, size / 9.0)));
      p.drawArc(QRectF(at(0.27, 0.05), QSizeF(r.width() * 0.46, r.height() * 0.6)), 0, 180 * 16);
      p.drawLine(at(0.27, 0.35), at(0.27, 0.5));
      p.drawLine(at(0.73, 0.35), at(0.73, 0.5));
      p.setPen(outline);
      p.setBrush(QColor(70, 80, 100));
      p.drawRect(QRectF(at(0.12, 0.45), QSizeF(r.width() * 0.76, r.height() * 0.55)));
      bar(0.45, 0.6, 0.1, 0.22);
      break;
    }
    case TrayState::kAsleep: {  // indigo crescent moon
      QPainterPath moon;
      moon.addEllipse(r);
      QPainterPath bite;
      bite.addEllipse(r.translated(r.width() * 0.35, -r.height() * 0.2));
      p.setBrush(QColor(90, 70, 170));
      p.drawPath(moon.subtracted(bite));
      break;
    }
    case TrayState::kConsentNeeded: {  // purple hourglass: waiting for the answer
      QPainterPath glass;
      glass.moveTo(at(0.15, 0));
      glass.lineTo(at(0.85, 0));
      glass.lineTo(at(0.5, 0.5));
      glass.lineTo(at(0.85, 1));
      glass.lineTo(at(0.15, 1));
      glass.lineTo(at(0.5, 0.5));
      glass.closeSubpath();
      p.setBrush(QColor(150, 60, 170));
      p.drawPath(glass);
      break;
    }
    case TrayState::kConsentDeclined:  // a "no entry" ring with a slash
      p.setBrush(Qt::NoBrush);
      p.setPen(QPen(QColor(170, 30, 30), qMax(1.5, size / 8.0)));
      p.drawEllipse(r.adjusted(size * 0.06, size * 0.06, -size * 0.06, -size * 0.06));
      p.drawLine(at(0.22, 0.78), at(0.78, 0.22));
      break;
    case TrayState::kNotTracking:  // grey hollow ring
      p.setBrush(QColor(150, 150, 150));
      p.drawEllipse(r);
      p.setBrush(Qt::white);
      p.drawEllipse(r.adjusted(size * 0.25, size * 0.25, -size * 0.25, -size * 0.25));
      break;
    case TrayState::kCount:
      break;
  }
}

// A badge in the lower right corner on a white backing, so it reads on any base shape.
void drawBadge(QPainter& p, TrayProblem b, qreal size) {
  const qreal d = size * 0.5;
  const QRectF box(size - d, size - d, d, d);
  const QRectF in = box.adjusted(d * 0.12, d * 0.12, -d * 0.12, -d * 0.12);
  p.setPen(Qt::NoPen);
  p.setBrush(Qt::white);
  p.drawRect(box);
  p.setPen(QPen(QColor(30, 30, 30), qMax(1.0, size / 24.0)));
  switch (b) {
    case TrayProblem::kConsent:  // purple disc
      p.setBrush(QColor(150, 60, 170));
      p.drawEllipse(in);
      break;
    case TrayProblem::kSignIn:  // orange square
      p.setBrush(QColor(240, 130, 0));
      p.drawRect(in);
      break;
    case TrayProblem::kSyncFailing: {  // red triangle
      QPainterPath tri;
      tri.moveTo(in.center().x(), in.top());
      tri.lineTo(in.bottomRight());
      tri.lineTo(in.bottomLeft());
      tri.closeSubpath();
      p.setBrush(QColor(210, 30, 30));
      p.drawPath(tri);
      break;
    }
    case TrayProblem::kOffline: {  // dark grey diamond
      QPainterPath dia;
      dia.moveTo(in.center().x(), in.top());
      dia.lineTo(in.right(), in.center().y());
      dia.lineTo(in.center().x(), in.bottom());
      dia.lineTo(in.left(), in.center().y());
      dia.closeSubpath();
      p.setBrush(QColor(70, 70, 70));
      p.drawPath(dia);
      break;
    }
    case TrayProblem::kOther:  // red cross
      p.setPen(QPen(QColor(200, 0, 90), qMax(1.5, size / 10.0)));
      p.drawLine(in.topLeft(), in.bottomRight());
      p.drawLine(in.topRight(), in.bottomLeft());
      break;
    case TrayProblem::kCount:
      break;
  }
}

}  // namespace

const TrayStateInfo& trayStateInfo(TrayState s) {
  const auto i = static_cast<size_t>(s);
  return kStates[i < kStates.size() ? i : static_cast<size_t>(TrayState::kNotTracking)];
}

const char* trayStateName(TrayState s) { return trayStateInfo(s).name; }

const char* trayProblemName(TrayProblem p) {
  const auto i = static_cast<size_t>(p);
  return i < kProblemNames.size() ? kProblemNames[i] : "attention";
}

const std::array<TrayState, kTrayStateCount>& allTrayStates() { return kAllStates; }
const std::array<TrayProblem, kTrayProblemCount>& allTrayProblems() { return kAllProblems; }

std::string formatDuration(int64_t ms) {
  if (ms < 0) ms = 0;
  const int64_t minutes = ms / 60'000;
  const int64_t m = minutes % 60;
  return std::to_string(minutes / 60) + ":" + (m < 10 ? "0" : "") + std::to_string(m);
}

TrayView trayViewOf(const json& status, bool connected, const json& projects) {
  TrayView v;
  std::string detail;
  if (!connected || !status.is_object()) {
    v.state = TrayState::kAgentNotRunning;
    wordsFor(json::object(), v, detail);
    v.tooltip = "WorkMonitor: " + v.title + "\n" + detail;
    return v;
  }
  const json& timer = field(status, "timer");
  if (timer.is_object()) v.project = projectLabel(timer, projects);
  v.today_ms = status.contains("today_ms") ? num(status, "today_ms") : num(timer, "elapsed_ms");
  v.state = stateOf(status);
  v.problems = problemsOf(status, v.state);
  wordsFor(status, v, detail);

  v.tooltip = "WorkMonitor: " + v.title + "\n" + detail;
  if (status.contains("today_ms"))
    v.tooltip += "\nToday: " + formatDuration(v.today_ms);
  else if (timer.is_object())
    v.tooltip += "\nThis entry: " + formatDuration(v.today_ms);
  if (flag(field(status, "agent"), "service_mode"))
    v.tooltip += "\nService mode: the agent runs in the background, with or without this tray";
  for (const auto& p : v.problems) v.tooltip += "\n⚠ " + p.text;
  return v;
}

size_t trayIconKey(TrayState s, std::optional<TrayProblem> badge) {
  const size_t state = std::min(static_cast<size_t>(s), kTrayStateCount - 1);
  const size_t b = badge ? std::min(static_cast<size_t>(*badge), kTrayProblemCount - 1) + 1 : 0;
  return state * (kTrayProblemCount + 1) + b;
}

QIcon trayIcon(TrayState s, std::optional<TrayProblem> badge) {
  QIcon icon;
  for (int size : {16, 22, 24, 32, 48}) {
    QPixmap pm(size, size);
    pm.fill(Qt::transparent);
    QPainter p(&pm);
    p.setRenderHint(QPainter::Antialiasing);
    const qreal m = size * 0.08;
    drawStateShape(p, s, QRectF(m, m, size - 2 * m, size - 2 * m), size);
    if (badge) drawBadge(p, *badge, size);
    p.end();
    icon.addPixmap(pm);
  }
  return icon;
}

}  // namespace wm::tray
