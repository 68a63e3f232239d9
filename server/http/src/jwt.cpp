#include "workmonitor/server/http/jwt.h"

#include "workmonitor/server/http/crypto.h"

namespace wm::server::http {
namespace {

// Tokens are small; anything longer is not one of ours and is refused before any parsing.
constexpr size_t kMaxTokenSize = 4096;

std::unexpected<JwtFailure> bad(JwtError kind, std::string message) {
  return std::unexpected(JwtFailure{kind, std::move(message)});
}

const std::string* stringClaim(const nlohmann::json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end() || !it->is_string()) return nullptr;
  return it->get_ptr<const std::string*>();
}

bool intClaim(const nlohmann::json& j, const char* name, long long& out) {
  auto it = j.find(name);
  if (it == j.end() || !it->is_number_integer()) return false;
  out = it->get<long long>();
  return true;
}

}  // namespace

nlohmann::json JwtCodec::claimsJson(const AccessClaims& c) {
  return nlohmann::json{{"sub", c.sub},
                        {"email", c.email},
                        {"role", c.role},
                        {"company_id", c.company_id},
                        {"employment_type", c.employment_type},
                        {"iat", c.iat},
                        {"exp", c.exp},
                        {"iss", kJwtIssuer},
                        {"aud", kJwtAudience},
                        {"typ", kJwtTypeAccess}};
}

std::string JwtCodec::sign(const AccessClaims& claims) const {
  static const std::string kHeader = base64UrlEncode(R"({"alg":"HS256","typ":"JWT"})");
  std::string signing = kHeader + "." + base64UrlEncode(claimsJson(claims).dump());
  const std::string mac = hmacSha256(secret_, signing);
  return signing + "." + base64UrlEncode(mac);
}

std::expected<AccessClaims, JwtFailure> JwtCodec::verify(std::string_view token, long long now) const {
  if (token.empty() || token.size() > kMaxTokenSize) return bad(JwtError::kMalformed, "token missing or too long");
  const size_t d1 = token.find('.');
  const size_t d2 = d1 == std::string_view::npos ? d1 : token.find('.', d1 + 1);
  if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos) {
    return bad(JwtError::kMalformed, "not a JWT");
  }
  const std::string_view head64 = token.substr(0, d1);
  const std::string_view body64 = token.substr(d1 + 1, d2 - d1 - 1);
  const std::string_view sig64 = token.substr(d2 + 1);

  // The header is checked before the signature so `alg: none` and friends never reach the MAC at all.
  auto head = base64UrlDecode(head64);
  if (!head) return bad(JwtError::kMalformed, "bad header encoding");
  const auto header = nlohmann::json::parse(*head, nullptr, false);
  if (!header.is_object()) return bad(JwtError::kMalformed, "bad header");
  const std::string* alg = stringClaim(header, "alg");
  if (alg == nullptr || *alg != "HS256") return bad(JwtError::kMalformed, "algorithm not allowed");
  if (header.contains("crit")) return bad(JwtError::kMalformed, "critical header extensions not supported");

  auto sig = base64UrlDecode(sig64);
  if (!sig) return bad(JwtError::kMalformed, "bad signature encoding");
  const std::string expected = hmacSha256(secret_, token.substr(0, d2));
  if (!constantTimeEqual(*sig, expected)) return bad(JwtError::kBadSignature, "bad signature");

  auto body = base64UrlDecode(body64);
  if (!body) return bad(JwtError::kMalformed, "bad payload encoding");
  const auto j = nlohmann::json::parse(*body, nullptr, false);
  if (!j.is_object()) return bad(JwtError::kMalformed, "bad payload");

  const std::string* typ = stringClaim(j, "typ");
  const std::string* iss = stringClaim(j, "iss");
  const std::string* aud = stringClaim(j, "aud");
  if (typ == nullptr || *typ != kJwtTypeAccess) return bad(JwtError::kWrongClaims, "not an access token");
  if (iss == nullptr || *iss != kJwtIssuer) return bad(JwtError::kWrongClaims, "wrong issuer");
  if (aud == nullptr || *aud != kJwtAudience) return bad(JwtError::kWrongClaims, "wrong audience");

  AccessClaims c;
  const std::string* sub = stringClaim(j, "sub");
  const std::string* email = stringClaim(j, "email");
  const std::string* role = stringClaim(j, "role");
  const std::string* company = stringClaim(j, "company_id");
  const std::string* employment = stringClaim(j, "employment_type");
  if (!sub || !email || !role || !company || !employment || !intClaim(j, "iat", c.iat) || !intClaim(j, "exp", c.exp)) {
    return bad(JwtError::kWrongClaims, "claims missing");
  }
  c.sub = *sub;
  c.email = *email;
  c.role = *role;
  c.company_id = *company;
  c.employment_type = *employment;
  const long long skew = skew_.count();
  if (c.iat > now + skew) return bad(JwtError::kWrongClaims, "issued in the future");
  if (c.exp <= c.iat) return bad(JwtError::kWrongClaims, "bad lifetime");
  if (now >= c.exp + skew) return bad(JwtError::kExpired, "token expired");
  return c;
}

}  // namespace wm::server::http
