// The agent's end of the control socket: accepts clients (tray, CLI), answers requests one line each,
// and pushes events to the clients that subscribed. Runs on the agent's Asio io_context.
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <set>
#include <string>

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "workmonitor/agent/protocol.h"
#include "workmonitor/common/result.h"

namespace wm::agent {

class ControlServer {
 public:
  using Handler = std::function<Result<nlohmann::json>(const protocol::Request&)>;
  static constexpr size_t kMaxClients = 64;
  static constexpr size_t kMaxQueuedBytes = 1024 * 1024;  // a subscriber this far behind is dropped

  ControlServer(boost::asio::io_context& io, std::filesystem::path socket_path, Handler handler);
  ~ControlServer();

  /// Creates the socket (its directory 0700, the socket 0600) and starts accepting.
  Result<void> start();
  void stop();
  /// Sends an event line to every subscribed client.
  void broadcast(const std::string& event, const nlohmann::json& data);
  size_t clientCount() const;

  class Session;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace wm::agent
