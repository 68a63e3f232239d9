#include "workmonitor/common/uuid.h"

#include <array>
#include <cstdio>

namespace wm {

UuidV7Generator::UuidV7Generator(const Clock& clock) : clock_(clock), rng_(std::random_device{}()) {}

std::string UuidV7Generator::next() {
  std::lock_guard lock(mu_);
  int64_t ms = toUnixMs(clock_.wall());
  if (ms <= last_ms_) {
    // Same millisecond or the wall clock stepped back: keep ids increasing (RFC 9562 §6.2 method 1).
    ms = last_ms_;
    if (++counter_ > 0x0fff) {
      ++ms;
      counter_ = static_cast<uint16_t>(rng_() & 0x01ff);
    }
  } else {
    counter_ = static_cast<uint16_t>(rng_() & 0x01ff);  // leave headroom for increments
  }
  last_ms_ = ms;

  std::array<uint8_t, 16> b{};
  const auto ums = static_cast<uint64_t>(ms);
  for (int i = 0; i < 6; ++i) b[i] = static_cast<uint8_t>(ums >> (40 - 8 * i));
  b[6] = static_cast<uint8_t>(0x70 | ((counter_ >> 8) & 0x0f));
  b[7] = static_cast<uint8_t>(counter_ & 0xff);
  const uint64_t r = rng_();
  for (int i = 8; i < 16; ++i) b[i] = static_cast<uint8_t>(r >> (8 * (i - 8)));
  b[8] = static_cast<uint8_t>(0x80 | (b[8] & 0x3f));  // RFC 9562 variant

  char out[37];
  std::snprintf(out, sizeof out, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
  return out;
}

bool isUuidV7(const std::string& s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return s[14] == '7' && (s[19] == '8' || s[19] == '9' || s[19] == 'a' || s[19] == 'b');
}

}  // namespace wm
