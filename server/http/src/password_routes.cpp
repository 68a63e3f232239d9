// POST /api/v1/auth/password (change, signed in), /api/v1/auth/password-reset (mail a one-time link) and
// /api/v1/auth/password-reset/confirm (set a new password with it). HTTP_API.md "Auth" has the contract.
#include <spdlog/spdlog.h>

#include <cctype>

#include "routes.h"
#include "workmonitor/server/http/crypto.h"
#include "workmonitor/server/http/mailer.h"

namespace wm::server::http {
namespace {

std::string lowered(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string byteaParam(const std::string& raw) { return "\\x" + hex(raw); }

// bcrypt reads 72 bytes; a longer password would be cut silently, so it is refused (as at sign-up).
bool acceptablePassword(const std::string* p) { return p != nullptr && p->size() >= 8 && p->size() <= 72; }

const std::string kUserById =
    std::string("select ") + kUserColumns + ", u.status from public.users u where u.user_id = $1::uuid";
constexpr const char* kSetHash =
    "update auth.credentials set password_hash = $2, password_changed_at = now(), updated_at = now() "
    "where user_id = $1::uuid returning user_id";
constexpr const char* kRevokeAll =
    "update auth.refresh_tokens set revoked_at = now() where user_id = $1::uuid and revoked_at is null";

std::string resetMailBody(const std::string& link, std::chrono::seconds lifetime) {
  const long long minutes = std::max<long long>(1, lifetime.count() / 60);
  return "Someone (hopefully you) asked to reset the password of your WorkMonitor account.\n\n"
         "To choose a new password, open this link within " +
         std::to_string(minutes) + " minutes:\n\n" + link +
         "\n\nThe link works once. If you did not ask for this, ignore this mail: your password stays as it "
         "is.\n";
}

}  // namespace

Reply Service::changePassword(const HttpRequest& req, const std::string& peer) {
  auto caller = authenticate(req);
  if (!caller) return std::unexpected(caller.error());
  auto body = jsonBody(req);
  if (!body) return std::unexpected(body.error());
  const std::string* old_password = stringField(*body, "old_password", 1024);
  const std::string* new_password = stringField(*body, "new_password", 1024);
  if (old_password == nullptr || new_password == nullptr) {
    return apiFail(400, "invalid_request", "old_password and new_password are required");
  }
  if (!acceptablePassword(new_password)) return apiFail(400, "weak_password", "the password must have 8 to 72 bytes");
  const std::string& user_id = caller->claims.sub;
  // The old password is guessed at like a sign-in: the same throttles and the same lockout (auth.note_login).
  if (int wait = address_limiter_.hit(peer); wait > 0) {
    return apiFail(429, "rate_limited", "too many password attempts from this address", wait);
  }
  if (int wait = account_limiter_.hit(lowered(caller->claims.email)); wait > 0) {
    return apiFail(429, "rate_limited", "too many password attempts for this account", wait);
  }
  const TxClaims claims = caller->tx();
  std::string hash;
  {
    auto lease = beginWithClaims(claims);
    if (!lease) return std::unexpected(dbError(lease.error(), "change password"));
    auto r = (*lease)->run("wm_own_login_lookup",
                           "select l.password_hash, l.status, "
                           "coalesce(ceil(extract(epoch from l.locked_until - now())), 0)::int "
                           "from public.users u cross join lateral auth.login_lookup(u.email) l "
                           "where u.user_id = $1::uuid and l.user_id = u.user_id",
                           {user_id});
    if (!r) return std::unexpected(dbError(r.error(), "change password"));
    if (auto cm = commit(**lease); !cm) return std::unexpected(dbError(cm.error(), "change password"));
    if (r->rows() != 1 || r->value(0, 1) != "active") {
      return apiFail(401, "invalid_token", "the account is disabled");
    }
    if (const long long locked_s = r->asInt(0, 2); locked_s > 0) {
      return apiFail(429, "rate_limited", "too many password attempts for this account", static_cast<int>(locked_s));
    }
    hash = std::string(r->value(0, 0));
  }
  // No connection is held during bcrypt's ~250 ms (twice: the old password, then the new hash).
  if (!bcryptVerify(*old_password, hash)) {
    auto lease = beginWithClaims(claims);
    if (!lease) return std::unexpected(dbError(lease.error(), "change password"));
    auto n = (*lease)->run("wm_note_login", "select auth.note_login($1::uuid, $2::boolean, $3::int, $4::int)",
                           {user_id, "false", std::to_string(config_.login_attempts_per_account),
                            std::to_string(config_.login_window.count())});
    if (!n) return std::unexpected(dbError(n.error(), "change password"));
    if (auto cm = commit(**lease); !cm) return std::unexpected(dbError(cm.error(), "change password"));
    // 403, not 401: the access token is fine, and a client that refreshes on 401 must not do so here.
    return apiFail(403, "wrong_password", "the current password is wrong");
  }
  auto new_hash = bcryptHash(*new_password, config_.bcrypt_cost);
  if (!new_hash) return apiFail(500, "internal", "could not hash the password");

  auto lease = beginWithClaims(claims);
  if (!lease) return std::unexpected(dbError(lease.error(), "change password"));
  auto& c = **lease;
  auto set = c.run("wm_set_password", kSetHash, {user_id, *new_hash});
  if (!set) return std::unexpected(dbError(set.error(), "change password"));
  if (set->rows() != 1) return apiFail(500, "internal", "could not change the password");
  auto cleared = c.run("wm_note_login", "select auth.note_login($1::uuid, $2::boolean, $3::int, $4::int)",
                       {user_id, "true", std::to_string(config_.login_attempts_per_account),
                        std::to_string(config_.login_window.count())});
  if (!cleared) return std::unexpected(dbError(cleared.error(), "change password"));
  // Every sign-in of the person ends, this one included; the answer carries this device's new tokens.
  auto revoked = c.run("wm_revoke_all_refresh", kRevokeAll, {user_id});
  if (!revoked) return std::unexpected(dbError(revoked.error(), "change password"));
  auto u = c.run("wm_user_by_id", kUserById, {user_id});
  if (!u) return std::unexpected(dbError(u.error(), "change password"));
  if (u->rows() != 1) return apiFail(500, "internal", "could not change the password");
  nlohmann::json user = userJson(*u, 0);
  std::optional<std::string> device;
  if (const std::string* d = stringField(*body, "device_id", 36); d && isUuidText(*d)) {
    auto dev = c.run("wm_own_device",
                     "select id from agent.devices where id = $1::uuid and user_id = $2::uuid and revoked_at is null",
                     {*d, user_id});
    if (!dev) return std::unexpected(dbError(dev.error(), "change password"));
    if (dev->rows() == 1) device = *d;
  }
  auto tokens = issueTokens(c, user, "", device);
  if (!tokens) return std::unexpected(tokens.error());
  if (auto cm = commit(c); !cm) return std::unexpected(dbError(cm.error(), "change password"));
  tokens->erase("_refresh_id");
  (*tokens)["revoked_sessions"] = revoked->affected();
  spdlog::info("password: user {} changed their password; {} refresh token(s) revoked", user_id, revoked->affected());
  return jsonResponse(200, *tokens);
}

Reply Service::requestPasswordReset(const HttpRequest& req, const std::string& peer) {
  if (!mailer_) {
    return apiFail(503, "reset_unavailable",
                   "this server sends no mail (SMTP_URL is not set); ask an administrator to reset the password");
  }
  auto body = jsonBody(req);
  if (!body) return std::unexpected(body.error());
  const std::string* email = stringField(*body, "email", 254);
  if (email == nullptr || email->empty()) return apiFail(400, "invalid_request", "email is required");
  const std::string account = lowered(*email);
  if (auto limited = limitPasswordReset(account, peer); !limited) return std::unexpected(limited.error());

  auto token = newOpaqueToken();  // 256 random bits, base64url: fits a link as is
  if (!token) return apiFail(500, "internal", "internal error");
  std::optional<std::string> user_id, address;
  {
    auto lease = beginWithClaims(TxClaims{"", ""});
    if (!lease) return std::unexpected(dbError(lease.error(), "password reset"));
    auto r =
        (*lease)->run("wm_reset_issue", "select user_id, email from auth.password_reset_issue($1, $2::bytea, $3::int)",
                      {account, byteaParam(sha256(*token)), std::to_string(config_.password_reset_lifetime.count())});
    if (!r) return std::unexpected(dbError(r.error(), "password reset"));
    if (r->rows() == 1) {
      user_id = std::string(r->value(0, 0));
      address = std::string(r->value(0, 1));
    }
    if (auto cm = commit(**lease); !cm) return std::unexpected(dbError(cm.error(), "password reset"));
  }
  // Committed and the connection returned: the mail goes out from the mailer's thread, so the answer (and its
  // timing) is the same whether or not the address has an account.
  if (user_id) {
    std::string link = config_.password_reset_url;
    link.replace(link.find("{token}"), 7, *token);
    MailMessage m{*address, "Reset your WorkMonitor password", resetMailBody(link, config_.password_reset_lifetime),
                  "password reset for user " + *user_id};
    if (!mailer_->enqueue(std::move(m))) spdlog::warn("password reset: the mail queue is full; not sent");
  }
  return jsonResponse(
      202, {{"status", "accepted"}, {"message", "if the address has an active account, a reset link is on its way"}});
}

Reply Service::confirmPasswordReset(const HttpRequest& req, const std::string& peer) {
  auto body = jsonBody(req);
  if (!body) return std::unexpected(body.error());
  const std::string* token = stringField(*body, "token", 128);
  const std::string* new_password = stringField(*body, "new_password", 1024);
  if (token == nullptr || token->empty() || new_password == nullptr) {
    return apiFail(400, "invalid_request", "token and new_password are required");
  }
  if (!acceptablePassword(new_password)) return apiFail(400, "weak_password", "the password must have 8 to 72 bytes");
  const std::string token_hash = sha256(*token);
  // Counted like a reset request (per address, and per token) before bcrypt's work: a flood of made-up
  // tokens costs the server no more than the limit allows.
  if (auto limited = limitPasswordReset("token:" + hex(token_hash), peer); !limited) {
    return std::unexpected(limited.error());
  }
  auto new_hash = bcryptHash(*new_password, config_.bcrypt_cost);
  if (!new_hash) return apiFail(500, "internal", "could not hash the password");

  auto lease = beginWithClaims(TxClaims{"", ""});
  if (!lease) return std::unexpected(dbError(lease.error(), "password reset"));
  auto& c = **lease;
  auto spent = c.run("wm_reset_consume", "select auth.password_reset_consume($1::bytea)", {byteaParam(token_hash)});
  if (!spent) return std::unexpected(dbError(spent.error(), "password reset"));
  const std::optional<std::string> user_id = spent->rows() == 1 ? spent->optional(0, 0) : std::nullopt;
  if (!user_id) {
    (void)commit(c);
    return apiFail(400, "invalid_token", "the reset link is unknown, used or expired; ask for a new one");
  }
  // The token's owner is the acting user from here on: their credential and their refresh tokens, under RLS.
  if (auto s = setClaims(c, TxClaims{*user_id, nlohmann::json{{"sub", *user_id}}.dump()}); !s) {
    return std::unexpected(dbError(s.error(), "password reset"));
  }
  auto set = c.run("wm_set_password", kSetHash, {*user_id, *new_hash});
  if (!set) return std::unexpected(dbError(set.error(), "password reset"));
  if (set->rows() != 1) return apiFail(500, "internal", "could not reset the password");
  // Whoever proved they read the mail is the person: a lockout from guessed sign-ins ends too.
  auto cleared = c.run("wm_note_login", "select auth.note_login($1::uuid, $2::boolean, $3::int, $4::int)",
                       {*user_id, "true", std::to_string(config_.login_attempts_per_account),
                        std::to_string(config_.login_window.count())});
  if (!cleared) return std::unexpected(dbError(cleared.error(), "password reset"));
  auto revoked = c.run("wm_revoke_all_refresh", kRevokeAll, {*user_id});
  if (!revoked) return std::unexpected(dbError(revoked.error(), "password reset"));
  if (auto cm = commit(c); !cm) return std::unexpected(dbError(cm.error(), "password reset"));
  spdlog::info("password: user {} reset their password by mail; {} refresh token(s) revoked", *user_id,
               revoked->affected());
  return jsonResponse(200, {{"status", "password_changed"}, {"revoked_sessions", revoked->affected()}});
}

}  // namespace wm::server::http
