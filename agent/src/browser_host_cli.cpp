// `workmonitor-agent browser-host install|uninstall|status`: the command line over browser_host.h.
#include "browser_host_cli.h"

#include <iostream>

#include "workmonitor/agent/browser_host.h"
#include "workmonitor/agent/paths.h"

namespace wm::agent {

using nlohmann::json;

CLI::App* addBrowserHostCommand(CLI::App& app, BrowserHostCli& c) {
  auto* cmd = app.add_subcommand(
      "browser-host", "Let the browsers start the WorkMonitor extension's host (native-messaging manifests)");
  cmd->add_option("action", c.action, "install, uninstall or status")
      ->required()
      ->check(CLI::IsMember({"install", "uninstall", "status"}));
  cmd->add_flag("--system", c.system, "For every user of this machine (needs root) instead of for you");
  cmd->add_option("--browser", c.browsers, "Only this browser (chromium, chrome, edge, brave, firefox); repeatable");
  cmd->add_flag("--all", c.all, "Every browser known, installed or not (packages)");
  cmd->add_option("--host-path", c.host_path, "workmonitor-nmhost (default: the one installed beside this agent)");
  cmd->add_option("--extension-id", c.extension_ids,
                  "A Chromium extension id allowed to use the host (default: the WorkMonitor extension's)");
  cmd->add_option("--firefox-id", c.firefox_ids, "A Firefox add-on id allowed (default: the WorkMonitor add-on's)");
  cmd->add_option("--root", c.root, "Write under this directory as if it were / (a package's staging tree)");
  cmd->add_flag("--json", c.json_out, "Print JSON");
  return cmd;
}

int runBrowserHost(const BrowserHostCli& c) {
  BrowserHostOptions o;
  o.scope.system = c.system;
  o.scope.root = c.root.empty() ? std::filesystem::path("/") : std::filesystem::path(c.root);
  if (!c.system) {
    o.scope.home = userHome();
    o.scope.config_home = userConfigHome();
    if (o.scope.home.empty()) {
      std::cerr << "workmonitor-agent: no home directory (HOME) to install for; use --system\n";
      return 2;
    }
  }
  o.browsers = c.browsers;
  o.all = c.all;
  if (!c.extension_ids.empty()) o.extension_ids = c.extension_ids;
  if (!c.firefox_ids.empty()) o.firefox_ids = c.firefox_ids;
  o.host_path = c.host_path.empty() ? defaultHostPath(selfExecutable()) : std::filesystem::path(c.host_path);
  if (c.action == "install" && o.host_path.empty()) {
    std::cerr << "workmonitor-agent: no workmonitor-nmhost beside this agent; name it with --host-path\n";
    return 2;
  }

  Result<json> out = c.action == "install"     ? installBrowserHosts(o)
                     : c.action == "uninstall" ? uninstallBrowserHosts(o)
                                               : Result<json>(browserHostStatus(o));
  if (!out) {
    std::cerr << "workmonitor-agent: " << out.error().message << "\n";
    return out.error().code == Errc::kInvalidInput ? 2 : 1;
  }
  const json& r = *out;
  if (c.json_out) {
    std::cout << r.dump(2) << "\n";
  } else {
    if (r.contains("problem")) std::cout << r["problem"].get<std::string>() << "\n";
    if (r["browsers"].empty() && c.action == "install")
      std::cout << "No browser found; name one with --browser, or --all for every browser known.\n";
    for (const auto& b : r["browsers"]) {
      const std::string problem = b.value("problem", "");
      std::string what;
      if (c.action == "status")
        what = b.value("installed", false) ? "installed" : "not installed (" + problem + ")";
      else
        what = problem.empty() ? b.value("action", "") : "FAILED: " + problem;
      if (!b.value("found", false)) what += " (browser not found)";
      if (!b.value("verified", true)) what += " [location not verified]";
      std::cout << b["browser"].get<std::string>() << ": " << what << "  " << b["manifest"].get<std::string>() << "\n";
    }
  }
  // status: 0 when every browser found here can start the host.
  if (c.action == "status")
    for (const auto& b : r["browsers"])
      if (b.value("found", false) && !b.value("installed", false)) return 1;
  if (!r.value("ok", true)) return 1;
  return 0;
}

}  // namespace wm::agent
