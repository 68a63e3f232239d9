// The day as a picture (issue 14): every moment of the report's range in exactly one category, so the parts
// add up to the whole range and nothing is an unexplained hole. See report.h for the categories.
#include <algorithm>
#include <map>
#include <set>

#include "workmonitor/agent/report.h"

namespace wm::agent {

using api::Record;
using api::RecordKind;
using nlohmann::json;

namespace {

// What a record says about a stretch of time, and how strongly: where claims overlap, the highest priority
// wins (the agent not running beats everything it could not have seen; a break beats the timer it paused).
struct Claim {
  int64_t start = 0;
  int64_t end = 0;
  int priority = 0;
  std::string category;
  json detail = json::object();
};

// Consecutive spans (an entry closed at the sleep, the next opened at the resume) take their wall times from
// the monotonic clock at slightly different moments: a gap this short between two of them is no "not tracked".
constexpr int64_t kRoundingGapMs = 100;

constexpr int kPrioNotRunning = 8, kPrioAsleep = 7, kPrioBreak = 6, kPrioLocked = 5, kPrioIdle = 4, kPrioWorked = 3,
              kPrioAuto = 2;

std::string text(const json& data, const char* key) {
  auto it = data.find(key);
  return it != data.end() && it->is_string() ? it->get<std::string>() : std::string();
}

int64_t integer(const json& data, const char* key) {
  auto it = data.find(key);
  return it != data.end() && it->is_number() ? it->get<int64_t>() : 0;
}

std::optional<Claim> claimOf(const Record& r) {
  Claim c;
  switch (r.kind) {
    case RecordKind::kDowntime:
      if (text(r.data, "reason") == "suspend") {
        c.priority = kPrioAsleep;
        c.category = "asleep";
      } else {
        c.priority = kPrioNotRunning;
        c.category = "agent_not_running";
        c.detail["reason"] = text(r.data, "reason").empty() ? "crash" : text(r.data, "reason");
      }
      return c;
    case RecordKind::kBreak:
      c.priority = kPrioBreak;
      c.category = "break";
      c.detail["break_id"] = r.id;
      return c;
    case RecordKind::kIdlePeriod: {
      // What began the period names it: the lock ("locked"), the user's absence ("idle") or the sleep itself
      // ("asleep"). A period begun by the lock or by idleness that ran into a sleep keeps its name: the sleep
      // is its own downtime record, which wins where they overlap.
      const std::string reason = text(r.data, "reason");
      const std::string began = reason == "suspend" ? text(r.data, "began_as") : reason;
      if (began == "lock") {
        c.priority = kPrioLocked;
        c.category = "locked";
      } else if (began.empty() && reason == "suspend") {
        c.priority = kPrioAsleep;
        c.category = "asleep";
      } else {
        c.priority = kPrioIdle;
        c.category = "idle";
      }
      c.detail["decision"] = text(r.data, "decision").empty() ? "pending" : text(r.data, "decision");
      c.detail["idle_id"] = r.id;
      return c;
    }
    case RecordKind::kTimeEntry:
      c.priority = kPrioWorked;
      c.category = "worked";
      c.detail["project_id"] = text(r.data, "project_id");
      c.detail["task_id"] = text(r.data, "task_id");
      c.detail["entry_id"] = r.id;
      return c;
    case RecordKind::kAppUsage:
      c.priority = kPrioAuto;  // shows only where no timer ran: then it was recorded automatically
      c.category = "auto";
      return c;
    default:
      return std::nullopt;
  }
}

json spanJson(int64_t start, int64_t end) { return json{{"start_ms", start}, {"end_ms", end}}; }

}  // namespace

const std::vector<std::string>& dayCategories() {
  static const std::vector<std::string> kAll{
      "worked", "auto", "idle", "break", "locked", "asleep", "agent_not_running", "not_tracked", "future"};
  return kAll;
}

json buildDay(const std::vector<Record>& records, int64_t from_ms, int64_t to_ms, int64_t now_ms,
              const ReportContext& ctx) {
  // The part of the range that has happened: [from, seen_to). After it comes "future".
  const int64_t seen_to = std::clamp(now_ms, from_ms, to_ms);
  std::vector<Claim> claims;
  for (const Record& r : records) {
    auto c = claimOf(r);
    if (!c) continue;
    const int64_t end = r.end_ms.value_or(std::max(now_ms, r.start_ms));
    c->start = std::max(r.start_ms, from_ms);
    c->end = std::min(end, seen_to);
    if (c->end > c->start) claims.push_back(std::move(*c));
  }
  if (ctx.first_start_ms > from_ms) {
    Claim c{from_ms, std::min(ctx.first_start_ms, seen_to), kPrioNotRunning, "agent_not_running",
            json{{"reason", "not_installed"}}};
    if (c.end > c.start) claims.push_back(std::move(c));
  }

  // Sweep over the boundaries with the claims in force ordered by priority, then the latest start (a newer
  // time entry inside an older one is what ran), then input order.
  std::vector<std::pair<int64_t, size_t>> starts, ends;
  for (size_t i = 0; i < claims.size(); ++i) {
    starts.emplace_back(claims[i].start, i);
    ends.emplace_back(claims[i].end, i);
  }
  std::sort(starts.begin(), starts.end());
  std::sort(ends.begin(), ends.end());
  auto stronger = [&](size_t a, size_t b) {
    if (claims[a].priority != claims[b].priority) return claims[a].priority > claims[b].priority;
    if (claims[a].start != claims[b].start) return claims[a].start > claims[b].start;
    return a < b;
  };
  std::set<size_t, decltype(stronger)> active(stronger);

  json timeline = json::array();
  auto add = [&](int64_t start, int64_t end, const std::string& category, const json& detail) {
    if (end <= start) return;
    if (!timeline.empty()) {
      json& last = timeline.back();
      json last_detail = last;
      last_detail.erase("start_ms");
      last_detail.erase("end_ms");
      last_detail.erase("category");
      if (last["category"] == category && last_detail == detail && last["end_ms"] == start) {
        last["end_ms"] = end;
        return;
      }
    }
    json seg = spanJson(start, end);
    seg["category"] = category;
    for (auto it = detail.begin(); it != detail.end(); ++it) seg[it.key()] = it.value();
    timeline.push_back(std::move(seg));
  };
  size_t si = 0, ei = 0;
  int64_t at = from_ms;
  while (at < seen_to) {
    while (ei < ends.size() && ends[ei].first <= at) active.erase(ends[ei++].second);
    while (si < starts.size() && starts[si].first <= at) {
      if (claims[starts[si].second].end > at) active.insert(starts[si].second);
      ++si;
    }
    int64_t next = seen_to;
    if (si < starts.size()) next = std::min(next, starts[si].first);
    if (ei < ends.size()) next = std::min(next, ends[ei].first);
    if (active.empty() && next - at < kRoundingGapMs && !timeline.empty() && next < seen_to)
      timeline.back()["end_ms"] = next;  // two spans' clocks read a moment apart: not a stretch of its own
    else if (active.empty())
      add(at, next, "not_tracked", json::object());
    else
      add(at, next, claims[*active.begin()].category, claims[*active.begin()].detail);
    at = next;
  }
  add(seen_to, to_ms, "future", json::object());

  json totals = json::object();
  for (const auto& c : dayCategories()) totals[c] = 0;
  for (const auto& seg : timeline)
    totals[seg["category"].get<std::string>()] = totals[seg["category"].get<std::string>()].get<int64_t>() +
                                                 seg["end_ms"].get<int64_t>() - seg["start_ms"].get<int64_t>();
  return json{{"timeline", std::move(timeline)}, {"totals", std::move(totals)}};
}

json buildDayDetails(const std::vector<Record>& records, int64_t from_ms, int64_t to_ms, int64_t now_ms) {
  json apps = json::array(), sites = json::array(), usb = json::array();
  constexpr int64_t kSlotMs = 10 * 60 * 1000;
  struct Slot {
    int64_t keystrokes = 0, clicks = 0, moves = 0, scrolls = 0, active_seconds = 0, tracked_ms = 0;
  };
  std::map<int64_t, Slot> slots;
  int64_t keystrokes = 0, mouse_events = 0;
  for (const Record& r : records) {
    const int64_t start = std::max(r.start_ms, from_ms);
    const int64_t end = std::min(r.end_ms.value_or(std::max(now_ms, r.start_ms)), to_ms);
    switch (r.kind) {
      case RecordKind::kAppUsage:
        if (end > start) {
          json a = spanJson(start, end);
          a["app"] = text(r.data, "app");
          a["title"] = text(r.data, "title");
          apps.push_back(std::move(a));
        }
        break;
      case RecordKind::kWebsiteUsage:
        if (end > start) {
          json w = spanJson(start, end);
          w["domain"] = text(r.data, "domain");
          w["browser"] = text(r.data, "browser");
          sites.push_back(std::move(w));
        }
        break;
      case RecordKind::kActivity: {
        if (r.start_ms < from_ms || r.start_ms >= to_ms) break;  // a minute's counts belong where it began
        Slot& s = slots[r.start_ms - ((r.start_ms % kSlotMs) + kSlotMs) % kSlotMs];
        s.keystrokes += integer(r.data, "keystrokes");
        s.clicks += integer(r.data, "clicks");
        s.moves += integer(r.data, "moves");
        s.scrolls += integer(r.data, "scrolls");
        s.active_seconds += integer(r.data, "active_seconds");
        s.tracked_ms += r.duration_ms;
        keystrokes += integer(r.data, "keystrokes");
        mouse_events += integer(r.data, "mouse_events");
        break;
      }
      case RecordKind::kUsbEvent:
        if (r.start_ms >= from_ms && r.start_ms < to_ms) {
          json u{{"at_ms", r.start_ms},
                 {"action", text(r.data, "action")},
                 {"device_name", text(r.data, "device_name")},
                 {"vendor_id", text(r.data, "vendor_id")},
                 {"product_id", text(r.data, "product_id")},
                 {"is_storage", r.data.contains("is_storage") && r.data["is_storage"] == true},
                 {"present_at_start", r.data.contains("present_at_start") && r.data["present_at_start"] == true}};
          usb.push_back(std::move(u));
        }
        break;
      default:
        break;
    }
  }
  auto byStart = [](const json& a, const json& b) { return a["start_ms"] < b["start_ms"]; };
  std::stable_sort(apps.begin(), apps.end(), byStart);
  std::stable_sort(sites.begin(), sites.end(), byStart);
  std::stable_sort(usb.begin(), usb.end(), [](const json& a, const json& b) { return a["at_ms"] < b["at_ms"]; });
  json slot_list = json::array();
  for (const auto& [start, s] : slots) {
    const int64_t percent =
        s.tracked_ms > 0 ? std::min<int64_t>(100, (s.active_seconds * 1000 * 100 + s.tracked_ms / 2) / s.tracked_ms)
        : s.active_seconds > 0 ? 100
                               : 0;
    slot_list.push_back({{"start_ms", start},
                         {"keystrokes", s.keystrokes},
                         {"clicks", s.clicks},
                         {"moves", s.moves},
                         {"scrolls", s.scrolls},
                         {"active_seconds", s.active_seconds},
                         {"activity_percent", percent}});
  }
  return json{
      {"apps_timeline", std::move(apps)},
      {"websites_timeline", std::move(sites)},
      {"activity",
       {{"slot_ms", kSlotMs}, {"keystrokes", keystrokes}, {"mouse_events", mouse_events}, {"slots", slot_list}}},
      {"usb", std::move(usb)}};
}

}  // namespace wm::agent
