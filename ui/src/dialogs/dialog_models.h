// What the tray's windows say, computed from the agent's JSON without any widget: the consent text and its
// "what changed" view, the idle-return sentence and choices, the settings rows, the "my activity" summary.
// The windows only lay these out, so the logic tests check the words here and the clicks in the windows.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <QDateTime>
#include <QTimeZone>
#include <nlohmann/json.hpp>

namespace wm::tray {

// --- small helpers the windows share -------------------------------------------------------------------

/// "45 s", "17 min", "2 h 05 min" (minutes rounded to the nearest one from a minute on).
std::string formatDurationShort(int64_t ms);
/// A time the agent sent: ISO 8601 UTC text ("2026-11-25T10:02:00.000Z") or Unix milliseconds; invalid if
/// neither.
QDateTime parseAgentTime(const nlohmann::json& value);
/// "10:02" in `tz`; "?" for an invalid time.
std::string localClock(const QDateTime& t, const QTimeZone& tz);
/// The string at `key`, or `fallback` when missing or not a string (never throws).
std::string jsonString(const nlohmann::json& j, const char* key, const std::string& fallback = {});
/// The bool at `key`, or `fallback` when missing or not a bool (never throws).
bool jsonBool(const nlohmann::json& j, const char* key, bool fallback = false);
/// The integer at `key`, or `fallback` when missing or not a number (never throws).
int64_t jsonInt(const nlohmann::json& j, const char* key, int64_t fallback = 0);

// --- consent --------------------------------------------------------------------------------------------

struct ConsentItem {
  std::string category;  // as the agent names it ("screenshots", "apps", ...)
  std::string label;     // "Screenshots"
  std::string detail;    // the agent's detail, e.g. "every 10 min, blurred"
  bool changed = false;  // listed in consent.changes: new since the last grant
};

struct ConsentModel {
  nlohmann::json version;  // sent back unchanged with the answer
  bool is_update = false;  // consent.changes is non-empty: the profile added something since the last grant
  std::string title;
  std::string intro;
  std::vector<ConsentItem> items;
  std::vector<std::string> changes;  // "New: Screenshots — every 10 min, blurred", one per changed category
  std::string who_can_see;
  std::string decline_note;  // shown after Decline
  /// Everything above as plain text, in the order the dialog shows it.
  std::string text() const;
};

/// The consent question for status.consent ({required, version, collects: [{category, detail}], granted,
/// changes: [category]}).
ConsentModel consentText(const nlohmann::json& consent);

// --- idle return ----------------------------------------------------------------------------------------

struct IdleChoice {
  std::string decision;  // keep | discard | discard_continue | reassign | break
  std::string label;
  bool is_default = false;
};

struct IdleModel {
  std::string idle_id;
  std::string sentence;      // "You were idle from 10:02 to 10:19 (17 min)."
  std::string default_note;  // "If you don't answer by 10:24, “Keep as work time” applies."; empty if unknown
  std::vector<IdleChoice> choices;
  bool allows(const std::string& decision) const;
};

/// The idle-return question for status.idle_pending (`allowed`) or the idle_return event (`choices`), with
/// times in `tz`; `now` dates the default's deadline (decides_in_ms).
IdleModel idleChoices(const nlohmann::json& idle_pending, const QTimeZone& tz = QTimeZone::systemTimeZone(),
                      const QDateTime& now = QDateTime::currentDateTimeUtc());

/// The human label of an idle decision ("Mark as a break").
std::string idleDecisionLabel(const std::string& decision);

// --- settings -------------------------------------------------------------------------------------------

struct SettingRow {
  enum class Kind { kBool, kInt, kText, kList, kChoice };
  std::string key;
  std::string label;  // "Screenshot interval (s)"; the key itself when unknown
  Kind kind = Kind::kText;
  nlohmann::json value;
  bool locked = false;
  std::string source;  // default | user | profile | policy
  std::string note;    // "set by your company" when locked, else where the value comes from
  /// kChoice: the values the agent accepts, with their human labels (value, label), in offer order.
  std::vector<std::pair<std::string, std::string>> choices;
};

/// One row per entry of the `settings` reply ({settings: [{key, value, locked, source}]}), in its order.
std::vector<SettingRow> settingsRows(const nlohmann::json& settings_reply);
/// The value to send with set_setting for what the person typed into a text or list row (lists: comma
/// separated); bools and ints are sent as they are.
nlohmann::json settingValueFromText(SettingRow::Kind kind, const std::string& text);
/// How a value appears in a text or list row ("a, b" for lists).
std::string settingValueText(const nlohmann::json& value);

// --- my activity ----------------------------------------------------------------------------------------

struct NamedTotal {
  std::string name;
  int64_t ms = 0;
  std::string text;  // "Website redesign — 1 h 30 min"
};

struct ShotThumb {
  std::string path;     // local file; may be missing (shown as a placeholder)
  std::string caption;  // "10:15"
};

struct ActivitySummary {
  std::string tracked;                // "Tracked today: 3 h 20 min"
  std::vector<std::string> timeline;  // "09:00–10:30  Website redesign / Layout (1 h 30 min)"
  std::vector<NamedTotal> projects, apps, websites;
  std::string idle;    // "Idle: 2 periods, 25 min (discarded 15 min, kept 10 min)"
  std::string breaks;  // "Breaks: 1, 30 min"
  std::vector<ShotThumb> screenshots;
  std::vector<std::string> queue;  // pending records, last successful upload, quarantined records
};

/// The "my activity" view of a `report` reply, with project names from a `projects` reply (ids shown when
/// the name is unknown) and the upload queue from `status`; times in `tz`.
ActivitySummary activitySummary(const nlohmann::json& report, const nlohmann::json& status,
                                const nlohmann::json& projects, const QTimeZone& tz = QTimeZone::systemTimeZone());

/// [start of the local day of `now`, start of the next) in Unix ms: the `report` range for "today".
std::pair<int64_t, int64_t> localDayRange(const QDateTime& now, const QTimeZone& tz = QTimeZone::systemTimeZone());

}  // namespace wm::tray
