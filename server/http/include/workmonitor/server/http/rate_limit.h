// Fixed-window attempt counters per key (an account, a client address), for login throttling.
#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

namespace wm::server::http {

class RateLimiter {
 public:
  RateLimiter(int limit, std::chrono::seconds window) : limit_(limit), window_(window) {}
  /// Counts an attempt; returns 0 when allowed, else the seconds until the window resets (for Retry-After).
  int hit(const std::string& key);

 private:
  struct Window {
    std::chrono::steady_clock::time_point start;
    int count = 0;
  };
  int limit_;
  std::chrono::seconds window_;
  std::mutex mu_;
  std::unordered_map<std::string, Window> windows_;
};

}  // namespace wm::server::http
