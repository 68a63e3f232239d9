// Machine policy: the settings an administrator installs on the computer (Linux: /etc/workmonitor/policy.json;
// Windows' HKLM\Software\Policies\WorkMonitor and macOS managed preferences come with the installers). It
// is the last layer — built-in defaults → the person's agent.json → the company profile → machine policy —
// and every key it sets is locked: the tray shows it as set by the company and `set_setting` refuses it.
//
// File format: {"server": {...}, "settings": {"screenshot_interval_s": 600, "allow_quit": false, ...}}.
// `settings` has the keys of agent.json (README), including the administrator-only ones
// (`consent_preapproved`). `server` (service mode, notes/unattended-contract.md) names the server the agent
// must sync to: {"url": "https://...", "ca_bundle": "/etc/workmonitor/ca.pem", "enrollment_token": "wmu1..."};
// every key is optional but url, and a server block without a valid url is skipped as a whole. A bad value
// or an unknown key is reported and skipped, the rest applies: a typo never unlocks the whole policy. A file
// any other account could write, or one that is not a JSON object, is refused as a whole.
//
// The policy is read when the agent starts (daemon.cpp); a changed file applies at the next start. Each
// accepted policy is copied to the agent's state directory; a file refused as a whole at a later start (an
// administrator's typo, a wrong mode) gives way to that last good copy, so the settings the company chose
// stay in force, and status, doctor and the log say why. With no copy, no machine policy applies. Removing
// the policy file removes the copy: that is the administrator's way to lift the policy. The copy lives in
// the person's own state directory, so it is a safety net against mistakes, not a lock against them.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "workmonitor/agent/config.h"

namespace wm::agent {

/// The server an administrator locks the agent to.
struct PolicyServer {
  std::string url;                                 // https://, or http:// to a loopback host
  std::optional<std::filesystem::path> ca_bundle;  // absolute path to a readable PEM file
  std::string enrollment_token;                    // wmu1.… (unattended) or wme1.… (one user); never logged
};

struct MachinePolicy {
  nlohmann::json settings = nlohmann::json::object();  // the valid keys only
  std::optional<PolicyServer> server;                  // a valid `server` block
  std::string source;                                  // the file read, or empty when there is none
  std::vector<std::string> problems;
  bool refused = false;         // the file was refused as a whole (nothing of it applies)
  bool from_last_good = false;  // refused, and the last good copy applies instead
  std::string text;             // the accepted file's text (what the last good copy keeps)
  bool empty() const { return settings.empty() && !server; }
};

/// The installed policy's path: /etc/workmonitor/policy.json; only when that file does not exist may
/// WORKMONITOR_POLICY name another one (tests, unusual installs) — an installed policy cannot be sidestepped
/// by an environment variable.
std::filesystem::path machinePolicyPath();

/// Reads and checks the file. A missing file is no policy and no problem.
MachinePolicy loadMachinePolicy(const std::filesystem::path& path);
/// Checks a policy's text; `where` names it in the problems.
MachinePolicy parseMachinePolicy(const std::string& text, const std::string& where);
/// Keeps `copy` in step with `loaded`: an accepted policy is saved there (0600), a removed one deletes it, and
/// a refused one is replaced by the copy when there is a good one (its refusal kept first in `problems`).
MachinePolicy withLastGoodCopy(MachinePolicy loaded, const std::filesystem::path& copy);

/// Whether `url` may carry credentials: https://, or http:// to 127.x, localhost or [::1] (a local server
/// for tests and single-machine installs). The same rule the sync service warns by.
bool secureServerUrl(const std::string& url);

/// An enrolment token's shape: `wmu1.` or `wme1.` followed by dot-separated base64url/hex parts.
bool enrollmentTokenShape(const std::string& token);

/// `c` with every key of the policy applied over it.
AgentConfig applyMachinePolicy(const AgentConfig& c, const MachinePolicy& policy);

}  // namespace wm::agent
