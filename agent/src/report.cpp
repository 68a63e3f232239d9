#include "workmonitor/agent/report.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <map>
#include <sstream>

#include "workmonitor/common/clock.h"

namespace wm::agent {

using api::Record;
using api::RecordKind;
using nlohmann::json;

namespace {

int64_t clipped(const Record& r, int64_t from, int64_t to, int64_t now) {
  const int64_t end = r.end_ms.value_or(std::max(now, r.start_ms));
  return std::max<int64_t>(0, std::min(end, to) - std::max(r.start_ms, from));
}

json sortedTotals(const std::map<std::string, int64_t>& totals, const char* key) {
  std::vector<std::pair<std::string, int64_t>> v(totals.begin(), totals.end());
  std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  json out = json::array();
  for (const auto& [name, ms] : v) out.push_back({{key, name}, {"ms", ms}});
  return out;
}

}  // namespace

json buildReport(const std::vector<Record>& records, int64_t from_ms, int64_t to_ms, int64_t now_ms,
                 const ReportContext& ctx) {
  std::map<std::string, int64_t> projects, apps, sites, idle_by_decision;
  std::map<std::string, std::map<std::string, int64_t>> titles;
  int64_t tracked = 0, idle_ms = 0, break_ms = 0, idle_count = 0, break_count = 0;
  json entries = json::array();
  for (const Record& r : records) {
    const int64_t ms = clipped(r, from_ms, to_ms, now_ms);
    if (ms == 0 && !(r.isOpen() && r.start_ms < to_ms)) continue;
    switch (r.kind) {
      case RecordKind::kTimeEntry: {
        tracked += ms;
        const std::string project = r.data.value("project_id", "");
        projects[project.empty() ? "(no project)" : project] += ms;
        entries.push_back({{"id", r.id},
                           {"project_id", project},
                           {"task_id", r.data.value("task_id", "")},
                           {"note", r.data.value("note", "")},
                           {"start", formatUtc(fromUnixMs(r.start_ms))},
                           {"end", r.end_ms ? json(formatUtc(fromUnixMs(*r.end_ms))) : json(nullptr)},
                           {"start_ms", r.start_ms},
                           {"end_ms", r.end_ms ? json(*r.end_ms) : json(nullptr)},
                           {"ms", ms}});
        break;
      }
      case RecordKind::kAppUsage: {
        const std::string app = r.data.value("app", "(unknown)");
        apps[app] += ms;
        titles[app][r.data.value("title", "")] += ms;
        break;
      }
      case RecordKind::kWebsiteUsage:
        sites[r.data.value("domain", "(unknown)")] += ms;
        break;
      case RecordKind::kIdlePeriod:
        idle_ms += ms;
        ++idle_count;
        idle_by_decision[r.data.value("decision", "pending")] += ms;
        break;
      case RecordKind::kBreak:
        break_ms += ms;
        ++break_count;
        break;
      default:
        break;
    }
  }
  json app_list = sortedTotals(apps, "app");
  for (auto& a : app_list) {
    json t = sortedTotals(titles[a["app"].get<std::string>()], "title");
    if (t.size() > 5) t.erase(t.begin() + 5, t.end());
    a["top_titles"] = t;
  }
  json report{{"from", formatUtc(fromUnixMs(from_ms))},
              {"to", formatUtc(fromUnixMs(to_ms))},
              {"from_ms", from_ms},
              {"to_ms", to_ms},
              {"now_ms", now_ms},
              {"tracked_ms", tracked},
              {"projects", sortedTotals(projects, "project_id")},
              {"apps", app_list},
              {"websites", sortedTotals(sites, "domain")},
              {"idle", {{"count", idle_count}, {"ms", idle_ms}, {"by_decision", idle_by_decision}}},
              {"breaks", {{"count", break_count}, {"ms", break_ms}}},
              {"entries", entries},
              {"day", buildDay(records, from_ms, to_ms, now_ms, ctx)}};
  report.update(buildDayDetails(records, from_ms, to_ms, now_ms));
  return report;
}

std::string formatDuration(int64_t ms) {
  const int64_t s = ms / 1000;
  char buf[64];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%lldh %02lldm", (long long)(s / 3600), (long long)(s % 3600 / 60));
  else if (s >= 60)
    std::snprintf(buf, sizeof buf, "%lldm %02llds", (long long)(s / 60), (long long)(s % 60));
  else
    std::snprintf(buf, sizeof buf, "%llds", (long long)s);
  return buf;
}

std::string formatLocal(int64_t unix_ms, const char* format) {
  const std::time_t t = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  if (!localtime_r(&t, &tm)) return "?";
  char buf[64];
  return std::strftime(buf, sizeof buf, format, &tm) ? std::string(buf) : std::string("?");
}

namespace {

// The header in the person's own calendar: a whole local day (what `report` and `report --day` ask for) is
// named by its date; any other range by its local start and end.
std::string localRange(int64_t from_ms, int64_t to_ms) {
  const std::string from_day = formatLocal(from_ms, "%Y-%m-%d");
  const bool whole_day = formatLocal(from_ms, "%H:%M:%S") == "00:00:00" &&
                         formatLocal(to_ms, "%H:%M:%S") == "00:00:00" && to_ms - from_ms <= 25 * 3600 * 1000LL &&
                         formatLocal(to_ms - 1, "%Y-%m-%d") == from_day;
  if (whole_day)
    return "for " + formatLocal(from_ms, "%A %Y-%m-%d") + " (local time, " + formatLocal(from_ms, "%Z") + ")";
  return formatLocal(from_ms, "%Y-%m-%d %H:%M") + " .. " + formatLocal(to_ms, "%Y-%m-%d %H:%M") + " (local time, " +
         formatLocal(from_ms, "%Z") + ")";
}

const char* categoryLabel(const std::string& c) {
  if (c == "worked") return "Worked (timer)";
  if (c == "auto") return "Recorded automatically";
  if (c == "idle") return "Idle";
  if (c == "break") return "Break";
  if (c == "locked") return "Screen locked";
  if (c == "asleep") return "Computer asleep";
  if (c == "agent_not_running") return "WorkMonitor not running";
  if (c == "not_tracked") return "Not tracked";
  if (c == "future") return "Still to come";
  return "Other";
}

const char* reasonLabel(const std::string& r) {
  if (r == "shutdown") return "stopped";
  if (r == "crash") return "ended unexpectedly";
  if (r == "computer_off") return "computer off";
  if (r == "not_installed") return "not yet installed";
  return "unknown";
}

// Every minute of the range in one category: the totals first (they add up to the range), then the stretches.
std::string formatDay(const json& day) {
  std::ostringstream out;
  const json& totals = day.value("totals", json::object());
  int64_t sum = 0;
  out << "The whole day:\n";
  for (const auto& c : dayCategories()) {
    const int64_t ms = totals.value(c, int64_t{0});
    sum += ms;
    if (ms > 0) out << "  " << categoryLabel(c) << ": " << formatDuration(ms) << "\n";
  }
  out << "  (together " << formatDuration(sum) << ")\n";
  for (const auto& seg : day.value("timeline", json::array())) {
    const std::string c = seg.value("category", "");
    if (c == "future") continue;
    out << "  " << formatLocal(seg.value("start_ms", int64_t{0}), "%H:%M") << " - "
        << formatLocal(seg.value("end_ms", int64_t{0}), "%H:%M") << "  " << categoryLabel(c);
    if (c == "worked") {
      const std::string p = seg.value("project_id", "");
      out << " (" << (p.empty() ? "no project" : p) << ")";
    } else if (c == "idle" || c == "locked") {
      out << " (" << seg.value("decision", "pending") << ")";
    } else if (c == "agent_not_running") {
      out << " (" << reasonLabel(seg.value("reason", "")) << ")";
    }
    out << "\n";
  }
  return out.str();
}

}  // namespace

std::string formatReport(const json& r) {
  std::ostringstream out;
  if (r.contains("from_ms") && r.contains("to_ms"))
    out << "Report " << localRange(r.value("from_ms", int64_t{0}), r.value("to_ms", int64_t{0})) << "\n";
  else
    out << "Report " << r.value("from", "") << " .. " << r.value("to", "") << "\n";
  out << "Tracked: " << formatDuration(r.value("tracked_ms", int64_t{0})) << "\n";
  for (const auto& p : r["projects"])
    out << "  " << p["project_id"].get<std::string>() << ": " << formatDuration(p["ms"].get<int64_t>()) << "\n";
  for (const auto& e : r.value("entries", json::array())) {
    if (!e.contains("start_ms")) continue;
    const std::string project = e.value("project_id", "");
    out << "  " << formatLocal(e["start_ms"].get<int64_t>(), "%H:%M") << " - "
        << (e["end_ms"].is_number_integer() ? formatLocal(e["end_ms"].get<int64_t>(), "%H:%M") : std::string("now"))
        << "  " << (project.empty() ? "(no project)" : project)
        << (e.value("note", "").empty() ? "" : " (" + e.value("note", "") + ")") << ": "
        << formatDuration(e.value("ms", int64_t{0})) << "\n";
  }
  out << "Apps:\n";
  if (r["apps"].empty()) out << "  (none recorded)\n";
  for (const auto& a : r["apps"]) {
    out << "  " << a["app"].get<std::string>() << ": " << formatDuration(a["ms"].get<int64_t>()) << "\n";
    for (const auto& t : a["top_titles"])
      out << "      " << formatDuration(t["ms"].get<int64_t>()) << "  " << t["title"].get<std::string>() << "\n";
  }
  if (r.contains("websites") && !r["websites"].empty()) {
    out << "Websites:\n";
    for (const auto& w : r["websites"])
      out << "  " << w["domain"].get<std::string>() << ": " << formatDuration(w["ms"].get<int64_t>()) << "\n";
  }
  const json& idle = r["idle"];
  out << "Idle: " << idle["count"].get<int64_t>() << " period(s), " << formatDuration(idle["ms"].get<int64_t>());
  for (const auto& [decision, ms] : idle["by_decision"].items())
    out << "; " << decision << " " << formatDuration(ms.get<int64_t>());
  out << "\n";
  out << "Breaks: " << r["breaks"]["count"].get<int64_t>() << ", " << formatDuration(r["breaks"]["ms"].get<int64_t>())
      << "\n";
  if (r.contains("day") && r["day"].is_object()) out << formatDay(r["day"]);
  return out.str();
}

}  // namespace wm::agent
