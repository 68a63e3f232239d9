// HS256 JSON Web Tokens, written and checked by hand over OpenSSL's HMAC: the algorithm is pinned, the
// signature compared in constant time, and every claim the server relies on is checked.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "workmonitor/common/result.h"

namespace wm::server::http {

inline constexpr std::string_view kJwtIssuer = "workmonitor";
inline constexpr std::string_view kJwtAudience = "workmonitor-agent-api";
inline constexpr std::string_view kJwtTypeAccess = "access";

/// The report's §4.2 claims (sub, email, role, company_id, employment_type, iat, exp) plus iss, aud, typ.
struct AccessClaims {
  std::string sub;
  std::string email;
  std::string role;
  std::string company_id;
  std::string employment_type;
  long long iat = 0;
  long long exp = 0;
};

enum class JwtError { kMalformed, kBadSignature, kExpired, kWrongClaims };

struct JwtFailure {
  JwtError kind;
  std::string message;
};

class JwtCodec {
 public:
  JwtCodec(std::string secret, std::chrono::seconds skew) : secret_(std::move(secret)), skew_(skew) {}

  std::string sign(const AccessClaims& claims) const;
  /// Verifies signature, header, type, issuer, audience, iat and exp against `now` (unix seconds).
  std::expected<AccessClaims, JwtFailure> verify(std::string_view token, long long now) const;
  /// The claims JSON as set into request.jwt.claims (what auth.jwt() returns).
  static nlohmann::json claimsJson(const AccessClaims& claims);

 private:
  std::string secret_;
  std::chrono::seconds skew_;
};

}  // namespace wm::server::http
