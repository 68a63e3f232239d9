#include "workmonitor/server/http/service.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "routes.h"
#include "workmonitor/server/http/crypto.h"
#include "workmonitor/server/http/gzip.h"
#include "workmonitor/server/http/metrics_access.h"

namespace wm::server::http {
namespace {

constexpr std::string_view kSetClaims =
    "select set_config('request.jwt.claim.sub', $1, true), set_config('request.jwt.claims', $2, true)";
// The same for an access token's transaction, in the same round trip: is the token still current?
constexpr std::string_view kSetTokenClaims =
    "select set_config('request.jwt.claim.sub', $1, true), set_config('request.jwt.claims', $2, true), "
    "auth.access_token_current($1::uuid, $3::bigint, $4, $5)";
// setClaims's error for a token that is no longer current; dbError answers it with 401 token_revoked.
constexpr std::string_view kTokenNotCurrent = "the access token is no longer current";

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::expected<void, ApiError> allowedOr429(int wait, std::string message) {
  if (wait > 0) return apiFail(429, "rate_limited", std::move(message), wait);
  return {};
}

EndpointLimiter limiterFor(const RateLimitSpec& spec) {
  return EndpointLimiter(spec.per_account, spec.per_address, spec.window);
}

}  // namespace

HttpResponse jsonResponse(unsigned status, const nlohmann::json& body) {
  HttpResponse res{static_cast<bhttp::status>(status), 11};
  res.set(bhttp::field::content_type, "application/json");
  res.set(bhttp::field::cache_control, "no-store");
  res.body() = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  res.prepare_payload();
  return res;
}

HttpResponse errorResponse(const ApiError& e) {
  HttpResponse res = jsonResponse(e.status, {{"error", {{"code", e.code}, {"message", e.message}}}});
  if (e.retry_after > 0) res.set(bhttp::field::retry_after, std::to_string(e.retry_after));
  return res;
}

Service::Service(ServerConfig config)
    : config_(std::move(config)),
      pool_(config_.database, config_.pool_size,
            "set statement_timeout = " + std::to_string(config_.statement_timeout.count()) +
                "; set idle_in_transaction_session_timeout = 60000; set application_name = 'workmonitor-server'",
            config_.transaction_pooling),
      jwt_(config_.jwt_secret, config_.clock_skew),
      account_limiter_(config_.login_attempts_per_account, config_.login_window),
      address_limiter_(config_.login_attempts_per_address, config_.login_window),
      signup_limiter_(5, std::chrono::hours(1)),
      refresh_limiter_(limiterFor(config_.refresh_limit)),
      batches_limiter_(limiterFor(config_.batches_limit)),
      screenshots_limiter_(limiterFor(config_.screenshots_limit)),
      password_reset_limiter_(limiterFor(config_.password_reset_limit)),
      mailer_(config_.passwordResetEnabled() ? std::make_unique<Mailer>(SmtpSettings::fromConfig(config_)) : nullptr) {}

long long Service::now() const {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

Result<Lease> Service::beginWithClaims(const TxClaims& claims) {
  auto lease = pool_.acquire(std::chrono::milliseconds(2000));
  if (!lease) return std::unexpected(lease.error());
  if (auto b = (*lease)->conn.exec("begin"); !b) return std::unexpected(b.error());
  if (auto s = setClaims(**lease, claims); !s) return std::unexpected(s.error());
  return lease;
}

Result<void> Service::setClaims(PooledConnection& c, const TxClaims& claims) {
  if (claims.token_iat < 0) {
    auto s = c.run("wm_set_claims", kSetClaims, {claims.sub, claims.json});
    if (!s) return std::unexpected(s.error());
    return {};
  }
  auto s = c.run(
      "wm_set_token_claims", kSetTokenClaims,
      {claims.sub, claims.json, std::to_string(claims.token_iat), claims.token_role, claims.token_employment_type});
  if (!s) return std::unexpected(s.error());
  if (s->rows() != 1 || s->value(0, 2) != "t") {
    return fail(Errc::kNotFound, std::string(kTokenNotCurrent));
  }
  return {};
}

ApiError Service::dbError(const Error& e, const char* what) {
  if (e.code == Errc::kNotFound && e.message == kTokenNotCurrent) {
    return ApiError{
        401, "token_revoked",
        "this access token is no longer current (password, role or access changed); refresh it or sign in again"};
  }
  const std::string_view state = db::sqlState(e);
  if (e.code == Errc::kBusy) return ApiError{503, "unavailable", "the server is busy; try again", 1};
  if (e.code == Errc::kUnavailable || state.starts_with("08") || state == "57014" || state == "57P01" ||
      state.starts_with("53") || state == "40001" || state == "40P01") {
    spdlog::warn("{}: database unavailable: {}", what, e.message);
    return ApiError{503, "unavailable", "the database is unavailable; try again", 5};
  }
  spdlog::error("{}: database error: {}", what, e.message);
  return ApiError{500, "internal", "internal error"};
}

std::expected<Caller, ApiError> Service::authenticate(const HttpRequest& req) {
  auto it = req.find(bhttp::field::authorization);
  if (it == req.end()) return apiFail(401, "invalid_token", "an Authorization: Bearer token is required");
  const std::string_view h(it->value().data(), it->value().size());
  if (h.size() < 8 || lower(h.substr(0, 7)) != "bearer ") {
    return apiFail(401, "invalid_token", "an Authorization: Bearer token is required");
  }
  auto claims = jwt_.verify(h.substr(7), now());
  if (!claims) {
    if (claims.error().kind == JwtError::kExpired) return apiFail(401, "token_expired", "the access token has expired");
    return apiFail(401, "invalid_token", "the access token is not valid");
  }
  if (!isUuidText(claims->sub) || !isUuidText(claims->company_id)) {
    return apiFail(401, "invalid_token", "the access token is not valid");
  }
  Caller c{*claims, JwtCodec::claimsJson(*claims).dump()};
  return c;
}

std::expected<nlohmann::json, ApiError> Service::jsonBody(const HttpRequest& req) {
  std::string inflated;
  const std::string* text = &req.body();
  if (auto it = req.find(bhttp::field::content_encoding); it != req.end()) {
    const std::string enc = lower(std::string_view(it->value().data(), it->value().size()));
    if (enc == "gzip") {
      auto out = gunzip(req.body(), config_.max_decompressed);
      if (!out && out.error().code == Errc::kBusy) return apiFail(413, "too_large", out.error().message);
      if (!out) return apiFail(400, "invalid_request", out.error().message);
      inflated = std::move(*out);
      text = &inflated;
    } else if (enc != "identity") {
      return apiFail(415, "unsupported_encoding", "Content-Encoding must be gzip or identity");
    }
  }
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return apiFail(400, "invalid_request", "the body must be a JSON object");
  return j;
}

std::expected<nlohmann::json, ApiError> Service::issueTokens(PooledConnection& c, const nlohmann::json& user,
                                                             const std::string& family,
                                                             const std::optional<std::string>& device) {
  const long long t = now();
  AccessClaims claims{user.at("user_id").get<std::string>(),
                      user.at("email").get<std::string>(),
                      user.at("role").get<std::string>(),
                      user.at("company_id").get<std::string>(),
                      user.at("employment_type").get<std::string>(),
                      t,
                      t + config_.access_lifetime.count()};
  auto refresh = newOpaqueToken();
  if (!refresh) return apiFail(500, "internal", "internal error");
  auto ins = c.run("wm_insert_refresh",
                   "insert into auth.refresh_tokens (user_id, device_id, family_id, token_hash, expires_at) "
                   "values ($1::uuid, $2::uuid, coalesce($3::uuid, gen_random_uuid()), $4::bytea, now() + "
                   "make_interval(secs => $5::bigint)) "
                   "returning id",
                   {claims.sub, device, family.empty() ? db::Param() : db::Param(family), "\\x" + hex(sha256(*refresh)),
                    std::to_string(config_.refresh_lifetime.count())});
  if (!ins) return std::unexpected(dbError(ins.error(), "issue tokens"));
  return nlohmann::json{
      {"access_token", jwt_.sign(claims)}, {"token_type", "bearer"}, {"expires_in", config_.access_lifetime.count()},
      {"refresh_token", *refresh},         {"user", user},           {"_refresh_id", std::string(ins->value(0, 0))}};
}

std::expected<void, ApiError> Service::limitPasswordReset(const std::string& email, const std::string& peer) {
  if (auto a = allowedOr429(password_reset_limiter_.hitAddress(peer), "too many password resets from this address");
      !a) {
    return a;
  }
  return allowedOr429(password_reset_limiter_.hitAccount(email), "too many password resets for this account");
}

std::expected<void, ApiError> Service::limitRefreshAccount(const std::string& user_id) {
  return allowedOr429(refresh_limiter_.hitAccount(user_id), "too many token refreshes for this account");
}

std::expected<void, ApiError> Service::limitUpload(const HttpRequest& req, const std::string& peer,
                                                   EndpointLimiter& limiter, const char* what) {
  if (auto a = allowedOr429(limiter.hitAddress(peer), std::string("too many ") + what + " from this address"); !a) {
    return a;
  }
  // The handler verifies the token again (an HMAC over a few hundred bytes: microseconds); checking here keeps
  // the limits in one place and in front of the body's decompression and hashing.
  auto caller = authenticate(req);
  if (!caller) return std::unexpected(caller.error());
  return allowedOr429(limiter.hitAccount(caller->claims.sub), std::string("too many ") + what + " for this account");
}

Reply Service::metricsReply(const HttpRequest& req, const std::string& peer) {
  MetricsRequest m{peer, false, std::nullopt};
  for (const char* h : {"Forwarded", "X-Forwarded-For", "X-Real-IP"}) m.forwarded = m.forwarded || req.count(h) > 0;
  if (auto it = req.find(bhttp::field::authorization); it != req.end()) {
    m.authorization = std::string_view(it->value().data(), it->value().size());
  }
  switch (metricsAccess(config_.metrics_token, config_.metrics_loopback_is_local, m)) {
    case MetricsAccess::kAllowed:
      break;
    case MetricsAccess::kForbidden:
      return apiFail(403, "forbidden",
                     config_.metrics_token.empty()
                         ? "GET /metrics answers clients on this machine only; set METRICS_TOKEN to scrape it "
                           "from elsewhere"
                         : "GET /metrics needs the metrics token (Authorization: Bearer <METRICS_TOKEN>)");
    case MetricsAccess::kWrongToken: {
      HttpResponse r = errorResponse(ApiError{401, "invalid_token", "wrong metrics token"});
      r.set(bhttp::field::www_authenticate, "Bearer");
      return r;
    }
  }
  HttpResponse r{bhttp::status::ok, 11};
  r.set(bhttp::field::content_type, "text/plain; version=0.0.4");
  r.set(bhttp::field::cache_control, "no-store");
  r.body() = metrics_.render(pool_.inUse(), pool_.size());
  r.prepare_payload();
  return r;
}

HttpResponse Service::handle(const HttpRequest& req, const std::string& peer) {
  const auto start = std::chrono::steady_clock::now();
  std::string route_name = "unknown";
  HttpResponse res;
  try {
    Reply r = route(req, peer, route_name);
    res = r ? std::move(*r) : errorResponse(r.error());
  } catch (const std::exception& e) {
    // Handlers validate before they read; this is the net under a bug, never the plan.
    spdlog::error("{}: unexpected exception: {}", route_name, e.what());
    res = errorResponse(ApiError{});
  }
  const auto took = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start);
  metrics_.observe(route_name, res.result_int(), took);
  return res;
}

Reply Service::route(const HttpRequest& req, const std::string& peer, std::string& name) {
  std::string_view target(req.target().data(), req.target().size());
  if (const size_t q = target.find('?'); q != std::string_view::npos) target = target.substr(0, q);
  const auto m = req.method();
  auto only = [&](bhttp::verb v, const char* route) -> std::optional<ApiError> {
    name = route;
    if (m != v) return ApiError{405, "method_not_allowed", "method not allowed for this path"};
    return std::nullopt;
  };
  enum class Id {
    kHealth,
    kReady,
    kMetrics,
    kSignup,
    kLogin,
    kRefresh,
    kLogout,
    kMe,
    kChangePassword,
    kPasswordReset,
    kPasswordResetConfirm,
    kEnroll,
    kProfile,
    kProjects,
    kBatches,
    kUnattendedToken
  };
  struct Entry {
    const char* path;
    bhttp::verb verb;
    Id id;
  };
  static constexpr Entry kRoutes[] = {
      {"/healthz", bhttp::verb::get, Id::kHealth},
      {"/readyz", bhttp::verb::get, Id::kReady},
      {"/metrics", bhttp::verb::get, Id::kMetrics},
      {"/auth/signup", bhttp::verb::post, Id::kSignup},
      {"/auth/login", bhttp::verb::post, Id::kLogin},
      {"/auth/refresh", bhttp::verb::post, Id::kRefresh},
      {"/auth/logout", bhttp::verb::post, Id::kLogout},
      {"/auth/me", bhttp::verb::get, Id::kMe},
      {"/api/v1/auth/password", bhttp::verb::post, Id::kChangePassword},
      {"/api/v1/auth/password-reset", bhttp::verb::post, Id::kPasswordReset},
      {"/api/v1/auth/password-reset/confirm", bhttp::verb::post, Id::kPasswordResetConfirm},
      {"/api/v1/agent/enroll", bhttp::verb::post, Id::kEnroll},
      {"/api/v1/agent/profile", bhttp::verb::get, Id::kProfile},
      {"/api/v1/agent/projects", bhttp::verb::get, Id::kProjects},
      {"/api/v1/agent/batches", bhttp::verb::post, Id::kBatches},
      {"/api/v1/admin/unattended-tokens", bhttp::verb::post, Id::kUnattendedToken},
  };
  if (target == "/api/v1/admin/account-mappings") {
    name = "/api/v1/admin/account-mappings";
    if (m == bhttp::verb::put) return putAccountMappings(req);
    if (m == bhttp::verb::get) return getAccountMappings(req);
    return apiFail(405, "method_not_allowed", "method not allowed for this path");
  }
  if (target == "/api/v1/admin/profiles") {
    name = "/api/v1/admin/profiles";
    if (m == bhttp::verb::post) return createProfile(req, peer);
    if (m == bhttp::verb::get) return listProfiles(req);
    return apiFail(405, "method_not_allowed", "method not allowed for this path");
  }
  if (target == "/api/v1/admin/profile-assignments") {
    if (auto e = only(bhttp::verb::post, "/api/v1/admin/profile-assignments")) return std::unexpected(*e);
    return assignProfile(req, peer);
  }
  constexpr std::string_view kProfiles = "/api/v1/admin/profiles/";
  if (target.starts_with(kProfiles)) {
    name = "/api/v1/admin/profiles/{id}";
    const std::string id(target.substr(kProfiles.size()));
    if (m != bhttp::verb::get && m != bhttp::verb::put && m != bhttp::verb::delete_)
      return apiFail(405, "method_not_allowed", "method not allowed for this path");
    if (!isUuidText(id)) return apiFail(404, "not_found", "no profile of this company has that id");
    if (m == bhttp::verb::get) return getProfile(req, id);
    if (m == bhttp::verb::put) return updateProfile(req, peer, id);
    return deleteProfile(req, peer, id);
  }
  if (target == "/api/v1/admin/users") {
    if (auto e = only(bhttp::verb::get, "/api/v1/admin/users")) return std::unexpected(*e);
    return listPeople(req);
  }
  constexpr std::string_view kUsers = "/api/v1/admin/users/";
  if (target.starts_with(kUsers)) {
    if (auto e = only(bhttp::verb::patch, "/api/v1/admin/users/{id}")) return std::unexpected(*e);
    const std::string id(target.substr(kUsers.size()));
    if (!isUuidText(id)) return apiFail(404, "not_found", "no person of this company has that id");
    return updatePerson(req, peer, id);
  }
  if (target == "/api/v1/admin/devices") {
    if (auto e = only(bhttp::verb::get, "/api/v1/admin/devices")) return std::unexpected(*e);
    return listDevices(req);
  }
  constexpr std::string_view kDevices = "/api/v1/admin/devices/", kRevoke = "/revoke";
  if (target.starts_with(kDevices) && target.ends_with(kRevoke)) {
    if (auto e = only(bhttp::verb::post, "/api/v1/admin/devices/{id}/revoke")) return std::unexpected(*e);
    const std::string id(target.substr(kDevices.size(), target.size() - kDevices.size() - kRevoke.size()));
    if (!isUuidText(id)) return apiFail(404, "not_found", "no device of this company has that id");
    return revokeDevice(req, peer, id);
  }
  if (target == "/api/v1/admin/enrolment-tokens") {
    name = "/api/v1/admin/enrolment-tokens";
    if (m == bhttp::verb::post) return issueEnrolmentToken(req, peer);
    if (m == bhttp::verb::get) return listEnrolmentTokens(req);
    return apiFail(405, "method_not_allowed", "method not allowed for this path");
  }
  constexpr std::string_view kTokens = "/api/v1/admin/enrolment-tokens/";
  if (target.starts_with(kTokens) && target.ends_with(kRevoke)) {
    if (auto e = only(bhttp::verb::post, "/api/v1/admin/enrolment-tokens/{id}/revoke")) return std::unexpected(*e);
    const std::string id(target.substr(kTokens.size(), target.size() - kTokens.size() - kRevoke.size()));
    if (!isUuidText(id)) return apiFail(404, "not_found", "no enrolment token of this company has that id");
    return revokeEnrolmentToken(req, peer, id);
  }
  for (const auto& e : kRoutes) {
    if (target != e.path) continue;
    if (auto err = only(e.verb, e.path)) return std::unexpected(*err);
    switch (e.id) {
      case Id::kHealth: {
        HttpResponse r{bhttp::status::ok, 11};
        r.set(bhttp::field::content_type, "text/plain");
        r.body() = "ok\n";
        r.prepare_payload();
        return r;
      }
      case Id::kReady:
        return ready();
      case Id::kMetrics:
        return metricsReply(req, peer);
      case Id::kSignup:
        return signup(req, peer);
      case Id::kLogin:
        return login(req, peer);
      case Id::kRefresh:
        // Per address here, before the token is looked up; per account in refresh(), once its user is known.
        if (auto a = allowedOr429(refresh_limiter_.hitAddress(peer), "too many token refreshes from this address");
            !a) {
          return std::unexpected(a.error());
        }
        return refresh(req);
      case Id::kLogout:
        return logout(req);
      case Id::kMe:
        return me(req);
      case Id::kChangePassword:
        return changePassword(req, peer);
      case Id::kPasswordReset:
        return requestPasswordReset(req, peer);
      case Id::kPasswordResetConfirm:
        return confirmPasswordReset(req, peer);
      case Id::kEnroll:
        return enroll(req);
      case Id::kProfile:
        return profile(req);
      case Id::kProjects:
        return projects(req);
      case Id::kBatches:
        if (auto a = limitUpload(req, peer, batches_limiter_, "batches"); !a) return std::unexpected(a.error());
        return batches(req);
      case Id::kUnattendedToken:
        return unattendedToken(req);
    }
  }
  constexpr std::string_view kShots = "/api/v1/agent/screenshots/";
  if (target.starts_with(kShots)) {
    if (auto e = only(bhttp::verb::put, "/api/v1/agent/screenshots/{id}")) return std::unexpected(*e);
    const std::string id(target.substr(kShots.size()));
    if (!isUuidText(id)) return apiFail(400, "invalid_request", "the screenshot id must be a UUID");
    if (auto a = limitUpload(req, peer, screenshots_limiter_, "screenshot uploads"); !a) {
      return std::unexpected(a.error());
    }
    return screenshot(req, id);
  }
  name = "unknown";
  return apiFail(404, "not_found", "no such endpoint");
}

}  // namespace wm::server::http
