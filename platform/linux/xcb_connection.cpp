// Shared X11 plumbing for the Linux capability modules; see xcb_connection.h.
#include "xcb_connection.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace wm::platform::x11 {
namespace {

std::string connectErrorText(int err) {
  switch (err) {
    case XCB_CONN_ERROR:
      return "the connection was refused or broke (is the X server running, and may this user connect to it? "
             "check XAUTHORITY)";
    case XCB_CONN_CLOSED_EXT_NOTSUPPORTED:
      return "the server lacks a required extension";
    case XCB_CONN_CLOSED_MEM_INSUFFICIENT:
      return "out of memory";
    case XCB_CONN_CLOSED_REQ_LEN_EXCEED:
      return "request too long";
    case XCB_CONN_CLOSED_PARSE_ERR:
      return "DISPLAY is not a valid display name";
    case XCB_CONN_CLOSED_INVALID_SCREEN:
      return "the screen named in DISPLAY does not exist";
    default:
      return "connection failed (xcb error " + std::to_string(err) + ")";
  }
}

}  // namespace

Result<std::unique_ptr<XcbConnection>> XcbConnection::open(std::string_view capability) {
  const char* display = std::getenv("DISPLAY");
  if (display == nullptr || *display == '\0') {
    return fail(Errc::kUnavailable, "no X display: DISPLAY is not set, so " + std::string(capability) +
                                        " is off. Run inside an X11 (or XWayland) desktop session, or set "
                                        "DISPLAY to a running X server.");
  }
  int screen_num = 0;
  xcb_connection_t* conn = xcb_connect(display, &screen_num);
  if (int err = xcb_connection_has_error(conn); err != 0) {
    xcb_disconnect(conn);  // xcb wants the error object freed too
    return fail(Errc::kUnavailable, "no X display: cannot connect to DISPLAY=\"" + std::string(display) +
                                        "\": " + connectErrorText(err) + ". " + std::string(capability) + " is off.");
  }
  xcb_screen_iterator_t it = xcb_setup_roots_iterator(xcb_get_setup(conn));
  for (int i = 0; i < screen_num && it.rem > 0; ++i) xcb_screen_next(&it);
  if (it.rem == 0) {
    xcb_disconnect(conn);
    return fail(Errc::kUnavailable, "no X display: DISPLAY=\"" + std::string(display) + "\" names screen " +
                                        std::to_string(screen_num) + ", which the server does not have");
  }
  return std::unique_ptr<XcbConnection>(new XcbConnection(conn, it.data->root));
}

XcbConnection::~XcbConnection() { xcb_disconnect(conn_); }

xcb_atom_t XcbConnection::atom(const char* name) {
  auto cookie = xcb_intern_atom(conn_, 0, static_cast<uint16_t>(std::strlen(name)), name);
  xcb_intern_atom_reply_t* reply = xcb_intern_atom_reply(conn_, cookie, nullptr);
  if (reply == nullptr) return XCB_ATOM_NONE;
  xcb_atom_t atom = reply->atom;
  std::free(reply);
  return atom;
}

xcb_get_property_cookie_t requestProperty(xcb_connection_t* conn, xcb_window_t window, xcb_atom_t property,
                                          size_t max_bytes) {
  // The length is in 32-bit units; round up so max_bytes is always fetched.
  const auto words = static_cast<uint32_t>((max_bytes + 3) / 4);
  return xcb_get_property(conn, 0, window, property, XCB_GET_PROPERTY_TYPE_ANY, 0, words);
}

std::optional<Property> readProperty(xcb_connection_t* conn, xcb_get_property_cookie_t cookie, size_t max_bytes) {
  xcb_generic_error_t* error = nullptr;
  xcb_get_property_reply_t* reply = xcb_get_property_reply(conn, cookie, &error);
  std::free(error);  // BadWindow when the window vanished between the event and this query: not our problem
  if (reply == nullptr) return std::nullopt;
  std::optional<Property> out;
  if (reply->type != XCB_ATOM_NONE) {
    const int len = xcb_get_property_value_length(reply);
    const auto* data = static_cast<const char*>(xcb_get_property_value(reply));
    out = Property{reply->type, reply->format,
                   std::string(data, std::min(static_cast<size_t>(std::max(len, 0)), max_bytes))};
  }
  std::free(reply);
  return out;
}

std::optional<uint32_t> firstCard32(const std::optional<Property>& prop) {
  if (!prop || prop->format != 32 || prop->bytes.size() < sizeof(uint32_t)) return std::nullopt;
  uint32_t value = 0;
  std::memcpy(&value, prop->bytes.data(), sizeof value);
  return value;
}

WakeupFd::WakeupFd() : fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

WakeupFd::~WakeupFd() {
  if (fd_ >= 0) ::close(fd_);
}

void WakeupFd::signal() {
  const uint64_t one = 1;
  // A full counter (impossible in practice) still leaves the fd readable, which is all we need.
  [[maybe_unused]] ssize_t n = ::write(fd_, &one, sizeof one);
}

void WakeupFd::clear() {
  uint64_t value = 0;
  [[maybe_unused]] ssize_t n = ::read(fd_, &value, sizeof value);
}

WaitResult waitFor(int x_fd, const WakeupFd& wakeup, int timeout_ms) {
  pollfd fds[2] = {{wakeup.fd(), POLLIN, 0}, {x_fd, POLLIN, 0}};
  const nfds_t count = x_fd >= 0 ? 2 : 1;
  for (;;) {
    const int n = ::poll(fds, count, timeout_ms);
    if (n < 0 && errno == EINTR) continue;  // a signal for someone else; the deadline is the caller's concern
    if (n < 0) return WaitResult::kError;
    if (n == 0) return WaitResult::kTimeout;
    if (fds[0].revents != 0) return WaitResult::kWakeup;
    return WaitResult::kXReadable;  // also on POLLHUP/POLLERR: the caller then sees a broken connection
  }
}

}  // namespace wm::platform::x11
