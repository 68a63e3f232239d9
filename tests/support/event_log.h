// Collects events that arrive on another thread (watcher sinks) so a test can wait for one with a timeout.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <vector>

namespace wm::test {

template <typename T>
class EventLog {
 public:
  /// For use as a sink: EventLog<X> log; watcher.start([&](const X& e) { log.push(e); });
  void push(const T& event) {
    {
      std::lock_guard lock(mu_);
      events_.push_back(event);
    }
    cv_.notify_all();
  }

  /// Waits for an event at or after index `from` matching pred; returns it and sets *index to its position.
  std::optional<T> waitFor(const std::function<bool(const T&)>& pred, std::chrono::milliseconds timeout,
                           size_t from = 0, size_t* index = nullptr) {
    std::unique_lock lock(mu_);
    std::optional<T> found;
    cv_.wait_for(lock, timeout, [&] {
      for (size_t i = from; i < events_.size(); ++i) {
        if (pred(events_[i])) {
          found = events_[i];
          if (index != nullptr) *index = i;
          return true;
        }
      }
      return false;
    });
    return found;
  }

  std::vector<T> snapshot() const {
    std::lock_guard lock(mu_);
    return events_;
  }

  /// The latest event, if any.
  std::optional<T> last() const {
    std::lock_guard lock(mu_);
    return events_.empty() ? std::nullopt : std::optional<T>(events_.back());
  }

  size_t size() const {
    std::lock_guard lock(mu_);
    return events_.size();
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<T> events_;
};

}  // namespace wm::test
