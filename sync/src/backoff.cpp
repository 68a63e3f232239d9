#include "workmonitor/sync/backoff.h"

#include <time.h>

#include <algorithm>
#include <charconv>
#include <string>

namespace wm::sync {

Backoff::Backoff(Millis base, Millis cap, uint64_t seed)
    : base_(std::max(Millis(1), base)), cap_(std::max(base_, cap)), rng_(seed) {}

Millis Backoff::ceiling() const {
  // Doubling stops as soon as the cap is reached, so no shift can overflow.
  int64_t ceiling = base_.count();
  for (int i = 0; i < failures_ && ceiling < cap_.count(); ++i) ceiling *= 2;
  return Millis(std::min(ceiling, cap_.count()));
}

Millis Backoff::next() { return next(cap_); }

Millis Backoff::next(Millis cap) {
  const Millis top = std::min(ceiling(), std::max(Millis(0), cap));
  if (failures_ < 64) ++failures_;
  std::uniform_int_distribution<int64_t> dist(0, top.count());
  return Millis(dist(rng_));
}

std::optional<Millis> parseRetryAfter(std::string_view value, WallTime now) {
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\r')) value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    int64_t seconds = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
    // A number too large to hold is "a very long time"; the caller caps it.
    if (ec == std::errc::result_out_of_range) return Millis(INT64_MAX / 2);
    if (ec != std::errc() || end != value.data() + value.size()) return std::nullopt;
    if (seconds > INT64_MAX / 2000) return Millis(INT64_MAX / 2);
    return Millis(seconds * 1000);
  }
  std::tm tm{};
  const std::string s(value);
  const char* end = ::strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (!end || *end != '\0') return std::nullopt;
  const time_t at = ::timegm(&tm);
  if (at == static_cast<time_t>(-1)) return std::nullopt;
  const int64_t delta = static_cast<int64_t>(at) * 1000 - toUnixMs(now);
  return Millis(std::max<int64_t>(0, delta));
}

}  // namespace wm::sync
