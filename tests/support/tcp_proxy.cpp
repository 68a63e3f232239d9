#include "tcp_proxy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>
#include <string>

namespace wm::test {
namespace {

// Writes everything (loopback peers read promptly; a short blocking write is fine in a test proxy).
bool writeAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    const ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

// Closes with a reset (SO_LINGER 0), as a dropped network looks to the peer, rather than a clean FIN.
void abortClose(int fd) {
  if (fd < 0) return;
  linger l{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  ::close(fd);
}

}  // namespace

TcpProxy::TcpProxy(uint16_t target_port) : target_(target_port) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::listen(listen_fd_, 64) != 0 || ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0 ||
      ::pipe2(wake_, O_CLOEXEC) != 0) {
    throw std::runtime_error("TcpProxy: cannot listen on 127.0.0.1");
  }
  port_ = ntohs(a.sin_port);
  thread_ = std::thread([this] { loop(); });
}

TcpProxy::~TcpProxy() {
  stop_ = true;
  (void)!::write(wake_[1], "x", 1);
  thread_.join();
  closeAll();
  ::close(listen_fd_);
  ::close(wake_[0]);
  ::close(wake_[1]);
}

void TcpProxy::setMode(Mode mode) {
  mode_ = mode;
  reset_ = true;
  (void)!::write(wake_[1], "x", 1);
}

void TcpProxy::closeAll() {
  for (auto& p : pipes_) {
    abortClose(p.client);
    abortClose(p.server);
  }
  pipes_.clear();
}

void TcpProxy::loop() {
  std::vector<char> buf(64 * 1024);
  while (!stop_) {
    if (reset_.exchange(false)) closeAll();
    std::vector<pollfd> fds{{listen_fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    for (const auto& p : pipes_) {
      fds.push_back({p.client, POLLIN, 0});
      fds.push_back({p.server, POLLIN, 0});
    }
    if (::poll(fds.data(), fds.size(), 200) < 0) continue;
    if (fds[1].revents & POLLIN) {
      char drain[64];
      (void)!::read(wake_[0], drain, sizeof drain);
      continue;  // the mode may have changed: re-evaluate before moving more bytes
    }
    if (fds[0].revents & POLLIN) {
      const int c = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c >= 0) {
        ++accepted_;
        if (mode_ == Mode::kCut) {
          abortClose(c);
        } else {
          const int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
          sockaddr_in a{};
          a.sin_family = AF_INET;
          a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
          a.sin_port = htons(target_);
          if (s >= 0 && ::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
            pipes_.push_back({c, s});
          } else {
            // The server is down: the client sees the refusal as a reset.
            abortClose(s);
            abortClose(c);
          }
        }
      }
    }
    // Pipes are indexed as in fds (2 + 2i, 3 + 2i); closed ones are collected after the pass.
    std::vector<bool> dead(pipes_.size(), false);
    for (size_t i = 0; i < pipes_.size() && 2 + 2 * i + 1 < fds.size(); ++i) {
      auto& p = pipes_[i];
      const short from_client = fds[2 + 2 * i].revents;
      const short from_server = fds[3 + 2 * i].revents;
      if (from_client & (POLLIN | POLLHUP | POLLERR)) {
        const ssize_t n = ::recv(p.client, buf.data(), buf.size(), 0);
        if (n <= 0 || !writeAll(p.server, buf.data(), static_cast<size_t>(n))) dead[i] = true;
      }
      if (!dead[i] && (from_server & (POLLIN | POLLHUP | POLLERR))) {
        const ssize_t n = ::recv(p.server, buf.data(), buf.size(), 0);
        if (n <= 0) {
          dead[i] = true;
        } else if (mode_ == Mode::kForward && !writeAll(p.client, buf.data(), static_cast<size_t>(n))) {
          dead[i] = true;
        }
      }
    }
    for (size_t i = pipes_.size(); i-- > 0;) {
      if (!dead[i]) continue;
      abortClose(pipes_[i].client);
      abortClose(pipes_[i].server);
      pipes_.erase(pipes_.begin() + static_cast<std::ptrdiff_t>(i));
    }
  }
}

}  // namespace wm::test
