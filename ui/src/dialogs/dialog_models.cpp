#include "dialogs/dialog_models.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <sstream>

namespace wm::tray {

using nlohmann::json;

// --- helpers --------------------------------------------------------------------------------------------

std::string formatDurationShort(int64_t ms) {
  if (ms < 0) ms = 0;
  if (ms < 60'000) return std::to_string(ms / 1000) + " s";
  const int64_t minutes = (ms + 30'000) / 60'000;
  if (minutes < 60) return std::to_string(minutes) + " min";
  char buf[48];
  std::snprintf(buf, sizeof buf, "%lld h %02lld min", static_cast<long long>(minutes / 60),
                static_cast<long long>(minutes % 60));
  return buf;
}

QDateTime parseAgentTime(const json& value) {
  if (value.is_number_integer()) return QDateTime::fromMSecsSinceEpoch(value.get<int64_t>(), QTimeZone::utc());
  if (!value.is_string()) return {};
  const QString text = QString::fromStdString(value.get<std::string>());
  QDateTime t = QDateTime::fromString(text, Qt::ISODateWithMs);
  if (!t.isValid()) t = QDateTime::fromString(text, Qt::ISODate);
  return t;
}

std::string localClock(const QDateTime& t, const QTimeZone& tz) {
  if (!t.isValid()) return "?";
  return t.toTimeZone(tz).toString(QStringLiteral("HH:mm")).toStdString();
}

std::string jsonString(const json& j, const char* key, const std::string& fallback) {
  if (!j.is_object()) return fallback;
  const auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return fallback;
  return it->get<std::string>();
}

bool jsonBool(const json& j, const char* key, bool fallback) {
  if (!j.is_object()) return fallback;
  const auto it = j.find(key);
  if (it == j.end() || !it->is_boolean()) return fallback;
  return it->get<bool>();
}

int64_t jsonInt(const json& j, const char* key, int64_t fallback) {
  if (!j.is_object()) return fallback;
  const auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return fallback;
  return it->is_number_float() ? static_cast<int64_t>(it->get<double>()) : it->get<int64_t>();
}

namespace {

const json& member(const json& j, const char* key) {
  static const json kNull;
  if (!j.is_object()) return kNull;
  const auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

// --- consent --------------------------------------------------------------------------------------------

std::string consentLabel(const std::string& category) {
  static const std::map<std::string, std::string> kLabels = {
      {"auto_tracking", "Automatic tracking"},
      {"time", "Time entries"},
      {"timer", "Time entries"},
      {"time_entries", "Time entries"},
      {"idle", "Idle periods"},
      {"screenshots", "Screenshots"},
      {"screenshot_blur", "Screenshot blur"},
      {"blur", "Screenshot blur"},
      {"apps", "Applications and window titles"},
      {"app_usage", "Applications and window titles"},
      {"websites", "Websites"},
      {"website_usage", "Websites"},
      {"activity", "Keyboard and mouse activity counts"},
      {"activity_counts", "Keyboard and mouse activity counts"},
      {"usb", "USB devices"},
      {"usb_events", "USB devices"},
  };
  const auto it = kLabels.find(category);
  if (it != kLabels.end()) return it->second;
  std::string label = category;
  std::replace(label.begin(), label.end(), '_', ' ');
  if (!label.empty() && label[0] >= 'a' && label[0] <= 'z') label[0] = static_cast<char>(label[0] - 'a' + 'A');
  return label;
}

// Said even when the agent's detail is terse: counts are not content.
std::string consentReassurance(const std::string& category) {
  if (category == "activity" || category == "activity_counts")
    return "how many keys and clicks per minute — never what you type";
  if (category == "usb" || category == "usb_events") return "when a device is plugged in or out — never its files";
  if (category == "websites" || category == "website_usage") return "never in private/incognito windows";
  return {};
}

}  // namespace

std::string ConsentModel::text() const {
  std::ostringstream out;
  out << title << "\n\n" << intro << "\n";
  if (is_update) {
    out << "\nWhat changed since you last agreed:\n";
    for (const auto& c : changes) out << "  • " << c << "\n";
    out << "\nEverything that is collected now:\n";
  }
  for (const auto& item : items) {
    out << "  • " << item.label;
    if (!item.detail.empty()) out << " — " << item.detail;
    if (item.changed) out << " (new)";
    out << "\n";
  }
  out << "\n" << who_can_see << "\n";
  return out.str();
}

ConsentModel consentText(const json& consent) {
  ConsentModel m;
  m.version = member(consent, "version");
  std::vector<std::string> changed;
  for (const auto& c : member(consent, "changes"))
    if (c.is_string()) changed.push_back(c.get<std::string>());
  m.is_update = !changed.empty();
  const auto isChanged = [&](const std::string& category) {
    return std::find(changed.begin(), changed.end(), category) != changed.end();
  };
  for (const auto& c : member(consent, "collects")) {
    ConsentItem item;
    item.category = jsonString(c, "category");
    if (item.category.empty()) continue;
    item.label = consentLabel(item.category);
    item.detail = jsonString(c, "detail");
    const std::string extra = consentReassurance(item.category);
    if (!extra.empty() && item.detail.find("never") == std::string::npos)
      item.detail = item.detail.empty() ? extra : item.detail + "; " + extra;
    item.changed = isChanged(item.category);
    m.items.push_back(std::move(item));
  }
  for (const auto& category : changed) {
    const auto it =
        std::find_if(m.items.begin(), m.items.end(), [&](const ConsentItem& i) { return i.category == category; });
    if (it == m.items.end())
      m.changes.push_back("Changed: " + consentLabel(category));
    else
      m.changes.push_back("New: " + it->label + (it->detail.empty() ? "" : " — " + it->detail));
  }
  if (m.is_update) {
    m.title = "Your company changed what WorkMonitor collects";
    m.intro =
        "Your company's settings now collect more than when you last agreed. Nothing new is collected until you "
        "accept.";
  } else {
    m.title = "Before WorkMonitor starts";
    m.intro = "Your company uses WorkMonitor. While you track time, it collects:";
  }
  if (m.items.empty()) m.intro += "\n(The agent did not say what it collects; ask your administrator.)";
  m.who_can_see =
      "Who can see it: you — everything recorded about you is in “My activity” in the tray menu — and your "
      "company's admins and managers, once it is uploaded.";
  m.decline_note =
      "You declined. Nothing is monitored and the timer stays off. Ask your administrator if you have questions.";
  return m;
}

// --- idle return ----------------------------------------------------------------------------------------

std::string idleDecisionLabel(const std::string& decision) {
  if (decision == "keep") return "Keep as work time";
  if (decision == "discard") return "Discard and stop the timer";
  if (decision == "discard_continue") return "Discard and continue the timer";
  if (decision == "reassign") return "Reassign to another project…";
  if (decision == "break") return "Mark as a break";
  return decision;
}

bool IdleModel::allows(const std::string& decision) const {
  return std::any_of(choices.begin(), choices.end(), [&](const IdleChoice& c) { return c.decision == decision; });
}

IdleModel idleChoices(const json& p, const QTimeZone& tz, const QDateTime& now) {
  IdleModel m;
  m.idle_id = jsonString(p, "idle_id");
  const QDateTime from = parseAgentTime(member(p, "from"));
  const QDateTime to = parseAgentTime(member(p, "to"));
  int64_t duration = jsonInt(p, "duration_ms", -1);
  if (duration < 0 && from.isValid() && to.isValid()) duration = from.msecsTo(to);
  const bool asleep = jsonString(p, "reason") == "suspend";
  m.sentence = std::string(asleep ? "Your computer was asleep" : "You were idle") + " from " + localClock(from, tz) +
               " to " + localClock(to, tz) + " (" + formatDurationShort(std::max<int64_t>(0, duration)) + ").";

  // `allowed` (status.idle_pending) or `choices` (the idle_return event); if neither is there, the
  // agent's own set without reassign, which needs the profile's permission.
  const json* allowed = &member(p, "allowed");
  if (!allowed->is_array()) allowed = &member(p, "choices");
  std::vector<std::string> offered;
  if (allowed->is_array()) {
    for (const auto& d : *allowed)
      if (d.is_string()) offered.push_back(d.get<std::string>());
  } else {
    offered = {"keep", "discard", "discard_continue", "break"};
  }
  const std::string def = jsonString(p, "default");
  for (const char* d : {"keep", "discard_continue", "discard", "reassign", "break"}) {
    if (std::find(offered.begin(), offered.end(), d) == offered.end()) continue;
    m.choices.push_back(IdleChoice{d, idleDecisionLabel(d), def == d});
  }
  const int64_t decides_in = jsonInt(p, "decides_in_ms", jsonInt(p, "timeout_ms", -1));
  if (decides_in >= 0 && !def.empty())
    m.default_note = "If you don't answer by " + localClock(now.addMSecs(decides_in), tz) + ", “" +
                     idleDecisionLabel(def) + "” applies.";
  return m;
}

// --- settings -------------------------------------------------------------------------------------------

namespace {

// The settings whose value is one of a few words (agent/src/config.cpp's rules): offered as a list, so the
// person cannot type one the agent refuses. reassign is not a default: it needs a project.
std::vector<std::pair<std::string, std::string>> settingChoices(const std::string& key) {
  if (key == "idle_default_decision") {
    std::vector<std::pair<std::string, std::string>> out;
    for (const char* d : {"keep", "discard", "discard_continue", "break"}) out.emplace_back(d, idleDecisionLabel(d));
    return out;
  }
  if (key == "lock_counts_as") return {{"idle", "Idle time"}, {"break", "A break"}};
  if (key == "screenshot_format") return {{"jpeg", "JPEG"}, {"webp", "WebP"}};
  return {};
}

std::string settingLabel(const std::string& key) {
  static const std::map<std::string, std::string> kLabels = {
      {"idle_threshold_s", "Idle after (seconds without input)"},
      {"idle_decision_timeout_s", "Idle question answers itself after (s)"},
      {"idle_default_decision", "Idle default answer"},
      {"pulse_s", "Pulse (s)"},
      {"resume_window_s", "Resume window (s)"},
      {"heartbeat_s", "Heartbeat (s)"},
      {"auto_tracking", "Track automatically"},
      {"outbox_max_mb", "Upload queue limit (MB)"},
      {"outbox_max_age_days", "Upload queue keeps records for (days)"},
      {"screenshots_enabled", "Screenshots"},
      {"screenshot_interval_s", "Screenshot interval (s)"},
      {"screenshots_per_interval", "Screenshots per interval"},
      {"screenshot_max_width", "Screenshot width (px)"},
      {"screenshot_blur", "Blur screenshots"},
      {"screenshot_format", "Screenshot format"},
      {"screenshot_quality", "Screenshot quality"},
      {"screenshot_notify", "Notify me when a screenshot is taken"},
      {"screenshot_excluded_apps", "Apps never in screenshots"},
      {"activity_counts", "Keyboard and mouse activity counts"},
      {"usb_events", "USB device events"},
      {"website_usage", "Website usage"},
      {"website_domain_only", "Record website domains only"},
      {"website_excluded_sites", "Websites never recorded"},
      {"lock_counts_as", "A locked screen counts as"},
  };
  const auto it = kLabels.find(key);
  return it == kLabels.end() ? key : it->second;
}

}  // namespace

std::vector<SettingRow> settingsRows(const json& reply) {
  std::vector<SettingRow> rows;
  for (const auto& s : member(reply, "settings")) {
    SettingRow row;
    row.key = jsonString(s, "key");
    if (row.key.empty()) continue;
    row.label = settingLabel(row.key);
    row.value = member(s, "value");
    row.choices = settingChoices(row.key);
    if (!row.choices.empty() && row.value.is_string())
      row.kind = SettingRow::Kind::kChoice;
    else if (row.value.is_boolean())
      row.kind = SettingRow::Kind::kBool;
    else if (row.value.is_number_integer())
      row.kind = SettingRow::Kind::kInt;
    else if (row.value.is_array())
      row.kind = SettingRow::Kind::kList;
    else
      row.kind = SettingRow::Kind::kText;
    const json& locked = member(s, "locked");
    row.locked = locked.is_boolean() && locked.get<bool>();
    row.source = jsonString(s, "source", "default");
    if (row.locked && row.source == "policy")
      row.note = "locked on this computer by its administrator";
    else if (row.locked)
      row.note = "set by your company";
    else if (row.source == "profile")
      row.note = "your company's default";
    else if (row.source == "user")
      row.note = "changed by you";
    rows.push_back(std::move(row));
  }
  return rows;
}

nlohmann::json settingValueFromText(SettingRow::Kind kind, const std::string& text) {
  if (kind != SettingRow::Kind::kList) return text;
  json list = json::array();
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    const auto b = item.find_first_not_of(" \t");
    if (b == std::string::npos) continue;
    const auto e = item.find_last_not_of(" \t");
    list.push_back(item.substr(b, e - b + 1));
  }
  return list;
}

std::string settingValueText(const json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_array()) {
    std::string out;
    for (const auto& v : value) {
      if (!out.empty()) out += ", ";
      out += v.is_string() ? v.get<std::string>() : v.dump();
    }
    return out;
  }
  if (value.is_null()) return {};
  return value.dump();
}

// --- my activity ----------------------------------------------------------------------------------------

namespace {

struct ProjectNames {
  std::map<std::string, std::string> projects;
  std::map<std::string, std::string> tasks;  // by task id
  std::string project(const std::string& id) const {
    if (id.empty() || id == "(no project)") return "(no project)";
    const auto it = projects.find(id);
    return it == projects.end() ? id : it->second;
  }
  std::string task(const std::string& id) const {
    const auto it = tasks.find(id);
    return it == tasks.end() ? id : it->second;
  }
};

ProjectNames projectNames(const json& reply) {
  ProjectNames n;
  for (const auto& p : member(reply, "projects")) {
    const std::string id = jsonString(p, "id");
    if (id.empty()) continue;
    n.projects[id] = jsonString(p, "name", id);
    for (const auto& t : member(p, "tasks")) {
      const std::string tid = jsonString(t, "id");
      if (!tid.empty()) n.tasks[tid] = jsonString(t, "name", tid);
    }
  }
  return n;
}

std::vector<NamedTotal> totals(const json& list, const char* key, const ProjectNames* names) {
  std::vector<NamedTotal> out;
  for (const auto& item : list) {
    NamedTotal t;
    t.name = jsonString(item, key, "(unknown)");
    if (names) t.name = names->project(t.name);
    t.ms = jsonInt(item, "ms");
    t.text = t.name + " — " + formatDurationShort(t.ms);
    out.push_back(std::move(t));
  }
  return out;
}

std::string plural(int64_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

std::string idleLine(const json& idle) {
  std::string line =
      "Idle: " + plural(jsonInt(idle, "count"), "period", "periods") + ", " + formatDurationShort(jsonInt(idle, "ms"));
  std::string parts;
  for (const auto& [decision, ms] : member(idle, "by_decision").items()) {
    if (!ms.is_number()) continue;
    static const std::map<std::string, std::string> kWords = {
        {"keep", "kept"},      {"discard", "discarded"},   {"discard_continue", "discarded"},
        {"break", "as break"}, {"reassign", "reassigned"}, {"pending", "not answered yet"}};
    const auto w = kWords.find(decision);
    if (!parts.empty()) parts += ", ";
    parts += (w == kWords.end() ? decision : w->second) + " " + formatDurationShort(ms.get<int64_t>());
  }
  if (!parts.empty()) line += " (" + parts + ")";
  return line;
}

std::vector<std::string> queueLines(const json& status, const QTimeZone& tz) {
  std::vector<std::string> lines;
  const json& outbox = member(status, "outbox");
  const json& sync = member(status, "sync");
  lines.push_back("Waiting to upload: " + plural(jsonInt(outbox, "pending"), "record", "records"));
  if (jsonString(sync, "mode") == "local-only") {
    lines.push_back("Last successful upload: none — this computer is not signed in, nothing leaves it");
  } else {
    const QDateTime last = parseAgentTime(member(sync, "last_upload_at"));
    if (!last.isValid()) {
      lines.push_back("Last successful upload: not yet");
    } else {
      const QDateTime local = last.toTimeZone(tz);
      const bool today = local.date() == QDateTime::currentDateTimeUtc().toTimeZone(tz).date();
      lines.push_back(
          "Last successful upload: " +
          local.toString(today ? QStringLiteral("HH:mm") : QStringLiteral("yyyy-MM-dd HH:mm")).toStdString());
    }
  }
  const int64_t quarantined = jsonInt(outbox, "quarantined");
  std::string q = "Quarantined (refused by the server): " + plural(quarantined, "record", "records");
  const json& recent = member(sync, "recent_quarantine");
  if (quarantined > 0 && recent.is_array() && !recent.empty())
    q += " — latest: " + jsonString(recent[0], "reason", "no reason given");
  lines.push_back(q);
  if (const int64_t shots = jsonInt(sync, "screenshots_pending"); shots > 0)
    lines.push_back("Screenshots waiting to upload: " + std::to_string(shots));
  if (const std::string err = jsonString(sync, "last_error"); !err.empty()) lines.push_back("Last problem: " + err);
  return lines;
}

}  // namespace

ActivitySummary activitySummary(const json& report, const json& status, const json& projects, const QTimeZone& tz) {
  ActivitySummary s;
  const ProjectNames names = projectNames(projects);
  s.tracked = "Tracked today: " + formatDurationShort(jsonInt(report, "tracked_ms"));
  for (const auto& e : member(report, "entries")) {
    const QDateTime start = parseAgentTime(member(e, "start"));
    const json& end_value = member(e, "end");
    const std::string end = end_value.is_null() ? "now" : localClock(parseAgentTime(end_value), tz);
    std::string what = names.project(jsonString(e, "project_id"));
    if (const std::string task = jsonString(e, "task_id"); !task.empty()) what += " / " + names.task(task);
    if (const std::string note = jsonString(e, "note"); !note.empty()) what += " — " + note;
    s.timeline.push_back(localClock(start, tz) + "–" + end + "  " + what + " (" +
                         formatDurationShort(jsonInt(e, "ms")) + ")");
  }
  s.projects = totals(member(report, "projects"), "project_id", &names);
  s.apps = totals(member(report, "apps"), "app", nullptr);
  s.websites = totals(member(report, "websites"), "domain", nullptr);
  s.idle = idleLine(member(report, "idle"));
  const json& breaks = member(report, "breaks");
  s.breaks = "Breaks: " + std::to_string(jsonInt(breaks, "count")) + ", " + formatDurationShort(jsonInt(breaks, "ms"));
  for (const auto& shot : member(report, "screenshots")) {
    ShotThumb t;
    t.path = jsonString(shot, "thumbnail");
    t.caption = localClock(parseAgentTime(member(shot, "taken_at")), tz);
    s.screenshots.push_back(std::move(t));
  }
  s.queue = queueLines(status, tz);
  return s;
}

std::pair<int64_t, int64_t> localDayRange(const QDateTime& now, const QTimeZone& tz) {
  const QDate day = now.toTimeZone(tz).date();
  return {day.startOfDay(tz).toMSecsSinceEpoch(), day.addDays(1).startOfDay(tz).toMSecsSinceEpoch()};
}

}  // namespace wm::tray
