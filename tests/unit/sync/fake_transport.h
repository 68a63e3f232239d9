// An in-memory HttpTransport for the unit tests: a function decides each reply and every request is kept.
// It stands in for the network only where the logic above HTTP is tested; the real libcurl transport is
// tested against a loopback server in sync_http_test.cpp.
#pragma once

#include <functional>
#include <mutex>
#include <vector>

#include "workmonitor/sync/auth.h"
#include "workmonitor/sync/transport.h"

namespace wm::sync::test {

class FakeTransport final : public HttpTransport {
 public:
  using Handler = std::function<HttpResult(const HttpRequest&)>;
  explicit FakeTransport(Handler h = {}) : handler_(std::move(h)) {}
  void setHandler(Handler h) {
    std::lock_guard lk(mu_);
    handler_ = std::move(h);
  }
  HttpResult send(const HttpRequest& r) override {
    Handler h;
    {
      std::lock_guard lk(mu_);
      requests_.push_back(r);
      h = handler_;
    }
    if (!h) return std::unexpected(TransportError{NetError::kConnect, "no handler"});
    return h(r);
  }
  std::string describe() const override { return "fake"; }
  /// How many sends the uploader may overlap (1 unless a test says so; then its handler must be thread-safe).
  size_t concurrency() const override { return concurrency_; }
  void setConcurrency(size_t n) { concurrency_ = n; }
  void cancelAll() override {}
  std::vector<HttpRequest> requests() {
    std::lock_guard lk(mu_);
    return requests_;
  }
  void clear() {
    std::lock_guard lk(mu_);
    requests_.clear();
  }

 private:
  std::mutex mu_;
  size_t concurrency_ = 1;
  Handler handler_;
  std::vector<HttpRequest> requests_;
};

inline HttpResponse reply(int status, std::string body = {}, Headers headers = {}) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  r.headers = std::move(headers);
  return r;
}

inline std::string headerOf(const HttpRequest& r, const std::string& name) {
  for (const auto& [n, v] : r.headers)
    if (n == name) return v;
  return {};
}

/// A CredentialStore in memory.
class MemoryCredentials final : public CredentialStore {
 public:
  Result<std::optional<std::string>> load() override { return value; }
  Result<void> save(const std::string& t) override {
    value = t;
    ++saves;
    return {};
  }
  Result<void> erase() override {
    value.reset();
    return {};
  }
  std::optional<std::string> value;
  int saves = 0;
};

}  // namespace wm::sync::test
