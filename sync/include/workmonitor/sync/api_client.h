// JSON calls to workmonitor-server (HTTP_API.md) and the one error type the sync client reasons with.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "workmonitor/sync/transport.h"

namespace wm::sync {

/// What kind of failure a call ended in; the uploader's reaction depends only on this.
enum class ApiErrc {
  kOffline,       // no HTTP reply (network, DNS, timeout, TLS): retry with backoff
  kUnauthorized,  // 401 on an API call: refresh once, retry once
  kSignInNeeded,  // the refresh credential is gone or refused (revoked family): stop until a new sign-in
  kRetryLater,    // 429, 503, other 5xx, 408: retry with backoff, honouring Retry-After
  kTooLarge,      // 413: send less
  kRejected,      // another 4xx: this request will not succeed as it is
  kProtocol,      // a reply that does not follow HTTP_API.md
};
const char* apiErrcName(ApiErrc e);

struct ApiError {
  ApiErrc kind = ApiErrc::kProtocol;
  int status = 0;       // HTTP status, 0 when there was no reply
  std::string code;     // the server's error.code (e.g. "refresh_revoked"), or the NetError name
  std::string message;  // for people; never a token or a URL query
  std::optional<Millis> retry_after;
};

template <typename T>
using ApiResult = std::expected<T, ApiError>;

struct ApiReply {
  int status = 0;
  nlohmann::json body;  // null when the reply had none (204, 304)
  HttpResponse raw;
};

/// Classifies a finished exchange: 2xx and 304 are replies, everything else an ApiError with the server's
/// error code and message when the body carries them.
ApiResult<ApiReply> interpret(const HttpResult& result, WallTime now);

/// base + path, with exactly one '/' between them.
std::string joinUrl(const std::string& base, const std::string& path);

}  // namespace wm::sync
