// The `browser-host` subcommand of workmonitor-agent (main.cpp adds it; browser_host_cli.cpp runs it).
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace wm::agent {

struct BrowserHostCli {
  std::string action;
  bool system = false, all = false, json_out = false;
  std::vector<std::string> browsers, extension_ids, firefox_ids;
  std::string host_path, root;
};

CLI::App* addBrowserHostCommand(CLI::App& app, BrowserHostCli& c);
int runBrowserHost(const BrowserHostCli& c);

}  // namespace wm::agent
