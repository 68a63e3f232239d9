// One HTTP transport interface for the sync client: libcurl on Linux/macOS, WinHTTP later on Windows.
// Blocking by design (the uploader has its own thread); failures below HTTP come back as values.
#pragma once

#include <cstdint>
#include <expected>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "workmonitor/common/clock.h"

namespace wm::sync {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  Headers headers;
  std::string body;
  /// Send the body gzip-compressed with `Content-Encoding: gzip` (the transport compresses it).
  bool gzip_body = false;
  /// With gzip_body: the body already compressed (gzipCompress(body)), made ahead of time by the caller so
  /// compression is off the request's critical path; sent as is. Empty: the transport compresses `body`.
  std::string gzipped_body;
};

struct HttpResponse {
  int status = 0;
  Headers headers;  // names in lower case, in the order received
  std::string body;
  /// The first header of that name (case-insensitive), or nullopt.
  std::optional<std::string> header(std::string_view name) const;
};

/// Why no HTTP response arrived. kTls covers certificate verification and handshake failures, so the
/// user is told to fix the CA bundle rather than to wait for the network.
enum class NetError { kInvalidUrl, kResolve, kConnect, kTimeout, kTls, kSend, kReceive, kCancelled, kOther };
const char* netErrorName(NetError e);

struct TransportError {
  NetError kind = NetError::kOther;
  std::string message;  // never holds a URL query or a header value
};

using HttpResult = std::expected<HttpResponse, TransportError>;

struct TransportOptions {
  /// Extra trust anchors (PEM) for a self-hosted server with a private CA. Verification is always on;
  /// there is deliberately no option to turn it off.
  std::optional<std::filesystem::path> ca_bundle;
  Millis connect_timeout{10'000};
  Millis total_timeout{60'000};
  std::string user_agent = std::string("workmonitor-agent/") + WM_VERSION;
  /// Requests that may be on the wire at once (concurrency()), each on a kept-alive connection of its own.
  size_t parallel_requests = 2;
};

class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  /// Sends one request and waits for the whole reply. Any HTTP status is a response, not an error.
  /// Up to concurrency() calls may run at once, from different threads.
  virtual HttpResult send(const HttpRequest& request) = 0;
  /// How many send() calls may overlap (1: one at a time). The uploader puts at most this many batches on
  /// the wire at once.
  virtual size_t concurrency() const { return 1; }
  /// What the transport is, for `doctor` (e.g. "libcurl 7.88.1 (OpenSSL/3.0.x)").
  virtual std::string describe() const = 0;
  /// From any thread: the request in flight (and every later one) ends at once with kOther, so shutdown
  /// never waits for a slow server's timeout.
  virtual void cancelAll() = 0;
};

/// libcurl: TLS peer and host verification always on, proxy from the environment (http_proxy,
/// https_proxy, no_proxy), redirects not followed (a token must not go to another host).
std::unique_ptr<HttpTransport> makeCurlTransport(const TransportOptions& options);

/// The URL without its query and fragment: the only form of a URL that may be logged.
std::string redactUrl(std::string_view url);

}  // namespace wm::sync
