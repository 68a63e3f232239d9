// Consent before monitoring (ARCHITECTURE.md, "Privacy is part of the product").
//
// The effective settings say what the agent would collect beyond the timer: app usage (the window in front
// while tracking), automatic tracking, websites, screenshots, activity counts, USB devices. Each is a
// category (the server's consent_audit_log.consent_type) with a detail a person can read and a fingerprint
// of the settings that matter to them (e.g. the screenshot interval and blur). `version` is a stable hash of
// the whole set. Nothing but the timer runs until the person grants the current version; a category keeps
// running after a profile change only if its fingerprint is the one granted. A decline stops everything
// and keeps the timer off until a later grant. Decisions are kept in the outbox state ("consent") and
// recorded as consent_event records, one per category. A pre-approval (consent_preapproved, the
// administrator's machine policy) is recorded too, once per version, as the administrator's grant
// (source admin_import, policy_version "preapproved:<version>"): the server stores monitoring records only
// under a grant it holds (issue 15), and its log says who approved.
//
// Single-threaded and free of I/O (like the Tracker): the daemon calls it on its io thread.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "workmonitor/agent/config.h"
#include "workmonitor/agent/tracker.h"
#include "workmonitor/common/clock.h"
#include "workmonitor/common/result.h"
#include "workmonitor/common/uuid.h"

namespace wm::agent {

/// One thing the agent collects under the current settings.
struct ConsentItem {
  std::string category;     // app_usage, auto_tracking, website_usage, screenshots, activity, usb
  std::string detail;       // for a person
  std::string fingerprint;  // the settings that matter for this category; a change asks again
};

/// What the settings collect beyond the timer, in a fixed order.
std::vector<ConsentItem> consentItems(const AgentConfig& c);
/// A stable hash (16 hex digits) of the items' categories and fingerprints.
std::string consentVersion(const std::vector<ConsentItem>& items);

class Consent {
 public:
  static constexpr const char* kStateKey = "consent";

  Consent(const Clock& clock, UuidV7Generator& ids, RecordSink& sink);

  /// The saved state of the previous run (outbox state kStateKey); unreadable state counts as none.
  void restore(const std::optional<std::string>& saved);
  /// The effective settings (local + profile). Returns true when what is allowed or asked changed. Under a
  /// pre-approval not yet recorded for this version, records its grant (before anything it allows runs).
  bool setConfig(const AgentConfig& c);

  /// May this category be collected now?
  bool allows(const std::string& category) const;
  /// Do the current settings switch this category's collector on? The consent list is the one place that
  /// says so (consentItems), so what a person is asked about and what runs cannot drift apart.
  bool collects(const std::string& category) const;
  /// Why a category the settings switch on is not collected now: waiting for the person's answer, or
  /// declined, with what to do. Empty when it is allowed or when the settings switch it off.
  std::string withheldReason(const std::string& category) const;
  /// The person declined: nothing is monitored and the timer may not start.
  bool declined() const;
  /// Monitoring (or part of it) waits for the person's answer to the current version.
  bool required() const;
  const std::string& version() const { return version_; }

  /// grant or decline `version` (must be the current one). Stored, recorded, applied.
  Result<void> decide(bool grant, const std::string& version);

  /// {required, version, collects: [{category, detail}], granted, changes, decision, preapproved, decided_at?}
  nlohmann::json status() const;

 private:
  void save();
  void record(const ConsentItem& item, bool grant, int64_t at_ms, const std::string& policy_version,
              const char* source);

  const Clock& clock_;
  UuidV7Generator& ids_;
  RecordSink& sink_;
  bool preapproved_ = false;
  std::vector<ConsentItem> items_;
  std::string version_;
  // The stored decision: "none", "granted" or "declined", for `decided_version_` with these fingerprints.
  std::string decision_ = "none";
  std::string decided_version_;
  std::map<std::string, std::string> granted_;  // category -> fingerprint granted
  int64_t decided_at_ms_ = 0;
  std::string preapproval_recorded_;  // the version whose pre-approval was recorded as consent events
};

}  // namespace wm::agent
