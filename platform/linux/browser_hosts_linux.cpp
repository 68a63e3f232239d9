// Native-messaging host locations on Linux. Chromium and Chrome: the paths of Chrome's native messaging
// documentation (user: <config>/<browser dir>/NativeMessagingHosts; system: /etc/chromium/native-messaging-hosts,
// /etc/opt/chrome/native-messaging-hosts); Edge and Brave follow the same scheme under their own names; Firefox:
// MDN's ~/.mozilla/native-messaging-hosts and /usr/lib/mozilla/native-messaging-hosts. Verified here with Debian's
// Chromium and Firefox ESR 153 (user scope, tests/browser); the others are marked unverified.
#include <system_error>

#include "workmonitor/platform/browser_hosts.h"

namespace wm::platform {
namespace {

struct Known {
  const char* browser;
  bool firefox;
  const char* user_dir;    // under config_home (Chromium family) or home (Firefox)
  const char* system_dir;  // absolute
  std::vector<const char*> executables;
  bool verified_user, verified_system;
};

const std::vector<Known>& known() {
  static const std::vector<Known> k{
      {"chromium",
       false,
       "chromium/NativeMessagingHosts",
       "/etc/chromium/native-messaging-hosts",
       {"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/lib/chromium/chromium"},
       true,
       true},
      {"chrome",
       false,
       "google-chrome/NativeMessagingHosts",
       "/etc/opt/chrome/native-messaging-hosts",
       {"/opt/google/chrome/chrome", "/usr/bin/google-chrome", "/usr/bin/google-chrome-stable"},
       false,
       false},
      {"edge",
       false,
       "microsoft-edge/NativeMessagingHosts",
       "/etc/opt/edge/native-messaging-hosts",
       {"/opt/microsoft/msedge/msedge", "/usr/bin/microsoft-edge", "/usr/bin/microsoft-edge-stable"},
       false,
       false},
      {"brave",
       false,
       "BraveSoftware/Brave-Browser/NativeMessagingHosts",
       "/etc/opt/brave/native-messaging-hosts",
       {"/opt/brave.com/brave/brave", "/usr/bin/brave-browser"},
       false,
       false},
      {"firefox",
       true,
       ".mozilla/native-messaging-hosts",
       "/usr/lib/mozilla/native-messaging-hosts",
       {"/usr/bin/firefox", "/usr/bin/firefox-esr", "/usr/lib/firefox-esr/firefox-esr", "/usr/lib/firefox/firefox"},
       true,
       false},
  };
  return k;
}

bool present(const std::filesystem::path& p) {
  std::error_code ec;
  return std::filesystem::exists(p, ec);
}

// "/etc/x" under root "/staging" is "/staging/etc/x".
std::filesystem::path under(const std::filesystem::path& root, const std::filesystem::path& p) {
  if (root.empty() || root == "/") return p;
  return root / p.relative_path();
}

}  // namespace

std::vector<BrowserHostTarget> browserHostTargets(const std::string& name, const BrowserHostScope& scope) {
  std::vector<BrowserHostTarget> out;
  const std::filesystem::path config = scope.config_home.empty() ? scope.home / ".config" : scope.config_home;
  for (const Known& k : known()) {
    BrowserHostTarget t;
    t.browser = k.browser;
    t.firefox_family = k.firefox;
    std::filesystem::path dir;
    if (scope.system) {
      dir = k.system_dir;
    } else {
      dir = (k.firefox ? scope.home : config) / k.user_dir;
    }
    t.manifest = under(scope.root, dir / (name + ".json"));
    for (const char* exe : k.executables) t.found = t.found || present(exe);
    // A user's profile says the browser ran for this user (also a browser installed elsewhere, e.g. in ~).
    if (!scope.system) t.found = t.found || present(dir.parent_path());
    t.verified = scope.system ? k.verified_system : k.verified_user;
    out.push_back(std::move(t));
  }
  return out;
}

Result<void> registerBrowserHost(const std::string&, const BrowserHostTarget&) { return {}; }
Result<void> unregisterBrowserHost(const std::string&, const BrowserHostTarget&) { return {}; }

}  // namespace wm::platform
