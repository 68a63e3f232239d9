#include "workmonitor/sync/auth.h"

#include <algorithm>

#include "sync_log.h"

namespace wm::sync {

using nlohmann::json;

namespace {

HttpRequest jsonPost(const std::string& url, const json& body) {
  HttpRequest req;
  req.method = "POST";
  req.url = url;
  req.headers = {{"Content-Type", "application/json"}, {"Accept", "application/json"}};
  req.body = body.dump();
  return req;
}

ApiError protocolError(const std::string& what) { return ApiError{ApiErrc::kProtocol, 200, "bad_reply", what, {}}; }

}  // namespace

const char* authStateName(AuthState s) {
  switch (s) {
    case AuthState::kSignedOut:
      return "signed_out";
    case AuthState::kSignedIn:
      return "signed_in";
    case AuthState::kSignInNeeded:
      return "sign_in_needed";
  }
  return "signed_out";
}

AuthSession::AuthSession(std::string base_url, HttpTransport& transport, CredentialStore& store, const Clock& clock)
    : base_url_(std::move(base_url)), transport_(transport), store_(store), clock_(clock) {}

Millis AuthSession::refreshMargin(Millis lifetime) { return std::clamp(lifetime / 5, Millis(10'000), Millis(300'000)); }

void AuthSession::load() {
  auto stored = store_.load();
  if (!stored) {
    // An unreadable store (bad permissions) is something a person fixes; uploading without it is impossible.
    needSignIn("the stored credential cannot be read: " + stored.error().message);
    return;
  }
  refresh_token_ = *stored;
  state_ = refresh_token_ ? AuthState::kSignedIn : AuthState::kSignedOut;
}

void AuthSession::needSignIn(const std::string& why) {
  state_ = AuthState::kSignInNeeded;
  problem_ = why;
  access_token_.clear();
  refresh_token_.reset();
  detail::syncLogger()->warn(
      "sign-in needed: {}. Uploads are paused and records stay queued; run "
      "`workmonitor-agent login` or `enroll`.",
      why);
}

void AuthSession::endSignIn(const std::string& why) {
  needSignIn(why);
  if (auto er = store_.erase(); !er)
    detail::syncLogger()->error("cannot erase the ended credential: {}", er.error().message);
}

ApiResult<json> AuthSession::takeTokens(const ApiResult<ApiReply>& reply) {
  if (!reply) return std::unexpected(reply.error());
  const json& b = reply->body;
  if (!b.is_object() || !b.contains("access_token") || !b["access_token"].is_string() || !b.contains("refresh_token") ||
      !b["refresh_token"].is_string() || !b.contains("expires_in") || !b["expires_in"].is_number_integer())
    return std::unexpected(protocolError("the sign-in reply lacks access_token, refresh_token or expires_in"));
  const Millis lifetime(std::max<int64_t>(1, b["expires_in"].get<int64_t>()) * 1000);
  // The new refresh token is stored before anything else: the old one is already spent on the server.
  const std::string refresh = b["refresh_token"].get<std::string>();
  if (auto saved = store_.save(refresh); !saved)
    detail::syncLogger()->error("cannot store the refresh credential ({}); this session ends with the agent",
                                saved.error().message);
  refresh_token_ = refresh;
  access_token_ = b["access_token"].get<std::string>();
  access_expires_ = clock_.mono() + lifetime;
  refresh_at_ = access_expires_ - refreshMargin(lifetime);
  state_ = AuthState::kSignedIn;
  problem_.clear();
  json rest = b;
  rest.erase("access_token");
  rest.erase("refresh_token");
  return rest;
}

ApiResult<json> AuthSession::login(const std::string& email, const std::string& password,
                                   const std::string& device_id) {
  json body{{"email", email}, {"password", password}};
  if (!device_id.empty()) body["device_id"] = device_id;
  auto reply = interpret(transport_.send(jsonPost(joinUrl(base_url_, "/auth/login"), body)), clock_.wall());
  return takeTokens(reply);
}

ApiResult<json> AuthSession::enroll(const std::string& enrollment_token, const json& device,
                                    const std::string& os_account) {
  json body{{"enrollment_token", enrollment_token}, {"device", device}};
  if (!os_account.empty()) body["os_account"] = os_account;
  auto reply = interpret(transport_.send(jsonPost(joinUrl(base_url_, "/api/v1/agent/enroll"), body)), clock_.wall());
  return takeTokens(reply);
}

void AuthSession::logout() {
  if (refresh_token_) {
    auto r =
        interpret(transport_.send(jsonPost(joinUrl(base_url_, "/auth/logout"), {{"refresh_token", *refresh_token_}})),
                  clock_.wall());
    if (!r)
      detail::syncLogger()->info("the server did not confirm the logout ({}); forgetting the credential anyway",
                                 r.error().message);
  }
  if (auto e = store_.erase(); !e)
    detail::syncLogger()->error("cannot erase the stored credential: {}", e.error().message);
  refresh_token_.reset();
  access_token_.clear();
  state_ = AuthState::kSignedOut;
  problem_.clear();
}

ApiResult<std::string> AuthSession::accessToken() {
  if (state_ != AuthState::kSignedIn)
    return std::unexpected(ApiError{ApiErrc::kSignInNeeded, 0, authStateName(state_), "not signed in", {}});
  if (!access_token_.empty() && clock_.mono() < refresh_at_) return access_token_;
  return refresh();
}

ApiResult<std::string> AuthSession::refreshAfterUnauthorized() {
  access_token_.clear();
  if (state_ != AuthState::kSignedIn)
    return std::unexpected(ApiError{ApiErrc::kSignInNeeded, 0, authStateName(state_), "not signed in", {}});
  return refresh();
}

ApiResult<std::string> AuthSession::refresh() {
  if (!refresh_token_) {
    needSignIn("no refresh credential");
    return std::unexpected(ApiError{ApiErrc::kSignInNeeded, 0, "no_credential", problem_, {}});
  }
  auto reply =
      interpret(transport_.send(jsonPost(joinUrl(base_url_, "/auth/refresh"), {{"refresh_token", *refresh_token_}})),
                clock_.wall());
  if (!reply) {
    ApiError e = reply.error();
    // The credential itself was refused (revoked family, expired, unknown): no retry can fix that.
    if (e.kind == ApiErrc::kUnauthorized || e.kind == ApiErrc::kRejected) {
      needSignIn(e.code == "refresh_revoked" ? "the server revoked this sign-in (refresh_revoked)"
                                             : "the server refused the refresh credential (" + e.code + ")");
      if (auto er = store_.erase(); !er)
        detail::syncLogger()->error("cannot erase the refused credential: {}", er.error().message);
      e.kind = ApiErrc::kSignInNeeded;
      e.message = "sign-in needed: " + problem_ + "; run `workmonitor-agent login` or `enroll`";
    }
    return std::unexpected(e);
  }
  auto taken = takeTokens(reply);
  if (!taken) return std::unexpected(taken.error());
  return access_token_;
}

}  // namespace wm::sync
