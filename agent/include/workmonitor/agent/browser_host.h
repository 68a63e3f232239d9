// `workmonitor-agent browser-host install|uninstall|status`: the native-messaging host manifests that let the
// browsers start workmonitor-nmhost for the WorkMonitor extension, for the user or (--system) the machine. The
// locations come from platform/browser_hosts.h; the manifest text is made here, for the CLI and the packages.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "workmonitor/common/result.h"
#include "workmonitor/platform/browser_hosts.h"

namespace wm::agent {

inline constexpr const char* kBrowserHostName = "com.workmonitor.host";
/// The extension's ids: Chromium's from the manifest's `key`, Firefox's from browser_specific_settings.
inline constexpr const char* kChromiumExtensionId = "epdgaaidonekigjopbgbfadelgffdhhi";
inline constexpr const char* kFirefoxExtensionId = "{264bb1e1-b599-403d-b96e-a62784f75fd3}";

struct BrowserHostOptions {
  platform::BrowserHostScope scope;
  std::vector<std::string> browsers;  // only these (names as in BrowserHostTarget); empty: every one found
  bool all = false;                   // every browser the OS module knows, found or not (packages)
  std::filesystem::path host_path;    // workmonitor-nmhost, absolute
  std::vector<std::string> extension_ids{kChromiumExtensionId};
  std::vector<std::string> firefox_ids{kFirefoxExtensionId};
};

/// A Chromium id is 32 letters a-p; a Firefox id is {uuid} or name@domain. Empty: valid, else why not.
std::string chromiumIdProblem(const std::string& id);
std::string firefoxIdProblem(const std::string& id);

/// The manifest a browser of `target`'s family reads.
nlohmann::json browserHostManifest(const platform::BrowserHostTarget& target, const BrowserHostOptions& o);

/// {"browsers": [{browser, manifest, found, verified, action|problem}]}: written (or removed) for each target
/// chosen; an error only for bad options. A browser it could not write for is listed with its problem, and
/// `ok` is false.
Result<nlohmann::json> installBrowserHosts(const BrowserHostOptions& o);
Result<nlohmann::json> uninstallBrowserHosts(const BrowserHostOptions& o);
/// {"browsers": [{browser, manifest, found, verified, installed, problem?}]}: installed means the manifest is
/// there, names this host, points at an executable and allows the extension.
nlohmann::json browserHostStatus(const BrowserHostOptions& o);

/// The host next to this agent: <dir>/workmonitor-nmhost, <dir>/nmhost/... (build tree) or
/// <dir>/../lib/workmonitor/... (installed). Empty if none is there.
std::filesystem::path defaultHostPath(const std::filesystem::path& agent_executable);

}  // namespace wm::agent
