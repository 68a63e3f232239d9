// USB events through the real workmonitor-agent binary: this test binary runs under umockdev-wrapper and the
// agent it starts inherits the preload and the testbed (UMOCKDEV_DIR), so the devices added here are the
// agent's "hardware". A USB stick (mass storage) is present at start; a keyboard is plugged in and out; the
// stick is pulled. The pushed `usb` events, `doctor` and the outbox the agent leaves behind must all agree.
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include <gtest/gtest.h>
#include <umockdev.h>

#include "workmonitor/agent/control_client.h"
#include "workmonitor/common/clock.h"
#include "workmonitor/sync/outbox.h"

namespace wm {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

bool waitUntil(const std::function<bool()>& f, std::chrono::milliseconds limit) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (f()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return f();
}

class UsbE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* preload = std::getenv("LD_PRELOAD");
    ASSERT_TRUE(preload != nullptr && std::strstr(preload, "libumockdev-preload") != nullptr)
        << "run this binary under umockdev-wrapper (CTest does)";
    testbed_ = umockdev_testbed_new();
    ASSERT_NE(testbed_, nullptr);
    hub_ = add("usb1", nullptr, {"idVendor", "1d6b", "idProduct", "0002", "bDeviceClass", "09"}, "usb_device");
    dir_ = fs::temp_directory_path() / ("wm-usb-e2e-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::ofstream(dir_ / "agent.json") << json{{"usb_events", true}, {"consent_preapproved", true}}.dump();
  }
  void TearDown() override {
    if (agent_ > 0) {
      ::kill(agent_, SIGKILL);
      ::waitpid(agent_, nullptr, 0);
    }
    if (testbed_) g_object_unref(testbed_);
    fs::remove_all(dir_);
  }
  std::string add(const char* name, const char* parent, std::initializer_list<const char*> attrs, const char* type) {
    std::vector<gchar*> a;
    for (const char* s : attrs) a.push_back(const_cast<gchar*>(s));
    a.push_back(nullptr);
    gchar* props[] = {const_cast<gchar*>("DEVTYPE"), const_cast<gchar*>(type), nullptr};
    gchar* path = umockdev_testbed_add_devicev(testbed_, "usb", name, parent, a.data(), props);
    std::string out = path ? path : "";
    g_free(path);
    return out;
  }
  void unplug(const std::string& path) {
    umockdev_testbed_uevent(testbed_, path.c_str(), "remove");
    umockdev_testbed_remove_device(testbed_, path.c_str());
  }
  void startAgent() {
    const std::string sock = (dir_ / "agent.sock").string();
    agent_ = ::fork();
    if (agent_ == 0) {
      ::unsetenv("DISPLAY");  // USB needs no display; the agent says so for the rest and runs on
      ::execl(WM_AGENT_BINARY, WM_AGENT_BINARY, "--state-dir", (dir_ / "state").c_str(), "--socket", sock.c_str(),
              "--config", (dir_ / "agent.json").c_str(), "run", "--local-only", "--quiet", nullptr);
      ::_exit(127);
    }
    ASSERT_GT(agent_, 0);
    ASSERT_TRUE(waitUntil([&] { return agent::ControlClient::connect(dir_ / "agent.sock").has_value(); }, 10s));
  }

  UMockdevTestbed* testbed_ = nullptr;
  std::string hub_;
  fs::path dir_;
  pid_t agent_ = -1;
};

TEST_F(UsbE2E, PlugAndUnplugBecomeCompleteRecordsAndEvents) {
  const std::string stick = add("1-1", hub_.c_str(),
                                {"idVendor", "0781", "idProduct", "5567", "serial", "E2E0001", "manufacturer",
                                 "SanDisk", "product", "Cruzer Blade", "bDeviceClass", "00", "bNumInterfaces", " 1"},
                                "usb_device");
  add("1-1:1.0", stick.c_str(), {"bInterfaceClass", "08", "bInterfaceSubClass", "06"}, "usb_interface");
  startAgent();
  auto events = agent::ControlClient::connect(dir_ / "agent.sock");
  ASSERT_TRUE(events);
  ASSERT_TRUE(events->call("subscribe"));

  const std::string kb = add("1-2", hub_.c_str(),
                             {"idVendor", "046d", "idProduct", "c31c", "manufacturer", "Logitech", "product",
                              "USB Keyboard", "bDeviceClass", "00", "bNumInterfaces", " 1"},
                             "usb_device");
  add("1-2:1.0", kb.c_str(), {"bInterfaceClass", "03", "bInterfaceSubClass", "01"}, "usb_interface");
  std::vector<json> pushed;
  auto collect = [&](size_t n) {
    return waitUntil(
        [&] {
          auto ev = events->nextEvent(100ms);
          if (ev && *ev && (**ev)["event"] == "usb") pushed.push_back((**ev)["data"]);
          return pushed.size() >= n;
        },
        10s);
  };
  ASSERT_TRUE(collect(1)) << "no usb event for the keyboard";
  unplug(kb);
  unplug(stick);
  ASSERT_TRUE(collect(3)) << "got " << pushed.size() << " usb events";
  for (const auto& e : pushed) EXPECT_FALSE(e.dump().find("E2E0001") != std::string::npos) << "no serial in events";

  auto doctor = agent::ControlClient::connect(dir_ / "agent.sock")->call("doctor");
  ASSERT_TRUE(doctor);
  bool usb_ok = false;
  for (const auto& c : (*doctor)["checks"])
    if (c.value("check", "") == "usb devices") usb_ok = c.value("ok", false);
  EXPECT_TRUE(usb_ok) << doctor->dump();

  ::kill(agent_, SIGTERM);
  int status = 0;
  ASSERT_TRUE(waitUntil([&] { return ::waitpid(agent_, &status, WNOHANG) == agent_; }, 10s));
  agent_ = -1;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);

  ManualClock clock;
  sync::OutboxOptions o;
  o.path = dir_ / "state" / "outbox.db";
  auto ob = sync::Outbox::open(o, clock);
  ASSERT_TRUE(ob) << ob.error().message;
  sync::RecordQuery q;
  q.kinds = {api::RecordKind::kUsbEvent};
  auto recs = (*ob)->query(q);
  ASSERT_TRUE(recs);
  std::map<std::string, std::vector<json>> by_product;  // product id -> data in order
  for (const auto& r : *recs) by_product[r.data.value("product_id", "")].push_back(r.data);
  ASSERT_EQ(by_product["5567"].size(), 2u);
  const json& present = by_product["5567"][0];
  EXPECT_EQ(present["action"], "connected");
  EXPECT_EQ(present["present_at_start"], true);
  EXPECT_EQ(present["is_storage"], true);
  EXPECT_EQ(present["serial"], "E2E0001");
  const json& pulled = by_product["5567"][1];
  EXPECT_EQ(pulled["action"], "disconnected");
  EXPECT_EQ(pulled["is_storage"], true) << "a remove is complete (attributes cached at connect)";
  EXPECT_EQ(pulled["vendor_id"], "0781");
  EXPECT_EQ(pulled["device_name"], "SanDisk Cruzer Blade");
  ASSERT_EQ(by_product["c31c"].size(), 2u);
  EXPECT_EQ(by_product["c31c"][0]["action"], "connected");
  EXPECT_EQ(by_product["c31c"][0]["is_storage"], false);
  EXPECT_FALSE(by_product["c31c"][0].contains("present_at_start") && by_product["c31c"][0]["present_at_start"]);
  EXPECT_EQ(by_product["c31c"][1]["action"], "disconnected");
  EXPECT_EQ(by_product.count("0002"), 0u) << "the root hub is not a device of the user's";
}

}  // namespace
}  // namespace wm
