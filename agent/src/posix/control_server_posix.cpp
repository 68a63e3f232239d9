// Control socket over a Unix domain socket (Asio local::stream_protocol). Windows gets a named pipe with a
// per-user ACL behind the same ControlServer interface.
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/write.hpp>
#include <deque>

#include "workmonitor/agent/control_server.h"
#include "workmonitor/agent/paths.h"

namespace wm::agent {

namespace asio = boost::asio;
using local = asio::local::stream_protocol;
using nlohmann::json;

class ControlServer::Session : public std::enable_shared_from_this<ControlServer::Session> {
 public:
  Session(local::socket socket, ControlServer::Impl& server) : socket_(std::move(socket)), server_(server) {}
  void start() { read(); }
  void send(std::string line);
  void close();
  bool subscribed = false;

 private:
  void read();
  void onLine(std::string_view line);
  void write();

  local::socket socket_;
  ControlServer::Impl& server_;
  protocol::LineReader reader_;
  std::array<char, 4096> buf_{};
  std::deque<std::string> queue_;
  size_t queued_bytes_ = 0;
  bool closed_ = false;
};

struct ControlServer::Impl {
  Impl(asio::io_context& i, std::filesystem::path p, Handler h) : io(i), path(std::move(p)), handler(std::move(h)) {}
  asio::io_context& io;
  std::filesystem::path path;
  Handler handler;
  local::acceptor acceptor{io};
  std::set<std::shared_ptr<Session>> sessions;
  bool stopped = false;

  void accept() {
    acceptor.async_accept([this](boost::system::error_code ec, local::socket s) {
      if (ec) {
        if (ec != asio::error::operation_aborted && !stopped) {
          spdlog::warn("control socket accept failed: {}", ec.message());
          accept();
        }
        return;
      }
      auto session = std::make_shared<Session>(std::move(s), *this);
      if (sessions.size() >= kMaxClients) {
        session->send(protocol::makeErrorReply(nullptr, Error{Errc::kBusy, "too many clients connected"}));
        session->close();
      } else {
        sessions.insert(session);
        session->start();
      }
      accept();
    });
  }
};

void ControlServer::Session::read() {
  auto self = shared_from_this();
  socket_.async_read_some(asio::buffer(buf_), [this, self](boost::system::error_code ec, size_t n) {
    if (ec) {
      close();
      return;
    }
    reader_.feed(
        std::string_view(buf_.data(), n), [this](std::string_view line) { onLine(line); },
        [this] {
          send(protocol::makeErrorReply(
              nullptr,
              Error{Errc::kInvalidInput, "message longer than " + std::to_string(protocol::kMaxLineBytes) + " bytes"}));
        });
    if (!closed_) read();
  });
}

void ControlServer::Session::onLine(std::string_view line) {
  json id;
  auto req = protocol::parseRequest(line, &id);
  if (!req) {
    send(protocol::makeErrorReply(id, req.error()));
    return;
  }
  if (req->cmd == "subscribe") {
    subscribed = true;
    send(protocol::makeReply(req->id, json{{"subscribed", true}}));
    return;
  }
  Result<json> result = [&]() -> Result<json> {
    try {
      return server_.handler(*req);
    } catch (const std::exception& e) {  // a handler bug must not take the agent down
      spdlog::error("control request '{}' failed: {}", req->cmd, e.what());
      return fail(Errc::kInternal, std::string("internal error: ") + e.what());
    }
  }();
  send(result ? protocol::makeReply(req->id, *result) : protocol::makeErrorReply(req->id, result.error()));
}

void ControlServer::Session::send(std::string line) {
  if (closed_) return;
  queued_bytes_ += line.size();
  if (queued_bytes_ > kMaxQueuedBytes) {
    spdlog::warn("control client not reading; dropping it");
    close();
    return;
  }
  queue_.push_back(std::move(line));
  if (queue_.size() == 1) write();
}

void ControlServer::Session::write() {
  auto self = shared_from_this();
  asio::async_write(socket_, asio::buffer(queue_.front()), [this, self](boost::system::error_code ec, size_t) {
    if (ec) {
      close();
      return;
    }
    queued_bytes_ -= queue_.front().size();
    queue_.pop_front();
    if (!queue_.empty()) write();
  });
}

void ControlServer::Session::close() {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ec;
  socket_.shutdown(local::socket::shutdown_both, ec);
  socket_.close(ec);
  server_.sessions.erase(shared_from_this());
}

ControlServer::ControlServer(asio::io_context& io, std::filesystem::path socket_path, Handler handler)
    : impl_(std::make_unique<Impl>(io, std::move(socket_path), std::move(handler))) {}

ControlServer::~ControlServer() { stop(); }

Result<void> ControlServer::start() {
  const auto dir = impl_->path.parent_path();
  if (auto ok = ensurePrivateDir(dir); !ok) return std::unexpected(ok.error());
  if (impl_->path.native().size() >= sizeof(sockaddr_un{}.sun_path))
    return fail(Errc::kInvalidInput, "socket path too long: " + impl_->path.string());
  // The instance lock is held, so a socket file left here is a crashed agent's: remove it.
  std::error_code fec;
  std::filesystem::remove(impl_->path, fec);
  boost::system::error_code ec;
  const mode_t old = ::umask(0177);  // the socket is born 0600: no window where others could connect
  impl_->acceptor.open(local(), ec);
  if (!ec) impl_->acceptor.bind(local::endpoint(impl_->path.string()), ec);
  ::umask(old);
  if (!ec) impl_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail(Errc::kIo, "cannot listen on " + impl_->path.string() + ": " + ec.message());
  ::chmod(impl_->path.c_str(), 0600);
  impl_->accept();
  return {};
}

void ControlServer::stop() {
  if (!impl_ || impl_->stopped) return;
  impl_->stopped = true;
  boost::system::error_code ec;
  impl_->acceptor.close(ec);
  auto sessions = impl_->sessions;
  for (const auto& s : sessions) s->close();
  std::error_code fec;
  std::filesystem::remove(impl_->path, fec);
}

void ControlServer::broadcast(const std::string& event, const json& data) {
  const std::string line = protocol::makeEvent(event, data);
  auto sessions = impl_->sessions;  // a send may drop a slow client from the set
  for (const auto& s : sessions)
    if (s->subscribed) s->send(line);
}

size_t ControlServer::clientCount() const { return impl_->sessions.size(); }

}  // namespace wm::agent
