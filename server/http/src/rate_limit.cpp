#include "workmonitor/server/http/rate_limit.h"

namespace wm::server::http {

int RateLimiter::hit(const std::string& key) {
  if (limit_ <= 0) return 0;  // this side of the limit is turned off
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(mu_);
  // Bound memory under a spray of distinct keys: drop expired windows once the map grows.
  if (windows_.size() > 100000) {
    std::erase_if(windows_, [&](const auto& kv) { return now - kv.second.start >= window_; });
  }
  Window& w = windows_[key];
  if (w.count == 0 || now - w.start >= window_) {
    w.start = now;
    w.count = 0;
  }
  if (w.count >= limit_) {
    const auto left = std::chrono::duration_cast<std::chrono::seconds>(w.start + window_ - now).count();
    return static_cast<int>(left < 1 ? 1 : left);
  }
  ++w.count;
  return 0;
}

}  // namespace wm::server::http
