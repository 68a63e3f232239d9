#include "workmonitor/server/http/server.h"

#include <spdlog/spdlog.h>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <thread>
#include <vector>

#include "workmonitor/server/db/connection.h"
#include "workmonitor/server/http/service.h"

namespace wm::server::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

constexpr size_t kHeaderLimit = 16 * 1024;

// One connection: read a request (with a deadline), hand it to the service, write the reply, repeat.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, Service& service) : stream_(std::move(socket)), service_(service) {
    beast::error_code ec;
    const auto ep = stream_.socket().remote_endpoint(ec);
    peer_ = ec ? "unknown" : ep.address().to_string();
  }

  void run() { asio::dispatch(stream_.get_executor(), beast::bind_front_handler(&Session::read, shared_from_this())); }

 private:
  void read() {
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(service_.config().max_body);
    stream_.expires_after(service_.config().read_timeout);
    bhttp::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&Session::onRead, shared_from_this()));
  }

  void onRead(beast::error_code ec, size_t) {
    if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::connection_reset) {
      return close();
    }
    if (ec == bhttp::error::body_limit || ec == bhttp::error::header_limit) {
      keep_alive_ = false;
      return write(errorResponse(ApiError{413, "too_large", "the request is larger than the server accepts"}));
    }
    if (ec) {
      keep_alive_ = false;
      return write(errorResponse(ApiError{400, "invalid_request", "malformed HTTP request"}));
    }
    HttpRequest req = parser_->release();
    keep_alive_ = req.keep_alive();
    stream_.expires_never();  // the handler's own limits (statement_timeout, pool wait) bound it
    HttpResponse res = service_.handle(req, peer_);
    write(std::move(res));
  }

  void write(HttpResponse res) {
    res.version(11);
    res.keep_alive(keep_alive_);
    res.set(bhttp::field::server, "workmonitor-server");
    if (!res.has_content_length() && res.result() != bhttp::status::no_content &&
        res.result() != bhttp::status::not_modified) {
      res.prepare_payload();
    }
    response_ = std::make_shared<HttpResponse>(std::move(res));
    stream_.expires_after(service_.config().read_timeout);
    bhttp::async_write(stream_, *response_, beast::bind_front_handler(&Session::onWrite, shared_from_this()));
  }

  void onWrite(beast::error_code ec, size_t) {
    response_.reset();
    if (ec || !keep_alive_) return close();
    read();
  }

  void close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::shared_ptr<HttpResponse> response_;
  Service& service_;
  std::string peer_;
  bool keep_alive_ = true;
};

class Listener : public std::enable_shared_from_this<Listener> {
 public:
  Listener(asio::io_context& ioc, tcp::acceptor acceptor, Service& service)
      : ioc_(ioc), acceptor_(std::move(acceptor)), service_(service) {}
  void accept() {
    acceptor_.async_accept(asio::make_strand(ioc_), beast::bind_front_handler(&Listener::onAccept, shared_from_this()));
  }
  void close() {
    beast::error_code ec;
    acceptor_.close(ec);
  }

 private:
  void onAccept(beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted) return;
    if (!ec) std::make_shared<Session>(std::move(socket), service_)->run();
    accept();
  }
  asio::io_context& ioc_;
  tcp::acceptor acceptor_;
  Service& service_;
};

}  // namespace

struct HttpServer::Impl {
  std::unique_ptr<Service> service;
  asio::io_context ioc;
  std::shared_ptr<Listener> listener;
  std::vector<std::thread> threads;
  unsigned short port = 0;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
};

Result<void> checkDatabaseRole(const std::string& conninfo) {
  auto conn = db::Connection::open(conninfo);
  if (!conn) return std::unexpected(conn.error());
  auto r = conn->query(
      "select r.rolsuper, r.rolbypassrls, "
      "(select count(*) from pg_class c where c.relowner = r.oid and c.relkind in ('r', 'p', 'v', 'm')), "
      "current_user from pg_roles r where r.rolname = current_user");
  if (!r) return std::unexpected(r.error());
  if (r->rows() != 1) return fail(Errc::kInternal, "cannot read the database role's attributes");
  const std::string role(r->value(0, 3));
  if (r->value(0, 0) == "t") {
    return fail(Errc::kInvalidInput, "refusing to serve as superuser " + role +
                                         ": RLS does not apply to it; connect as the runtime role workmonitor_app");
  }
  if (r->value(0, 1) == "t") {
    return fail(Errc::kInvalidInput, "refusing to serve as " + role + ": it has BYPASSRLS; use workmonitor_app");
  }
  if (r->asInt(0, 2) > 0) {
    return fail(Errc::kInvalidInput,
                "refusing to serve as " + role +
                    ": it owns tables (RLS is not forced on owners everywhere); use workmonitor_app");
  }
  return {};
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { stop(); }

Result<std::unique_ptr<HttpServer>> HttpServer::start(const ServerConfig& config) {
  if (auto s = checkSecrets(config); !s) return std::unexpected(s.error());
  if (auto r = checkDatabaseRole(config.database); !r) return std::unexpected(r.error());
  auto impl = std::make_unique<Impl>();
  impl->service = std::make_unique<Service>(config);
  beast::error_code ec;
  const auto address = asio::ip::make_address(config.listen_host, ec);
  if (ec) return fail(Errc::kInvalidInput, "--listen: not an IP address: " + config.listen_host);
  tcp::acceptor acceptor(asio::make_strand(impl->ioc));
  const tcp::endpoint ep(address, config.listen_port);
  acceptor.open(ep.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(ep, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return fail(Errc::kUnavailable, "cannot listen on " + config.listen_host + ":" +
                                        std::to_string(config.listen_port) + ": " + ec.message());
  impl->port = acceptor.local_endpoint().port();
  impl->listener = std::make_shared<Listener>(impl->ioc, std::move(acceptor), *impl->service);
  impl->listener->accept();
  impl->work.emplace(impl->ioc.get_executor());
  for (int i = 0; i < std::max(1, config.threads); ++i) {
    impl->threads.emplace_back([ioc = &impl->ioc] {
      try {
        ioc->run();
      } catch (const std::exception& e) {
        spdlog::critical("server thread: {}", e.what());
      }
    });
  }
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

unsigned short HttpServer::port() const { return impl_->port; }
Service& HttpServer::service() { return *impl_->service; }

void HttpServer::wait(bool signals) {
  if (signals) {
    asio::io_context sig_ioc;
    asio::signal_set set(sig_ioc, SIGINT, SIGTERM);
    set.async_wait([](const beast::error_code&, int) {});
    sig_ioc.run();
    stop();
    return;
  }
  for (auto& t : impl_->threads) {
    if (t.joinable()) t.join();
  }
}

void HttpServer::stop() {
  if (!impl_) return;
  if (impl_->listener) {
    asio::post(impl_->ioc, [l = impl_->listener] { l->close(); });
  }
  impl_->work.reset();
  impl_->ioc.stop();
  for (auto& t : impl_->threads) {
    if (t.joinable()) t.join();
  }
}

}  // namespace wm::server::http
