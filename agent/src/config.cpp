#include "workmonitor/agent/config.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "workmonitor/agent/website_usage.h"

namespace wm::agent {

using nlohmann::json;

namespace {

// Reads an integer field within [lo, hi]; anything else is a problem and leaves `out` unchanged.
bool readInt(const json& j, const char* key, int64_t lo, int64_t hi, int64_t& out, std::vector<std::string>& problems) {
  auto it = j.find(key);
  if (it == j.end()) return false;
  if (!it->is_number_integer() || it->get<int64_t>() < lo || it->get<int64_t>() > hi) {
    problems.push_back(std::string(key) + ": must be an integer from " + std::to_string(lo) + " to " +
                       std::to_string(hi) + "; using the default " + std::to_string(out));
    return false;
  }
  out = it->get<int64_t>();
  return true;
}

void readSeconds(const json& j, const char* key, int64_t lo, int64_t hi, Millis& out,
                 std::vector<std::string>& problems) {
  int64_t s = out.count() / 1000;
  if (readInt(j, key, lo, hi, s, problems)) out = Millis(s * 1000);
}

void readBool(const json& j, const char* key, bool& out, std::vector<std::string>& problems) {
  auto it = j.find(key);
  if (it == j.end()) return;
  if (it->is_boolean())
    out = it->get<bool>();
  else
    problems.push_back(std::string(key) + ": must be true or false; using " + (out ? "true" : "false"));
}

void readInt32(const json& j, const char* key, int lo, int hi, int& out, std::vector<std::string>& problems) {
  int64_t v = out;
  if (readInt(j, key, lo, hi, v, problems)) out = static_cast<int>(v);
}

void readChoice(const json& j, const char* key, std::initializer_list<const char*> allowed, std::string& out,
                std::vector<std::string>& problems) {
  auto it = j.find(key);
  if (it == j.end()) return;
  if (it->is_string()) {
    for (const char* a : allowed) {
      if (it->get_ref<const std::string&>() == a) {
        out = a;
        return;
      }
    }
  }
  std::string list;
  for (const char* a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
  problems.push_back(std::string(key) + ": must be one of " + list + "; using " + out);
}

void readStrings(const json& j, const char* key, size_t max_items, std::vector<std::string>& out,
                 std::vector<std::string>& problems) {
  auto it = j.find(key);
  if (it == j.end()) return;
  bool ok = it->is_array() && it->size() <= max_items;
  if (ok) {
    for (const auto& v : *it)
      ok = ok && v.is_string() && !v.get_ref<const std::string&>().empty() &&
           v.get_ref<const std::string&>().size() <= 256;
  }
  if (!ok) {
    problems.push_back(std::string(key) + ": must be a list of at most " + std::to_string(max_items) +
                       " non-empty names; keeping the previous list");
    return;
  }
  out.clear();
  for (const auto& v : *it) out.push_back(v.get<std::string>());
}

// A list of excluded sites: every entry passes siteEntryProblem(), else the previous list stays.
void readSites(const json& j, const char* key, size_t max_items, std::vector<std::string>& out,
               std::vector<std::string>& problems) {
  auto it = j.find(key);
  if (it == j.end()) return;
  if (!it->is_array() || it->size() > max_items) {
    problems.push_back(std::string(key) + ": must be a list of at most " + std::to_string(max_items) +
                       " host names; keeping the previous list");
    return;
  }
  for (const auto& v : *it) {
    const std::string why = v.is_string() ? siteEntryProblem(v.get_ref<const std::string&>()) : "not a string";
    if (!why.empty()) {
      problems.push_back(std::string(key) + ": " + (v.is_string() ? "'" + v.get<std::string>() + "': " : "") + why +
                         "; keeping the previous list");
      return;
    }
  }
  out.clear();
  for (const auto& v : *it) out.push_back(v.get<std::string>());
}

}  // namespace

LoadedConfig configFromJson(const json& j) {
  LoadedConfig out;
  out.source = "defaults";
  if (!j.is_object()) {
    out.problems.push_back("the configuration must be a JSON object; using defaults");
    return out;
  }
  AgentConfig& c = out.config;
  auto& p = out.problems;
  readSeconds(j, "idle_threshold_s", 1, 24 * 3600, c.tracker.idle_threshold, p);
  readSeconds(j, "idle_decision_timeout_s", 1, 24 * 3600, c.tracker.idle_decision_timeout, p);
  readSeconds(j, "pulse_s", 0, 600, c.tracker.pulse, p);
  readSeconds(j, "resume_window_s", 0, 24 * 3600, c.tracker.resume_window, p);
  readSeconds(j, "heartbeat_s", 1, 600, c.tracker.heartbeat_interval, p);
  if (auto it = j.find("idle_default_decision"); it != j.end()) {
    auto d = it->is_string() ? decisionFromName(it->get<std::string>()) : std::nullopt;
    if (d && *d != IdleDecision::kReassign)
      c.tracker.idle_default = *d;
    else
      p.push_back(std::string("idle_default_decision: must be keep, discard, discard_continue or break; using ") +
                  decisionName(c.tracker.idle_default));
  }
  if (auto it = j.find("idle_decisions"); it != j.end()) {
    std::vector<IdleDecision> list;
    bool ok = it->is_array();
    if (ok) {
      for (const auto& v : *it) {
        auto d = v.is_string() ? decisionFromName(v.get<std::string>()) : std::nullopt;
        if (!d) {
          ok = false;
          break;
        }
        if (std::find(list.begin(), list.end(), *d) == list.end()) list.push_back(*d);
      }
    }
    if (ok) {
      c.tracker.idle_decisions = std::move(list);
    } else {
      p.push_back("idle_decisions: must be a list of keep, discard, discard_continue, reassign, break; using all");
    }
  }
  readBool(j, "allow_quit", c.allow_quit, p);
  readBool(j, "consent_preapproved", c.consent_preapproved, p);
  if (auto it = j.find("auto_tracking"); it != j.end()) {
    if (it->is_boolean())
      c.tracker.auto_tracking = it->get<bool>();
    else
      p.push_back("auto_tracking: must be true or false; using false");
  }
  int64_t mb = c.outbox_max_bytes / (1024 * 1024);
  if (readInt(j, "outbox_max_mb", 16, 1024 * 1024, mb, p)) c.outbox_max_bytes = mb * 1024 * 1024;
  int64_t days = c.outbox_max_age.count() / (24 * 3600 * 1000LL);
  if (readInt(j, "outbox_max_age_days", 1, 3650, days, p)) c.outbox_max_age = Millis(days * 24 * 3600 * 1000LL);

  ScreenshotConfig& sc = c.screenshots;
  readBool(j, "screenshots_enabled", sc.enabled, p);
  readSeconds(j, "screenshot_interval_s", 60, 24 * 3600, sc.interval, p);
  readInt32(j, "screenshots_per_interval", 1, 10, sc.per_interval, p);
  readInt32(j, "screenshot_max_width", 320, 7680, sc.max_width, p);
  readBool(j, "screenshot_blur", sc.blur, p);
  readChoice(j, "screenshot_format", {"jpeg", "webp"}, sc.format, p);
  readInt32(j, "screenshot_quality", 1, 100, sc.quality, p);
  readBool(j, "screenshot_notify", sc.notify, p);
  readStrings(j, "screenshot_excluded_apps", 200, sc.excluded_apps, p);
  CollectorConfig& cc = c.collectors;
  readBool(j, "activity_counts", cc.activity_counts, p);
  readBool(j, "usb_events", cc.usb_events, p);
  readBool(j, "website_usage", cc.website_usage, p);
  readBool(j, "website_domain_only", cc.website_domain_only, p);
  readSites(j, "website_excluded_sites", 500, cc.website_excluded_sites, p);
  std::string lock = cc.lock_as_break ? "break" : "idle";
  readChoice(j, "lock_counts_as", {"idle", "break"}, lock, p);
  cc.lock_as_break = lock == "break";

  static const char* kKnown[] = {"idle_threshold_s",
                                 "idle_decision_timeout_s",
                                 "pulse_s",
                                 "resume_window_s",
                                 "heartbeat_s",
                                 "idle_default_decision",
                                 "idle_decisions",
                                 "allow_quit",
                                 "consent_preapproved",
                                 "auto_tracking",
                                 "outbox_max_mb",
                                 "outbox_max_age_days",
                                 "screenshots_enabled",
                                 "screenshot_interval_s",
                                 "screenshots_per_interval",
                                 "screenshot_max_width",
                                 "screenshot_blur",
                                 "screenshot_format",
                                 "screenshot_quality",
                                 "screenshot_notify",
                                 "screenshot_excluded_apps",
                                 "activity_counts",
                                 "usb_events",
                                 "website_usage",
                                 "website_domain_only",
                                 "website_excluded_sites",
                                 "lock_counts_as"};
  for (const auto& [key, value] : j.items()) {
    bool known = false;
    for (const char* k : kKnown) known = known || key == k;
    if (!known) p.push_back(key + ": unknown setting, ignored");
  }
  return out;
}

LoadedConfig loadConfig(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return configFromJson(json::object());
  std::ifstream in(path);
  if (!in) {
    LoadedConfig out = configFromJson(json::object());
    out.problems.push_back(path.string() + ": cannot be read; using defaults");
    return out;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  json j = json::parse(ss.str(), nullptr, false);
  if (j.is_discarded()) {
    LoadedConfig out = configFromJson(json::object());
    out.problems.push_back(path.string() + ": not valid JSON; using defaults");
    return out;
  }
  LoadedConfig out = configFromJson(j);
  out.source = path.string();
  return out;
}

bool localOnlySetting(const std::string& key) { return key == "consent_preapproved"; }

std::vector<SettingProblem> profileSettingsProblems(const json& settings) {
  if (!settings.is_object()) return {{"", "the settings must be a JSON object", SettingProblem::Kind::kBadValue}};
  std::vector<SettingProblem> out;
  for (const auto& [key, value] : settings.items())
    if (localOnlySetting(key))
      out.push_back({key, "only the computer's own agent.json may set this", SettingProblem::Kind::kLocalOnly});
  // Every problem configFromJson reports is "key: why; what the agent does instead". A refused profile
  // changes nothing, so the fallback is left out.
  for (const std::string& p : configFromJson(settings).problems) {
    const size_t colon = p.find(": ");
    if (colon == std::string::npos) {
      out.push_back({"", p, SettingProblem::Kind::kBadValue});
      continue;
    }
    SettingProblem sp{p.substr(0, colon), p.substr(colon + 2), SettingProblem::Kind::kBadValue};
    if (localOnlySetting(sp.key)) continue;  // reported above
    for (const char* fallback : {"; using", "; keeping"})
      if (const size_t cut = sp.message.rfind(fallback); cut != std::string::npos) sp.message.resize(cut);
    if (sp.message == "unknown setting, ignored") {
      sp.message = "not a setting of this agent";
      sp.kind = SettingProblem::Kind::kUnknown;
    }
    out.push_back(std::move(sp));
  }
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.key < b.key; });
  return out;
}

json configToJson(const AgentConfig& c) {
  json decisions = json::array();
  for (IdleDecision d : c.tracker.idle_decisions) decisions.push_back(decisionName(d));
  return json{{"idle_threshold_s", c.tracker.idle_threshold.count() / 1000},
              {"idle_decisions", decisions},
              {"allow_quit", c.allow_quit},
              {"consent_preapproved", c.consent_preapproved},
              {"idle_decision_timeout_s", c.tracker.idle_decision_timeout.count() / 1000},
              {"idle_default_decision", decisionName(c.tracker.idle_default)},
              {"pulse_s", c.tracker.pulse.count() / 1000},
              {"resume_window_s", c.tracker.resume_window.count() / 1000},
              {"heartbeat_s", c.tracker.heartbeat_interval.count() / 1000},
              {"auto_tracking", c.tracker.auto_tracking},
              {"outbox_max_mb", c.outbox_max_bytes / (1024 * 1024)},
              {"outbox_max_age_days", c.outbox_max_age.count() / (24 * 3600 * 1000LL)},
              {"screenshots_enabled", c.screenshots.enabled},
              {"screenshot_interval_s", c.screenshots.interval.count() / 1000},
              {"screenshots_per_interval", c.screenshots.per_interval},
              {"screenshot_max_width", c.screenshots.max_width},
              {"screenshot_blur", c.screenshots.blur},
              {"screenshot_format", c.screenshots.format},
              {"screenshot_quality", c.screenshots.quality},
              {"screenshot_notify", c.screenshots.notify},
              {"screenshot_excluded_apps", c.screenshots.excluded_apps},
              {"activity_counts", c.collectors.activity_counts},
              {"usb_events", c.collectors.usb_events},
              {"website_usage", c.collectors.website_usage},
              {"website_domain_only", c.collectors.website_domain_only},
              {"website_excluded_sites", c.collectors.website_excluded_sites},
              {"lock_counts_as", c.collectors.lock_as_break ? "break" : "idle"}};
}

}  // namespace wm::agent
