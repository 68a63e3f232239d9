#include "workmonitor/agent/machine_policy.h"

#include <cerrno>
#include <cstring>

#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string_view>

namespace wm::agent {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {
constexpr const char* kInstalledPath = "/etc/workmonitor/policy.json";

bool base64urlPart(std::string_view part) {
  if (part.empty()) return false;
  for (char ch : part)
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '-' && ch != '_') return false;
  return true;
}

// The `server` block: each bad key is a problem; a block without a usable url is skipped as a whole
// (the agent then runs as if the policy named no server).
std::optional<PolicyServer> readServer(const json& j, const std::string& where, std::vector<std::string>* problems) {
  if (!j.is_object()) {
    problems->push_back(where + ": server must be an object {url, ca_bundle, enrollment_token}; skipped");
    return std::nullopt;
  }
  PolicyServer s;
  bool url_ok = false;
  for (const auto& [key, value] : j.items()) {
    if (key == "url") {
      if (!value.is_string() || !secureServerUrl(value.get<std::string>()))
        problems->push_back(where +
                            ": server.url must be an https:// URL (http:// only to 127.0.0.1, localhost or [::1]); "
                            "the server block is skipped");
      else {
        s.url = value.get<std::string>();
        url_ok = true;
      }
    } else if (key == "ca_bundle") {
      const fs::path p = value.is_string() ? fs::path(value.get<std::string>()) : fs::path();
      std::error_code ec;
      if (!value.is_string() || !p.is_absolute())
        problems->push_back(where + ": server.ca_bundle must be an absolute path; skipped (the system's CAs apply)");
      else if (!fs::is_regular_file(p, ec) || ::access(p.c_str(), R_OK) != 0)
        problems->push_back(where + ": server.ca_bundle " + p.string() +
                            " is not a readable file; skipped (the system's CAs apply)");
      else
        s.ca_bundle = p;
    } else if (key == "enrollment_token") {
      if (!value.is_string() || !enrollmentTokenShape(value.get<std::string>()))
        // The value is never repeated: it may be a real token with a typo.
        problems->push_back(where + ": server.enrollment_token is not an enrolment token (wmu1.… or wme1.…); skipped");
      else
        s.enrollment_token = value.get<std::string>();
    } else {
      problems->push_back(where + ": server." + key + ": unknown key; skipped");
    }
  }
  if (!url_ok) {
    if (!j.contains("url")) problems->push_back(where + ": server has no url; the server block is skipped");
    return std::nullopt;
  }
  return s;
}

}  // namespace

bool secureServerUrl(const std::string& url) {
  if (url.starts_with("https://")) return url.size() > 8;
  if (!url.starts_with("http://")) return false;
  const std::string_view rest = std::string_view(url).substr(7);
  const size_t end = rest.find_first_of(":/");
  const std::string_view host = rest.substr(0, end == std::string_view::npos ? rest.size() : end);
  if (rest.starts_with("[::1]")) return rest.size() == 5 || rest[5] == ':' || rest[5] == '/';
  return host == "localhost" || (host.starts_with("127.") && host.find_first_not_of("0123456789.") == host.npos);
}

bool enrollmentTokenShape(const std::string& token) {
  const bool unattended = token.starts_with("wmu1.");
  if (!unattended && !token.starts_with("wme1.")) return false;
  if (token.size() > 4096) return false;
  std::vector<std::string_view> parts;
  std::string_view rest = std::string_view(token).substr(5);
  for (size_t dot; (dot = rest.find('.')) != std::string_view::npos; rest.remove_prefix(dot + 1))
    parts.push_back(rest.substr(0, dot));
  parts.push_back(rest);
  if (parts.size() != (unattended ? 2u : 3u)) return false;
  for (auto p : parts)
    if (!base64urlPart(p)) return false;
  return parts.back().size() >= 32;  // the secret: at least 192 bits (the server issues 256)
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
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return out;  // no policy installed
    out.source = path.string();
    out.problems.push_back(path.string() + ": cannot be read (" + std::strerror(errno) +
                           "); no machine policy applies");
    out.refused = true;
    return out;
  }
  out.source = path.string();
  if (!S_ISREG(st.st_mode)) {
    out.problems.push_back(path.string() + ": not a regular file; no machine policy applies");
    out.refused = true;
    return out;
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    out.problems.push_back(path.string() +
                           ": writable by other accounts, so anyone could have changed it; no machine policy applies "
                           "(chmod 644 it)");
    out.refused = true;
    return out;
  }
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  if (!in) {
    out.problems.push_back(path.string() + ": cannot be read; no machine policy applies");
    out.refused = true;
    return out;
  }
  out = parseMachinePolicy(ss.str(), path.string());
  out.source = path.string();
  if (!out.refused) out.text = ss.str();
  return out;
}

MachinePolicy parseMachinePolicy(const std::string& text, const std::string& where) {
  MachinePolicy out;
  out.source = where;
  const fs::path path(where);
  const json j = json::parse(text, nullptr, false);
  const bool has_settings = j.is_object() && j.contains("settings") && j["settings"].is_object();
  const bool has_server = j.is_object() && j.contains("server");
  if (!has_settings && !has_server) {
    out.problems.push_back(path.string() + (j.is_discarded() ? ": not valid JSON" : ": not the expected shape") +
                           "; it must be a JSON object with a \"settings\" object and/or a \"server\" object; no "
                           "machine policy applies");
    out.refused = true;
    return out;
  }
  for (const auto& [key, value] : j.items())
    if (key != "settings" && key != "server")
      out.problems.push_back(path.string() + ": " + key +
                             ": unknown top-level key (expected \"server\" and "
                             "\"settings\"); skipped");
  if (has_server) out.server = readServer(j["server"], path.string(), &out.problems);
  if (!has_settings) {
    if (j.contains("settings")) out.problems.push_back(path.string() + ": settings must be an object; skipped");
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

MachinePolicy withLastGoodCopy(MachinePolicy loaded, const fs::path& copy) {
  std::error_code ec;
  if (loaded.source.empty()) {  // no policy installed: the administrator lifted it
    fs::remove(copy, ec);
    return loaded;
  }
  if (!loaded.refused) {
    std::ifstream old(copy);
    std::stringstream kept;
    kept << old.rdbuf();
    if (old && kept.str() == loaded.text) return loaded;
    const fs::path tmp = copy.string() + ".tmp";
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << loaded.text;
      out.flush();
      if (!out) {
        loaded.problems.push_back("cannot keep a copy of the policy in " + copy.string() +
                                  ": a later refused policy would leave none in force");
        fs::remove(tmp, ec);
        return loaded;
      }
    }
    fs::permissions(tmp, fs::perms::owner_read | fs::perms::owner_write, ec);
    fs::rename(tmp, copy, ec);
    if (ec) fs::remove(tmp, ec);
    return loaded;
  }
  std::ifstream in(copy);
  std::stringstream ss;
  ss << in.rdbuf();
  if (!in || ss.str().empty()) return loaded;
  MachinePolicy last = parseMachinePolicy(ss.str(), loaded.source);
  if (last.refused || last.empty()) return loaded;
  std::vector<std::string> problems = loaded.problems;
  for (std::string& p : problems) {
    if (const size_t cut = p.find("; no machine policy applies"); cut != std::string::npos)
      p.replace(cut, std::string_view("; no machine policy applies").size(),
                "; its last good copy applies until it is fixed (" + copy.string() + ")");
  }
  for (const std::string& p : last.problems) problems.push_back(p);
  last.problems = std::move(problems);
  last.from_last_good = true;
  last.text.clear();
  return last;
}

AgentConfig applyMachinePolicy(const AgentConfig& c, const MachinePolicy& policy) {
  if (policy.empty()) return c;
  json merged = configToJson(c);
  merged.update(policy.settings);
  return configFromJson(merged).config;
}

}  // namespace wm::agent
