// A loopback TCP proxy a test controls: 127.0.0.1:<port()> → 127.0.0.1:<target>, forwarding both ways
// until told to hold the replies (the server has the request and answers, the client never hears back) or
// to cut the network (every connection reset, new ones closed at once). Used by the end-to-end fault tests.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace wm::test {

class TcpProxy {
 public:
  enum class Mode {
    kForward,      // a plain pipe
    kHoldReplies,  // requests reach the server; its replies are dropped, so the client waits
    kCut,          // the network is gone: open connections are closed, new ones closed right after accept
  };

  /// Listens on 127.0.0.1 on a free port; connections go to 127.0.0.1:target_port. Throws on failure.
  explicit TcpProxy(uint16_t target_port);
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  uint16_t port() const { return port_; }
  /// Switching modes closes the connections open now: a held or cut exchange never resumes half-way.
  void setMode(Mode mode);
  /// Connections accepted so far (in any mode).
  int64_t accepted() const { return accepted_.load(); }

 private:
  struct Pipe {
    int client = -1;
    int server = -1;
  };
  void loop();
  void closeAll();

  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};
  uint16_t port_ = 0;
  uint16_t target_ = 0;
  std::atomic<Mode> mode_{Mode::kForward};
  std::atomic<bool> stop_{false};
  std::atomic<bool> reset_{false};
  std::atomic<int64_t> accepted_{0};
  std::vector<Pipe> pipes_;  // loop thread only
  std::thread thread_;
};

}  // namespace wm::test
