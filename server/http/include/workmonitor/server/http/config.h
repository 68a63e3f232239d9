// The server's configuration: the migration report's §8.2 environment variables plus command-line flags,
// and the checks that refuse an unsafe start.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <string>

#include "workmonitor/common/result.h"

namespace wm::server::http {

/// The report's sample value (§8.1); a server configured with it is refused.
inline constexpr std::string_view kSampleJwtSecret = "workmonitor-secret-key-2024-change-in-production";

/// One endpoint's rate limit: requests per `window` per account and per client address; 0 turns that side off.
/// Written `ACCOUNT,ADDRESS/WINDOW_SECONDS` in the environment and on the command line, e.g. `600,6000/60`.
struct RateLimitSpec {
  int per_account = 0;
  int per_address = 0;
  std::chrono::seconds window{60};
};

struct ServerConfig {
  std::string database;  // libpq conninfo or URI
  int pool_size = 8;
  /// The database is reached through a transaction pooler (PGBOUNCER_URL, or DB_TRANSACTION_POOLING=1):
  /// no named prepared statements and no session settings.
  bool transaction_pooling = false;
  std::string jwt_secret;
  std::chrono::seconds access_lifetime{24 * 3600};
  std::chrono::seconds refresh_lifetime{30 * 24 * 3600};
  std::chrono::seconds clock_skew{60};
  std::string backend_url;
  std::string listen_host = "127.0.0.1";
  unsigned short listen_port = 8001;
  int threads = 4;
  std::filesystem::path screenshot_dir = "screenshots";
  std::filesystem::path migrations_dir = "migrations";
  size_t max_body = 8u << 20;
  size_t max_decompressed = 32u << 20;
  size_t max_records = 1000;
  std::chrono::seconds read_timeout{30};
  std::chrono::milliseconds statement_timeout{15000};
  // Login throttling: attempts per window per account and per client address.
  int login_attempts_per_account = 10;
  int login_attempts_per_address = 50;
  std::chrono::seconds login_window{300};
  // Per-endpoint limits (HTTP_API.md "What the server does" has the reasoning behind each default), answered
  // 429 rate_limited with Retry-After. RATE_LIMIT_REFRESH / --rate-limit-refresh, and so on.
  RateLimitSpec refresh_limit{30, 3000, std::chrono::seconds(300)};       // POST /auth/refresh
  RateLimitSpec batches_limit{600, 12000, std::chrono::seconds(60)};      // POST /api/v1/agent/batches
  RateLimitSpec screenshots_limit{600, 6000, std::chrono::seconds(60)};   // PUT /api/v1/agent/screenshots/{id}
  RateLimitSpec password_reset_limit{5, 20, std::chrono::seconds(3600)};  // Service::limitPasswordReset
  /// GET /metrics: empty (default) serves it to loopback clients only; set (METRICS_TOKEN, at least 16 bytes)
  /// it is served to a request with `Authorization: Bearer <token>`, from anywhere, and to nobody else.
  std::string metrics_token;
  /// Whether a loopback client counts as local for /metrics. Always true in a served config; tests set it
  /// false to see what a remote client gets, since their client can only connect over loopback.
  bool metrics_loopback_is_local = true;
  /// POST /auth/signup (SIGNUP, --signup): kDisabled (default; accounts come from `admin create-user`),
  /// kFirst (only while the database has no company: the first start of a self-hosted install), kOpen
  /// (anyone may create a new company with themselves as its admin).
  enum class Signup { kDisabled, kFirst, kOpen };
  Signup signup = Signup::kDisabled;
  int bcrypt_cost = 12;
  /// Password reset by mail (POST /api/v1/auth/password-reset): the SMTP relay (SMTP_URL, smtp:// or smtps://),
  /// the sender (SMTP_FROM), optional credentials (SMTP_USER, SMTP_PASSWORD) and the link mailed, with
  /// `{token}` where the token goes (PASSWORD_RESET_URL). Without SMTP_URL the reset endpoints answer 503.
  std::string smtp_url;
  std::string smtp_from;
  std::string smtp_user;
  std::string smtp_password;
  std::string password_reset_url;
  std::chrono::seconds password_reset_lifetime{1800};  // PASSWORD_RESET_TTL_SECONDS
  /// PROFILE_REFRESH_SECONDS: the max-age of GET /api/v1/agent/profile, so how soon a running agent asks
  /// again and picks up an admin's edit. Each ask is one small request (304 when nothing changed).
  std::chrono::seconds profile_refresh{60};
  std::chrono::seconds smtp_timeout{20};  // one whole SMTP exchange
  bool passwordResetEnabled() const { return !smtp_url.empty(); }
};

/// "ACCOUNT,ADDRESS/WINDOW_SECONDS" (e.g. "600,6000/60"); `name` is for the message.
Result<RateLimitSpec> parseRateLimit(std::string_view name, std::string_view text);

/// "disabled" | "first" | "open".
Result<ServerConfig::Signup> parseSignup(std::string_view text);
/// A libpq conninfo value, quoted so a password with spaces or quotes survives.
std::string conninfoQuoted(std::string_view v);

/// Reads DATABASE_URL (or DB_HOST/DB_PORT/DB_NAME/DB_USER/DB_PASSWORD), DB_POOL_SIZE, JWT_SECRET,
/// JWT_ALGORITHM, JWT_EXPIRATION_HOURS, JWT_REFRESH_EXPIRATION_DAYS, BACKEND_URL, SIGNUP, METRICS_TOKEN,
/// RATE_LIMIT_REFRESH / _BATCHES / _SCREENSHOTS / _PASSWORD_RESET, SMTP_URL / _FROM / _USER / _PASSWORD,
/// PASSWORD_RESET_URL and PASSWORD_RESET_TTL_SECONDS through `env`.
Result<ServerConfig> configFromEnv(const std::function<const char*(const char*)>& env);

/// The static checks (secret length, sample secret, metrics token length, the reset mail settings belonging
/// together); the database role is checked once connected.
Result<void> checkSecrets(const ServerConfig& config);

/// "127.0.0.1:8080" → host, port.
Result<void> parseListen(const std::string& text, ServerConfig& config);

}  // namespace wm::server::http
