// `workmonitor-agent run`: the headless daemon. Owns the outbox, the tracker, the platform watchers and the
// control socket on one Asio io_context; platform callbacks arrive on their own threads and are posted here.
#pragma once

#include "workmonitor/agent/paths.h"

namespace wm::agent {

struct DaemonOptions {
  AgentPaths paths;
  bool local_only = true;  // no server configured: records stay in the local outbox
  bool log_to_stderr = true;
  bool local_only_requested = false;  // `run --local-only` was given (a machine policy's server overrides it)
  bool service_mode = false;          // `run --service`: started by the OS service manager, no tray expected
};

/// Runs until SIGTERM/SIGINT; returns the process exit code (0 after a clean shutdown).
int runDaemon(const DaemonOptions& options);

}  // namespace wm::agent
