// Machine policy: the settings an administrator installs on the computer (Linux: /etc/workmonitor/policy.json;
// Windows' HKLM\Software\Policies\WorkMonitor and macOS managed preferences come with the installers). It
// is the last layer — built-in defaults → the person's agent.json → the company profile → machine policy —
// and every key it sets is locked: the tray shows it as set by the company and `set_setting` refuses it.
//
// File format: {"settings": {"screenshot_interval_s": 600, "allow_quit": false, ...}} with the keys of
// agent.json (README), including the administrator-only ones (`consent_preapproved`). A bad value or an
// unknown key is reported and skipped, the rest applies: a typo never unlocks the whole policy. A file any
// other account could write is refused as a whole (anyone could have changed it).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "workmonitor/agent/config.h"

namespace wm::agent {

struct MachinePolicy {
  nlohmann::json settings = nlohmann::json::object();  // the valid keys only
  std::string source;                                  // the file read, or empty when there is none
  std::vector<std::string> problems;
  bool empty() const { return settings.empty(); }
};

/// The installed policy's path: /etc/workmonitor/policy.json; only when that file does not exist may
/// WORKMONITOR_POLICY name another one (tests, unusual installs) — an installed policy cannot be sidestepped
/// by an environment variable.
std::filesystem::path machinePolicyPath();

/// Reads and checks the file. A missing file is no policy and no problem.
MachinePolicy loadMachinePolicy(const std::filesystem::path& path);

/// `c` with every key of the policy applied over it.
AgentConfig applyMachinePolicy(const AgentConfig& c, const MachinePolicy& policy);

}  // namespace wm::agent
