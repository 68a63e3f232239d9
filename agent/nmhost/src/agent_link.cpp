// The host's link to the agent: the agent's own ControlClient (one request, one reply) on its socket.
#include "workmonitor/agent/control_client.h"
#include "workmonitor/nmhost/host.h"

namespace wm::nmhost {

namespace {

class ControlSocketConnection final : public AgentConnection {
 public:
  explicit ControlSocketConnection(agent::ControlClient client) : client_(std::move(client)) {}
  Result<nlohmann::json> call(const std::string& cmd, const nlohmann::json& args) override {
    return client_.call(cmd, args);
  }
  int pollHandle() const override { return client_.nativeHandle(); }

 private:
  agent::ControlClient client_;
};

}  // namespace

AgentConnector controlSocketConnector(std::string socket, Millis timeout) {
  return [socket = std::move(socket), timeout]() -> Result<std::unique_ptr<AgentConnection>> {
    auto c = agent::ControlClient::connect(socket, timeout);
    if (!c) return std::unexpected(c.error());
    return std::make_unique<ControlSocketConnection>(std::move(*c));
  };
}

}  // namespace wm::nmhost
