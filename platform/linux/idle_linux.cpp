// IdleWatcher on X11: the MIT-SCREEN-SAVER extension's ms_since_user_input, checked no more often than a
// threshold crossing could happen (one wake-up per threshold while active, about one a second while idle).
#include <xcb/screensaver.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "workmonitor/platform/idle.h"
#include "xcb_connection.h"

namespace wm::platform {
namespace {

using x11::XcbConnection;

// While idle we look for the return this often; it bounds how late an "active" event can be.
constexpr Millis kIdleCheckInterval{1000};
// Timers may fire a little early; waking just after the threshold avoids a second, tiny wait.
constexpr Millis kWakeSlack{10};
// Jitter allowed between the server's idle counter and our clock before a drop counts as input.
constexpr Millis kInputTolerance{250};

Result<Millis> queryIdle(XcbConnection& conn) {
  const xcb_query_extension_reply_t* ext = xcb_get_extension_data(conn.get(), &xcb_screensaver_id);
  if (conn.broken()) return fail(Errc::kUnavailable, "no X display: the connection to the X server was lost");
  if (ext == nullptr || !ext->present) {
    return fail(Errc::kUnavailable,
                "the X server has no MIT-SCREEN-SAVER extension, so idle time cannot be read on this display");
  }
  auto cookie = xcb_screensaver_query_info(conn.get(), conn.root());
  xcb_generic_error_t* error = nullptr;
  xcb_screensaver_query_info_reply_t* reply = xcb_screensaver_query_info_reply(conn.get(), cookie, &error);
  std::free(error);
  if (reply == nullptr) {
    if (conn.broken()) return fail(Errc::kUnavailable, "no X display: the connection to the X server was lost");
    return fail(Errc::kIo, "the X server refused the screensaver idle query");
  }
  const Millis idle{reply->ms_since_user_input};
  std::free(reply);
  return idle;
}

class X11IdleWatcher final : public IdleWatcher {
 public:
  ~X11IdleWatcher() override { stop(); }

  Result<void> start(Millis threshold, Sink sink) override {
    if (threshold <= Millis::zero()) return fail(Errc::kInvalidInput, "idle threshold must be positive");
    if (!sink) return fail(Errc::kInvalidInput, "idle watcher needs an event sink");
    std::lock_guard lock(mu_);
    if (running_) return fail(Errc::kInvalidInput, "idle watcher is already started");
    if (thread_.joinable()) thread_.join();  // a previous run ended on its own (X server went away)
    if (!wakeup_.valid()) return fail(Errc::kIo, "cannot create an eventfd for the idle watcher");
    auto conn = XcbConnection::open("idle detection");
    if (!conn) return std::unexpected(conn.error());
    // Report a missing extension now, from start(), rather than as a silent thread exit.
    if (auto probe = queryIdle(**conn); !probe) return std::unexpected(probe.error());
    wakeup_.clear();
    running_ = true;
    thread_ = std::thread([this, c = std::move(*conn), threshold, s = std::move(sink)]() mutable {
      run(*c, threshold, s);
      running_ = false;
    });
    return {};
  }

  void stop() override {
    std::lock_guard lock(mu_);
    if (!thread_.joinable()) return;
    wakeup_.signal();
    thread_.join();
    wakeup_.clear();
  }

  Result<Millis> idleTime() override {
    std::lock_guard lock(query_mu_);
    if (!query_conn_ || query_conn_->broken()) {
      auto conn = XcbConnection::open("idle detection");
      if (!conn) return std::unexpected(conn.error());
      query_conn_ = std::move(*conn);
    }
    return queryIdle(*query_conn_);
  }

 private:
  void run(XcbConnection& conn, Millis threshold, const Sink& sink) {
    using Steady = std::chrono::steady_clock;
    bool idle = false;
    Millis last_idle{0};
    Steady::time_point last_check{};
    for (;;) {
      auto measured = queryIdle(conn);
      if (!measured) return;  // the server went away: nothing more to report, and no busy retry loop
      const Millis ms = *measured;
      const auto now = Steady::now();
      if (!idle && ms >= threshold) {
        idle = true;
        sink(IdleEvent{true, ms});
      } else if (idle) {
        // Without input the counter grows with our clock; a smaller value means the user came back.
        const auto elapsed = std::chrono::duration_cast<Millis>(now - last_check);
        if (ms + kInputTolerance < last_idle + elapsed) {
          idle = false;
          sink(IdleEvent{false, ms});
        }
      }
      last_idle = ms;
      last_check = now;
      // While active the threshold cannot be reached before (threshold - ms) has passed.
      const Millis wait = idle ? kIdleCheckInterval : threshold - ms + kWakeSlack;
      switch (x11::waitFor(conn.fd(), wakeup_, static_cast<int>(wait.count()))) {
        case x11::WaitResult::kWakeup:
        case x11::WaitResult::kError:
          return;
        case x11::WaitResult::kXReadable:
          // Nothing is selected, so this is an error event or the server hanging up; drain and check.
          while (xcb_generic_event_t* ev = xcb_poll_for_event(conn.get())) std::free(ev);
          if (conn.broken()) return;
          break;
        case x11::WaitResult::kTimeout:
          break;
      }
    }
  }

  std::mutex mu_;  // serialises start/stop
  std::thread thread_;
  std::atomic<bool> running_{false};
  x11::WakeupFd wakeup_;
  std::mutex query_mu_;  // guards query_conn_ for idleTime() from any thread
  std::unique_ptr<XcbConnection> query_conn_;
};

}  // namespace

std::unique_ptr<IdleWatcher> makeIdleWatcher() { return std::make_unique<X11IdleWatcher>(); }

}  // namespace wm::platform
