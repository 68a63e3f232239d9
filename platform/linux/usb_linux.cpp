// UsbWatcher on Linux: a libudev monitor on subsystem `usb` (devtypes usb_device and usb_interface) plus an
// enumeration at start. One watcher thread blocks in poll() on the monitor fd and an eventfd that stop() signals.
//
// Mass storage and late interfaces. The kernel announces a USB device before its interfaces: the device's `add`
// comes first, one `add` per interface follows once a configuration is chosen. Whether a device is mass storage
// is known only from its interfaces (bInterfaceClass 08), rarely from the device class itself. So a new device
// is announced (kConnected) as soon as that is certain:
//   - at once if bDeviceClass is 08, or if all bNumInterfaces interfaces are already in sysfs;
//   - otherwise when the last expected interface's `add` arrives;
//   - at the latest kSettle after the device's `add`, with what is known by then.
// Should an interface of class 08 still appear after the announcement (a configuration change, a device
// slower than kSettle), the device is announced again with the same device_key, the same kind and
// mass_storage = true: the flag is only ever corrected towards "storage", never silently lost.
// A device removed before it was announced is announced and then reported disconnected, so a brief
// attachment is never missed.
//
// Disconnects. udev's `remove` carries almost no attributes, so everything read at connect time is cached by
// syspath and reported again on removal. Root hubs (kernel name usbN) are the host's own controllers, not
// devices, and are not reported.
#include <libudev.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "workmonitor/platform/usb.h"

namespace wm::platform {
namespace {

using Steady = std::chrono::steady_clock;

// How long a new device's interfaces may take to appear before it is announced with what is known.
constexpr std::chrono::milliseconds kSettle{1500};
constexpr int kMassStorageClass = 0x08;

struct UdevDeleter {
  void operator()(udev* u) const { udev_unref(u); }
  void operator()(udev_monitor* m) const { udev_monitor_unref(m); }
  void operator()(udev_device* d) const { udev_device_unref(d); }
  void operator()(udev_enumerate* e) const { udev_enumerate_unref(e); }
};
using UdevPtr = std::unique_ptr<udev, UdevDeleter>;
using MonitorPtr = std::unique_ptr<udev_monitor, UdevDeleter>;
using DevicePtr = std::unique_ptr<udev_device, UdevDeleter>;
using EnumeratePtr = std::unique_ptr<udev_enumerate, UdevDeleter>;

std::string trimmed(const char* s) {
  if (s == nullptr) return {};
  std::string v(s);
  const auto first = v.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return {};
  const auto last = v.find_last_not_of(" \t\r\n");
  return v.substr(first, last - first + 1);
}

std::string sysattr(udev_device* d, const char* name) { return trimmed(udev_device_get_sysattr_value(d, name)); }

std::optional<int> parseInt(const std::string& s, int base) {
  if (s.empty()) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(s.c_str(), &end, base);
  if (errno != 0 || end == s.c_str() || *end != '\0' || v < 0 || v > 0xffff) return std::nullopt;
  return static_cast<int>(v);
}

bool isDevtype(udev_device* d, const char* devtype) {
  const char* t = udev_device_get_devtype(d);
  return t != nullptr && std::strcmp(t, devtype) == 0;
}

// Root hubs are named usb1, usb2, ... by the kernel; real devices are bus-port paths such as 1-2 or 1-2.3.
bool isRootHub(udev_device* d) {
  const char* name = udev_device_get_sysname(d);
  return name != nullptr && std::strncmp(name, "usb", 3) == 0;
}

// "4 hex digits", as sysfs prints them; udev's PRODUCT property (vid/pid/bcd) drops leading zeros.
std::string hex4(const std::string& s) {
  auto v = parseInt(s, 16);
  if (!v) return s;
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04x", *v);
  return buf;
}

class Eventfd {
 public:
  Eventfd() : fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}
  ~Eventfd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Eventfd(const Eventfd&) = delete;
  Eventfd& operator=(const Eventfd&) = delete;
  bool valid() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  void signal() {
    const uint64_t one = 1;
    (void)!::write(fd_, &one, sizeof one);
  }
  void clear() {
    uint64_t v = 0;
    while (::read(fd_, &v, sizeof v) > 0) {
    }
  }

 private:
  int fd_;
};

// What the thread knows about one attached device.
struct Known {
  UsbDevice device;
  UsbEvent::Kind announce_as = UsbEvent::Kind::kConnected;
  bool announced = false;
  Steady::time_point deadline{};  // while not announced: announce at the latest then
  std::set<std::string> interfaces;
  int expected_interfaces = 0;  // bNumInterfaces; 0 when no configuration is active yet
};

class UdevUsbWatcher final : public UsbWatcher {
 public:
  ~UdevUsbWatcher() override { stop(); }

  Result<void> start(Sink sink) override {
    if (!sink) return fail(Errc::kInvalidInput, "USB watcher needs an event sink");
    std::lock_guard lock(mu_);
    if (running_) return fail(Errc::kInvalidInput, "USB watcher is already started");
    if (thread_.joinable()) joinAndReset();  // a previous run ended on its own (the monitor socket failed)
    if (!wakeup_.valid()) return fail(Errc::kIo, "cannot create an eventfd for the USB watcher");
    UdevPtr u(udev_new());
    if (!u) return fail(Errc::kUnavailable, "USB monitoring: libudev could not be initialised");
    MonitorPtr mon(udev_monitor_new_from_netlink(u.get(), "udev"));
    if (!mon) {
      return fail(Errc::kUnavailable,
                  "USB monitoring: cannot listen for udev events (no netlink access in this environment?)");
    }
    if (udev_monitor_filter_add_match_subsystem_devtype(mon.get(), "usb", "usb_device") < 0 ||
        udev_monitor_filter_add_match_subsystem_devtype(mon.get(), "usb", "usb_interface") < 0 ||
        udev_monitor_enable_receiving(mon.get()) < 0) {
      return fail(Errc::kUnavailable, "USB monitoring: cannot subscribe to udev's usb events");
    }
    wakeup_.clear();
    udev_ = std::move(u);
    monitor_ = std::move(mon);
    sink_ = std::move(sink);
    // What is attached when start() returns is "present at start"; anything later is "connected". The monitor
    // already listens, so a device plugged in during the enumeration is seen by both: its queued `add` is then
    // dropped as a duplicate (by syspath).
    enumerate();
    running_ = true;
    thread_ = std::thread([this] {
      run();
      running_ = false;
    });
    return {};
  }

  void stop() override {
    std::lock_guard lock(mu_);
    if (!thread_.joinable()) return;
    wakeup_.signal();
    joinAndReset();
  }

 private:
  void joinAndReset() {
    thread_.join();
    wakeup_.clear();
    known_.clear();
    monitor_.reset();
    udev_.reset();
    sink_ = nullptr;
  }

  void run() {
    announceOverdue();  // the devices enumerated by start(), due at once
    const int mon_fd = udev_monitor_get_fd(monitor_.get());
    for (;;) {
      int timeout_ms = -1;
      const auto now = Steady::now();
      for (const auto& [path, k] : known_) {
        if (k.announced) continue;
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(k.deadline - now).count();
        const int ms = static_cast<int>(std::max<int64_t>(0, left));
        timeout_ms = timeout_ms < 0 ? ms : std::min(timeout_ms, ms);
      }
      pollfd fds[2] = {{mon_fd, POLLIN, 0}, {wakeup_.fd(), POLLIN, 0}};
      const int n = ::poll(fds, 2, timeout_ms);
      if (n < 0) {
        if (errno == EINTR) continue;
        return;  // nothing sensible left to wait on; stop() still joins at once
      }
      if (fds[1].revents != 0) return;
      if ((fds[0].revents & (POLLERR | POLLHUP | POLLNVAL)) != 0 && (fds[0].revents & POLLIN) == 0) return;
      if ((fds[0].revents & POLLIN) != 0) {
        // Drain what is queued: the fd is non-blocking, so receive returns null once it is empty.
        while (DevicePtr d{udev_monitor_receive_device(monitor_.get())}) handle(d.get());
      }
      announceOverdue();
    }
  }

  void enumerate() {
    EnumeratePtr e(udev_enumerate_new(udev_.get()));
    if (!e) return;
    udev_enumerate_add_match_subsystem(e.get(), "usb");
    if (udev_enumerate_scan_devices(e.get()) < 0) return;
    udev_list_entry* entry = nullptr;
    udev_list_entry_foreach(entry, udev_enumerate_get_list_entry(e.get())) {
      DevicePtr d(udev_device_new_from_syspath(udev_.get(), udev_list_entry_get_name(entry)));
      if (!d || !isDevtype(d.get(), "usb_device") || isRootHub(d.get())) continue;
      // Whatever is in sysfs at start is what the device has: no settling, announced as soon as the thread runs.
      learn(d.get(), UsbEvent::Kind::kPresentAtStart).deadline = Steady::now();
    }
  }

  void handle(udev_device* d) {
    const char* action_c = udev_device_get_action(d);
    const char* syspath_c = udev_device_get_syspath(d);
    if (action_c == nullptr || syspath_c == nullptr) return;
    const std::string action(action_c);
    const std::string syspath(syspath_c);
    if (isDevtype(d, "usb_device")) {
      if (isRootHub(d)) return;
      if (action == "add") {
        if (known_.contains(syspath)) return;  // also seen by the enumeration at start
        Known& k = learn(d, UsbEvent::Kind::kConnected);
        if (settled(k)) announce(k);
      } else if (action == "remove") {
        disconnected(d, syspath);
      }
    } else if (isDevtype(d, "usb_interface")) {
      if (action != "add") return;  // an interface goes away with its device
      udev_device* parent = udev_device_get_parent_with_subsystem_devtype(d, "usb", "usb_device");
      if (parent == nullptr || isRootHub(parent)) return;
      const char* parent_path = udev_device_get_syspath(parent);
      if (parent_path == nullptr) return;
      auto it = known_.find(parent_path);
      if (it == known_.end()) {
        // The device's own event was missed (e.g. it raced the enumeration): learn it from its parent now.
        Known& k = learn(parent, UsbEvent::Kind::kConnected);
        if (settled(k)) announce(k);
        return;
      }
      Known& k = it->second;
      const bool was_storage = k.device.mass_storage;
      addInterface(k, d);
      if (!k.announced) {
        if (settled(k)) announce(k);
      } else if (!was_storage && k.device.mass_storage) {
        sink_(UsbEvent{k.announce_as, k.device});  // late storage interface: announce the correction
      }
    }
  }

  // Reads a device's attributes and the interfaces already in sysfs, and remembers it by syspath.
  Known& learn(udev_device* d, UsbEvent::Kind kind) {
    const std::string syspath = udev_device_get_syspath(d);
    Known k;
    k.announce_as = kind;
    k.device.device_key = syspath;
    k.device.vendor_id = sysattr(d, "idVendor");
    k.device.product_id = sysattr(d, "idProduct");
    k.device.serial = sysattr(d, "serial");
    k.device.manufacturer = sysattr(d, "manufacturer");
    k.device.product = sysattr(d, "product");
    k.device.device_class = parseInt(sysattr(d, "bDeviceClass"), 16).value_or(0);
    k.device.mass_storage = k.device.device_class == kMassStorageClass;
    k.expected_interfaces = parseInt(sysattr(d, "bNumInterfaces"), 10).value_or(0);
    k.deadline = Steady::now() + kSettle;
    EnumeratePtr e(udev_enumerate_new(udev_.get()));
    if (e && udev_enumerate_add_match_parent(e.get(), d) >= 0 && udev_enumerate_scan_devices(e.get()) >= 0) {
      udev_list_entry* entry = nullptr;
      udev_list_entry_foreach(entry, udev_enumerate_get_list_entry(e.get())) {
        DevicePtr child(udev_device_new_from_syspath(udev_.get(), udev_list_entry_get_name(entry)));
        if (!child) continue;
        // Only the device's own interfaces: a hub's children include the devices behind it.
        udev_device* owner = udev_device_get_parent(child.get());
        const char* owner_path = owner != nullptr ? udev_device_get_syspath(owner) : nullptr;
        if (owner_path != nullptr && syspath == owner_path) addInterface(k, child.get());
      }
    }
    return known_.insert_or_assign(syspath, std::move(k)).first->second;
  }

  static void addInterface(Known& k, udev_device* intf) {
    if (!isDevtype(intf, "usb_interface")) return;
    const char* path = udev_device_get_syspath(intf);
    if (path != nullptr) k.interfaces.insert(path);
    if (parseInt(sysattr(intf, "bInterfaceClass"), 16) == kMassStorageClass) k.device.mass_storage = true;
  }

  static bool settled(const Known& k) {
    return k.device.mass_storage ||
           (k.expected_interfaces > 0 && static_cast<int>(k.interfaces.size()) >= k.expected_interfaces);
  }

  void announce(Known& k) {
    k.announced = true;
    sink_(UsbEvent{k.announce_as, k.device});
  }

  void announceOverdue() {
    const auto now = Steady::now();
    for (auto& [path, k] : known_) {
      if (!k.announced && k.deadline <= now) announce(k);
    }
  }

  void disconnected(udev_device* d, const std::string& syspath) {
    auto it = known_.find(syspath);
    if (it != known_.end()) {
      if (!it->second.announced) announce(it->second);
      UsbEvent ev{UsbEvent::Kind::kDisconnected, std::move(it->second.device)};
      known_.erase(it);
      sink_(ev);
      return;
    }
    // Never seen attached (the watcher started while udev was still processing it): report what the remove
    // event carries, which is at least vendor and product.
    UsbEvent ev{UsbEvent::Kind::kDisconnected, {}};
    ev.device.device_key = syspath;
    const std::string product = trimmed(udev_device_get_property_value(d, "PRODUCT"));  // vid/pid/bcd
    const auto slash = product.find('/');
    if (slash != std::string::npos) {
      ev.device.vendor_id = hex4(product.substr(0, slash));
      const auto slash2 = product.find('/', slash + 1);
      ev.device.product_id =
          hex4(product.substr(slash + 1, slash2 == std::string::npos ? std::string::npos : slash2 - slash - 1));
    }
    const std::string type = trimmed(udev_device_get_property_value(d, "TYPE"));  // class/subclass/protocol
    if (!type.empty()) ev.device.device_class = parseInt(type.substr(0, type.find('/')), 10).value_or(0);
    ev.device.mass_storage = ev.device.device_class == kMassStorageClass;
    sink_(ev);
  }

  std::mutex mu_;  // serialises start/stop
  std::thread thread_;
  std::atomic<bool> running_{false};
  Eventfd wakeup_;
  // Owned by the thread while it runs; set up by start() (which also fills known_ from the enumeration before
  // the thread exists) and torn down by stop() after the join.
  UdevPtr udev_;
  MonitorPtr monitor_;
  Sink sink_;
  std::map<std::string, Known> known_;
};

}  // namespace

std::unique_ptr<UsbWatcher> makeUsbWatcher() { return std::make_unique<UdevUsbWatcher>(); }

}  // namespace wm::platform
