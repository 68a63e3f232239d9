// The request handler: HTTP in, HTTP out, no sockets. The listener (server.h) owns the I/O and calls
// Service::handle for every complete request.
#pragma once

#include <boost/beast/http.hpp>

#include <chrono>
#include <expected>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "workmonitor/server/http/config.h"
#include "workmonitor/server/http/jwt.h"
#include "workmonitor/server/http/mailer.h"
#include "workmonitor/server/http/metrics.h"
#include "workmonitor/server/http/pool.h"
#include "workmonitor/server/http/rate_limit.h"

namespace wm::server::http {

namespace bhttp = boost::beast::http;
using HttpRequest = bhttp::request<bhttp::string_body>;
using HttpResponse = bhttp::response<bhttp::string_body>;

/// An error reply: `{"error": {"code", "message"}}` with `status` (and Retry-After when set).
struct ApiError {
  unsigned status = 500;
  std::string code = "internal";
  std::string message = "internal error";
  int retry_after = 0;
};
using Reply = std::expected<HttpResponse, ApiError>;

inline std::unexpected<ApiError> apiFail(unsigned status, std::string code, std::string message, int retry_after = 0) {
  return std::unexpected(ApiError{status, std::move(code), std::move(message), retry_after});
}

HttpResponse jsonResponse(unsigned status, const nlohmann::json& body);
HttpResponse errorResponse(const ApiError& e);

/// Claims set for one transaction: `sub` and the JSON of the token (or of the lookup's user).
struct TxClaims {
  std::string sub;
  std::string json;
  /// For a transaction on behalf of an access token: its `iat`, role and employment type. Setting the claims
  /// then also checks that the token is still current (auth.access_token_current: account active, role and
  /// employment type unchanged, sessions not ended, password unchanged since); -1 = no token.
  long long token_iat = -1;
  std::string token_role{}, token_employment_type{};
};

/// The user a verified access token speaks for.
struct Caller {
  AccessClaims claims;
  std::string claims_json;  // what goes into request.jwt.claims
  TxClaims tx() const { return TxClaims{claims.sub, claims_json, claims.iat, claims.role, claims.employment_type}; }
};

class Service {
 public:
  explicit Service(ServerConfig config);
  /// Handles one request; never throws. `peer` is the client's address (for rate limiting).
  HttpResponse handle(const HttpRequest& req, const std::string& peer);

  Metrics& metrics() { return metrics_; }
  const ServerConfig& config() const { return config_; }

  // --- used by the route files ---
  /// A pooled connection with a transaction open and the claims set (the first statement of every request).
  Result<Lease> beginWithClaims(const TxClaims& claims);
  /// Sets (or switches, inside the same transaction) the claims.
  Result<void> setClaims(PooledConnection& c, const TxClaims& claims);
  /// Maps a database error to a reply: pool exhausted / database down / timeout → 503, else 500.
  ApiError dbError(const Error& e, const char* what);
  /// Checks the Bearer token.
  std::expected<Caller, ApiError> authenticate(const HttpRequest& req);
  /// The request body as JSON (gunzipped when Content-Encoding: gzip), within the limits.
  std::expected<nlohmann::json, ApiError> jsonBody(const HttpRequest& req);
  /// Issues an access token and a new refresh token (stored hashed, in `family`) inside `lease`'s transaction.
  std::expected<nlohmann::json, ApiError> issueTokens(PooledConnection& c, const nlohmann::json& user,
                                                      const std::string& family,
                                                      const std::optional<std::string>& device);
  const JwtCodec& jwt() const { return jwt_; }
  long long now() const;

  /// The password-reset limit (ServerConfig::password_reset_limit, RATE_LIMIT_PASSWORD_RESET), for the reset
  /// endpoints: call it with the email the request names (lower-cased) and the client address before any
  /// lookup or mail, and answer its error as is (429 rate_limited with Retry-After). Both are counted.
  std::expected<void, ApiError> limitPasswordReset(const std::string& email, const std::string& peer);
  /// The refresh limit's per-account side, once the refresh token's user is known (auth_routes.cpp).
  std::expected<void, ApiError> limitRefreshAccount(const std::string& user_id);

 private:
  Reply route(const HttpRequest& req, const std::string& peer, std::string& route_name);
  /// GET /metrics, to a local client or the holder of the metrics token (metrics_access.h).
  Reply metricsReply(const HttpRequest& req, const std::string& peer);
  /// An upload's limits, checked before its handler: the address first, then the token's user (a bad token
  /// is answered here as the handler would). `what` names the requests in the 429's message.
  std::expected<void, ApiError> limitUpload(const HttpRequest& req, const std::string& peer, EndpointLimiter& limiter,
                                            const char* what);

  // auth_routes.cpp
  Reply signup(const HttpRequest& req, const std::string& peer);
  Reply login(const HttpRequest& req, const std::string& peer);
  Reply refresh(const HttpRequest& req);
  Reply logout(const HttpRequest& req);
  Reply me(const HttpRequest& req);
  // password_routes.cpp
  Reply changePassword(const HttpRequest& req, const std::string& peer);
  Reply requestPasswordReset(const HttpRequest& req, const std::string& peer);
  Reply confirmPasswordReset(const HttpRequest& req, const std::string& peer);
  // agent_routes.cpp
  Reply enroll(const HttpRequest& req);
  Reply profile(const HttpRequest& req);
  Reply projects(const HttpRequest& req);
  Reply screenshot(const HttpRequest& req, const std::string& id);
  Reply ready();
  // ingest.cpp
  Reply batches(const HttpRequest& req);
  // admin_routes.cpp
  Reply unattendedToken(const HttpRequest& req);
  Reply putAccountMappings(const HttpRequest& req);
  Reply getAccountMappings(const HttpRequest& req);
  Reply createProfile(const HttpRequest& req, const std::string& peer);
  Reply listProfiles(const HttpRequest& req);
  Reply getProfile(const HttpRequest& req, const std::string& id);
  Reply updateProfile(const HttpRequest& req, const std::string& peer, const std::string& id);
  Reply deleteProfile(const HttpRequest& req, const std::string& peer, const std::string& id);
  Reply assignProfile(const HttpRequest& req, const std::string& peer);
  Reply listPeople(const HttpRequest& req);
  Reply updatePerson(const HttpRequest& req, const std::string& peer, const std::string& id);
  Reply listDevices(const HttpRequest& req);
  Reply revokeDevice(const HttpRequest& req, const std::string& peer, const std::string& id);
  Reply issueEnrolmentToken(const HttpRequest& req, const std::string& peer);
  Reply listEnrolmentTokens(const HttpRequest& req);
  Reply revokeEnrolmentToken(const HttpRequest& req, const std::string& peer, const std::string& id);

  ServerConfig config_;
  Pool pool_;
  JwtCodec jwt_;
  Metrics metrics_;
  RateLimiter account_limiter_;
  RateLimiter address_limiter_;
  RateLimiter signup_limiter_;  // sign-ups per client address
  EndpointLimiter refresh_limiter_;
  EndpointLimiter batches_limiter_;
  EndpointLimiter screenshots_limiter_;
  EndpointLimiter password_reset_limiter_;  // used by limitPasswordReset
  std::unique_ptr<Mailer> mailer_;          // the reset mail; null when SMTP_URL is not set (reset answers 503)
  std::once_flag dummy_once_;
  std::string dummy_hash_;  // verified against when the account does not exist, so timing does not tell
};

}  // namespace wm::server::http
