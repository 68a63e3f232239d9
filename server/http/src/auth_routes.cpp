// POST /auth/signup|login|refresh|logout and GET /auth/me (HTTP_API.md "Auth").
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <regex>

#include "routes.h"
#include "workmonitor/server/http/crypto.h"

namespace wm::server::http {
namespace {

std::string lowerAscii(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string tokenHashParam(const std::string& token) { return "\\x" + hex(sha256(token)); }

const std::string kUserById =
    std::string("select ") + kUserColumns + ", u.status from public.users u where u.user_id = $1::uuid";
constexpr const char* kRefreshLookup =
    "select id, user_id, device_id, family_id, expires_at <= now(), revoked_at is not null "
    "from auth.refresh_token_lookup($1::bytea)";
constexpr const char* kRevokeFamily =
    "update auth.refresh_tokens set revoked_at = now() where family_id = $1::uuid "
    "and user_id = $2::uuid and revoked_at is null";

}  // namespace

std::optional<ApiError> requireAdmin(const Caller& caller) {
  if (caller.claims.role != "admin") return ApiError{403, "forbidden", "only a company admin may do this"};
  return std::nullopt;
}

bool isUuidText(std::string_view s) {
  static const std::regex kUuid("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$");
  return s.size() == 36 && std::regex_match(s.begin(), s.end(), kUuid);
}

const std::string* stringField(const nlohmann::json& j, const char* name, size_t max) {
  auto it = j.find(name);
  if (it == j.end() || !it->is_string()) return nullptr;
  const auto* s = it->get_ptr<const std::string*>();
  return s->size() <= max ? s : nullptr;
}

nlohmann::json userJson(const db::QueryResult& r, int row, int col) {
  return nlohmann::json{
      {"user_id", std::string(r.value(row, col))},        {"email", std::string(r.value(row, col + 1))},
      {"full_name", std::string(r.value(row, col + 2))},  {"role", std::string(r.value(row, col + 3))},
      {"company_id", std::string(r.value(row, col + 4))}, {"employment_type", std::string(r.value(row, col + 5))}};
}

TxClaims userClaims(const nlohmann::json& user) {
  const std::string sub = user.at("user_id").get<std::string>();
  nlohmann::json claims{{"sub", sub},
                        {"email", user.at("email")},
                        {"role", user.at("role")},
                        {"company_id", user.at("company_id")},
                        {"employment_type", user.at("employment_type")}};
  return TxClaims{sub, claims.dump()};
}

Result<void> commit(PooledConnection& c) {
  auto r = c.conn.exec("commit");
  if (!r) return std::unexpected(r.error());
  return {};
}

namespace {

// The address shape the database function also checks: something@something, no spaces, ≤ 254 bytes.
bool plausibleEmail(std::string_view e) {
  const size_t at = e.find('@');
  return e.size() <= 254 && at != std::string_view::npos && at > 0 && at + 1 < e.size() &&
         e.find('@', at + 1) == std::string_view::npos &&
         std::none_of(e.begin(), e.end(), [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; });
}

bool blank(const std::string* s) {
  return s == nullptr ||
         std::all_of(s->begin(), s->end(), [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; });
}

}  // namespace

Reply Service::signup(const HttpRequest& req, const std::string& peer) {
  if (config_.signup == ServerConfig::Signup::kDisabled) {
    return apiFail(403, "signup_disabled",
                   "self-service sign-up is disabled on this server; ask an administrator "
                   "(workmonitor-server admin create-user)");
  }
  auto body = jsonBody(req);
  if (!body) return std::unexpected(body.error());
  const std::string* email = stringField(*body, "email", 254);
  const std::string* password = stringField(*body, "password", 1024);
  const std::string* full_name = stringField(*body, "full_name", 200);
  const std::string* company = stringField(*body, "company_name", 200);
  if (email == nullptr || !plausibleEmail(*email)) {
    return apiFail(400, "invalid_request", "email must be an address (name@domain, at most 254 characters)");
  }
  // bcrypt reads 72 bytes; a longer password would be cut silently, so it is refused instead.
  if (password == nullptr || password->size() < 8 || password->size() > 72) {
    return apiFail(400, "weak_password", "the password must have 8 to 72 bytes");
  }
  if (blank(full_name)) return apiFail(400, "invalid_request", "full_name is required (at most 200 characters)");
  // Joining an existing company is the admin's step (admin create-user); sign-up founds a new one.
  if (blank(company)) return apiFail(400, "invalid_request", "company_name is required (at most 200 characters)");
  if (int wait = signup_limiter_.hit(peer); wait > 0) {
    return apiFail(429, "rate_limited", "too many sign-ups from this address", wait);
  }
  // Hashed before a database connection is taken: bcrypt's ~250 ms would hold it otherwise.
  auto hash = bcryptHash(*password, config_.bcrypt_cost);
  if (!hash) return apiFail(500, "internal", "could not hash the password");

  auto lease = beginWithClaims(TxClaims{"", ""});
  if (!lease) return std::unexpected(dbError(lease.error(), "signup"));
  auto& c = **lease;
  auto r = c.run("wm_signup", "select outcome, user_id, company_id from auth.signup($1, $2, $3, $4, $5)",
                 {lowerAscii(*email), *full_name, *company, *hash,
                  config_.signup == ServerConfig::Signup::kFirst ? "true" : "false"});
  if (!r) return std::unexpected(dbError(r.error(), "signup"));
  const std::string outcome = r->rows() == 1 ? std::string(r->value(0, 0)) : "";
  if (outcome == "closed") {
    (void)commit(c);
    return apiFail(403, "signup_closed",
                   "this server takes a sign-up only for its first company, and it has one; ask its administrator");
  }
  if (outcome == "email_taken") {
    (void)commit(c);
    return apiFail(409, "email_taken", "an account with this email exists; sign in instead");
  }
  if (outcome != "created") return apiFail(500, "internal", "sign-up failed");
  const std::string user_id(r->value(0, 1));
  // The new admin is the acting user from here on: their row, their first tokens, under RLS.
  if (auto s = setClaims(c, TxClaims{user_id, nlohmann::json{{"sub", user_id}}.dump()}); !s) {
    return std::unexpected(dbError(s.error(), "signup"));
  }
  auto u = c.run("wm_user_by_id", kUserById, {user_id});
  if (!u) return std::unexpected(dbError(u.error(), "signup"));
  if (u->rows() != 1) return apiFail(500, "internal", "sign-up failed");
  nlohmann::json user = userJson(*u, 0);
  if (auto claimed = setClaims(c, userClaims(user)); !claimed)
    return std::unexpected(dbError(claimed.error(), "signup"));
  auto tokens = issueTokens(c, user, "", std::nullopt);
  if (!tokens) return std::unexpected(tokens.error());
  if (auto cm = commit(c); !cm) return std::unexpected(dbError(cm.error(), "signup"));
  tokens->erase("_refresh_id");
  spdlog::info("signup: company {} created with admin {}", std::string(r->value(0, 2)), user_id);
  return jsonResponse(201, *tokens);
}

Reply Service::login(const HttpRequest& req, const std::string& peer) {
  auto body = jsonBody(req);
  if (!body) return std::unexpected(body.error());
  const std::string* email = stringField(*body, "email", 254);
  const std::string* password = stringField(*body, "password", 1024);
  if (email == nullptr || password == nullptr || email->empty()) {
    return apiFail(400, "invalid_request", "email and password are required");
  }
  const std::string account = lowerAscii(*email);
  if (int wait = address_limiter_.hit(peer); wait > 0) {
    return apiFail(429, "rate_limited", "too many sign-in attempts from this address", wait);
  }
  if (int wait = account_limiter_.hit(account); wait > 0) {
    return apiFail(429, "rate_limited", "too many sign-in attempts for this account", wait);
  }

  std::optional<std::string> user_id, hash, status;
  {
    auto lease = beginWithClaims(TxClaims{"", ""});
    if (!lease) return std::unexpected(dbError(lease.error(), "login"));
    auto r = (*lease)->run("wm_login_lookup",
                           "select user_id, status, password_hash, "
                           "coalesce(ceil(extract(epoch from locked_until - now())), 0)::int "
                           "from auth.login_lookup($1)",
                           {account});
    if (!r) return std::unexpected(dbError(r.error(), "login"));
    // Locked by earlier failures (auth.note_login): told like the in-memory throttle, before any bcrypt work.
    if (const long long locked_s = r->rows() == 1 ? r->asInt(0, 3) : 0; locked_s > 0) {
      (void)commit(**lease);
      return apiFail(429, "rate_limited", "too many sign-in attempts for this account", static_cast<int>(locked_s));
    }
    if (r->rows() == 1) {
      user_id = std::string(r->value(0, 0));
      status = std::string(r->value(0, 1));
      hash = std::string(r->value(0, 2));
    }
    if (auto c = commit(**lease); !c) return std::unexpected(dbError(c.error(), "login"));
  }
  // The database connection is back in the pool before bcrypt's ~250 ms.
  bool ok = false;
  if (hash) {
    ok = bcryptVerify(*password, *hash);
  } else {
    std::call_once(dummy_once_, [&] { dummy_hash_ = bcryptHash("not a password", 12).value_or(""); });
    (void)bcryptVerify(*password, dummy_hash_);  // same work as for a real account
  }
  const auto noteLogin = [&](PooledConnection& c, bool success) {
    return c.run("wm_note_login", "select auth.note_login($1::uuid, $2::boolean, $3::int, $4::int)",
                 {*user_id, success ? "true" : "false", std::to_string(config_.login_attempts_per_account),
                  std::to_string(config_.login_window.count())});
  };
  if (!ok && user_id) {
    // Counted in the database, so a restarted or second server keeps the count (and the lock).
    auto lease = beginWithClaims(TxClaims{"", ""});
    if (!lease) return std::unexpected(dbError(lease.error(), "login"));
    auto n = noteLogin(**lease, false);
    if (!n) return std::unexpected(dbError(n.error(), "login"));
    if (auto c = commit(**lease); !c) return std::unexpected(dbError(c.error(), "login"));
  }
  if (!ok || status != "active") return apiFail(401, "invalid_credentials", "wrong email or password");

  auto lease = beginWithClaims(TxClaims{*user_id, nlohmann::json{{"sub", *user_id}}.dump()});
  if (!lease) return std::unexpected(dbError(lease.error(), "login"));
  auto u = (*lease)->run("wm_user_by_id", kUserById, {*user_id});
  if (!u) return std::unexpected(dbError(u.error(), "login"));
  if (u->rows() != 1) return apiFail(401, "invalid_credentials", "wrong email or password");
  nlohmann::json user = userJson(*u, 0);
  if (auto n = noteLogin(**lease, true); !n) return std::unexpected(dbError(n.error(), "login"));
  auto claimed = setClaims(**lease, userClaims(user));
  if (!claimed) return std::unexpected(dbError(claimed.error(), "login"));
  std::optional<std::string> device;
  if (const std::string* d = stringField(*body, "device_id", 36); d && isUuidText(*d)) {
    auto dev = (*lease)->run("wm_own_device",
                             "select id from agent.devices where id = $1::uuid and user_id = $2::uuid "
                             "and revoked_at is null",
                             {*d, *user_id});
    if (!dev) return std::unexpected(dbError(dev.error(), "login"));
    if (dev->rows() == 1) device = *d;
  }
  auto tokens = issueTokens(**lease, user, "", device);
  if (!tokens) return std::unexpected(tokens.error());
  if (auto c = commit(**lease); !c) return std::unexpected(dbError(c.error(), "login"));
  tokens->erase("_refresh_id");
  spdlog::info("login: user {} signed in", *user_id);
  return jsonResponse(200, *tokens);
}

Reply Service::refresh(const HttpRequest& req) {
  auto body = jsonBody(req);
  if (!body) return std::unexpected(body.error());
  const std::string* token = stringField(*body, "refresh_token", 512);
  if (token == nullptr || token->empty()) return apiFail(400, "invalid_request", "refresh_token is required");

  auto lease = beginWithClaims(TxClaims{"", ""});
  if (!lease) return std::unexpected(dbError(lease.error(), "refresh"));
  auto& c = **lease;
  auto t = c.run("wm_refresh_lookup", kRefreshLookup, {tokenHashParam(*token)});
  if (!t) return std::unexpected(dbError(t.error(), "refresh"));
  if (t->rows() != 1) return apiFail(401, "invalid_token", "unknown refresh token");
  const std::string id(t->value(0, 0)), user_id(t->value(0, 1)), family(t->value(0, 3));
  const std::optional<std::string> device = t->optional(0, 2);
  const bool expired = t->value(0, 4) == "t";
  const bool revoked = t->value(0, 5) == "t";
  // Per account before the token is spent or its family revoked, so a refused refresh changes nothing.
  if (auto limited = limitRefreshAccount(user_id); !limited) return std::unexpected(limited.error());

  // From here on the token's owner is the acting user; RLS confines every statement to their tokens.
  if (auto s = setClaims(c, TxClaims{user_id, nlohmann::json{{"sub", user_id}}.dump()}); !s) {
    return std::unexpected(dbError(s.error(), "refresh"));
  }
  auto revokeFamily = [&]() -> Reply {
    auto r = c.run("wm_revoke_family", kRevokeFamily, {family, user_id});
    if (!r) return std::unexpected(dbError(r.error(), "refresh"));
    if (auto cm = commit(c); !cm) return std::unexpected(dbError(cm.error(), "refresh"));
    return apiFail(401, "refresh_revoked", "this sign-in was revoked; sign in again");
  };
  if (revoked) {
    spdlog::warn("refresh: a spent refresh token of user {} was presented; its family is revoked", user_id);
    return revokeFamily();
  }
  if (expired) return apiFail(401, "token_expired", "the refresh token has expired; sign in again");
  // Spend the token; the row lock makes two concurrent uses of one token end as one rotation and one re-use.
  auto spent = c.run("wm_spend_refresh",
                     "update auth.refresh_tokens set revoked_at = now() where id = $1::uuid and user_id = $2::uuid "
                     "and revoked_at is null returning id",
                     {id, user_id});
  if (!spent) return std::unexpected(dbError(spent.error(), "refresh"));
  if (spent->rows() != 1) return revokeFamily();
  auto u = c.run("wm_user_by_id", kUserById, {user_id});
  if (!u) return std::unexpected(dbError(u.error(), "refresh"));
  if (u->rows() != 1 || u->value(0, 6) != "active") return revokeFamily();
  // A sign-in of a device an admin revoked ends with it.
  if (device) {
    auto d = c.run("wm_refresh_device",
                   "select revoked_at is null from agent.devices where id = $1::uuid and user_id = $2::uuid",
                   {*device, user_id});
    if (!d) return std::unexpected(dbError(d.error(), "refresh"));
    if (d->rows() != 1 || d->value(0, 0) != "t") {
      spdlog::info("refresh: device {} of user {} is revoked; its sign-in ends", *device, user_id);
      return revokeFamily();
    }
  }
  nlohmann::json user = userJson(*u, 0);
  auto tokens = issueTokens(c, user, family, device);
  if (!tokens) return std::unexpected(tokens.error());
  auto link = c.run("wm_link_refresh", "update auth.refresh_tokens set replaced_by = $2::uuid where id = $1::uuid",
                    {id, tokens->at("_refresh_id").get<std::string>()});
  if (!link) return std::unexpected(dbError(link.error(), "refresh"));
  if (auto cm = commit(c); !cm) return std::unexpected(dbError(cm.error(), "refresh"));
  tokens->erase("_refresh_id");
  return jsonResponse(200, *tokens);
}

Reply Service::logout(const HttpRequest& req) {
  auto body = jsonBody(req);
  if (!body) return std::unexpected(body.error());
  const std::string* token = stringField(*body, "refresh_token", 512);
  if (token == nullptr || token->empty()) return apiFail(400, "invalid_request", "refresh_token is required");
  auto lease = beginWithClaims(TxClaims{"", ""});
  if (!lease) return std::unexpected(dbError(lease.error(), "logout"));
  auto& c = **lease;
  auto t = c.run("wm_refresh_lookup", kRefreshLookup, {tokenHashParam(*token)});
  if (!t) return std::unexpected(dbError(t.error(), "logout"));
  if (t->rows() == 1) {
    const std::string user_id(t->value(0, 1)), family(t->value(0, 3));
    if (auto s = setClaims(c, TxClaims{user_id, nlohmann::json{{"sub", user_id}}.dump()}); !s) {
      return std::unexpected(dbError(s.error(), "logout"));
    }
    auto r = c.run("wm_revoke_family", kRevokeFamily, {family, user_id});
    if (!r) return std::unexpected(dbError(r.error(), "logout"));
  }
  if (auto cm = commit(c); !cm) return std::unexpected(dbError(cm.error(), "logout"));
  HttpResponse res{bhttp::status::no_content, 11};
  return res;
}

Reply Service::me(const HttpRequest& req) {
  auto caller = authenticate(req);
  if (!caller) return std::unexpected(caller.error());
  auto lease = beginWithClaims(caller->tx());
  if (!lease) return std::unexpected(dbError(lease.error(), "me"));
  auto u = (*lease)->run("wm_user_by_id", kUserById, {caller->claims.sub});
  if (!u) return std::unexpected(dbError(u.error(), "me"));
  if (u->rows() != 1 || u->value(0, 6) != "active") return apiFail(401, "invalid_token", "the account is disabled");
  nlohmann::json user = userJson(*u, 0);
  if (auto cm = commit(**lease); !cm) return std::unexpected(dbError(cm.error(), "me"));
  return jsonResponse(200, {{"user", user}});
}

}  // namespace wm::server::http
