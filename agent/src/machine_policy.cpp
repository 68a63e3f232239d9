#include "workmonitor/agent/machine_policy.h"

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace wm::agent {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {
constexpr const char* kInstalledPath = "/etc/workmonitor/policy.json";
}

fs::path machinePolicyPath() {
  std::error_code ec;
  if (fs::exists(kInstalledPath, ec)) return kInstalledPath;
  if (const char* e = std::getenv("WORKMONITOR_POLICY"); e != nullptr && *e != '\0') return e;
  return kInstalledPath;
}

MachinePolicy loadMachinePolicy(const fs::path& path) {
  MachinePolicy out;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return out;  // no policy installed
  out.source = path.string();
  if (!S_ISREG(st.st_mode)) {
    out.problems.push_back(path.string() + ": not a regular file; no machine policy applies");
    return out;
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    out.problems.push_back(path.string() +
                           ": writable by other accounts, so anyone could have changed it; no machine policy applies "
                           "(chmod 644 it)");
    return out;
  }
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  if (!in) {
    out.problems.push_back(path.string() + ": cannot be read; no machine policy applies");
    return out;
  }
  const json j = json::parse(ss.str(), nullptr, false);
  if (!j.is_object() || !j.contains("settings") || !j["settings"].is_object()) {
    out.problems.push_back(path.string() +
                           ": must be a JSON object with a \"settings\" object; no machine policy "
                           "applies");
    return out;
  }
  // Each key alone through agent.json's rules: a bad one is skipped with its reason, the others apply.
  for (const auto& [key, value] : j["settings"].items()) {
    LoadedConfig one = configFromJson(json{{key, value}});
    if (one.problems.empty()) {
      out.settings[key] = value;
    } else {
      for (std::string p : one.problems) {
        // agent.json's wording ends with the default it falls back to; a policy key is skipped instead.
        if (const size_t cut = p.find("; using"); cut != std::string::npos) p.resize(cut);
        if (const size_t cut = p.find(", ignored"); cut != std::string::npos) p.resize(cut);
        out.problems.push_back(path.string() + ": " + p + "; skipped (the rest of the policy applies)");
      }
    }
  }
  return out;
}

AgentConfig applyMachinePolicy(const AgentConfig& c, const MachinePolicy& policy) {
  if (policy.empty()) return c;
  json merged = configToJson(c);
  merged.update(policy.settings);
  return configFromJson(merged).config;
}

}  // namespace wm::agent
