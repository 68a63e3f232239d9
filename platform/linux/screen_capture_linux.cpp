// ScreenCapturer on X11: RandR 1.5 monitors, each frozen at capture time in a server-side pixmap (one CopyArea of
// the root per monitor, all sent in one burst) and then read band by band: MIT-SHM GetImage into one small memfd
// segment per monitor (a SysV one on servers older than MIT-SHM 1.2) that is reused for every band, so a
// full-size copy of the screen never exists in this process. Without MIT-SHM (a remote display, a server built
// without it) the bands are plain GetImage replies; without memory for the pixmap on the server, the bands are
// read from the root itself (then a screen that changes during the read can show it). Visible windows come from
// _NET_CLIENT_LIST_STACKING (else the root's QueryTree) plus the override-redirect popups (menus, tooltips) that
// an excluded app may show above everything else.
#include <limits.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <unistd.h>
#include <xcb/randr.h>
#include <xcb/shm.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "workmonitor/platform/screen_capture.h"
#include "xcb_connection.h"

namespace wm::platform {
namespace {

using x11::XcbConnection;
using ConnPtr = std::shared_ptr<XcbConnection>;

constexpr size_t kMaxTextBytes = 4096;
constexpr size_t kMaxClientListBytes = 64 * 1024;  // 16,384 windows: far beyond any real desktop

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};
template <typename T>
using Reply = std::unique_ptr<T, FreeDeleter>;

/// An X error as text for messages (frees it).
std::string errorText(xcb_generic_error_t* error) {
  if (error == nullptr) return "no reply (connection lost?)";
  std::string text = "X error " + std::to_string(error->error_code) + " (major opcode " +
                     std::to_string(error->major_code) + ", minor " + std::to_string(error->minor_code) + ")";
  std::free(error);
  return text;
}

bool contains(const Rect& outer, const Rect& inner) {
  return inner.x >= outer.x && inner.y >= outer.y && inner.x + inner.width <= outer.x + outer.width &&
         inner.y + inner.height <= outer.y + outer.height;
}

bool sameRect(const Rect& a, const Rect& b) {
  return a.x == b.x && a.y == b.y && a.width == b.width && a.height == b.height;
}

/// One shared-memory segment attached to the server. Detached and unmapped when the last image in it goes.
class ShmSegment {
 public:
  enum class Kind { kMemfd, kSysV };
  ShmSegment(ConnPtr conn, Kind kind, xcb_shm_seg_t seg, void* addr, size_t size)
      : conn_(std::move(conn)), kind_(kind), seg_(seg), addr_(addr), size_(size) {}
  ~ShmSegment() {
    // The server detaches by itself when the connection closes; while it lives we say so ourselves.
    if (!conn_->broken()) {
      xcb_shm_detach(conn_->get(), seg_);
      xcb_flush(conn_->get());
    }
    if (kind_ == Kind::kMemfd) {
      ::munmap(addr_, size_);
    } else {
      ::shmdt(addr_);
    }
  }
  ShmSegment(const ShmSegment&) = delete;
  ShmSegment& operator=(const ShmSegment&) = delete;

  xcb_shm_seg_t id() const { return seg_; }
  const uint8_t* data() const { return static_cast<const uint8_t*>(addr_); }

 private:
  ConnPtr conn_;
  Kind kind_;
  xcb_shm_seg_t seg_;
  void* addr_;
  size_t size_;
};

enum class ShmMode { kNone, kFd, kSysV };

/// A memfd of `size` bytes, mapped here read-only and attached to the server, which writes into it.
Result<std::shared_ptr<ShmSegment>> attachMemfdSegment(const ConnPtr& conn, size_t size) {
  const int fd = ::memfd_create("workmonitor-screen", MFD_CLOEXEC);
  if (fd < 0) return fail(Errc::kIo, std::string("memfd_create failed: ") + std::strerror(errno));
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0) {
    const int err = errno;
    ::close(fd);
    return fail(Errc::kIo, std::string("cannot size the screen capture buffer: ") + std::strerror(err));
  }
  void* addr = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  if (addr == MAP_FAILED) {
    const int err = errno;
    ::close(fd);
    return fail(Errc::kIo, std::string("cannot map the screen capture buffer: ") + std::strerror(err));
  }
  const xcb_shm_seg_t seg = xcb_generate_id(conn->get());
  // xcb passes the fd with the request and closes it here; the mapping stays valid.
  auto cookie = xcb_shm_attach_fd_checked(conn->get(), seg, fd, 0);
  if (xcb_generic_error_t* error = xcb_request_check(conn->get(), cookie)) {
    ::munmap(addr, size);
    return fail(Errc::kUnavailable, "MIT-SHM AttachFd refused: " + errorText(error));
  }
  return std::make_shared<ShmSegment>(conn, ShmSegment::Kind::kMemfd, seg, addr, size);
}

/// The same with a SysV segment, for servers without fd passing (MIT-SHM < 1.2).
Result<std::shared_ptr<ShmSegment>> attachSysVSegment(const ConnPtr& conn, size_t size) {
  const int shmid = ::shmget(IPC_PRIVATE, size, IPC_CREAT | 0600);
  if (shmid < 0) return fail(Errc::kIo, std::string("shmget failed: ") + std::strerror(errno));
  void* addr = ::shmat(shmid, nullptr, SHM_RDONLY);
  if (addr == reinterpret_cast<void*>(-1)) {
    const int err = errno;
    ::shmctl(shmid, IPC_RMID, nullptr);
    return fail(Errc::kIo, std::string("shmat failed: ") + std::strerror(err));
  }
  const xcb_shm_seg_t seg = xcb_generate_id(conn->get());
  auto cookie = xcb_shm_attach_checked(conn->get(), seg, static_cast<uint32_t>(shmid), 0);
  xcb_generic_error_t* error = xcb_request_check(conn->get(), cookie);
  ::shmctl(shmid, IPC_RMID, nullptr);  // removed once both sides have detached; nothing leaks on a crash
  if (error != nullptr) {
    ::shmdt(addr);
    return fail(Errc::kUnavailable, "MIT-SHM Attach refused: " + errorText(error));
  }
  return std::make_shared<ShmSegment>(conn, ShmSegment::Kind::kSysV, seg, addr, size);
}

/// True when the connection is a local (Unix domain) socket: shared memory means nothing across a network,
/// and a SysV id would name some other segment on the remote machine.
bool isLocalConnection(const XcbConnection& conn) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (::getsockname(conn.fd(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) return false;
  return addr.ss_family == AF_UNIX;
}

/// How the server lays out a Z-pixmap of the root window, and whether it is the B,G,R,X the interface promises.
Result<void> checkPixelFormat(xcb_connection_t* c, const xcb_screen_t* screen) {
  const xcb_setup_t* setup = xcb_get_setup(c);
  int bpp = 0;
  for (auto it = xcb_setup_pixmap_formats_iterator(setup); it.rem > 0; xcb_format_next(&it)) {
    if (it.data->depth == screen->root_depth) bpp = it.data->bits_per_pixel;
  }
  const xcb_visualtype_t* visual = nullptr;
  for (auto d = xcb_screen_allowed_depths_iterator(screen); d.rem > 0 && visual == nullptr; xcb_depth_next(&d)) {
    for (auto v = xcb_depth_visuals_iterator(d.data); v.rem > 0; xcb_visualtype_next(&v)) {
      if (v.data->visual_id == screen->root_visual) {
        visual = v.data;
        break;
      }
    }
  }
  const bool bgrx = bpp == 32 && visual != nullptr && visual->red_mask == 0xff0000 && visual->green_mask == 0xff00 &&
                    visual->blue_mask == 0xff && setup->image_byte_order == XCB_IMAGE_ORDER_LSB_FIRST;
  if (!bgrx) {
    return fail(Errc::kUnavailable,
                "screen capture supports 24/32-bit true-colour X screens only (this one has depth " +
                    std::to_string(screen->root_depth) + ", " + std::to_string(bpp) + " bits per pixel)");
  }
  return {};
}

/// Rows per band: about kBandBytes of pixels, so the band buffer stays small on any monitor width.
constexpr size_t kBandBytes = 512 * 1024;
int32_t bandRowsFor(int32_t width) {
  return static_cast<int32_t>(std::max<size_t>(1, kBandBytes / (static_cast<size_t>(width) * 4)));
}

/// One monitor as it was at capture time: a pixmap on the server (or, without one, the root itself), read band by
/// band into a shared-memory segment of one band (or as plain GetImage replies). Frees the pixmap when it goes.
class FrozenMonitor {
 public:
  FrozenMonitor(ConnPtr conn, xcb_drawable_t drawable, bool own_pixmap, Rect area, int32_t band_rows)
      : conn_(std::move(conn)), drawable_(drawable), own_pixmap_(own_pixmap), area_(area), band_rows_(band_rows) {}
  ~FrozenMonitor() {
    segment_.reset();  // detached before the pixmap goes; nothing waits for the server here
    if (own_pixmap_ && !conn_->broken()) {
      xcb_free_pixmap(conn_->get(), drawable_);
      xcb_flush(conn_->get());
    }
  }
  FrozenMonitor(const FrozenMonitor&) = delete;
  FrozenMonitor& operator=(const FrozenMonitor&) = delete;

  int32_t bandRows() const { return band_rows_; }
  void useSegment(std::shared_ptr<ShmSegment> segment) { segment_ = std::move(segment); }

  /// Rows [y, y + count) as B,G,R,X, width × 4 bytes apart; valid until the next call.
  Result<const uint8_t*> read(int32_t y, int32_t count) {
    std::lock_guard lock(mu_);
    if (y < 0 || count <= 0 || count > band_rows_ || y > area_.height - count) {
      return fail(Errc::kInvalidInput, "rows " + std::to_string(y) + "+" + std::to_string(count) +
                                           " are not a band of this " + std::to_string(area_.height) + "-row monitor");
    }
    if (conn_->broken()) return fail(Errc::kUnavailable, "no X display: the connection to the X server was lost");
    xcb_connection_t* c = conn_->get();
    const auto x0 = static_cast<int16_t>(area_.x), y0 = static_cast<int16_t>(area_.y + y);
    const auto w = static_cast<uint16_t>(area_.width), h = static_cast<uint16_t>(count);
    if (segment_) {
      xcb_generic_error_t* error = nullptr;
      Reply<xcb_shm_get_image_reply_t> reply(xcb_shm_get_image_reply(
          c, xcb_shm_get_image(c, drawable_, x0, y0, w, h, ~0u, XCB_IMAGE_FORMAT_Z_PIXMAP, segment_->id(), 0), &error));
      if (reply) return segment_->data();
      if (conn_->broken()) return fail(Errc::kUnavailable, "no X display: the connection to the X server was lost");
      std::free(error);
      segment_.reset();  // refused: plain GetImage for this band and the rest
    }
    xcb_generic_error_t* error = nullptr;
    reply_.reset(
        xcb_get_image_reply(c, xcb_get_image(c, XCB_IMAGE_FORMAT_Z_PIXMAP, drawable_, x0, y0, w, h, ~0u), &error));
    if (!reply_) {
      if (conn_->broken()) return fail(Errc::kUnavailable, "no X display: the connection to the X server was lost");
      return fail(Errc::kUnavailable, "GetImage failed: " + errorText(error));
    }
    if (static_cast<size_t>(xcb_get_image_data_length(reply_.get())) < static_cast<size_t>(w) * h * 4) {
      return fail(Errc::kUnavailable, "GetImage returned a short image");
    }
    return xcb_get_image_data(reply_.get());  // the reply is the buffer: no copy
  }

 private:
  std::mutex mu_;
  ConnPtr conn_;
  xcb_drawable_t drawable_;
  bool own_pixmap_;
  Rect area_;  // in the drawable's coordinates
  int32_t band_rows_;
  std::shared_ptr<ShmSegment> segment_;
  Reply<xcb_get_image_reply_t> reply_;
};

const xcb_screen_t* screenOf(const XcbConnection& conn) {
  for (auto it = xcb_setup_roots_iterator(xcb_get_setup(conn.get())); it.rem > 0; xcb_screen_next(&it)) {
    if (it.data->root == conn.root()) return it.data;
  }
  return nullptr;
}

struct Monitor {
  std::string name;
  Rect rect;
};

/// RandR 1.5 monitors, without pseudo-monitors that duplicate or lie inside another; the whole root screen
/// when RandR is missing, older than 1.5 or reports none.
std::vector<Monitor> listMonitors(xcb_connection_t* c, xcb_window_t root, const xcb_screen_t* screen,
                                  bool has_randr15) {
  const Rect whole{0, 0, screen->width_in_pixels, screen->height_in_pixels};
  std::vector<Monitor> found;
  if (has_randr15) {
    Reply<xcb_randr_get_monitors_reply_t> reply(
        xcb_randr_get_monitors_reply(c, xcb_randr_get_monitors(c, root, 1), nullptr));
    if (reply) {
      std::vector<xcb_get_atom_name_cookie_t> names;
      for (auto it = xcb_randr_get_monitors_monitors_iterator(reply.get()); it.rem > 0;
           xcb_randr_monitor_info_next(&it)) {
        Rect r{it.data->x, it.data->y, it.data->width, it.data->height};
        // Clip to the screen: a monitor hanging off the root window cannot be read there.
        const int32_t x0 = std::max(r.x, whole.x), y0 = std::max(r.y, whole.y);
        const int32_t x1 = std::min(r.x + r.width, whole.width), y1 = std::min(r.y + r.height, whole.height);
        if (x1 <= x0 || y1 <= y0) continue;
        found.push_back({{}, {x0, y0, x1 - x0, y1 - y0}});
        names.push_back(xcb_get_atom_name(c, it.data->name));
      }
      for (size_t i = 0; i < found.size(); ++i) {
        Reply<xcb_get_atom_name_reply_t> name(xcb_get_atom_name_reply(c, names[i], nullptr));
        if (name) {
          found[i].name.assign(xcb_get_atom_name_name(name.get()),
                               static_cast<size_t>(xcb_get_atom_name_name_length(name.get())));
        }
        if (found[i].name.empty()) found[i].name = "monitor-" + std::to_string(i);
      }
    }
  }
  std::vector<Monitor> out;
  for (size_t i = 0; i < found.size(); ++i) {
    bool pseudo = false;
    for (size_t j = 0; j < found.size() && !pseudo; ++j) {
      if (i == j) continue;
      // Inside another: skipped. An exact duplicate: the first one listed (RandR lists the primary first) stays.
      if (sameRect(found[i].rect, found[j].rect)) {
        pseudo = j < i;
      } else {
        pseudo = contains(found[j].rect, found[i].rect);
      }
    }
    if (!pseudo) out.push_back(found[i]);
  }
  if (out.empty()) out.push_back({"screen", whole});
  return out;
}

/// WM_CLASS "instance\0class\0" split in two.
std::pair<std::string, std::string> splitClass(const std::optional<x11::Property>& prop) {
  if (!prop || prop->format != 8) return {};
  const std::string& b = prop->bytes;
  const size_t nul = b.find('\0');
  std::string instance = b.substr(0, nul);
  std::string klass;
  if (nul != std::string::npos) {
    klass = b.substr(nul + 1);
    if (auto end = klass.find('\0'); end != std::string::npos) klass.resize(end);
  }
  return {instance, klass};
}

std::string exePathOf(uint32_t pid) {
  const std::string link = "/proc/" + std::to_string(pid) + "/exe";
  char buf[PATH_MAX];
  const ssize_t n = ::readlink(link.c_str(), buf, sizeof buf);
  if (n <= 0 || static_cast<size_t>(n) >= sizeof buf) return {};
  return std::string(buf, static_cast<size_t>(n));
}

class X11ScreenCapturer final : public ScreenCapturer {
 public:
  void captureAll(Done done) override {
    auto result = capture();
    done(std::move(result));
  }

  Result<std::vector<WindowRect>> visibleWindows() override {
    std::lock_guard lock(mu_);
    if (auto ok = ensureConnected(); !ok) return std::unexpected(ok.error());
    auto windows = listWindows();
    if (conn_->broken()) return fail(Errc::kUnavailable, "no X display: the connection to the X server was lost");
    return windows;
  }

 private:
  Result<void> ensureConnected() {
    if (conn_ && !conn_->broken()) return {};
    conn_.reset();
    auto opened = XcbConnection::open("screen capture");
    if (!opened) return std::unexpected(opened.error());
    conn_ = ConnPtr(std::move(*opened));
    xcb_connection_t* c = conn_->get();
    screen_ = screenOf(*conn_);
    if (screen_ == nullptr) return fail(Errc::kUnavailable, "no X display: the root window has no screen");
    if (auto format = checkPixelFormat(c, screen_); !format) {
      conn_.reset();
      return std::unexpected(format.error());
    }

    has_randr15_ = false;
    const xcb_query_extension_reply_t* randr = xcb_get_extension_data(c, &xcb_randr_id);
    if (randr != nullptr && randr->present) {
      Reply<xcb_randr_query_version_reply_t> v(
          xcb_randr_query_version_reply(c, xcb_randr_query_version(c, 1, 5), nullptr));
      has_randr15_ = v && (v->major_version > 1 || (v->major_version == 1 && v->minor_version >= 5));
    }

    shm_ = ShmMode::kNone;
    const xcb_query_extension_reply_t* shm = xcb_get_extension_data(c, &xcb_shm_id);
    if (shm != nullptr && shm->present && isLocalConnection(*conn_)) {
      Reply<xcb_shm_query_version_reply_t> v(xcb_shm_query_version_reply(c, xcb_shm_query_version(c), nullptr));
      if (v) {
        const bool fd_passing = v->major_version > 1 || (v->major_version == 1 && v->minor_version >= 2);
        shm_ = fd_passing ? ShmMode::kFd : ShmMode::kSysV;
      }
    }

    // CopyArea from the root with IncludeInferiors copies what is on screen, windows included, as GetImage does.
    gc_ = xcb_generate_id(c);
    const uint32_t gc_values[] = {XCB_SUBWINDOW_MODE_INCLUDE_INFERIORS, 0};
    xcb_create_gc(c, gc_, conn_->root(), XCB_GC_SUBWINDOW_MODE | XCB_GC_GRAPHICS_EXPOSURES, gc_values);

    atoms_.client_list_stacking = conn_->atom("_NET_CLIENT_LIST_STACKING");
    atoms_.frame_extents = conn_->atom("_NET_FRAME_EXTENTS");
    atoms_.wm_pid = conn_->atom("_NET_WM_PID");
    atoms_.wm_state = conn_->atom("WM_STATE");
    char host[HOST_NAME_MAX + 1] = {};
    if (::gethostname(host, sizeof host - 1) == 0) hostname_ = host;
    return {};
  }

  Result<std::vector<MonitorImage>> capture() {
    std::lock_guard lock(mu_);
    if (auto ok = ensureConnected(); !ok) return std::unexpected(ok.error());
    xcb_connection_t* c = conn_->get();
    const std::vector<Monitor> monitors = listMonitors(c, conn_->root(), screen_, has_randr15_);
    if (conn_->broken()) return fail(Errc::kUnavailable, "no X display: the connection to the X server was lost");

    // The moment of the shot: every monitor copied into its own pixmap in one burst of requests.
    std::vector<xcb_pixmap_t> pixmaps(monitors.size(), XCB_NONE);
    std::vector<xcb_void_cookie_t> created;
    for (size_t i = 0; i < monitors.size(); ++i) {
      pixmaps[i] = xcb_generate_id(c);
      created.push_back(xcb_create_pixmap_checked(c, screen_->root_depth, pixmaps[i], conn_->root(),
                                                  static_cast<uint16_t>(monitors[i].rect.width),
                                                  static_cast<uint16_t>(monitors[i].rect.height)));
    }
    for (size_t i = 0; i < monitors.size(); ++i) {
      if (xcb_generic_error_t* error = xcb_request_check(c, created[i])) {
        std::free(error);  // BadAlloc: no room on the server; this monitor is read from the root itself
        pixmaps[i] = XCB_NONE;
      }
    }
    std::vector<xcb_void_cookie_t> copies;
    for (size_t i = 0; i < monitors.size(); ++i) {
      if (pixmaps[i] == XCB_NONE) continue;
      const Rect& r = monitors[i].rect;
      copies.push_back(xcb_copy_area_checked(c, conn_->root(), pixmaps[i], gc_, static_cast<int16_t>(r.x),
                                             static_cast<int16_t>(r.y), 0, 0, static_cast<uint16_t>(r.width),
                                             static_cast<uint16_t>(r.height)));
    }
    // Owners first, so the pixmaps are freed on every path from here on.
    std::vector<std::shared_ptr<FrozenMonitor>> frozen;
    for (size_t i = 0; i < monitors.size(); ++i) {
      const Rect& r = monitors[i].rect;
      const bool own = pixmaps[i] != XCB_NONE;
      const Rect area = own ? Rect{0, 0, r.width, r.height} : r;
      frozen.push_back(
          std::make_shared<FrozenMonitor>(conn_, own ? pixmaps[i] : conn_->root(), own, area, bandRowsFor(r.width)));
    }
    std::string failure;
    for (xcb_void_cookie_t copy : copies) {
      if (xcb_generic_error_t* error = xcb_request_check(c, copy)) {
        if (failure.empty())
          failure = "CopyArea of the screen failed: " + errorText(error);
        else
          std::free(error);
      }
    }
    if (conn_->broken()) return fail(Errc::kUnavailable, "no X display: the connection to the X server was lost");
    if (!failure.empty()) return fail(Errc::kUnavailable, failure);

    // One band-sized shared-memory segment per monitor; refused (another IPC namespace, a sandbox): plain GetImage
    // from now on.
    if (shm_ != ShmMode::kNone) {
      for (size_t i = 0; i < monitors.size() && shm_ != ShmMode::kNone; ++i) {
        const size_t size =
            static_cast<size_t>(monitors[i].rect.width) * 4 * static_cast<size_t>(frozen[i]->bandRows());
        auto seg = shm_ == ShmMode::kFd ? attachMemfdSegment(conn_, size) : attachSysVSegment(conn_, size);
        if (seg) {
          frozen[i]->useSegment(*seg);
        } else {
          if (conn_->broken()) return std::unexpected(seg.error());
          shm_ = ShmMode::kNone;
          for (auto& f : frozen) f->useSegment(nullptr);
        }
      }
    }

    std::vector<MonitorImage> images;
    for (size_t i = 0; i < monitors.size(); ++i) {
      MonitorImage image;
      image.monitor_name = monitors[i].name;
      image.geometry = monitors[i].rect;
      image.stride = monitors[i].rect.width * 4;
      image.band_rows = frozen[i]->bandRows();
      image.rows = [f = frozen[i]](int32_t y, int32_t count) { return f->read(y, count); };
      image.owner = frozen[i];
      images.push_back(std::move(image));
    }
    return images;
  }

  /// Managed windows bottom-most first, then mapped override-redirect windows (menus, tooltips) on top.
  std::vector<WindowRect> listWindows() {
    xcb_connection_t* c = conn_->get();
    const xcb_window_t root = conn_->root();

    std::vector<xcb_window_t> clients;
    auto stacking_c = x11::requestProperty(c, root, atoms_.client_list_stacking, kMaxClientListBytes);
    auto tree_c = xcb_query_tree(c, root);
    auto stacking = x11::readProperty(c, stacking_c, kMaxClientListBytes);
    Reply<xcb_query_tree_reply_t> tree(xcb_query_tree_reply(c, tree_c, nullptr));
    std::vector<xcb_window_t> top_level;
    if (tree) {
      const xcb_window_t* kids = xcb_query_tree_children(tree.get());
      top_level.assign(kids, kids + xcb_query_tree_children_length(tree.get()));
    }
    const bool ewmh = stacking && stacking->format == 32 && stacking->type == XCB_ATOM_WINDOW;
    if (ewmh) {
      clients.resize(stacking->bytes.size() / 4);
      std::memcpy(clients.data(), stacking->bytes.data(), clients.size() * 4);
    }

    // Attributes of the root's children: which are mapped, which are override-redirect popups.
    std::vector<xcb_get_window_attributes_cookie_t> attr_c;
    for (xcb_window_t w : top_level) attr_c.push_back(xcb_get_window_attributes(c, w));
    std::vector<xcb_window_t> popups;
    std::vector<xcb_window_t> mapped_frames;
    for (size_t i = 0; i < top_level.size(); ++i) {
      Reply<xcb_get_window_attributes_reply_t> a(xcb_get_window_attributes_reply(c, attr_c[i], nullptr));
      if (!a || a->map_state != XCB_MAP_STATE_VIEWABLE || a->_class == XCB_WINDOW_CLASS_INPUT_ONLY) continue;
      if (a->override_redirect) {
        popups.push_back(top_level[i]);
      } else {
        mapped_frames.push_back(top_level[i]);
      }
    }
    if (!ewmh) clients = clientsFromTree(mapped_frames);

    std::vector<xcb_window_t> all = clients;
    all.insert(all.end(), popups.begin(), popups.end());
    return describe(all, clients.size());
  }

  /// Without EWMH: each mapped child of the root is a client (no window manager) or a frame whose client
  /// (the window carrying WM_STATE) is one of its children.
  std::vector<xcb_window_t> clientsFromTree(const std::vector<xcb_window_t>& frames) {
    xcb_connection_t* c = conn_->get();
    std::vector<xcb_window_t> out;
    for (xcb_window_t frame : frames) {
      auto self_c = x11::requestProperty(c, frame, atoms_.wm_state, 4);
      auto kids_c = xcb_query_tree(c, frame);
      const bool self_managed = x11::readProperty(c, self_c, 4).has_value();
      Reply<xcb_query_tree_reply_t> kids(xcb_query_tree_reply(c, kids_c, nullptr));
      if (self_managed || !kids) {
        out.push_back(frame);
        continue;
      }
      xcb_window_t client = frame;
      const xcb_window_t* k = xcb_query_tree_children(kids.get());
      const int n = xcb_query_tree_children_length(kids.get());
      std::vector<xcb_get_property_cookie_t> cs;
      for (int i = 0; i < n; ++i) cs.push_back(x11::requestProperty(c, k[i], atoms_.wm_state, 4));
      for (int i = 0; i < n; ++i) {
        if (x11::readProperty(c, cs[static_cast<size_t>(i)], 4) && client == frame) client = k[i];
      }
      out.push_back(client);
    }
    return out;
  }

  /// Geometry in root coordinates (plus the frame the window manager drew around managed windows), app names.
  std::vector<WindowRect> describe(const std::vector<xcb_window_t>& windows, size_t managed) {
    xcb_connection_t* c = conn_->get();
    struct Pending {
      xcb_get_window_attributes_cookie_t attrs;
      xcb_get_geometry_cookie_t geometry;
      xcb_translate_coordinates_cookie_t origin;
      xcb_get_property_cookie_t klass, pid, machine, frame;
    };
    std::vector<Pending> pending;
    pending.reserve(windows.size());
    for (xcb_window_t w : windows) {
      pending.push_back({xcb_get_window_attributes(c, w), xcb_get_geometry(c, w),
                         xcb_translate_coordinates(c, w, conn_->root(), 0, 0),
                         x11::requestProperty(c, w, XCB_ATOM_WM_CLASS, kMaxTextBytes),
                         x11::requestProperty(c, w, atoms_.wm_pid, 4),
                         x11::requestProperty(c, w, XCB_ATOM_WM_CLIENT_MACHINE, 256),
                         x11::requestProperty(c, w, atoms_.frame_extents, 16)});
    }
    std::vector<WindowRect> out;
    for (size_t i = 0; i < windows.size(); ++i) {
      const Pending& p = pending[i];
      // Every reply is read even when an earlier one says "skip", so none is left queued.
      xcb_generic_error_t* e1 = nullptr;
      xcb_generic_error_t* e2 = nullptr;
      xcb_generic_error_t* e3 = nullptr;
      Reply<xcb_get_window_attributes_reply_t> attrs(xcb_get_window_attributes_reply(c, p.attrs, &e1));
      Reply<xcb_get_geometry_reply_t> geo(xcb_get_geometry_reply(c, p.geometry, &e2));
      Reply<xcb_translate_coordinates_reply_t> origin(xcb_translate_coordinates_reply(c, p.origin, &e3));
      std::free(e1);  // BadWindow: the window closed under us
      std::free(e2);
      std::free(e3);
      auto klass = x11::readProperty(c, p.klass, kMaxTextBytes);
      auto pid = x11::readProperty(c, p.pid, 4);
      auto machine = x11::readProperty(c, p.machine, 256);
      auto frame = x11::readProperty(c, p.frame, 16);
      if (!attrs || !geo || !origin || attrs->map_state != XCB_MAP_STATE_VIEWABLE) continue;

      WindowRect rect;
      const int32_t border = geo->border_width;
      rect.geometry = {origin->dst_x - border, origin->dst_y - border, geo->width + 2 * border,
                       geo->height + 2 * border};
      if (i < managed && frame && frame->format == 32 && frame->bytes.size() >= 16) {
        uint32_t ext[4];  // left, right, top, bottom: the title bar shows the title, so it goes too
        std::memcpy(ext, frame->bytes.data(), sizeof ext);
        rect.geometry.x -= static_cast<int32_t>(ext[0]);
        rect.geometry.y -= static_cast<int32_t>(ext[2]);
        rect.geometry.width += static_cast<int32_t>(ext[0] + ext[1]);
        rect.geometry.height += static_cast<int32_t>(ext[2] + ext[3]);
      }
      auto [instance, app] = splitClass(klass);
      rect.app = std::move(app);
      rect.wm_class = std::move(instance);
      std::string client_host;
      if (machine && machine->format == 8) client_host = machine->bytes.substr(0, machine->bytes.find('\0'));
      const bool remote =
          !client_host.empty() && !hostname_.empty() && client_host != hostname_ && client_host != "localhost";
      if (auto id = x11::firstCard32(pid); id && *id > 0 && !remote) rect.exe_path = exePathOf(*id);
      if (rect.app.empty() && !rect.exe_path.empty()) rect.app = rect.exe_path.substr(rect.exe_path.rfind('/') + 1);
      out.push_back(std::move(rect));
    }
    return out;
  }

  struct Atoms {
    xcb_atom_t client_list_stacking = XCB_ATOM_NONE;
    xcb_atom_t frame_extents = XCB_ATOM_NONE;
    xcb_atom_t wm_pid = XCB_ATOM_NONE;
    xcb_atom_t wm_state = XCB_ATOM_NONE;
  };

  std::mutex mu_;  // one request sequence at a time on the shared connection
  ConnPtr conn_;
  const xcb_screen_t* screen_ = nullptr;  // points into conn_'s setup data
  bool has_randr15_ = false;
  ShmMode shm_ = ShmMode::kNone;
  xcb_gcontext_t gc_ = XCB_NONE;  // for copying the root into a pixmap
  Atoms atoms_;
  std::string hostname_;
};

}  // namespace

std::unique_ptr<ScreenCapturer> makeScreenCapturer() { return std::make_unique<X11ScreenCapturer>(); }

}  // namespace wm::platform
