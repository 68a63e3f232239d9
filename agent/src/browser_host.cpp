#include "workmonitor/agent/browser_host.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <system_error>

namespace wm::agent {

using nlohmann::json;
namespace fs = std::filesystem;

std::string chromiumIdProblem(const std::string& id) {
  if (id.size() == 32 && std::all_of(id.begin(), id.end(), [](char c) { return c >= 'a' && c <= 'p'; })) return {};
  return "a Chromium extension id is 32 letters from a to p";
}

std::string firefoxIdProblem(const std::string& id) {
  auto ok = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' || c == '@';
  };
  const bool uuid = id.size() == 38 && id.front() == '{' && id.back() == '}' &&
                    std::all_of(id.begin() + 1, id.end() - 1,
                                [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) || c == '-'; });
  const size_t at = id.find('@');
  const bool email = !id.empty() && id.size() <= 80 && at != std::string::npos && at > 0 && at + 1 < id.size() &&
                     std::all_of(id.begin(), id.end(), ok);
  if (uuid || email) return {};
  return "a Firefox add-on id is {uuid} or name@domain";
}

json browserHostManifest(const platform::BrowserHostTarget& target, const BrowserHostOptions& o) {
  json m{{"name", kBrowserHostName},
         {"description", "WorkMonitor: the browser extension's link to the WorkMonitor agent"},
         {"path", o.host_path.string()},
         {"type", "stdio"}};
  if (target.firefox_family) {
    m["allowed_extensions"] = o.firefox_ids;
  } else {
    json origins = json::array();
    for (const auto& id : o.extension_ids) origins.push_back("chrome-extension://" + id + "/");
    m["allowed_origins"] = origins;
  }
  return m;
}

namespace {

Result<void> checkOptions(const BrowserHostOptions& o, bool need_host) {
  if (need_host) {
    if (o.host_path.empty() || !o.host_path.is_absolute())
      return fail(Errc::kInvalidInput, "the host's path must be absolute (--host-path); browsers need it so");
    // Under a staging root the host is checked where it will be once installed.
    const bool staged = !o.scope.root.empty() && o.scope.root != "/";
    const fs::path real = staged ? o.scope.root / o.host_path.relative_path() : o.host_path;
    if (::access(real.c_str(), X_OK) != 0)
      return fail(Errc::kInvalidInput, real.string() + " is not an executable workmonitor-nmhost");
  }
  for (const auto& id : o.extension_ids)
    if (auto why = chromiumIdProblem(id); !why.empty()) return fail(Errc::kInvalidInput, "'" + id + "': " + why);
  for (const auto& id : o.firefox_ids)
    if (auto why = firefoxIdProblem(id); !why.empty()) return fail(Errc::kInvalidInput, "'" + id + "': " + why);
  return {};
}

// The targets chosen: the named ones (an unknown name is an error), all, or those found.
Result<std::vector<platform::BrowserHostTarget>> chosen(const BrowserHostOptions& o) {
  auto targets = platform::browserHostTargets(kBrowserHostName, o.scope);
  if (targets.empty()) return fail(Errc::kUnavailable, "this build knows no browsers' native-messaging locations");
  std::vector<platform::BrowserHostTarget> out;
  for (const auto& name : o.browsers) {
    auto it = std::find_if(targets.begin(), targets.end(), [&](const auto& t) { return t.browser == name; });
    if (it == targets.end()) {
      std::string names;
      for (const auto& t : targets) names += (names.empty() ? "" : ", ") + t.browser;
      return fail(Errc::kInvalidInput, "unknown browser '" + name + "' (known: " + names + ")");
    }
    out.push_back(*it);
  }
  if (!o.browsers.empty()) return out;
  for (const auto& t : targets)
    if (o.all || t.found) out.push_back(t);
  return out;
}

json entry(const platform::BrowserHostTarget& t) {
  return json{{"browser", t.browser}, {"manifest", t.manifest.string()}, {"found", t.found}, {"verified", t.verified}};
}

// Written beside and renamed over, so a browser never reads half a manifest; 0644: the browser is another
// process of this user (or, --system, of every user).
Result<void> writeManifest(const fs::path& file, const json& manifest) {
  std::error_code ec;
  fs::create_directories(file.parent_path(), ec);
  if (ec) return fail(Errc::kIo, "cannot create " + file.parent_path().string() + ": " + ec.message());
  const fs::path tmp = file.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << manifest.dump(2) << "\n";
    if (!out.flush()) return fail(Errc::kIo, "cannot write " + tmp.string());
  }
  fs::permissions(tmp, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read,
                  ec);
  fs::rename(tmp, file, ec);
  if (ec) {
    fs::remove(tmp, ec);
    return fail(Errc::kIo, "cannot write " + file.string());
  }
  return {};
}

}  // namespace

Result<json> installBrowserHosts(const BrowserHostOptions& o) {
  if (auto ok = checkOptions(o, true); !ok) return std::unexpected(ok.error());
  auto targets = chosen(o);
  if (!targets) return std::unexpected(targets.error());
  json list = json::array();
  bool all_ok = true;
  for (const auto& t : *targets) {
    json e = entry(t);
    auto w = writeManifest(t.manifest, browserHostManifest(t, o));
    if (w) w = platform::registerBrowserHost(kBrowserHostName, t);
    if (w) {
      e["action"] = "written";
    } else {
      e["problem"] = w.error().message;
      all_ok = false;
    }
    list.push_back(std::move(e));
  }
  return json{{"browsers", list}, {"ok", all_ok}};
}

Result<json> uninstallBrowserHosts(const BrowserHostOptions& o) {
  if (auto ok = checkOptions(o, false); !ok) return std::unexpected(ok.error());
  BrowserHostOptions every = o;
  every.all = true;  // a browser uninstalled since still has our file: remove wherever it is
  auto targets = chosen(every);
  if (!targets) return std::unexpected(targets.error());
  json list = json::array();
  bool all_ok = true;
  for (const auto& t : *targets) {
    json e = entry(t);
    std::error_code ec;
    if (!fs::exists(t.manifest, ec)) {
      e["action"] = "absent";
    } else if (auto u = platform::unregisterBrowserHost(kBrowserHostName, t); !u) {
      e["problem"] = u.error().message;
      all_ok = false;
    } else if (!fs::remove(t.manifest, ec) || ec) {
      e["problem"] = "cannot remove " + t.manifest.string() + (ec ? ": " + ec.message() : "");
      all_ok = false;
    } else {
      e["action"] = "removed";
    }
    list.push_back(std::move(e));
  }
  return json{{"browsers", list}, {"ok", all_ok}};
}

json browserHostStatus(const BrowserHostOptions& o) {
  BrowserHostOptions every = o;
  every.all = true;
  auto targets = chosen(every);
  if (!targets) return json{{"browsers", json::array()}, {"problem", targets.error().message}};
  json list = json::array();
  for (const auto& t : *targets) {
    json e = entry(t);
    std::string problem;
    std::ifstream in(t.manifest);
    if (!in) {
      problem = "no manifest";
    } else {
      json m = json::parse(in, nullptr, false);
      auto text = [&](const char* key) {
        return m.is_object() && m.contains(key) && m[key].is_string() ? m[key].get<std::string>() : std::string();
      };
      const std::string path = text("path");
      const std::string allow_key = t.firefox_family ? "allowed_extensions" : "allowed_origins";
      std::vector<std::string> ours = o.firefox_ids;
      if (!t.firefox_family) {
        ours.clear();
        for (const auto& id : o.extension_ids) ours.push_back("chrome-extension://" + id + "/");
      }
      auto allows = [&](const std::string& id) {
        return m.is_object() && m.contains(allow_key) && m[allow_key].is_array() &&
               std::find(m[allow_key].begin(), m[allow_key].end(), id) != m[allow_key].end();
      };
      if (text("name") != kBrowserHostName) {
        problem = "not a WorkMonitor host manifest";
      } else if (path.empty() || ::access(path.c_str(), X_OK) != 0) {
        problem = "its host '" + path + "' is not an executable";
      } else if (!std::all_of(ours.begin(), ours.end(), allows)) {
        problem = "it does not allow the WorkMonitor extension";
      } else {
        e["host"] = path;
      }
    }
    e["installed"] = problem.empty();
    if (!problem.empty()) e["problem"] = problem;
    list.push_back(std::move(e));
  }
  return json{{"browsers", list}};
}

fs::path defaultHostPath(const fs::path& agent_executable) {
  const fs::path dir = agent_executable.parent_path();
  for (const fs::path& p : {dir / "workmonitor-nmhost", dir / "nmhost" / "workmonitor-nmhost",
                            dir.parent_path() / "lib" / "workmonitor" / "workmonitor-nmhost"}) {
    if (::access(p.c_str(), X_OK) == 0) return p.lexically_normal();
  }
  return {};
}

}  // namespace wm::agent
