// Who may read GET /metrics: clients on this machine by default, or, once the operator sets METRICS_TOKEN,
// whoever presents it as a bearer token. Kept apart from the HTTP types so the decision is testable alone.
#pragma once

#include <optional>
#include <string_view>

namespace wm::server::http {

/// Whether `peer` (the client address as the listener writes it) is this machine: 127.0.0.0/8, ::1, or an
/// IPv4-mapped 127.x (::ffff:127.0.0.1, what a dual-stack listener reports). Anything unparsable is not.
bool isLoopbackAddress(std::string_view peer);

/// What the decision needs from a request.
struct MetricsRequest {
  std::string_view peer;
  /// The request names a client other than the connection's (Forwarded, X-Forwarded-For or X-Real-IP): it
  /// came through a proxy, so a loopback peer says nothing about who asked.
  bool forwarded = false;
  std::optional<std::string_view> authorization;  // the Authorization header, when sent
};

enum class MetricsAccess {
  kAllowed,
  kForbidden,   // 403: not local and no token (or no token configured at all)
  kWrongToken,  // 401: a token was presented and it is not the configured one
};

/// With `token` empty: allowed to a local client only (a loopback peer, not forwarded, and
/// `loopback_is_local`). With a token: allowed to `Authorization: Bearer <token>` from anywhere (compared in
/// constant time), refused to everyone else, loopback included.
MetricsAccess metricsAccess(std::string_view token, bool loopback_is_local, const MetricsRequest& request);

}  // namespace wm::server::http
