// Retry timing for the uploader: full-jitter exponential backoff with a cap, and Retry-After parsing.
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <string_view>

#include "workmonitor/common/clock.h"

namespace wm::sync {

/// After the n-th consecutive failure (n from 0) the wait is uniform in [0, min(cap, base * 2^n)]. Full
/// jitter spreads agents that failed together (a server restart) instead of bringing them back in step.
class Backoff {
 public:
  Backoff(Millis base, Millis cap, uint64_t seed);
  /// The wait before the next attempt; counts one more failure.
  Millis next();
  /// The same, drawn under a lower cap when `cap` is below this backoff's own.
  Millis next(Millis cap);
  /// The ceiling the next wait is drawn under: min(cap, base * 2^failures).
  Millis ceiling() const;
  void reset() { failures_ = 0; }
  int failures() const { return failures_; }

 private:
  Millis base_, cap_;
  int failures_ = 0;
  std::mt19937_64 rng_;
};

/// Retry-After as delay-seconds or an HTTP date (IMF-fixdate, e.g. "Wed, 21 Oct 2026 07:28:00 GMT"),
/// relative to now. A date in the past is a zero wait; anything unparseable is nullopt.
std::optional<Millis> parseRetryAfter(std::string_view value, WallTime now);

}  // namespace wm::sync
