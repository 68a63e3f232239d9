// A TEST TOOL: a small HTTP/1.1 server on 127.0.0.1 that replies whatever each test scripts (status codes,
// Retry-After, slow replies, dropped connections, 401 then 200) and records what it received (headers and
// gunzipped bodies). It is the fault-injecting network layer for the sync client's tests; it is NOT
// workmonitor-server, whose end-to-end tests run against the real thing.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace wm::testing {

struct ReceivedRequest {
  std::string method;
  std::string target;                          // path and query as sent
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;                            // as received
  std::string decoded_body;                    // gunzipped when Content-Encoding: gzip, else == body
  std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

struct ScriptedReply {
  enum class Action {
    kReply,       // send the reply
    kDrop,        // close the connection without a byte of reply
    kDropMidway,  // send the headers (with the full Content-Length) and half the body, then close
  };
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds delay{0};  // wait this long before answering (a slow server)
  Action action = Action::kReply;

  static ScriptedReply json(int status, std::string body) {
    ScriptedReply r;
    r.status = status;
    r.headers = {{"Content-Type", "application/json"}};
    r.body = std::move(body);
    return r;
  }
  static ScriptedReply drop() {
    ScriptedReply r;
    r.action = Action::kDrop;
    return r;
  }
};

class ScriptedHttpServer {
 public:
  using Handler = std::function<ScriptedReply(const ReceivedRequest&)>;

  /// Listens on 127.0.0.1 on a free port. Without a handler, replies come from push()ed replies in order,
  /// then 404.
  ScriptedHttpServer();
  ~ScriptedHttpServer();
  ScriptedHttpServer(const ScriptedHttpServer&) = delete;
  ScriptedHttpServer& operator=(const ScriptedHttpServer&) = delete;

  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  void setHandler(Handler h);
  void push(ScriptedReply r);
  std::vector<ReceivedRequest> received() const;
  /// Waits until at least n requests arrived; false on timeout.
  bool waitForRequests(size_t n, std::chrono::milliseconds timeout) const;
  size_t connectionsAccepted() const { return accepted_; }

 private:
  void acceptLoop();
  void serve(int fd);
  ScriptedReply replyFor(const ReceivedRequest& r);

  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<size_t> accepted_{0};
  std::thread acceptor_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  Handler handler_;
  std::deque<ScriptedReply> queue_;
  std::vector<ReceivedRequest> received_;
  std::vector<std::thread> workers_;
  std::vector<int> client_fds_;
};

}  // namespace wm::testing
