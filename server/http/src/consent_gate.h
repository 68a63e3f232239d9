// Consent on the server (issue 15): a monitoring record is stored only when the person's consent to its
// category held at the record's time. The agent asks before it records (agent/src/consent.cpp); this keeps a
// modified agent from uploading around that question.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "workmonitor/api/records.h"
#include "workmonitor/server/http/pool.h"

namespace wm::server::http {

/// The consent_type a record of this kind needs, or nullopt when it needs none: time the person tracks with
/// the timer (time entries, idle periods, breaks), consent events themselves and the agent's own incidents.
/// The agent's downtime is recorded under the app-usage consent (its text names it).
std::optional<std::string> consentCategory(api::RecordKind kind);

/// A person's consent decisions per category, oldest first.
class ConsentTimeline {
 public:
  /// A record may start this much before the grant that allows it: the agent stamps the grant and a span it
  /// opens right after from two readings of the clock, and a small wall-clock step must not turn a correct
  /// agent's first records into rejections (which it would quarantine).
  static constexpr long long kGraceMs = 60 * 1000;

  void add(const std::string& category, long long at_ms, bool granted);
  /// Whether the latest decision at or before at_ms (or at_ms + kGraceMs) is a grant. A record that began
  /// before a revoke is allowed (it was made under the consent); one that began after is not.
  bool allows(const std::string& category, long long at_ms) const;

 private:
  bool grantedAt(const std::vector<std::pair<long long, bool>>& decisions, long long at_ms) const;
  std::map<std::string, std::vector<std::pair<long long, bool>>> by_category_;
};

/// The person's decisions for `categories` from public.consent_audit_log, read in one statement in the
/// caller's transaction under the person's claims (RLS: the owner reads their own log).
Result<ConsentTimeline> loadConsent(PooledConnection& c, const std::string& user,
                                    const std::vector<std::string>& categories);

/// The rejection reason of a record without consent.
std::string noConsentReason(const std::string& category);

}  // namespace wm::server::http
