// Shared by the X11 capability modules: an owned xcb connection, atom interning, property reads, a wake-up fd.
// Only platform/linux/ includes this; no xcb type leaves this folder.
#pragma once

#include <xcb/xcb.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "workmonitor/common/result.h"

namespace wm::platform::x11 {

/// One connection to the X server of $DISPLAY, closed on destruction.
class XcbConnection {
 public:
  /// Connects to $DISPLAY. Fails with kUnavailable and a message that names the display and what to check;
  /// `capability` ("idle detection", "foreground window") says who needs it.
  static Result<std::unique_ptr<XcbConnection>> open(std::string_view capability);

  ~XcbConnection();
  XcbConnection(const XcbConnection&) = delete;
  XcbConnection& operator=(const XcbConnection&) = delete;

  xcb_connection_t* get() const { return conn_; }
  xcb_window_t root() const { return root_; }
  int fd() const { return xcb_get_file_descriptor(conn_); }
  /// True once the server has gone away (or the stream broke); the connection is then useless.
  bool broken() const { return xcb_connection_has_error(conn_) != 0; }
  /// Interns an atom (creating it if needed); XCB_ATOM_NONE if the server did not answer.
  xcb_atom_t atom(const char* name);

 private:
  XcbConnection(xcb_connection_t* conn, xcb_window_t root) : conn_(conn), root_(root) {}
  xcb_connection_t* conn_;
  xcb_window_t root_;
};

/// A property's raw value. `format` is 8, 16 or 32 bits per item.
struct Property {
  xcb_atom_t type = XCB_ATOM_NONE;
  uint8_t format = 0;
  std::string bytes;
};

/// Reads a property. nullopt when the window is gone (the X error is consumed, never fatal) or the property
/// is unset. Values longer than max_bytes are cut, which bounds what a hostile client can make us copy.
std::optional<Property> readProperty(xcb_connection_t* conn, xcb_get_property_cookie_t cookie,
                                     size_t max_bytes = 64 * 1024);

/// Sends the GetProperty request for readProperty; split so several requests share one round trip.
xcb_get_property_cookie_t requestProperty(xcb_connection_t* conn, xcb_window_t window, xcb_atom_t property,
                                          size_t max_bytes = 64 * 1024);

/// The first 32-bit item of a property (a window id, a pid), if it has one.
std::optional<uint32_t> firstCard32(const std::optional<Property>& prop);

/// An eventfd that lets stop() wake a thread blocked in poll() immediately.
class WakeupFd {
 public:
  WakeupFd();
  ~WakeupFd();
  WakeupFd(const WakeupFd&) = delete;
  WakeupFd& operator=(const WakeupFd&) = delete;
  bool valid() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  void signal();
  void clear();

 private:
  int fd_;
};

/// Result of waiting for the connection, the wake-up fd or a timeout.
enum class WaitResult { kTimeout, kXReadable, kWakeup, kError };

/// Waits in poll() on the X fd (pass -1 to ignore it) and the wake-up fd; timeout_ms < 0 waits forever.
WaitResult waitFor(int x_fd, const WakeupFd& wakeup, int timeout_ms);

}  // namespace wm::platform::x11
