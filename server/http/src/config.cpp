#include "workmonitor/server/http/config.h"

#include <charconv>

namespace wm::server::http {
namespace {

Result<long long> number(const char* name, const char* text, long long min, long long max) {
  long long v = 0;
  const std::string_view s(text);
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < min || v > max) {
    return fail(Errc::kInvalidInput,
                std::string(name) + " must be a number in " + std::to_string(min) + ".." + std::to_string(max));
  }
  return v;
}

bool hasLineBreak(std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; }

// The reset mail's settings: all or nothing, and none that could end up as a header line of their own.
Result<void> checkMailSettings(const ServerConfig& c) {
  if (c.smtp_url.empty()) {
    if (!c.smtp_from.empty() || !c.password_reset_url.empty() || !c.smtp_user.empty()) {
      return fail(Errc::kInvalidInput, "SMTP_FROM, SMTP_USER and PASSWORD_RESET_URL need SMTP_URL (the relay)");
    }
    return {};
  }
  if (!c.smtp_url.starts_with("smtp://") && !c.smtp_url.starts_with("smtps://")) {
    return fail(Errc::kInvalidInput, "SMTP_URL must be smtp://HOST[:PORT] or smtps://HOST[:PORT]");
  }
  const size_t at = c.smtp_from.find('@');
  if (c.smtp_from.empty() || at == std::string::npos || hasLineBreak(c.smtp_from) ||
      c.smtp_from.find_first_of(" <>") != std::string::npos) {
    return fail(Errc::kInvalidInput, "SMTP_FROM must be the sender's address (e.g. workmonitor@example.com)");
  }
  if (c.password_reset_url.find("{token}") == std::string::npos || hasLineBreak(c.password_reset_url)) {
    return fail(Errc::kInvalidInput,
                "PASSWORD_RESET_URL must be the reset page's link with {token} where the token goes "
                "(e.g. https://tracker.example.com/reset?token={token})");
  }
  if (c.smtp_user.empty() != c.smtp_password.empty()) {
    return fail(Errc::kInvalidInput, "SMTP_USER and SMTP_PASSWORD go together");
  }
  return {};
}

}  // namespace

std::string conninfoQuoted(std::string_view v) {
  std::string out = "'";
  for (char c : v) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

Result<ServerConfig> configFromEnv(const std::function<const char*(const char*)>& env) {
  ServerConfig c;
  auto get = [&](const char* n) -> std::string {
    const char* v = env(n);
    return v ? std::string(v) : std::string();
  };
  c.database = get("DATABASE_URL");
  if (c.database.empty()) {
    const std::pair<const char*, const char*> parts[] = {{"DB_HOST", "host"},
                                                         {"DB_PORT", "port"},
                                                         {"DB_NAME", "dbname"},
                                                         {"DB_USER", "user"},
                                                         {"DB_PASSWORD", "password"}};
    for (const auto& [var, key] : parts) {
      const std::string v = get(var);
      if (!v.empty()) c.database += std::string(c.database.empty() ? "" : " ") + key + "=" + conninfoQuoted(v);
    }
  }
  // The report's §8.2 PGBOUNCER_URL: connect through PgBouncer (transaction mode) instead.
  if (const std::string bouncer = get("PGBOUNCER_URL"); !bouncer.empty()) {
    c.database = bouncer;
    c.transaction_pooling = true;
  }
  if (const std::string tp = get("DB_TRANSACTION_POOLING"); !tp.empty()) {
    if (tp != "0" && tp != "1") return fail(Errc::kInvalidInput, "DB_TRANSACTION_POOLING must be 0 or 1");
    c.transaction_pooling = tp == "1";
  }
  if (const char* v = env("DB_POOL_SIZE"); v && *v) {
    auto n = number("DB_POOL_SIZE", v, 1, 200);
    if (!n) return std::unexpected(n.error());
    c.pool_size = static_cast<int>(*n);
  }
  c.jwt_secret = get("JWT_SECRET");
  const std::string alg = get("JWT_ALGORITHM");
  if (!alg.empty() && alg != "HS256") {
    return fail(Errc::kInvalidInput, "JWT_ALGORITHM must be HS256 (got " + alg + "); no other algorithm is accepted");
  }
  if (const char* v = env("JWT_EXPIRATION_HOURS"); v && *v) {
    auto n = number("JWT_EXPIRATION_HOURS", v, 1, 24 * 30);
    if (!n) return std::unexpected(n.error());
    c.access_lifetime = std::chrono::hours(*n);
  }
  if (const char* v = env("JWT_REFRESH_EXPIRATION_DAYS"); v && *v) {
    auto n = number("JWT_REFRESH_EXPIRATION_DAYS", v, 1, 3650);
    if (!n) return std::unexpected(n.error());
    c.refresh_lifetime = std::chrono::hours(24 * *n);
  }
  c.backend_url = get("BACKEND_URL");
  if (const std::string v = get("SIGNUP"); !v.empty()) {
    auto mode = parseSignup(v);
    if (!mode) return std::unexpected(mode.error());
    c.signup = *mode;
  }
  c.metrics_token = get("METRICS_TOKEN");
  c.smtp_url = get("SMTP_URL");
  c.smtp_from = get("SMTP_FROM");
  c.smtp_user = get("SMTP_USER");
  c.smtp_password = get("SMTP_PASSWORD");
  c.password_reset_url = get("PASSWORD_RESET_URL");
  if (const char* v = env("PASSWORD_RESET_TTL_SECONDS"); v && *v) {
    auto n = number("PASSWORD_RESET_TTL_SECONDS", v, 60, 24 * 3600);
    if (!n) return std::unexpected(n.error());
    c.password_reset_lifetime = std::chrono::seconds(*n);
  }
  if (const char* v = env("PROFILE_REFRESH_SECONDS"); v && *v) {
    auto n = number("PROFILE_REFRESH_SECONDS", v, 1, 3600);
    if (!n) return std::unexpected(n.error());
    c.profile_refresh = std::chrono::seconds(*n);
  }
  const std::pair<const char*, RateLimitSpec*> limits[] = {{"RATE_LIMIT_REFRESH", &c.refresh_limit},
                                                           {"RATE_LIMIT_BATCHES", &c.batches_limit},
                                                           {"RATE_LIMIT_SCREENSHOTS", &c.screenshots_limit},
                                                           {"RATE_LIMIT_PASSWORD_RESET", &c.password_reset_limit}};
  for (const auto& [var, spec] : limits) {
    if (const std::string v = get(var); !v.empty()) {
      auto parsed = parseRateLimit(var, v);
      if (!parsed) return std::unexpected(parsed.error());
      *spec = *parsed;
    }
  }
  return c;
}

Result<RateLimitSpec> parseRateLimit(std::string_view name, std::string_view text) {
  const std::string n(name);
  const size_t comma = text.find(',');
  const size_t slash = text.find('/');
  if (comma == std::string_view::npos || slash == std::string_view::npos || slash < comma) {
    return fail(Errc::kInvalidInput, n + " must be ACCOUNT,ADDRESS/WINDOW_SECONDS (e.g. 600,6000/60; 0 = no limit)");
  }
  // std::from_chars wants the text to end at the number: each part is copied out on its own.
  const std::string account(text.substr(0, comma));
  const std::string address(text.substr(comma + 1, slash - comma - 1));
  const std::string window(text.substr(slash + 1));
  auto a = number((n + " per account").c_str(), account.c_str(), 0, 1000000);
  if (!a) return std::unexpected(a.error());
  auto b = number((n + " per address").c_str(), address.c_str(), 0, 1000000);
  if (!b) return std::unexpected(b.error());
  auto w = number((n + " window (seconds)").c_str(), window.c_str(), 1, 24 * 3600);
  if (!w) return std::unexpected(w.error());
  return RateLimitSpec{static_cast<int>(*a), static_cast<int>(*b), std::chrono::seconds(*w)};
}

Result<ServerConfig::Signup> parseSignup(std::string_view text) {
  if (text == "disabled") return ServerConfig::Signup::kDisabled;
  if (text == "first") return ServerConfig::Signup::kFirst;
  if (text == "open") return ServerConfig::Signup::kOpen;
  return fail(Errc::kInvalidInput, "SIGNUP must be disabled, first or open (got " + std::string(text) + ")");
}

Result<void> checkSecrets(const ServerConfig& c) {
  if (c.jwt_secret.size() < 32) {
    return fail(Errc::kInvalidInput,
                "JWT_SECRET must be at least 32 bytes (256 bits); generate one with `openssl rand -base64 48`");
  }
  if (c.jwt_secret == kSampleJwtSecret) {
    return fail(Errc::kInvalidInput, "JWT_SECRET is the migration report's sample value; generate a new one");
  }
  if (!c.metrics_token.empty() && c.metrics_token.size() < 16) {
    return fail(Errc::kInvalidInput,
                "METRICS_TOKEN must be at least 16 bytes (or unset: /metrics then answers loopback clients only); "
                "generate one with `openssl rand -hex 24`");
  }
  if (auto m = checkMailSettings(c); !m) return m;
  return {};
}

Result<void> parseListen(const std::string& text, ServerConfig& c) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) return fail(Errc::kInvalidInput, "--listen wants HOST:PORT");
  auto port = number("--listen port", text.c_str() + colon + 1, 0, 65535);
  if (!port) return std::unexpected(port.error());
  c.listen_host = text.substr(0, colon);
  if (c.listen_host.size() > 2 && c.listen_host.front() == '[' && c.listen_host.back() == ']') {
    c.listen_host = c.listen_host.substr(1, c.listen_host.size() - 2);
  }
  c.listen_port = static_cast<unsigned short>(*port);
  return {};
}

}  // namespace wm::server::http
