// SessionWatcher on Linux: logind over the system D-Bus (sd-bus from libsystemd).
//
// Sleep: Manager.PrepareForSleep(true) arrives before the suspend; a "delay" inhibitor we hold keeps the
// machine awake until the sink has returned, then we close it so the suspend proceeds. PrepareForSleep(false)
// is the resume: the inhibitor is taken again for the next sleep. Lock: our session's Lock/Unlock signals and
// its LockedHint property (set by screen lockers that lock on their own), de-duplicated into one event per
// change. DBUS_SYSTEM_BUS_ADDRESS is honoured by sd_bus_open_system, which is how tests use a mocked logind.
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>

#include "workmonitor/platform/session_events.h"

namespace wm::platform {
namespace {

constexpr const char* kLogind = "org.freedesktop.login1";
constexpr const char* kManagerPath = "/org/freedesktop/login1";
constexpr const char* kManagerIface = "org.freedesktop.login1.Manager";
constexpr const char* kSessionIface = "org.freedesktop.login1.Session";
constexpr const char* kUserIface = "org.freedesktop.login1.User";
constexpr const char* kPropertiesIface = "org.freedesktop.DBus.Properties";

struct BusUnref {
  void operator()(sd_bus* b) const { sd_bus_flush_close_unref(b); }
};
using Bus = std::unique_ptr<sd_bus, BusUnref>;

struct MessageUnref {
  void operator()(sd_bus_message* m) const { sd_bus_message_unref(m); }
};
using Message = std::unique_ptr<sd_bus_message, MessageUnref>;

struct SlotUnref {
  void operator()(sd_bus_slot* s) const { sd_bus_slot_unref(s); }
};
using Slot = std::unique_ptr<sd_bus_slot, SlotUnref>;

// An sd_bus_error that frees itself.
struct BusError {
  sd_bus_error e = SD_BUS_ERROR_NULL;
  BusError() = default;
  BusError(const BusError&) = delete;
  BusError& operator=(const BusError&) = delete;
  ~BusError() { sd_bus_error_free(&e); }
  std::string text(int r) const {
    if (sd_bus_error_is_set(&e)) return e.message != nullptr ? e.message : e.name;
    return std::strerror(-r);
  }
};

Result<Bus> openSystemBus() {
  sd_bus* raw = nullptr;
  int r = sd_bus_open_system(&raw);
  if (r < 0) {
    return fail(Errc::kUnavailable, std::string("no system D-Bus: cannot connect to it (") + std::strerror(-r) +
                                        "), so lock and sleep are not seen");
  }
  Bus bus(raw);
  BusError err;
  sd_bus_message* reply = nullptr;
  r = sd_bus_call_method(bus.get(), "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                         "NameHasOwner", &err.e, &reply, "s", kLogind);
  Message hold(reply);
  int has_owner = 0;
  if (r >= 0) r = sd_bus_message_read(reply, "b", &has_owner);
  if (r < 0) return fail(Errc::kUnavailable, "the system D-Bus does not answer: " + err.text(r));
  if (!has_owner) {
    return fail(Errc::kUnavailable,
                "logind (org.freedesktop.login1) is not on the system D-Bus, so lock and sleep are not seen");
  }
  return bus;
}

// Reads an object path from a method reply with signature "o".
Result<std::string> callForPath(sd_bus* bus, const char* method, const char* types, auto... args) {
  BusError err;
  sd_bus_message* reply = nullptr;
  int r = sd_bus_call_method(bus, kLogind, kManagerPath, kManagerIface, method, &err.e, &reply, types, args...);
  Message hold(reply);
  const char* path = nullptr;
  if (r >= 0) r = sd_bus_message_read(reply, "o", &path);
  if (r < 0) return fail(Errc::kNotFound, std::string(method) + ": " + err.text(r));
  return std::string(path);
}

// Our logind session: the one this process runs in; else the one named by XDG_SESSION_ID; else the user's
// display session (an agent started as a systemd user service is outside every session).
Result<std::string> findSession(sd_bus* bus) {
  if (auto p = callForPath(bus, "GetSessionByPID", "u", static_cast<uint32_t>(::getpid()))) return *p;
  if (const char* id = std::getenv("XDG_SESSION_ID"); id != nullptr && *id != '\0') {
    if (auto p = callForPath(bus, "GetSession", "s", id)) return *p;
  }
  auto user = callForPath(bus, "GetUser", "u", static_cast<uint32_t>(::getuid()));
  if (user) {
    BusError err;
    sd_bus_message* reply = nullptr;
    int r = sd_bus_get_property(bus, kLogind, user->c_str(), kUserIface, "Display", &err.e, &reply, "(so)");
    Message hold(reply);
    const char* id = nullptr;
    const char* path = nullptr;
    if (r >= 0) r = sd_bus_message_read(reply, "(so)", &id, &path);
    if (r >= 0 && path != nullptr && std::strcmp(path, "/") != 0) return std::string(path);
  }
  return fail(Errc::kNotFound, "logind knows no session for this process (pid " + std::to_string(::getpid()) +
                                   "), XDG_SESSION_ID or this user's display session, so the screen lock is not seen");
}

Result<bool> readLockedHint(sd_bus* bus, const std::string& session) {
  BusError err;
  int locked = 0;
  const int r =
      sd_bus_get_property_trivial(bus, kLogind, session.c_str(), kSessionIface, "LockedHint", &err.e, 'b', &locked);
  if (r < 0) return fail(Errc::kIo, "reading the session's LockedHint failed: " + err.text(r));
  return locked != 0;
}

// Milliseconds until sd-bus's next deadline (absolute CLOCK_MONOTONIC µs), -1 for none.
int pollTimeout(sd_bus* bus) {
  uint64_t until = 0;
  if (sd_bus_get_timeout(bus, &until) < 0 || until == UINT64_MAX) return -1;
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  const uint64_t now = static_cast<uint64_t>(ts.tv_sec) * 1'000'000 + static_cast<uint64_t>(ts.tv_nsec) / 1000;
  if (until <= now) return 0;
  const uint64_t ms = (until - now + 999) / 1000;
  return ms > 60'000 ? 60'000 : static_cast<int>(ms);
}

class LogindSessionWatcher final : public SessionWatcher {
 public:
  LogindSessionWatcher() : wakeup_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}
  ~LogindSessionWatcher() override {
    stop();
    if (wakeup_ >= 0) ::close(wakeup_);
  }

  Result<void> start(Sink sink) override {
    if (!sink) return fail(Errc::kInvalidInput, "session watcher needs an event sink");
    std::lock_guard lock(mu_);
    if (running_) return fail(Errc::kInvalidInput, "session watcher is already started");
    if (thread_.joinable()) thread_.join();  // a previous run ended on its own (the bus went away)
    if (wakeup_ < 0) return fail(Errc::kIo, "cannot create an eventfd for the session watcher");
    auto bus = openSystemBus();
    if (!bus) return std::unexpected(bus.error());
    bus_ = std::move(*bus);
    sink_ = std::move(sink);
    sleeping_ = false;
    locked_ = false;
    session_.clear();
    if (auto s = findSession(bus_.get())) session_ = *s;

    sd_bus_slot* slot = nullptr;
    int r = sd_bus_match_signal(bus_.get(), &slot, kLogind, kManagerPath, kManagerIface, "PrepareForSleep",
                                &LogindSessionWatcher::onPrepareForSleep, this);
    if (r < 0) return abandon("cannot subscribe to logind's PrepareForSleep", r);
    slots_[0].reset(slot);
    if (!session_.empty()) {
      const char* path = session_.c_str();
      r = sd_bus_match_signal(bus_.get(), &slot, kLogind, path, kSessionIface, "Lock", &LogindSessionWatcher::onLock,
                              this);
      if (r >= 0) {
        slots_[1].reset(slot);
        r = sd_bus_match_signal(bus_.get(), &slot, kLogind, path, kSessionIface, "Unlock",
                                &LogindSessionWatcher::onUnlock, this);
      }
      if (r >= 0) {
        slots_[2].reset(slot);
        r = sd_bus_match_signal(bus_.get(), &slot, kLogind, path, kPropertiesIface, "PropertiesChanged",
                                &LogindSessionWatcher::onPropertiesChanged, this);
      }
      if (r < 0) return abandon("cannot subscribe to the session's lock signals", r);
      slots_[3].reset(slot);
      if (auto l = readLockedHint(bus_.get(), session_)) locked_ = *l;
    }
    takeInhibitor();

    uint64_t drain = 0;
    while (::read(wakeup_, &drain, sizeof drain) > 0) {
    }
    running_ = true;
    const bool locked_at_start = locked_;
    thread_ = std::thread([this, locked_at_start] {
      if (locked_at_start) sink_(SessionEvent::kLocked);  // the tracker learns the state it starts in
      run();
      for (auto& s : slots_) s.reset();
      releaseInhibitor();
      bus_.reset();
      running_ = false;
    });
    return {};
  }

  void stop() override {
    std::lock_guard lock(mu_);
    if (!thread_.joinable()) return;
    const uint64_t one = 1;
    (void)!::write(wakeup_, &one, sizeof one);
    thread_.join();
  }

  Result<bool> isLocked() override {
    std::lock_guard lock(query_mu_);
    if (!query_bus_ || !sd_bus_is_open(query_bus_.get())) {
      auto bus = openSystemBus();
      if (!bus) return std::unexpected(bus.error());
      auto session = findSession(bus->get());
      if (!session) return std::unexpected(session.error());
      query_bus_ = std::move(*bus);
      query_session_ = *session;
    }
    return readLockedHint(query_bus_.get(), query_session_);
  }

 private:
  Result<void> abandon(const std::string& what, int r) {
    for (auto& s : slots_) s.reset();
    bus_.reset();
    sink_ = nullptr;
    return fail(Errc::kIo, what + ": " + std::strerror(-r));
  }

  void run() {
    for (;;) {
      for (;;) {
        const int r = sd_bus_process(bus_.get(), nullptr);
        if (r < 0) return;  // the bus connection is gone: no more events, and no busy retry loop
        if (r == 0) break;
      }
      const int events = sd_bus_get_events(bus_.get());
      if (events < 0) return;
      pollfd fds[2] = {{sd_bus_get_fd(bus_.get()), static_cast<short>(events), 0}, {wakeup_, POLLIN, 0}};
      const int n = ::poll(fds, 2, pollTimeout(bus_.get()));
      if (n < 0 && errno != EINTR) return;
      if (fds[1].revents != 0) return;  // stop()
    }
  }

  // The delay inhibitor: while we hold its fd, logind waits (up to InhibitDelayMaxSec) before suspending.
  void takeInhibitor() {
    if (inhibit_fd_ >= 0) return;
    BusError err;
    sd_bus_message* reply = nullptr;
    int r = sd_bus_call_method(bus_.get(), kLogind, kManagerPath, kManagerIface, "Inhibit", &err.e, &reply, "ssss",
                               "sleep", "WorkMonitor", "close the work spans at suspend", "delay");
    Message hold(reply);
    int fd = -1;
    if (r >= 0) r = sd_bus_message_read(reply, "h", &fd);
    // The message owns the fd it carries; keep a copy of our own. Without an inhibitor the events still
    // arrive, but the suspend may already be under way when the spans are closed.
    if (r >= 0 && fd >= 0) inhibit_fd_ = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  }

  void releaseInhibitor() {
    if (inhibit_fd_ < 0) return;
    ::close(inhibit_fd_);
    inhibit_fd_ = -1;
  }

  void setLocked(bool locked) {
    if (locked_ == locked) return;
    locked_ = locked;
    sink_(locked ? SessionEvent::kLocked : SessionEvent::kUnlocked);
  }

  static int onPrepareForSleep(sd_bus_message* m, void* self_ptr, sd_bus_error*) {
    auto* self = static_cast<LogindSessionWatcher*>(self_ptr);
    int start = 0;
    if (sd_bus_message_read(m, "b", &start) < 0) return 0;
    if (start) {
      if (self->sleeping_) return 0;
      self->sleeping_ = true;
      self->sink_(SessionEvent::kSleeping);  // the spans close while our inhibitor still holds the suspend
      self->releaseInhibitor();
    } else {
      self->sleeping_ = false;
      self->takeInhibitor();  // for the next sleep
      self->sink_(SessionEvent::kResumed);
    }
    return 0;
  }

  static int onLock(sd_bus_message*, void* self_ptr, sd_bus_error*) {
    static_cast<LogindSessionWatcher*>(self_ptr)->setLocked(true);
    return 0;
  }

  static int onUnlock(sd_bus_message*, void* self_ptr, sd_bus_error*) {
    static_cast<LogindSessionWatcher*>(self_ptr)->setLocked(false);
    return 0;
  }

  // PropertiesChanged(s interface, a{sv} changed, as invalidated): only LockedHint matters here.
  static int onPropertiesChanged(sd_bus_message* m, void* self_ptr, sd_bus_error*) {
    auto* self = static_cast<LogindSessionWatcher*>(self_ptr);
    const char* iface = nullptr;
    if (sd_bus_message_read(m, "s", &iface) < 0 || std::strcmp(iface, kSessionIface) != 0) return 0;
    if (sd_bus_message_enter_container(m, 'a', "{sv}") <= 0) return 0;
    while (sd_bus_message_enter_container(m, 'e', "sv") > 0) {
      const char* name = nullptr;
      if (sd_bus_message_read(m, "s", &name) < 0) return 0;
      if (std::strcmp(name, "LockedHint") == 0) {
        int locked = 0;
        if (sd_bus_message_read(m, "v", "b", &locked) < 0) return 0;
        self->setLocked(locked != 0);
      } else if (sd_bus_message_skip(m, "v") < 0) {
        return 0;
      }
      if (sd_bus_message_exit_container(m) < 0) return 0;
    }
    return 0;
  }

  std::mutex mu_;  // serialises start/stop
  std::thread thread_;
  std::atomic<bool> running_{false};
  int wakeup_;
  // Owned by the watcher thread while it runs (set up by start() before it begins).
  Bus bus_;
  Slot slots_[4];
  Sink sink_;
  std::string session_;
  int inhibit_fd_ = -1;
  bool sleeping_ = false;
  bool locked_ = false;
  // isLocked() from any thread, on a connection of its own.
  std::mutex query_mu_;
  Bus query_bus_;
  std::string query_session_;
};

}  // namespace

std::unique_ptr<SessionWatcher> makeSessionWatcher() { return std::make_unique<LogindSessionWatcher>(); }

}  // namespace wm::platform
