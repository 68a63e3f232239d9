#include "scripted_http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>

#include "workmonitor/sync/gzip.h"

namespace wm::testing {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

const char* reasonOf(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 204:
      return "No Content";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 404:
      return "Not Found";
    case 413:
      return "Payload Too Large";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Status";
  }
}

bool sendAll(int fd, const std::string& s) {
  size_t done = 0;
  while (done < s.size()) {
    const ssize_t n = ::send(fd, s.data() + done, s.size() - done, MSG_NOSIGNAL);
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

ScriptedHttpServer::ScriptedHttpServer() {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::listen(listen_fd_, 64);
  socklen_t len = sizeof a;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
  acceptor_ = std::thread([this] { acceptLoop(); });
}

ScriptedHttpServer::~ScriptedHttpServer() {
  stop_ = true;
  ::shutdown(listen_fd_, SHUT_RDWR);
  acceptor_.join();
  ::close(listen_fd_);
  std::vector<std::thread> workers;
  {
    std::lock_guard lk(mu_);
    for (int fd : client_fds_) ::shutdown(fd, SHUT_RDWR);
    workers.swap(workers_);
  }
  cv_.notify_all();
  for (auto& t : workers) t.join();
}

void ScriptedHttpServer::setHandler(Handler h) {
  std::lock_guard lk(mu_);
  handler_ = std::move(h);
}

void ScriptedHttpServer::push(ScriptedReply r) {
  std::lock_guard lk(mu_);
  queue_.push_back(std::move(r));
}

std::vector<ReceivedRequest> ScriptedHttpServer::received() const {
  std::lock_guard lk(mu_);
  return received_;
}

bool ScriptedHttpServer::waitForRequests(size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock lk(mu_);
  return cv_.wait_for(lk, timeout, [&] { return received_.size() >= n; });
}

void ScriptedHttpServer::acceptLoop() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    ++accepted_;
    std::lock_guard lk(mu_);
    client_fds_.push_back(fd);
    workers_.emplace_back([this, fd] { serve(fd); });
  }
}

ScriptedReply ScriptedHttpServer::replyFor(const ReceivedRequest& r) {
  Handler h;
  {
    std::lock_guard lk(mu_);
    received_.push_back(r);
    h = handler_;
    if (!h && !queue_.empty()) {
      ScriptedReply next = std::move(queue_.front());
      queue_.pop_front();
      cv_.notify_all();
      return next;
    }
  }
  cv_.notify_all();
  if (h) return h(r);
  return ScriptedReply::json(404, R"({"error":{"code":"not_found","message":"nothing scripted"}})");
}

void ScriptedHttpServer::serve(int fd) {
  std::string buf;
  char chunk[16384];
  auto readMore = [&]() -> bool {
    while (!stop_) {
      pollfd p{fd, POLLIN, 0};
      const int rc = ::poll(&p, 1, 100);
      if (rc == 0) continue;
      if (rc < 0) return false;
      const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
      if (n <= 0) return false;
      buf.append(chunk, static_cast<size_t>(n));
      return true;
    }
    return false;
  };
  for (;;) {
    size_t head_end;
    while ((head_end = buf.find("\r\n\r\n")) == std::string::npos)
      if (!readMore()) goto done;
    {
      ReceivedRequest req;
      const std::string head = buf.substr(0, head_end);
      size_t line_end = head.find("\r\n");
      const std::string request_line = head.substr(0, line_end);
      const size_t sp1 = request_line.find(' '), sp2 = request_line.rfind(' ');
      req.method = request_line.substr(0, sp1);
      req.target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
      size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
      while (pos < head.size()) {
        size_t e = head.find("\r\n", pos);
        if (e == std::string::npos) e = head.size();
        const std::string line = head.substr(pos, e - pos);
        const size_t colon = line.find(':');
        if (colon != std::string::npos) {
          size_t v = colon + 1;
          while (v < line.size() && line[v] == ' ') ++v;
          req.headers[lower(line.substr(0, colon))] = line.substr(v);
        }
        pos = e + 2;
      }
      const size_t length = req.headers.count("content-length") ? std::stoul(req.headers["content-length"]) : 0;
      buf.erase(0, head_end + 4);
      while (buf.size() < length)
        if (!readMore()) goto done;
      req.body = buf.substr(0, length);
      buf.erase(0, length);
      req.decoded_body = req.body;
      if (lower(req.header("content-encoding")) == "gzip") {
        auto plain = sync::gzipDecompress(req.body);
        req.decoded_body = plain ? *plain : std::string("<bad gzip>");
      }
      ScriptedReply reply = replyFor(req);
      const auto until = std::chrono::steady_clock::now() + reply.delay;
      while (!stop_ && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      if (reply.action == ScriptedReply::Action::kDrop) goto done;
      std::string out = "HTTP/1.1 " + std::to_string(reply.status) + " " + reasonOf(reply.status) + "\r\n";
      for (const auto& [n, v] : reply.headers) out += n + ": " + v + "\r\n";
      if (reply.status != 204 && reply.status != 304)
        out += "Content-Length: " + std::to_string(reply.body.size()) + "\r\n";
      out += "\r\n";
      if (reply.action == ScriptedReply::Action::kDropMidway) {
        sendAll(fd, out + reply.body.substr(0, reply.body.size() / 2));
        goto done;
      }
      if (reply.status != 204 && reply.status != 304) out += reply.body;
      if (!sendAll(fd, out)) goto done;
    }
  }
done:
  std::lock_guard lk(mu_);
  client_fds_.erase(std::remove(client_fds_.begin(), client_fds_.end(), fd), client_fds_.end());
  ::close(fd);
}

}  // namespace wm::testing
