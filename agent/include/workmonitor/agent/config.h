// The agent's own settings (agent.json): idle threshold and decision, heartbeat merge window, outbox bounds.
// A bad value is reported and its default kept, so a typo never stops tracking or loses data.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "workmonitor/agent/tracker.h"

namespace wm::agent {

/// Screenshots (issue 6): a random moment inside each interval, never while idle, on a break, locked or not
/// tracking; redacted and downscaled on the device.
struct ScreenshotConfig {
  bool enabled = true;
  Millis interval{std::chrono::minutes(10)};
  int per_interval = 1;
  int max_width = 1920;  // wider monitors are downscaled to this (aspect kept)
  bool blur = false;
  std::string format = "jpeg";  // jpeg or webp
  int quality = 75;             // 1..100
  bool notify = true;           // a pushed event (the tray shows a notice) when a shot is taken
  /// Apps whose windows are blacked out before the image touches the disk (matched case-insensitively
  /// against the app name, WM_CLASS or executable name).
  std::vector<std::string> excluded_apps{"keepassxc", "keepass2",      "1password", "bitwarden",
                                         "seahorse",  "gnome-keyring", "lastpass",  "enpass"};
};

/// What else is collected, each switchable by the profile.
struct CollectorConfig {
  bool activity_counts = true;       // keyboard/mouse event counts per minute (never keys or positions)
  bool usb_events = true;            // USB connected / disconnected / present at start
  bool website_usage = true;         // tab messages from the browser extension
  bool website_domain_only = false;  // keep only the domain of a URL
  /// Sites never recorded (each host and its subdomains; website_usage.h siteMatches): the extension is told
  /// and reports nothing of them, and a browser window showing one keeps no title in app usage.
  std::vector<std::string> website_excluded_sites;
  bool lock_as_break = false;  // a locked screen is idle (default) or a break
};

struct AgentConfig {
  TrackerConfig tracker;
  ScreenshotConfig screenshots;
  CollectorConfig collectors;
  int64_t outbox_max_bytes = 512LL * 1024 * 1024;
  Millis outbox_max_age{std::chrono::hours(24 * 30)};
  bool allow_quit = true;  // the tray offers Quit (profile `allow_quit`)
  /// Local agent.json only (a company profile cannot set it): monitoring needs no answer from a person,
  /// for headless service mode under an admin's machine policy. Consent is then recorded as pre-approved.
  bool consent_preapproved = false;
};

struct LoadedConfig {
  AgentConfig config;
  std::string source;                 // the file read, or "defaults"
  std::vector<std::string> problems;  // each bad value, with the default used instead
};

/// Applies the fields of j over defaults; unknown keys and bad values become problems.
LoadedConfig configFromJson(const nlohmann::json& j);
/// Reads the file; a missing file means defaults, an unreadable or malformed one is a problem.
LoadedConfig loadConfig(const std::filesystem::path& path);
nlohmann::json configToJson(const AgentConfig& c);
/// Settings that only the local agent.json may hold: a profile's value for them is ignored, and the tray's
/// set_setting cannot change them.
bool localOnlySetting(const std::string& key);

/// One problem with a company profile's settings, for the field it names.
struct SettingProblem {
  enum class Kind {
    kBadValue,   // a setting of this agent with a value its rules refuse
    kUnknown,    // not a setting this agent knows (a newer agent's, or a typo)
    kLocalOnly,  // only the computer's own agent.json may set it
  };
  std::string key;  // empty: the settings as a whole
  std::string message;
  Kind kind = Kind::kBadValue;
};
/// The one validator of a profile's settings: the agent applying a profile (which refuses it for a bad
/// value and ignores the other kinds, so an older agent takes a newer profile), the server storing one and the
/// console showing it (which refuse all three). The rules are configFromJson's; sorted by key.
std::vector<SettingProblem> profileSettingsProblems(const nlohmann::json& settings);

}  // namespace wm::agent
