#include "consent_gate.h"

#include <algorithm>

namespace wm::server::http {

std::optional<std::string> consentCategory(api::RecordKind kind) {
  switch (kind) {
    case api::RecordKind::kAppUsage:
    case api::RecordKind::kDowntime:
      return "app_usage";
    case api::RecordKind::kWebsiteUsage:
      return "website_usage";
    case api::RecordKind::kScreenshot:
      return "screenshots";
    case api::RecordKind::kActivity:
      return "activity";
    case api::RecordKind::kUsbEvent:
      return "usb";
    case api::RecordKind::kTimeEntry:
    case api::RecordKind::kIdlePeriod:
    case api::RecordKind::kBreak:
    case api::RecordKind::kConsentEvent:
    case api::RecordKind::kIncident:
      return std::nullopt;
  }
  return std::nullopt;
}

void ConsentTimeline::add(const std::string& category, long long at_ms, bool granted) {
  auto& list = by_category_[category];
  // Rows arrive ordered; keep the order stable for equal times (the later row wins, as in the SQL's order).
  auto pos = std::upper_bound(list.begin(), list.end(), at_ms,
                              [](long long t, const std::pair<long long, bool>& d) { return t < d.first; });
  list.insert(pos, {at_ms, granted});
}

bool ConsentTimeline::grantedAt(const std::vector<std::pair<long long, bool>>& decisions, long long at_ms) const {
  auto after = std::upper_bound(decisions.begin(), decisions.end(), at_ms,
                                [](long long t, const std::pair<long long, bool>& d) { return t < d.first; });
  if (after == decisions.begin()) return false;  // no decision yet: no consent
  return std::prev(after)->second;
}

bool ConsentTimeline::allows(const std::string& category, long long at_ms) const {
  auto it = by_category_.find(category);
  if (it == by_category_.end()) return false;
  return grantedAt(it->second, at_ms) || grantedAt(it->second, at_ms + kGraceMs);
}

Result<ConsentTimeline> loadConsent(PooledConnection& c, const std::string& user,
                                    const std::vector<std::string>& categories) {
  std::string cats = "{";
  for (const auto& k : categories) cats += (cats.size() > 1 ? "," : "") + k;  // fixed names: no quoting needed
  cats += "}";
  // The index consent_audit_log_user_type_created_idx serves this; a person has a few rows per category.
  auto r = c.run("wm_consent_log",
                 "select consent_type, floor(extract(epoch from created_at) * 1000)::bigint, action = 'granted' "
                 "from public.consent_audit_log where user_id = $1::uuid and consent_type = any($2::text[]) "
                 "order by created_at, id",
                 {user, cats});
  if (!r) return std::unexpected(r.error());
  ConsentTimeline t;
  for (int i = 0; i < r->rows(); ++i) t.add(std::string(r->value(i, 0)), r->asInt(i, 1), r->value(i, 2) == "t");
  return t;
}

std::string noConsentReason(const std::string& category) {
  return "no_consent: " + category + " not granted by this person at the record's time";
}

}  // namespace wm::server::http
