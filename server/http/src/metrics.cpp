#include "workmonitor/server/http/metrics.h"

#include <fmt/format.h>

namespace wm::server::http {

void Metrics::observe(const std::string& route, unsigned status, std::chrono::microseconds latency) {
  const double s = static_cast<double>(latency.count()) / 1e6;
  std::lock_guard lock(mu_);
  ++requests_[{route, status}];
  Histogram& h = latency_[route];
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    if (s <= kBuckets[i]) ++h.buckets[i];
  }
  ++h.count;
  h.sum += s;
}

std::string Metrics::render(int pool_in_use, int pool_size) const {
  std::string out;
  out += "# HELP wm_http_requests_total HTTP requests by route and status.\n# TYPE wm_http_requests_total counter\n";
  std::lock_guard lock(mu_);
  for (const auto& [k, v] : requests_) {
    out += fmt::format("wm_http_requests_total{{route=\"{}\",status=\"{}\"}} {}\n", k.first, k.second, v);
  }
  out +=
      "# HELP wm_http_request_duration_seconds Request latency.\n"
      "# TYPE wm_http_request_duration_seconds histogram\n";
  for (const auto& [route, h] : latency_) {
    for (size_t i = 0; i < kBuckets.size(); ++i) {
      out += fmt::format("wm_http_request_duration_seconds_bucket{{route=\"{}\",le=\"{}\"}} {}\n", route, kBuckets[i],
                         h.buckets[i]);
    }
    out += fmt::format("wm_http_request_duration_seconds_bucket{{route=\"{}\",le=\"+Inf\"}} {}\n", route, h.count);
    out += fmt::format("wm_http_request_duration_seconds_sum{{route=\"{}\"}} {:.6f}\n", route, h.sum);
    out += fmt::format("wm_http_request_duration_seconds_count{{route=\"{}\"}} {}\n", route, h.count);
  }
  out += "# HELP wm_records_total Uploaded records by outcome.\n# TYPE wm_records_total counter\n";
  out += fmt::format("wm_records_total{{result=\"stored\"}} {}\n", stored_.load());
  out += fmt::format("wm_records_total{{result=\"duplicate\"}} {}\n", duplicate_.load());
  out += fmt::format("wm_records_total{{result=\"rejected\"}} {}\n", rejected_.load());
  out += "# HELP wm_db_pool_connections Database pool connections.\n# TYPE wm_db_pool_connections gauge\n";
  out += fmt::format("wm_db_pool_connections{{state=\"in_use\"}} {}\n", pool_in_use);
  out += fmt::format("wm_db_pool_connections{{state=\"max\"}} {}\n", pool_size);
  return out;
}

}  // namespace wm::server::http
