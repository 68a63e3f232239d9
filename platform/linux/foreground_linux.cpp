// ForegroundWatcher on X11: PropertyNotify on the root window's _NET_ACTIVE_WINDOW and on the active window's
// title, so the thread sleeps in poll() until something changes. Window details come from EWMH/ICCCM
// properties, the X-Resource extension and /proc.
#include <unistd.h>
#include <xcb/res.h>

#include <atomic>
#include <climits>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "workmonitor/platform/foreground.h"
#include "xcb_connection.h"

namespace wm::platform {
namespace {

using x11::XcbConnection;

// Titles and class names beyond this are cut: enough for any real title, bounded for a hostile client.
constexpr size_t kMaxTextBytes = 4096;

struct Atoms {
  xcb_atom_t net_active_window = XCB_ATOM_NONE;
  xcb_atom_t net_wm_name = XCB_ATOM_NONE;
  xcb_atom_t net_wm_pid = XCB_ATOM_NONE;
};

/// What one connection needs to describe windows: the atoms and whether X-Resource 1.2 can give pids.
struct WindowReader {
  XcbConnection& conn;
  Atoms atoms;
  bool has_res = false;
  std::string hostname;
};

void initReader(WindowReader& r) {
  r.atoms.net_active_window = r.conn.atom("_NET_ACTIVE_WINDOW");
  r.atoms.net_wm_name = r.conn.atom("_NET_WM_NAME");
  r.atoms.net_wm_pid = r.conn.atom("_NET_WM_PID");
  const xcb_query_extension_reply_t* ext = xcb_get_extension_data(r.conn.get(), &xcb_res_id);
  if (ext != nullptr && ext->present) {
    // QueryClientIds arrived in X-Resource 1.2; the server must be told which version we speak.
    auto cookie = xcb_res_query_version(r.conn.get(), 1, 2);
    if (xcb_res_query_version_reply_t* v = xcb_res_query_version_reply(r.conn.get(), cookie, nullptr)) {
      r.has_res = v->server_major > 1 || (v->server_major == 1 && v->server_minor >= 2);
      std::free(v);
    }
  }
  char host[HOST_NAME_MAX + 1] = {};
  if (gethostname(host, sizeof host - 1) == 0) r.hostname = host;
}

/// ISO 8859-1 (ICCCM STRING) to UTF-8.
std::string latin1ToUtf8(const std::string& in) {
  std::string out;
  out.reserve(in.size());
  for (unsigned char c : in) {
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back(static_cast<char>(0xC0 | (c >> 6)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
  }
  return out;
}

/// Text properties may carry a trailing NUL; titles are single strings.
std::string cutAtNul(std::string s) {
  if (auto pos = s.find('\0'); pos != std::string::npos) s.resize(pos);
  return s;
}

bool isValidUtf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t extra = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      extra = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= s.size()) return false;  // truncated sequence
    for (size_t k = 1; k <= extra; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, UTF-16 surrogates and values past U+10FFFF are not UTF-8.
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += extra + 1;
  }
  return true;
}

/// Always valid UTF-8, because the agent serialises titles as JSON. Clients mislabel often (xdotool writes
/// UTF-8 bytes as STRING), so valid UTF-8 is taken as such whatever the type says, and anything else is read
/// as ICCCM's Latin-1.
std::string toUtf8(const std::string& raw) {
  if (isValidUtf8(raw)) return raw;
  // Our length cap may have split the last character; drop the fragment rather than re-reading everything.
  for (size_t cut = 1; cut <= 3 && cut < raw.size(); ++cut) {
    std::string shorter = raw.substr(0, raw.size() - cut);
    if (isValidUtf8(shorter)) return shorter;
  }
  return latin1ToUtf8(raw);
}

std::string titleFrom(const std::optional<x11::Property>& net_name, const std::optional<x11::Property>& wm_name) {
  // _NET_WM_NAME wins (EWMH); WM_NAME is the ICCCM fallback. COMPOUND_TEXT is not decoded: its ASCII subset,
  // the common case, reads right either way.
  if (net_name && net_name->format == 8 && !net_name->bytes.empty()) return toUtf8(cutAtNul(net_name->bytes));
  if (wm_name && wm_name->format == 8) return toUtf8(cutAtNul(wm_name->bytes));
  return {};
}

std::optional<int64_t> pidFromXRes(const WindowReader& r, xcb_window_t window) {
  if (!r.has_res) return std::nullopt;
  xcb_res_client_id_spec_t spec{window, XCB_RES_CLIENT_ID_MASK_LOCAL_CLIENT_PID};
  auto cookie = xcb_res_query_client_ids(r.conn.get(), 1, &spec);
  xcb_generic_error_t* error = nullptr;
  xcb_res_query_client_ids_reply_t* reply = xcb_res_query_client_ids_reply(r.conn.get(), cookie, &error);
  std::free(error);
  if (reply == nullptr) return std::nullopt;
  std::optional<int64_t> pid;
  for (auto it = xcb_res_query_client_ids_ids_iterator(reply); it.rem > 0; xcb_res_client_id_value_next(&it)) {
    if ((it.data->spec.mask & XCB_RES_CLIENT_ID_MASK_LOCAL_CLIENT_PID) != 0 &&
        xcb_res_client_id_value_value_length(it.data) >= 1) {
      pid = *xcb_res_client_id_value_value(it.data);
      break;
    }
  }
  std::free(reply);
  return pid;
}

std::string exePathOf(int64_t pid) {
  const std::string link = "/proc/" + std::to_string(pid) + "/exe";
  char buf[PATH_MAX];
  const ssize_t n = ::readlink(link.c_str(), buf, sizeof buf);
  // Another user's process (when not root) or one that already exited: the path is simply unknown.
  if (n <= 0 || static_cast<size_t>(n) >= sizeof buf) return {};
  return std::string(buf, static_cast<size_t>(n));
}

/// Everything we can learn about one window; a window that vanished gives empty fields, never an error.
WindowInfo describeWindow(const WindowReader& r, xcb_window_t window) {
  WindowInfo info;
  if (window == XCB_WINDOW_NONE) return info;  // nothing focused: the desktop
  xcb_connection_t* c = r.conn.get();
  // One round trip for all properties.
  auto net_name_c = x11::requestProperty(c, window, r.atoms.net_wm_name, kMaxTextBytes);
  auto wm_name_c = x11::requestProperty(c, window, XCB_ATOM_WM_NAME, kMaxTextBytes);
  auto pid_c = x11::requestProperty(c, window, r.atoms.net_wm_pid, 4);
  auto class_c = x11::requestProperty(c, window, XCB_ATOM_WM_CLASS, kMaxTextBytes);
  auto machine_c = x11::requestProperty(c, window, XCB_ATOM_WM_CLIENT_MACHINE, 256);
  auto attrs_c = xcb_get_window_attributes(c, window);
  auto net_name = x11::readProperty(c, net_name_c, kMaxTextBytes);
  auto wm_name = x11::readProperty(c, wm_name_c, kMaxTextBytes);
  auto pid_prop = x11::readProperty(c, pid_c, 4);
  auto class_prop = x11::readProperty(c, class_c, kMaxTextBytes);
  auto machine = x11::readProperty(c, machine_c, 256);
  xcb_generic_error_t* error = nullptr;
  xcb_get_window_attributes_reply_t* attrs = xcb_get_window_attributes_reply(c, attrs_c, &error);
  std::free(error);
  // Some window managers (openbox) leave _NET_ACTIVE_WINDOW naming a window that was closed or hidden when
  // nothing else takes focus; what the user then sees is the desktop.
  const bool viewable = attrs != nullptr && attrs->map_state == XCB_MAP_STATE_VIEWABLE;
  std::free(attrs);
  if (!viewable) return info;

  info.title = titleFrom(net_name, wm_name);
  if (class_prop && class_prop->format == 8) {
    // WM_CLASS is "instance\0class\0".
    const std::string& b = class_prop->bytes;
    const size_t nul = b.find('\0');
    info.wm_class = toUtf8(b.substr(0, nul));
    if (nul != std::string::npos) info.app = toUtf8(cutAtNul(b.substr(nul + 1)));
  }

  // A pid is only meaningful on this machine; a client from elsewhere (ssh -X) names a foreign process.
  const std::string client_host = machine && machine->format == 8 ? cutAtNul(machine->bytes) : std::string();
  const bool remote =
      !client_host.empty() && !r.hostname.empty() && client_host != r.hostname && client_host != "localhost";
  if (!remote) {
    if (auto pid = x11::firstCard32(pid_prop); pid && *pid > 0) {
      info.pid = *pid;
    } else if (auto res_pid = pidFromXRes(r, window); res_pid && *res_pid > 0) {
      info.pid = *res_pid;  // clients that do not set _NET_WM_PID (plain Xt/Xlib programs)
    }
  }
  if (info.pid > 0) info.exe_path = exePathOf(info.pid);
  if (info.app.empty() && !info.exe_path.empty()) {
    info.app = info.exe_path.substr(info.exe_path.rfind('/') + 1);
  }
  return info;
}

std::optional<xcb_window_t> activeWindow(const WindowReader& r) {
  auto cookie = x11::requestProperty(r.conn.get(), r.conn.root(), r.atoms.net_active_window, 4);
  auto prop = x11::readProperty(r.conn.get(), cookie, 4);
  if (r.conn.broken()) return std::nullopt;
  return x11::firstCard32(prop).value_or(XCB_WINDOW_NONE);  // unset or None: no window is active
}

void selectEvents(XcbConnection& conn, xcb_window_t window, uint32_t mask) {
  // Unchecked: a BadWindow for a window that just died comes back as an error event, which we drop.
  xcb_change_window_attributes(conn.get(), window, XCB_CW_EVENT_MASK, &mask);
}

class X11ForegroundWatcher final : public ForegroundWatcher {
 public:
  ~X11ForegroundWatcher() override { stop(); }

  Result<void> start(Sink sink) override {
    if (!sink) return fail(Errc::kInvalidInput, "foreground watcher needs an event sink");
    std::lock_guard lock(mu_);
    if (running_) return fail(Errc::kInvalidInput, "foreground watcher is already started");
    if (thread_.joinable()) thread_.join();  // a previous run ended on its own (X server went away)
    if (!wakeup_.valid()) return fail(Errc::kIo, "cannot create an eventfd for the foreground watcher");
    auto conn = XcbConnection::open("foreground window tracking");
    if (!conn) return std::unexpected(conn.error());
    wakeup_.clear();
    running_ = true;
    thread_ = std::thread([this, c = std::move(*conn), s = std::move(sink)]() mutable {
      run(*c, s);
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

  Result<WindowInfo> current() override {
    std::lock_guard lock(query_mu_);
    if (!query_conn_ || query_conn_->broken()) {
      query_reader_.reset();
      auto conn = XcbConnection::open("foreground window tracking");
      if (!conn) return std::unexpected(conn.error());
      query_conn_ = std::move(*conn);
      query_reader_ = std::make_unique<WindowReader>(WindowReader{*query_conn_, {}, false, {}});
      initReader(*query_reader_);
    }
    auto window = activeWindow(*query_reader_);
    if (!window) return fail(Errc::kUnavailable, "no X display: the connection to the X server was lost");
    return describeWindow(*query_reader_, *window);
  }

 private:
  void run(XcbConnection& conn, const Sink& sink) {
    WindowReader reader{conn, {}, false, {}};
    initReader(reader);
    // Select on the root before reading the active window, so a change in between is not missed.
    selectEvents(conn, conn.root(), XCB_EVENT_MASK_PROPERTY_CHANGE);
    xcb_flush(conn.get());

    xcb_window_t active = XCB_WINDOW_NONE;
    WindowInfo last;
    bool first = true;
    bool active_changed = true;
    bool details_changed = false;
    for (;;) {
      if (active_changed) {
        auto now_active = activeWindow(reader);
        if (!now_active) return;
        // The old window may be gone already; the resulting BadWindow is dropped with the other errors.
        if (*now_active != active && active != XCB_WINDOW_NONE) {
          selectEvents(conn, active, XCB_EVENT_MASK_NO_EVENT);
        }
        active = *now_active;
        // Selected and re-read even when the id is unchanged: X hands a closed client's ids to the next
        // client, so "the same window" may be a new program. Structure events say when the active window
        // closes or hides without _NET_ACTIVE_WINDOW changing (openbox leaves it stale then).
        if (active != XCB_WINDOW_NONE) {
          selectEvents(conn, active, XCB_EVENT_MASK_PROPERTY_CHANGE | XCB_EVENT_MASK_STRUCTURE_NOTIFY);
        }
        details_changed = true;
      }
      if (details_changed) {
        WindowInfo info = describeWindow(reader, active);
        if (conn.broken()) return;
        if (first || info != last) {
          last = std::move(info);
          sink(last);
        }
        first = false;
      }
      active_changed = details_changed = false;
      xcb_flush(conn.get());

      // Waiting for the replies above may have read events off the socket into xcb's queue (the next
      // activation arriving meanwhile): poll() cannot see those, so they are handled before any sleep, or the
      // switch would go unreported until some later event woke the thread.
      xcb_generic_event_t* queued = xcb_poll_for_queued_event(conn.get());
      if (queued == nullptr) {
        switch (x11::waitFor(conn.fd(), wakeup_, -1)) {
          case x11::WaitResult::kWakeup:
          case x11::WaitResult::kError:
          case x11::WaitResult::kTimeout:
            return;
          case x11::WaitResult::kXReadable:
            break;
        }
      }
      // Drain everything queued (replies read later may queue more, hence the loop), then act once.
      for (xcb_generic_event_t* ev = queued != nullptr ? queued : xcb_poll_for_event(conn.get()); ev != nullptr;
           ev = xcb_poll_for_event(conn.get())) {
        const uint8_t type = ev->response_type & 0x7f;
        if (type == XCB_PROPERTY_NOTIFY) {
          const auto* pn = reinterpret_cast<const xcb_property_notify_event_t*>(ev);
          if (pn->window == conn.root()) {
            if (pn->atom == reader.atoms.net_active_window) active_changed = true;
          } else if (pn->window == active) {
            details_changed = details_changed || pn->atom == reader.atoms.net_wm_name || pn->atom == XCB_ATOM_WM_NAME ||
                              pn->atom == XCB_ATOM_WM_CLASS || pn->atom == reader.atoms.net_wm_pid;
          }
        } else if (type == XCB_DESTROY_NOTIFY || type == XCB_UNMAP_NOTIFY || type == XCB_MAP_NOTIFY) {
          // All three carry the window at the same offset; ConfigureNotify (moves, resizes) is ignored.
          const auto* mn = reinterpret_cast<const xcb_map_notify_event_t*>(ev);
          if (mn->window == active) details_changed = true;
          if (type == XCB_DESTROY_NOTIFY && mn->window == active) active = XCB_WINDOW_NONE;  // nothing to unselect
        }
        // Errors (response_type 0) are BadWindow for windows that died under us: harmless, dropped.
        std::free(ev);
      }
      if (conn.broken()) return;  // the server went away: stop quietly
    }
  }

  std::mutex mu_;  // serialises start/stop
  std::thread thread_;
  std::atomic<bool> running_{false};
  x11::WakeupFd wakeup_;
  std::mutex query_mu_;  // guards the connection current() uses from any thread
  std::unique_ptr<XcbConnection> query_conn_;
  std::unique_ptr<WindowReader> query_reader_;
};

}  // namespace

std::unique_ptr<ForegroundWatcher> makeForegroundWatcher() { return std::make_unique<X11ForegroundWatcher>(); }

}  // namespace wm::platform
