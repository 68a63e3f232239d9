// UsbWatcher on Linux against a umockdev testbed: mock sysfs devices and synthesized uevents reach libudev's
// monitor through libumockdev-preload (the binary runs under umockdev-wrapper, see CMakeLists.txt).
#include <gtest/gtest.h>
#include <umockdev.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>

#include "event_log.h"
#include "workmonitor/platform/usb.h"

namespace wm::platform {
namespace {

using namespace std::chrono_literals;
using Kind = UsbEvent::Kind;
using Steady = std::chrono::steady_clock;
using test::EventLog;

// Longer than the watcher's settle time (1.5 s) with room for a loaded machine.
constexpr auto kWait = 5s;

struct GFreeString {
  void operator()(gchar* s) const { g_free(s); }
};
using GString_ = std::unique_ptr<gchar, GFreeString>;

class UsbLinuxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* preload = std::getenv("LD_PRELOAD");
    ASSERT_TRUE(preload != nullptr && std::strstr(preload, "libumockdev-preload") != nullptr)
        << "run this binary under umockdev-wrapper (CTest does): libumockdev-preload must be loaded";
    testbed_ = umockdev_testbed_new();
    ASSERT_NE(testbed_, nullptr);
    ASSERT_TRUE(umockdev_in_mock_environment());  // UMOCKDEV_DIR now points /sys and udev into the testbed
    // The host controller's root hub: a usb_device the watcher must not report.
    root_hub_ = addDevice("usb1", nullptr,
                          {"idVendor", "1d6b", "idProduct", "0002", "bDeviceClass", "09", "bNumInterfaces", " 1",
                           "manufacturer", "Linux Foundation", "product", "xHCI Host Controller"},
                          "usb_device");
  }

  void TearDown() override {
    if (watcher_) watcher_->stop();
    if (testbed_ != nullptr) g_object_unref(testbed_);
  }

  // Adds a device (which synthesizes its "add" uevent) and returns its sysfs path.
  std::string addDevice(const char* name, const char* parent, std::initializer_list<const char*> attrs,
                        const char* devtype) {
    std::vector<gchar*> a;
    for (const char* s : attrs) a.push_back(const_cast<gchar*>(s));
    a.push_back(nullptr);
    std::string type = std::string("DEVTYPE");
    gchar* props[] = {type.data(), const_cast<gchar*>(devtype), nullptr};
    GString_ path(umockdev_testbed_add_devicev(testbed_, "usb", name, parent, a.data(), props));
    return path ? std::string(path.get()) : std::string();
  }

  std::string addStick(const char* parent_port = "1-1") {
    return addDevice(parent_port, root_hub_.c_str(),
                     {"idVendor", "0781", "idProduct", "5567", "serial", "4C530001230101117165", "manufacturer",
                      "SanDisk", "product", "Cruzer Blade", "bDeviceClass", "00", "bNumInterfaces", " 1"},
                     "usb_device");
  }
  std::string addKeyboard() {
    return addDevice("1-2", root_hub_.c_str(),
                     {"idVendor", "046d", "idProduct", "c31c", "manufacturer", "Logitech", "product", "USB Keyboard",
                      "bDeviceClass", "00", "bNumInterfaces", " 2"},
                     "usb_device");
  }
  std::string addInterface(const std::string& device, const char* name, const char* cls) {
    return addDevice(name, device.c_str(), {"bInterfaceClass", cls, "bInterfaceSubClass", "06"}, "usb_interface");
  }

  // Unplugging: the kernel's "remove" uevent, then the sysfs directory goes away. The attributes are blanked
  // first, so a watcher that read sysfs at remove time (rather than its cache from the connect) would fail.
  void unplug(const std::string& path) {
    for (const char* attr : {"idVendor", "idProduct", "serial", "manufacturer", "product", "bDeviceClass"})
      umockdev_testbed_set_attribute(testbed_, path.c_str(), attr, "");
    umockdev_testbed_uevent(testbed_, path.c_str(), "remove");
    umockdev_testbed_remove_device(testbed_, path.c_str());
  }

  void startWatcher() {
    auto ok = watcher_->start([this](const UsbEvent& e) { log_.push(e); });
    ASSERT_TRUE(ok) << ok.error().message;
  }

  std::optional<UsbEvent> waitFor(Kind kind, const std::string& key, size_t from = 0, size_t* index = nullptr,
                                  std::chrono::milliseconds timeout = kWait) {
    return log_.waitFor([&](const UsbEvent& e) { return e.kind == kind && e.device.device_key == key; }, timeout, from,
                        index);
  }

  size_t count(Kind kind, const std::string& key) {
    size_t n = 0;
    for (const auto& e : log_.snapshot()) n += (e.kind == kind && e.device.device_key == key) ? 1 : 0;
    return n;
  }

  UMockdevTestbed* testbed_ = nullptr;
  std::string root_hub_;
  std::unique_ptr<UsbWatcher> watcher_ = makeUsbWatcher();
  EventLog<UsbEvent> log_;
};

void expectStick(const UsbDevice& d) {
  EXPECT_EQ(d.vendor_id, "0781");
  EXPECT_EQ(d.product_id, "5567");
  EXPECT_EQ(d.serial, "4C530001230101117165");
  EXPECT_EQ(d.manufacturer, "SanDisk");
  EXPECT_EQ(d.product, "Cruzer Blade");
  EXPECT_EQ(d.device_class, 0);
  EXPECT_TRUE(d.mass_storage);
}

TEST_F(UsbLinuxTest, StorageInterfaceAfterTheDeviceMakesItMassStorageAndRemoveIsComplete) {
  startWatcher();
  const std::string stick = addStick();
  ASSERT_FALSE(stick.empty());
  // The interface arrives after the device, as with real hardware; the watcher waits for it.
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(count(Kind::kConnected, stick), 0u) << "announced before its interface could be seen";
  addInterface(stick, "1-1:1.0", "08");

  size_t at = 0;
  auto connected = waitFor(Kind::kConnected, stick, 0, &at);
  ASSERT_TRUE(connected) << "no connected event for the stick";
  expectStick(connected->device);

  unplug(stick);
  auto gone = waitFor(Kind::kDisconnected, stick, at + 1);
  ASSERT_TRUE(gone) << "no disconnected event for the stick";
  // sysfs is gone by now: everything comes from what was read at connect time.
  expectStick(gone->device);
  EXPECT_EQ(count(Kind::kConnected, stick), 1u);
  EXPECT_EQ(count(Kind::kPresentAtStart, stick), 0u);
}

TEST_F(UsbLinuxTest, KeyboardIsNotStorageAndIsAnnouncedOnceAllInterfacesAreThere) {
  startWatcher();
  const auto t0 = Steady::now();
  const std::string kbd = addKeyboard();
  addInterface(kbd, "1-2:1.0", "03");
  addInterface(kbd, "1-2:1.1", "03");
  auto connected = waitFor(Kind::kConnected, kbd);
  ASSERT_TRUE(connected);
  // Both declared interfaces were seen, so there was no need to wait out the settle time.
  EXPECT_LT(Steady::now() - t0, 1400ms);
  EXPECT_EQ(connected->device.vendor_id, "046d");
  EXPECT_EQ(connected->device.product_id, "c31c");
  EXPECT_EQ(connected->device.serial, "");
  EXPECT_EQ(connected->device.manufacturer, "Logitech");
  EXPECT_EQ(connected->device.product, "USB Keyboard");
  EXPECT_FALSE(connected->device.mass_storage);

  unplug(kbd);
  auto gone = waitFor(Kind::kDisconnected, kbd);
  ASSERT_TRUE(gone);
  EXPECT_EQ(gone->device.vendor_id, "046d");
  EXPECT_EQ(gone->device.product_id, "c31c");
  EXPECT_EQ(gone->device.product, "USB Keyboard");
  EXPECT_FALSE(gone->device.mass_storage);
  EXPECT_EQ(count(Kind::kConnected, kbd), 1u);
  // The root hub is the host's own, never reported.
  for (const auto& e : log_.snapshot()) EXPECT_NE(e.device.device_key, root_hub_);
}

TEST_F(UsbLinuxTest, DevicesPresentBeforeStartAreReportedAsPresentAtStart) {
  const std::string stick = addStick();
  addInterface(stick, "1-1:1.0", "08");
  const std::string kbd = addKeyboard();
  addInterface(kbd, "1-2:1.0", "03");
  addInterface(kbd, "1-2:1.1", "03");
  startWatcher();

  auto s = waitFor(Kind::kPresentAtStart, stick);
  ASSERT_TRUE(s);
  expectStick(s->device);
  auto k = waitFor(Kind::kPresentAtStart, kbd);
  ASSERT_TRUE(k);
  EXPECT_EQ(k->device.vendor_id, "046d");
  EXPECT_FALSE(k->device.mass_storage);
  std::this_thread::sleep_for(300ms);
  for (const auto& e : log_.snapshot()) {
    EXPECT_EQ(e.kind, Kind::kPresentAtStart);
    EXPECT_NE(e.device.device_key, root_hub_);
  }
  EXPECT_EQ(log_.size(), 2u);

  unplug(stick);
  auto gone = waitFor(Kind::kDisconnected, stick);
  ASSERT_TRUE(gone);
  expectStick(gone->device);
}

TEST_F(UsbLinuxTest, DeviceWhoseInterfacesNeverComeIsAnnouncedAfterSettling) {
  startWatcher();
  const auto t0 = Steady::now();
  const std::string stick = addStick();
  auto connected = waitFor(Kind::kConnected, stick);
  ASSERT_TRUE(connected);
  const auto waited = Steady::now() - t0;
  EXPECT_GE(waited, 1400ms);
  EXPECT_LT(waited, 4s);
  EXPECT_FALSE(connected->device.mass_storage);

  // A storage interface that turns up even later corrects the flag with a second announcement.
  size_t at = 0;
  ASSERT_TRUE(waitFor(Kind::kConnected, stick, 0, &at));
  addInterface(stick, "1-1:1.0", "08");
  auto update = waitFor(Kind::kConnected, stick, at + 1);
  ASSERT_TRUE(update) << "no corrected announcement after a late storage interface";
  EXPECT_TRUE(update->device.mass_storage);
  EXPECT_EQ(update->device.vendor_id, "0781");

  unplug(stick);
  auto gone = waitFor(Kind::kDisconnected, stick);
  ASSERT_TRUE(gone);
  EXPECT_TRUE(gone->device.mass_storage);
}

TEST_F(UsbLinuxTest, DeviceRemovedBeforeItSettledIsStillReportedConnectedThenDisconnected) {
  startWatcher();
  const std::string stick = addStick();
  std::this_thread::sleep_for(100ms);
  unplug(stick);
  size_t at = 0;
  auto connected = waitFor(Kind::kConnected, stick, 0, &at);
  ASSERT_TRUE(connected);
  auto gone = waitFor(Kind::kDisconnected, stick, at + 1);
  ASSERT_TRUE(gone);
  EXPECT_EQ(gone->device.vendor_id, "0781");
  EXPECT_EQ(gone->device.serial, "4C530001230101117165");
}

TEST_F(UsbLinuxTest, StopReturnsPromptlyAndTheWatcherCanStartAgain) {
  startWatcher();
  std::this_thread::sleep_for(100ms);
  const auto t0 = Steady::now();
  watcher_->stop();
  EXPECT_LT(Steady::now() - t0, 500ms);
  watcher_->stop();  // a second stop is harmless

  const std::string stick = addStick();
  addInterface(stick, "1-1:1.0", "08");
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(log_.size(), 0u) << "events after stop()";

  startWatcher();
  auto present = waitFor(Kind::kPresentAtStart, stick);
  ASSERT_TRUE(present);
  EXPECT_TRUE(present->device.mass_storage);
  EXPECT_FALSE(watcher_->start([](const UsbEvent&) {})) << "a second start while running must be refused";
}

TEST_F(UsbLinuxTest, StartWithoutSinkIsRefused) {
  auto ok = watcher_->start(nullptr);
  ASSERT_FALSE(ok);
  EXPECT_EQ(ok.error().code, Errc::kInvalidInput);
}

}  // namespace
}  // namespace wm::platform
