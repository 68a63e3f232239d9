// Consent before monitoring (see consent.h).
#include "workmonitor/agent/consent.h"

#include <algorithm>
#include <cstdio>

namespace wm::agent {

using nlohmann::json;

namespace {

std::string minutes(Millis d) {
  const int64_t s = d.count() / 1000;
  if (s % 60 != 0) return std::to_string(s) + " s";
  return std::to_string(s / 60) + " min";
}

}  // namespace

std::vector<ConsentItem> consentItems(const AgentConfig& c) {
  std::vector<ConsentItem> items;
  // "2": since issue 14 the agent also records when it was not running; a grant of the older text is asked again.
  items.push_back({"app_usage",
                   "the app and window title in front of you while time is tracked, and when WorkMonitor was not "
                   "running on this computer (stopped, crashed, switched off or asleep)",
                   "2"});
  if (c.tracker.auto_tracking)
    items.push_back({"auto_tracking", "time and apps are tracked automatically whenever you are active", "1"});
  if (c.collectors.website_usage) {
    items.push_back({"website_usage",
                     c.collectors.website_domain_only
                         ? "the website domains you visit while time is tracked (browser extension)"
                         : "the web addresses you visit while time is tracked (browser extension)",
                     c.collectors.website_domain_only ? "domain" : "url"});
  }
  if (c.screenshots.enabled) {
    const auto& s = c.screenshots;
    std::string detail = std::to_string(s.per_interval) + (s.per_interval == 1 ? " screenshot" : " screenshots") +
                         " every " + minutes(s.interval) + " while time is tracked" +
                         (s.blur ? ", blurred" : ", not blurred") + "; password managers are blacked out";
    items.push_back({"screenshots", detail,
                     std::to_string(s.interval.count() / 1000) + "/" + std::to_string(s.per_interval) + "/" +
                         (s.blur ? "blur" : "clear")});
  }
  if (c.collectors.activity_counts)
    items.push_back(
        {"activity", "how many keyboard and mouse events per minute while time is tracked (never which keys)", "1"});
  if (c.collectors.usb_events) items.push_back({"usb", "USB devices connected to and removed from this computer", "1"});
  return items;
}

std::string consentVersion(const std::vector<ConsentItem>& items) {
  std::vector<std::string> parts;
  for (const auto& i : items) parts.push_back(i.category + "=" + i.fingerprint);
  std::sort(parts.begin(), parts.end());
  uint64_t h = 1469598103934665603ull;  // FNV-1a 64: stable across builds and platforms
  for (const auto& p : parts) {
    for (unsigned char ch : p + ";") {
      h ^= ch;
      h *= 1099511628211ull;
    }
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

Consent::Consent(const Clock& clock, UuidV7Generator& ids, RecordSink& sink) : clock_(clock), ids_(ids), sink_(sink) {
  setConfig(AgentConfig{});
}

void Consent::restore(const std::optional<std::string>& saved) {
  if (!saved) return;
  json s = json::parse(*saved, nullptr, false);
  if (!s.is_object()) return;
  const std::string d = s.value("decision", "none");
  if (s.contains("preapproval_recorded") && s["preapproval_recorded"].is_string())
    preapproval_recorded_ = s["preapproval_recorded"].get<std::string>();
  if (d != "granted" && d != "declined") return;
  decision_ = d;
  decided_version_ = s.value("version", "");
  decided_at_ms_ = s.value("decided_at_ms", int64_t{0});
  granted_.clear();
  if (d == "granted" && s.contains("categories") && s["categories"].is_object()) {
    for (const auto& [k, v] : s["categories"].items())
      if (v.is_string()) granted_[k] = v.get<std::string>();
  }
}

bool Consent::setConfig(const AgentConfig& c) {
  const json before = status();
  std::vector<bool> allowed_before;
  static const char* kAll[] = {"app_usage", "auto_tracking", "website_usage", "screenshots", "activity", "usb"};
  for (const char* k : kAll) allowed_before.push_back(allows(k));
  preapproved_ = c.consent_preapproved;
  items_ = consentItems(c);
  version_ = consentVersion(items_);
  bool changed = before != status();
  size_t i = 0;
  for (const char* k : kAll) changed = changed || allowed_before[i++] != allows(k);
  if (preapproved_ && preapproval_recorded_ != version_) {
    // The person was not asked: the grant is the administrator's, and the record says so. A later decision
    // of the person (after the pre-approval is lifted) is recorded as theirs, source agent.
    const int64_t at = toUnixMs(clock_.wall());
    for (const auto& item : items_) record(item, true, at, "preapproved:" + version_, "admin_import");
    preapproval_recorded_ = version_;
    save();
  } else if (!preapproved_ && !preapproval_recorded_.empty()) {
    // The pre-approval was lifted: the administrator's grants end now, so the server stops taking records
    // under them. What the person granted themselves stays (a grant of theirs is recorded after it, or they
    // are asked again); every category not allowed now is revoked, whether or not collected any more.
    const int64_t at = toUnixMs(clock_.wall());
    for (const char* k : kAll) {
      if (allows(k)) continue;
      auto item = std::find_if(items_.begin(), items_.end(), [&](const ConsentItem& it) { return it.category == k; });
      record(item != items_.end() ? *item : ConsentItem{k, "", ""}, false, at,
             "preapproval_lifted:" + preapproval_recorded_, "admin_import");
    }
    preapproval_recorded_.clear();
    save();
  }
  return changed;
}

bool Consent::collects(const std::string& category) const {
  return std::any_of(items_.begin(), items_.end(), [&](const ConsentItem& i) { return i.category == category; });
}

std::string Consent::withheldReason(const std::string& category) const {
  if (!collects(category) || allows(category)) return "";
  if (declined())
    return "off: the person declined monitoring on this computer (to change that: `workmonitor-agent consent "
           "--grant` or the tray)";
  return "on in the settings, but waits for the person's consent: starts when they agree in the tray or with "
         "`workmonitor-agent consent --grant`";
}

bool Consent::allows(const std::string& category) const {
  // Not collected under these settings: nothing to allow, not even by a pre-approval.
  auto item = std::find_if(items_.begin(), items_.end(), [&](const ConsentItem& i) { return i.category == category; });
  if (item == items_.end()) return false;
  if (preapproved_) return true;
  if (decision_ != "granted") return false;
  auto g = granted_.find(category);
  return g != granted_.end() && g->second == item->fingerprint;
}

bool Consent::declined() const { return !preapproved_ && decision_ == "declined"; }

bool Consent::required() const {
  if (preapproved_) return false;
  if (decision_ == "declined") return decided_version_ != version_;  // a new question after a changed set
  if (decision_ != "granted") return true;
  for (const auto& i : items_) {
    auto g = granted_.find(i.category);
    if (g == granted_.end() || g->second != i.fingerprint) return true;
  }
  return false;
}

Result<void> Consent::decide(bool grant, const std::string& version) {
  if (preapproved_)
    return fail(Errc::kInvalidInput, "monitoring on this computer was pre-approved by its administrator");
  if (version.empty() || version != version_)
    return fail(Errc::kInvalidInput, "consent version " + (version.empty() ? std::string("(none)") : version) +
                                         " is not the current one (" + version_ +
                                         "): what is collected has changed; read the consent status again");
  decision_ = grant ? "granted" : "declined";
  decided_version_ = version_;
  decided_at_ms_ = toUnixMs(clock_.wall());
  granted_.clear();
  if (grant)
    for (const auto& i : items_) granted_[i.category] = i.fingerprint;
  for (const auto& i : items_) record(i, grant, decided_at_ms_, version_, "agent");
  save();
  return {};
}

void Consent::record(const ConsentItem& item, bool grant, int64_t at_ms, const std::string& policy_version,
                     const char* source) {
  api::Record r;
  r.id = ids_.next();
  r.kind = api::RecordKind::kConsentEvent;
  r.revision = 1;
  r.start_ms = at_ms;
  r.end_ms = at_ms;
  r.duration_ms = 0;
  r.data = json{{"consent_type", item.category},
                {"action", grant ? "granted" : "revoked"},
                {"policy_version", policy_version},
                {"source", source},
                {"detail", item.detail}};
  sink_.put(r);
}

void Consent::save() {
  json cats = json::object();
  for (const auto& [k, v] : granted_) cats[k] = v;
  json s{
      {"decision", decision_}, {"version", decided_version_}, {"decided_at_ms", decided_at_ms_}, {"categories", cats}};
  if (!preapproval_recorded_.empty()) s["preapproval_recorded"] = preapproval_recorded_;
  sink_.setState(kStateKey, s.dump());
}

json Consent::status() const {
  json collects = json::array();
  json changes = json::array();
  for (const auto& i : items_) {
    collects.push_back({{"category", i.category}, {"detail", i.detail}});
    if (decision_ == "granted") {
      auto g = granted_.find(i.category);
      if (g == granted_.end() || g->second != i.fingerprint) changes.push_back(i.category);
    }
  }
  const bool granted = preapproved_ || (decision_ == "granted" && changes.empty());
  json s{{"required", required()},     {"version", version_}, {"collects", collects},
         {"granted", granted},         {"changes", changes},  {"decision", preapproved_ ? "preapproved" : decision_},
         {"preapproved", preapproved_}};
  if (decided_at_ms_ > 0 && !preapproved_) s["decided_at"] = formatUtc(fromUnixMs(decided_at_ms_));
  return s;
}

}  // namespace wm::agent
