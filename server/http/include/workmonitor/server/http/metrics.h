// Prometheus counters and a latency histogram, kept in memory and rendered as text for GET /metrics.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <utility>

namespace wm::server::http {

class Metrics {
 public:
  void observe(const std::string& route, unsigned status, std::chrono::microseconds latency);
  void recordsStored(long long n) { stored_ += n; }
  void recordsDuplicate(long long n) { duplicate_ += n; }
  void recordsRejected(long long n) { rejected_ += n; }
  std::string render(int pool_in_use, int pool_size) const;

 private:
  static constexpr std::array<double, 11> kBuckets{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5};
  struct Histogram {
    std::array<long long, kBuckets.size()> buckets{};
    long long count = 0;
    double sum = 0;
  };
  mutable std::mutex mu_;
  std::map<std::pair<std::string, unsigned>, long long> requests_;
  std::map<std::string, Histogram> latency_;
  std::atomic<long long> stored_{0}, duplicate_{0}, rejected_{0};
};

}  // namespace wm::server::http
