// A scripted working day in the shape of the agent's `report` reply with the day picture (issue 14 contract,
// /work/notes/issue14-contract.md): the computer off overnight, 8 h of work over three projects and none,
// automatic recording, idle periods with each kind of decision, a break, a lock, a suspend, a crash, a clean
// stop, the rest of the day still to come; apps and websites at their times, activity counts per 10-minute
// slot, USB events, and 48 screenshots whose thumbnails are real small JPEG files. Used by the tray's unit
// tests, its gui tests and its bench (tests only).
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <QColor>
#include <QDateTime>
#include <QDir>
#include <QImage>
#include <QPainter>
#include <QString>
#include <QTimeZone>
#include <nlohmann/json.hpp>

namespace wm::tray::test {

struct ScriptedDay {
  nlohmann::json report, projects, status;
  int64_t from_ms = 0;
  std::vector<std::string> thumbnails;  // the files written, in screenshot order
};

/// One segment of the scripted day, in minutes after from_ms.
struct ScriptedSegment {
  int from_min, to_min;
  const char* category;
  const char* project_id = "";
  const char* task_id = "";
  const char* decision = "";
  const char* reason = "";
};

inline const std::vector<ScriptedSegment>& scriptedSegments() {
  static const std::vector<ScriptedSegment> kSegments = {
      {0, 460, "agent_not_running", "", "", "", "computer_off"},  // off overnight until 07:40
      {460, 480, "not_tracked"},
      {480, 570, "worked", "p1", "t1"},  // 08:00–09:30 Website redesign / Layout
      {570, 585, "idle", "", "", "discard_continue"},
      {585, 630, "worked", "p1", "t2"},
      {630, 645, "break"},
      {645, 720, "worked", "p2"},  // 10:45–12:00 Customer support
      {720, 750, "locked", "", "", "discard"},
      {750, 790, "asleep"},  // 12:30–13:10 lunch, the lid closed
      {790, 805, "agent_not_running", "", "", "", "crash"},
      {805, 870, "auto"},  // 13:25–14:30 recording automatically
      {870, 930, "worked", "p3"},
      {930, 940, "idle", "", "", "keep"},
      {940, 990, "worked", ""},  // no project
      {990, 1010, "idle", "", "", "pending"},
      {1010, 1020, "agent_not_running", "", "", "", "shutdown"},
      {1020, 1050, "worked", "p1", "t1"},  // 17:00–17:30; now is 17:30
      {1050, 1440, "future"},
  };
  return kSegments;
}

inline bool scriptedRecording(const ScriptedSegment& s) {
  return std::string(s.category) == "worked" || std::string(s.category) == "auto";
}

/// The day starting at `from_ms` (24 h long); thumbnails are written into `thumb_dir` when it is not empty.
/// The app in front changes every `app_minutes` (a real person switches about every minute or two).
inline ScriptedDay scriptedDay(int64_t from_ms, const QString& thumb_dir = {}, int app_minutes = 12) {
  using nlohmann::json;
  constexpr int64_t kMin = 60'000;
  ScriptedDay d;
  d.from_ms = from_ms;
  const int64_t to_ms = from_ms + 1440 * kMin;
  json timeline = json::array(), apps = json::array(), sites = json::array(), act_slots = json::array();
  json entries = json::array();
  json totals = {{"worked", 0},
                 {"auto", 0},
                 {"idle", 0},
                 {"break", 0},
                 {"locked", 0},
                 {"asleep", 0},
                 {"agent_not_running", 0},
                 {"not_tracked", 0},
                 {"future", 0}};
  std::map<std::string, int64_t> per_project, per_app, per_site;
  int64_t idle_ms = 0, break_ms = 0, idle_count = 0;
  json by_decision = json::object();
  static const char* kApps[] = {"code", "firefox", "slack", "gnome-terminal"};
  static const char* kTitles[] = {"main.cpp — workmonitor", "Pull requests · GitHub — Mozilla Firefox",
                                  "#support | Acme — Slack", "build: ninja — Terminal"};
  static const char* kSites[] = {"github.com", "docs.qt.io", "stackoverflow.com"};
  int n = 0, site_n = 0, slot_n = 0;
  for (const ScriptedSegment& s : scriptedSegments()) {
    const int64_t a = from_ms + s.from_min * kMin, b = from_ms + s.to_min * kMin;
    json seg = {{"start_ms", a}, {"end_ms", b}, {"category", s.category}};
    const std::string cat = s.category;
    if (cat == "worked") {
      seg["project_id"] = s.project_id;
      seg["task_id"] = s.task_id;
      seg["entry_id"] = "e-" + std::to_string(s.from_min);
      per_project[*s.project_id ? s.project_id : "(no project)"] += b - a;
      entries.push_back({{"project_id", s.project_id},
                         {"task_id", s.task_id},
                         {"note", ""},
                         {"start", a},
                         {"end", b},
                         {"ms", b - a}});
    }
    if (*s.decision) seg["decision"] = s.decision;
    if (*s.reason) seg["reason"] = s.reason;
    if (cat == "idle" || cat == "locked") {
      idle_ms += b - a, ++idle_count;
      by_decision[s.decision] = by_decision.value(s.decision, int64_t{0}) + (b - a);
    }
    if (cat == "break") break_ms += b - a;
    if (cat == "idle" || cat == "break") seg[cat + "_id"] = cat + "-" + std::to_string(s.from_min);
    totals[cat] = totals[cat].get<int64_t>() + (b - a);
    timeline.push_back(seg);
    if (!scriptedRecording(s)) continue;
    // The app in front changes every app_minutes; Firefox's time has a website.
    const int64_t step = std::max(1, app_minutes) * kMin;
    for (int64_t t = a; t < b; t += step, ++n) {
      const int64_t e = std::min(b, t + step);
      const int app = n % 4;
      apps.push_back({{"start_ms", t}, {"end_ms", e}, {"app", kApps[app]}, {"title", kTitles[app]}});
      per_app[kApps[app]] += e - t;
      if (app == 1) {
        const char* site = kSites[site_n++ % 3];
        sites.push_back({{"start_ms", t}, {"end_ms", e}, {"domain", site}, {"browser", "firefox"}});
        per_site[site] += e - t;
      }
    }
    for (int64_t t = a; t < b; t += 10 * kMin, ++slot_n) {
      const int keys = 80 + (slot_n * 37) % 400, clicks = 10 + (slot_n * 13) % 60;
      act_slots.push_back({{"start_ms", t},
                           {"keystrokes", keys},
                           {"clicks", clicks},
                           {"moves", 200 + (slot_n * 71) % 900},
                           {"scrolls", (slot_n * 7) % 40},
                           {"active_seconds", 300 + (slot_n * 17) % 300},
                           {"activity_percent", 50 + (slot_n * 17) % 50}});
    }
  }
  // 48 screenshots, one every 8 minutes of recorded time (the first 48 such moments).
  json shots = json::array();
  if (!thumb_dir.isEmpty()) QDir().mkpath(thumb_dir);
  for (const ScriptedSegment& s : scriptedSegments()) {
    if (!scriptedRecording(s)) continue;
    for (int m = s.from_min + 4; m < s.to_min && shots.size() < 48; m += 8) {
      const int64_t at = from_ms + m * kMin;
      const int i = static_cast<int>(shots.size());
      std::string path;
      if (!thumb_dir.isEmpty()) {
        QImage img(320, 180, QImage::Format_RGB32);
        img.fill(QColor(30 + i * 4, 44, 52 + (i * 3) % 100));
        QPainter p(&img);
        p.fillRect(10, 10, 300, 20, QColor(70, 130, 180));
        p.fillRect(10, 40, 140 + i * 3, 120, QColor(200, 200, 190));
        p.end();
        path = (thumb_dir + QStringLiteral("/shot-%1.jpg").arg(i)).toStdString();
        img.save(QString::fromStdString(path), "JPEG", 70);
        d.thumbnails.push_back(path);
      }
      const QDateTime t = QDateTime::fromMSecsSinceEpoch(at, QTimeZone::utc());
      shots.push_back({{"id", "shot-" + std::to_string(i)},
                       {"taken_at", t.toString(Qt::ISODateWithMs).toStdString()},
                       {"taken_at_ms", at},
                       {"monitor", 0},
                       {"unchanged", i % 9 == 4},
                       {"thumbnail", path.empty() ? json() : json(path)}});
    }
  }
  const auto list = [](const std::map<std::string, int64_t>& m, const char* key) {
    json out = json::array();
    for (const auto& [k, v] : m) out.push_back({{key, k}, {"ms", v}});
    return out;
  };
  int64_t tracked = 0;
  for (const auto& [k, v] : per_project) tracked += v;
  d.report = {{"from_ms", from_ms},
              {"to_ms", to_ms},
              {"now_ms", from_ms + 1050 * kMin},
              {"tracked_ms", tracked},
              {"projects", list(per_project, "project_id")},
              {"apps", list(per_app, "app")},
              {"websites", list(per_site, "domain")},
              {"idle", {{"count", idle_count}, {"ms", idle_ms}, {"by_decision", by_decision}}},
              {"breaks", {{"count", 1}, {"ms", break_ms}}},
              {"entries", entries},
              {"day", {{"timeline", timeline}, {"totals", totals}}},
              {"apps_timeline", apps},
              {"websites_timeline", sites},
              {"activity", {{"slot_ms", 600000}, {"keystrokes", 0}, {"mouse_events", 0}, {"slots", act_slots}}},
              {"usb", json::array({{{"at_ms", from_ms + 480 * kMin},
                                    {"action", "present_at_start"},
                                    {"device_name", "Logitech USB Receiver"},
                                    {"vendor_id", "046d"},
                                    {"product_id", "c52b"},
                                    {"is_storage", false}},
                                   {{"at_ms", from_ms + 662 * kMin},
                                    {"action", "attached"},
                                    {"device_name", "SanDisk Cruzer"},
                                    {"vendor_id", "0781"},
                                    {"product_id", "5567"},
                                    {"is_storage", true}},
                                   {{"at_ms", from_ms + 690 * kMin},
                                    {"action", "detached"},
                                    {"device_name", "SanDisk Cruzer"},
                                    {"vendor_id", "0781"},
                                    {"product_id", "5567"},
                                    {"is_storage", true}}})},
              {"screenshots", shots}};
  d.projects = nlohmann::json::parse(R"j({"projects": [
    {"id": "p1", "name": "Website redesign", "tasks": [{"id": "t1", "name": "Layout"}, {"id": "t2", "name": "Copy"}]},
    {"id": "p2", "name": "Customer support", "tasks": []},
    {"id": "p3", "name": "Internal tools", "tasks": []}]})j");
  d.status = nlohmann::json::parse(R"j({"state": "tracking", "outbox": {"records": 400, "pending": 12,
    "quarantined": 0}, "sync": {"mode": "sync", "online": true, "last_upload_at": null}})j");
  return d;
}

}  // namespace wm::tray::test
