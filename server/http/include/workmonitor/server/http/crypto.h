// Small cryptographic helpers over OpenSSL and libcrypt: hashes, randomness, encodings, bcrypt.
#pragma once

#include <string>
#include <string_view>

#include "workmonitor/common/result.h"

namespace wm::server::http {

std::string sha256(std::string_view data);  // raw 32 bytes
std::string hex(std::string_view bytes);
std::string hmacSha256(std::string_view key, std::string_view data);  // raw 32 bytes
/// Compares in time independent of where the inputs differ (length differences still return early).
bool constantTimeEqual(std::string_view a, std::string_view b);
/// Cryptographically strong random bytes (RAND_bytes).
Result<std::string> randomBytes(size_t n);
std::string base64UrlEncode(std::string_view bytes);
/// Strict: only the URL alphabet, no padding; nullopt-like failure on anything else.
Result<std::string> base64UrlDecode(std::string_view text);
/// A random opaque token: 32 bytes (256 bits) as base64url.
Result<std::string> newOpaqueToken();

/// bcrypt ($2b$) with the given cost (4..31) through libcrypt.
Result<std::string> bcryptHash(std::string_view password, int cost);
/// Recomputes the hash with the stored salt and compares in constant time.
bool bcryptVerify(std::string_view password, const std::string& hash);

}  // namespace wm::server::http
