// Which browser this host serves, so the agent records a tab only while that browser's window is in front.
// The parent process (the browser starts the host itself) is the best witness; the arguments the browser
// passes tell the family (Chromium's caller origin, Firefox's manifest path and extension id) and serve as
// a cross-check; the extension's hello is the last resort.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace wm::nmhost {

/// chromium, chrome, edge, brave or firefox from an executable path and a process name; "unknown" otherwise.
std::string browserFromProcess(std::string_view exe_path, std::string_view name);

/// True for names that stand for a shell or launcher that may sit between the browser and the host.
bool isIntermediary(std::string_view exe_path, std::string_view name);

enum class BrowserFamily { kUnknown, kChromium, kFirefox };
/// From the host's arguments (argv without argv[0]): "chrome-extension://<id>/" (and on Windows
/// --parent-window=N) from Chromium-based browsers; the manifest path and the extension id from Firefox.
BrowserFamily familyFromArgs(const std::vector<std::string>& args);
BrowserFamily familyOf(std::string_view browser);

struct BrowserIdentity {
  std::string name;       // what goes to the agent as `browser`
  std::string source;     // "parent", "hello", "arguments" or "none", for the log
  bool mismatch = false;  // the parent and the arguments disagree on the family (logged; the parent wins)
};

/// from_parent: browserFromProcess of the parent ("unknown" if it could not be read); hello: the
/// extension's guess (may be empty).
BrowserIdentity identifyBrowser(const std::string& from_parent, BrowserFamily from_args, const std::string& hello);

}  // namespace wm::nmhost
