// The agent's own settings (agent.json): idle threshold and decision, heartbeat merge window, outbox bounds.
// A bad value is reported and its default kept, so a typo never stops tracking or loses data.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "workmonitor/agent/tracker.h"

namespace wm::agent {

struct AgentConfig {
  TrackerConfig tracker;
  int64_t outbox_max_bytes = 512LL * 1024 * 1024;
  Millis outbox_max_age{std::chrono::hours(24 * 30)};
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

}  // namespace wm::agent
