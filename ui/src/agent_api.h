// The one seam between the tray's windows and the agent: send a control-socket command, get its reply
// later on the GUI thread. The tray implements it over the socket (AgentLink); logic tests record calls.
#pragma once

#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "workmonitor/common/result.h"

namespace wm::tray {

class AgentApi {
 public:
  using Reply = std::function<void(Result<nlohmann::json>)>;
  virtual ~AgentApi() = default;
  /// Sends {cmd, args} (agent/CONTROL_PROTOCOL.md); `done` runs on the GUI thread with the result or the
  /// error (the agent's message, or "the agent is not running").
  virtual void call(const std::string& cmd, nlohmann::json args, Reply done) = 0;
};

}  // namespace wm::tray
