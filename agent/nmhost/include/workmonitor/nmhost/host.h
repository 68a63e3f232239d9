// The host's logic between the browser's frames and the agent's control socket, without I/O of its own:
// main.cpp feeds it decoded frames, timer expiries and agent hang-ups and writes out what it returns.
// Tests drive it with a ManualClock and a fake agent.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "workmonitor/common/clock.h"
#include "workmonitor/common/result.h"
#include "workmonitor/nmhost/browser.h"
#include "workmonitor/nmhost/framing.h"
#include "workmonitor/nmhost/messages.h"

namespace wm::nmhost {

/// One open connection to the agent.
class AgentConnection {
 public:
  virtual ~AgentConnection() = default;
  /// The agent's result; kInvalidInput when the agent refused the request, anything else: the link is gone.
  virtual Result<nlohmann::json> call(const std::string& cmd, const nlohmann::json& args) = 0;
  /// What to poll for the agent hanging up while no request is pending (-1: nothing to poll).
  virtual int pollHandle() const = 0;
};
/// Connects to the agent; kUnavailable when none runs.
using AgentConnector = std::function<Result<std::unique_ptr<AgentConnection>>()>;
/// The real one: the agent's control socket at `socket`.
AgentConnector controlSocketConnector(std::string socket, Millis timeout);

struct HostOptions {
  Millis backoff_initial{250};
  Millis backoff_cap{10'000};
};

class Host {
 public:
  Host(const Clock& clock, AgentConnector connect, std::string parent_browser, BrowserFamily args_family,
       HostOptions options = {});

  /// A frame from the browser: the messages to send back (ack, status or error).
  std::vector<nlohmann::json> onFrame(const Frame& frame);
  /// The agent's connection became readable with no request pending: it closed (the agent stopped).
  std::vector<nlohmann::json> onAgentHangup();
  /// wakeAt() has passed: retry the agent.
  std::vector<nlohmann::json> onTimer();
  /// When onTimer wants to run; nullopt: wait for the next frame only.
  std::optional<MonoTime> wakeAt() const { return retry_at_; }
  int agentHandle() const { return agent_ ? agent_->pollHandle() : -1; }
  const BrowserIdentity& browser() const { return browser_; }

 private:
  std::vector<nlohmann::json> onMessage(const nlohmann::json& message);
  /// Sends the pending report (if any) to the agent, connecting first; what to tell the extension.
  std::vector<nlohmann::json> deliver(bool from_timer);
  bool connect();
  void scheduleRetry();
  nlohmann::json notRunning() const;

  const Clock& clock_;
  AgentConnector connector_;
  std::string parent_browser_;
  BrowserFamily args_family_;
  HostOptions options_;
  BrowserIdentity browser_;
  std::unique_ptr<AgentConnection> agent_;
  std::optional<TabReport> pending_;    // the latest report the agent has not answered yet
  std::optional<TabReport> delivered_;  // the latest it has: sent again after the agent restarts
  int failures_ = 0;
  std::optional<MonoTime> retry_at_;
  bool told_not_running_ = false;
  std::string last_error_;
};

}  // namespace wm::nmhost
