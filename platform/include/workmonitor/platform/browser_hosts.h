// Where browsers look for a native-messaging host's manifest (the browser extension's host, issue 16): per
// browser, for one user or for the whole machine. Linux: a JSON file in a per-browser directory is the whole
// registration. Windows (a registry key naming the file) and macOS (Library paths) come with their issues;
// until then none/ knows no browsers.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "workmonitor/common/result.h"

namespace wm::platform {

struct BrowserHostTarget {
  std::string browser;             // chromium, chrome, edge, brave, firefox
  bool firefox_family = false;     // allowed_extensions (add-on ids) instead of allowed_origins
  std::filesystem::path manifest;  // the manifest file the browser reads, `root` prefixed
  bool found = false;              // the browser looks installed (its executable, or for a user its profile)
  bool verified = true;            // false: the location is from the browser's documentation or others' use
                                   // only, not seen working here
};

struct BrowserHostScope {
  bool system = false;                // the machine's locations (needs root) instead of the user's
  std::filesystem::path home;         // the user's home (user scope)
  std::filesystem::path config_home;  // $XDG_CONFIG_HOME, or home/.config
  std::filesystem::path root = "/";   // prefixed to every location (a package's staging directory)
};

/// Every browser this OS module knows, with the manifest file for the host `name` (e.g. com.workmonitor.host).
std::vector<BrowserHostTarget> browserHostTargets(const std::string& name, const BrowserHostScope& scope);

/// After the manifest is written (or before it is removed): what else the OS needs for the browser to find it.
/// Nothing on Linux; the registry on Windows.
Result<void> registerBrowserHost(const std::string& name, const BrowserHostTarget& target);
Result<void> unregisterBrowserHost(const std::string& name, const BrowserHostTarget& target);

}  // namespace wm::platform
