#include "workmonitor/nmhost/browser.h"

#include <algorithm>
#include <array>
#include <cctype>

namespace wm::nmhost {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string baseName(std::string_view path) {
  const size_t slash = path.find_last_of("/\\");
  std::string name = lower(slash == std::string_view::npos ? path : path.substr(slash + 1));
  if (name.size() > 4 && name.ends_with(".exe")) name.resize(name.size() - 4);
  return name;
}

struct Known {
  const char* browser;
  std::array<const char*, 5> names;  // executable and process names (lower case, no .exe)
};
// Debian's chromium runs /usr/lib/chromium/chromium; Chrome /opt/google/chrome/chrome; Edge
// /opt/microsoft/msedge/msedge; Brave /opt/brave.com/brave/brave; Firefox ESR /usr/lib/firefox-esr/firefox-esr.
constexpr Known kKnown[] = {
    {"chromium", {"chromium", "chromium-browser", nullptr, nullptr, nullptr}},
    {"chrome", {"chrome", "google-chrome", "google-chrome-stable", "google-chrome-beta", nullptr}},
    {"edge", {"msedge", "microsoft-edge", "microsoft-edge-stable", nullptr, nullptr}},
    {"brave", {"brave", "brave-browser", "brave-browser-stable", nullptr, nullptr}},
    {"firefox", {"firefox", "firefox-esr", "firefox-bin", "firefox-devedition", nullptr}},
};

std::string match(const std::string& name) {
  if (name.empty()) return {};
  for (const Known& k : kKnown)
    for (const char* n : k.names)
      if (n && name == n) return k.browser;
  return {};
}

bool validName(const std::string& s) {
  return !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), [](char c) {
    return std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '-' ||
           c == '_' || c == '.';
  });
}

}  // namespace

std::string browserFromProcess(std::string_view exe_path, std::string_view name) {
  // The executable first: comm is only 15 bytes and a thread may rename it.
  if (std::string b = match(baseName(exe_path)); !b.empty()) return b;
  if (std::string b = match(lower(name)); !b.empty()) return b;
  return "unknown";
}

bool isIntermediary(std::string_view exe_path, std::string_view name) {
  for (const std::string& n : {baseName(exe_path), lower(name)})
    if (n == "sh" || n == "bash" || n == "dash" || n == "cmd" || n == "env" || n == "flatpak-spawn") return true;
  return false;
}

BrowserFamily familyFromArgs(const std::vector<std::string>& args) {
  for (const std::string& a : args)
    if (a.starts_with("chrome-extension://")) return BrowserFamily::kChromium;
  // Firefox: the app manifest's path, then the add-on id (an e-mail-like or {uuid} id).
  for (const std::string& a : args) {
    if (a.ends_with(".json") && args.size() >= 2) return BrowserFamily::kFirefox;
  }
  return BrowserFamily::kUnknown;
}

BrowserFamily familyOf(std::string_view browser) {
  if (browser == "firefox") return BrowserFamily::kFirefox;
  if (browser == "chromium" || browser == "chrome" || browser == "edge" || browser == "brave")
    return BrowserFamily::kChromium;
  return BrowserFamily::kUnknown;
}

BrowserIdentity identifyBrowser(const std::string& from_parent, BrowserFamily from_args, const std::string& hello) {
  BrowserIdentity id;
  if (from_parent != "unknown" && !from_parent.empty()) {
    id.name = from_parent;
    id.source = "parent";
    id.mismatch = from_args != BrowserFamily::kUnknown && familyOf(from_parent) != from_args;
    return id;
  }
  const std::string h = lower(hello);
  if (validName(h) &&
      (from_args == BrowserFamily::kUnknown || familyOf(h) == BrowserFamily::kUnknown || familyOf(h) == from_args)) {
    id.name = h;
    id.source = "hello";
    return id;
  }
  switch (from_args) {
    case BrowserFamily::kChromium:
      id.name = "chromium";
      id.source = "arguments";
      return id;
    case BrowserFamily::kFirefox:
      id.name = "firefox";
      id.source = "arguments";
      return id;
    case BrowserFamily::kUnknown:
      break;
  }
  id.name = "unknown";
  id.source = "none";
  return id;
}

}  // namespace wm::nmhost
