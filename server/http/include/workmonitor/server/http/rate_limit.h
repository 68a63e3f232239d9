// Fixed-window request counters per key (an account, a client address), for login throttling and the
// per-endpoint limits (refresh, batches, screenshot uploads, password reset).
#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

namespace wm::server::http {

class RateLimiter {
 public:
  /// `limit` requests per `window` and key; a limit of 0 or less counts nothing and never refuses.
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

/// One endpoint's two limits over one window: per account (the token's user, or the email a request names)
/// and per client address. The two are counted apart, so one busy address does not spend an account's
/// allowance and the other way round.
class EndpointLimiter {
 public:
  EndpointLimiter(int per_account, int per_address, std::chrono::seconds window)
      : account_(per_account, window), address_(per_address, window) {}
  /// 0 when allowed, else the seconds to wait.
  int hitAccount(const std::string& account) { return account_.hit(account); }
  int hitAddress(const std::string& address) { return address_.hit(address); }

 private:
  RateLimiter account_;
  RateLimiter address_;
};

}  // namespace wm::server::http
