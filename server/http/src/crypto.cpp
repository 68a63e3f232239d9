#include "workmonitor/server/http/crypto.h"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <array>
#include <cstring>
#include <memory>

namespace wm::server::http {
namespace {

constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int decodeChar(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

}  // namespace

std::string sha256(std::string_view data) {
  std::array<unsigned char, 32> out{};
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<const char*>(out.data()), 32);
}

std::string hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  s.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    s.push_back(kDigits[c >> 4]);
    s.push_back(kDigits[c & 15]);
  }
  return s;
}

std::string hmacSha256(std::string_view key, std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), out.data(), &len);
  return std::string(reinterpret_cast<const char*>(out.data()), len);
}

bool constantTimeEqual(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

Result<std::string> randomBytes(size_t n) {
  std::string s(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(s.data()), static_cast<int>(n)) != 1) {
    return fail(Errc::kInternal, "the random number generator failed");
  }
  return s;
}

std::string base64UrlEncode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  auto b = [&](size_t k) { return static_cast<unsigned char>(bytes[k]); };
  for (; i + 2 < bytes.size(); i += 3) {
    const unsigned v = (b(i) << 16) | (b(i + 1) << 8) | b(i + 2);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (bytes.size() - i == 1) {
    const unsigned v = b(i) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
  } else if (bytes.size() - i == 2) {
    const unsigned v = (b(i) << 16) | (b(i + 1) << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
  }
  return out;
}

Result<std::string> base64UrlDecode(std::string_view text) {
  if (text.size() % 4 == 1) return fail(Errc::kInvalidInput, "bad base64url length");
  std::string out;
  out.reserve(text.size() * 3 / 4);
  unsigned acc = 0;
  int bits = 0;
  for (char c : text) {
    const int v = decodeChar(c);
    if (v < 0) return fail(Errc::kInvalidInput, "bad base64url character");
    acc = (acc << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  // Leftover bits must be zero, so every token has exactly one encoding (no malleable signatures).
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return fail(Errc::kInvalidInput, "non-canonical base64url");
  return out;
}

Result<std::string> newOpaqueToken() {
  auto bytes = randomBytes(32);
  if (!bytes) return std::unexpected(bytes.error());
  return base64UrlEncode(*bytes);
}

Result<std::string> bcryptHash(std::string_view password, int cost) {
  if (cost < 4 || cost > 31) return fail(Errc::kInvalidInput, "bcrypt cost must be 4..31");
  if (password.size() > 72 || password.find('\0') != std::string_view::npos) {
    // bcrypt only reads 72 bytes; refusing longer passwords avoids silently ignoring their tail.
    return fail(Errc::kInvalidInput, "password must be at most 72 bytes");
  }
  auto entropy = randomBytes(16);
  if (!entropy) return std::unexpected(entropy.error());
  std::array<char, CRYPT_GENSALT_OUTPUT_SIZE> salt{};
  if (crypt_gensalt_rn("$2b$", static_cast<unsigned long>(cost), entropy->data(), static_cast<int>(entropy->size()),
                       salt.data(), static_cast<int>(salt.size())) == nullptr) {
    return fail(Errc::kInternal, "crypt_gensalt_rn failed");
  }
  auto data = std::make_unique<crypt_data>();
  const std::string pw(password);
  const char* h = crypt_rn(pw.c_str(), salt.data(), data.get(), sizeof(crypt_data));
  if (h == nullptr || h[0] == '*') return fail(Errc::kInternal, "bcrypt hashing failed");
  return std::string(h);
}

bool bcryptVerify(std::string_view password, const std::string& hash) {
  if (hash.size() < 7 || hash.compare(0, 2, "$2") != 0) return false;
  if (password.size() > 72 || password.find('\0') != std::string_view::npos) return false;
  auto data = std::make_unique<crypt_data>();
  const std::string pw(password);
  const char* h = crypt_rn(pw.c_str(), hash.c_str(), data.get(), sizeof(crypt_data));
  if (h == nullptr || h[0] == '*') return false;
  return constantTimeEqual(h, hash);
}

}  // namespace wm::server::http
