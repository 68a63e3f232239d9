// The HTTP/1.1 listener: Boost.Beast on Asio, a small thread pool, a timeout on every read, body limits.
// It owns the sockets only; every complete request goes to Service::handle.
#pragma once

#include <memory>
#include <string>

#include "workmonitor/common/result.h"
#include "workmonitor/server/http/config.h"

namespace wm::server::http {

class Service;

/// Connects as the configured role and refuses a superuser, a BYPASSRLS role, or one that owns a table.
Result<void> checkDatabaseRole(const std::string& conninfo);

class HttpServer {
 public:
  /// Checks the secrets and the database role, binds, and starts the threads.
  [[nodiscard]] static Result<std::unique_ptr<HttpServer>> start(const ServerConfig& config);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  unsigned short port() const;
  Service& service();
  /// Blocks until stop() (or SIGINT/SIGTERM when `signals`).
  void wait(bool signals);
  void stop();

 private:
  struct Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace wm::server::http
