// USB watcher events → kUsbEvent records: the server's action vocabulary, present-at-start, device names,
// storage flag, corrections, bounded valid UTF-8, the pushed `usb` event, and the on/off switch.
#include "workmonitor/agent/usb_events.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace wm::agent {
namespace {

using api::Record;
using api::RecordKind;
using nlohmann::json;
using platform::UsbDevice;
using platform::UsbEvent;
using namespace std::chrono_literals;

class Recorder : public RecordSink {
 public:
  void put(const Record& r) override { records.push_back(r); }
  void setState(const std::string&, const std::string&) override {}
  std::vector<Record> records;
};

UsbDevice stick() {
  UsbDevice d;
  d.device_key = "/sys/devices/pci0000:00/0000:00:14.0/usb1/1-1";
  d.vendor_id = "0781";
  d.product_id = "5567";
  d.serial = "4C530001230101117165";
  d.manufacturer = "SanDisk";
  d.product = "Cruzer Blade";
  d.device_class = 0;
  d.mass_storage = true;
  return d;
}

UsbDevice keyboard() {
  UsbDevice d;
  d.device_key = "/sys/devices/pci0000:00/0000:00:14.0/usb1/1-2";
  d.vendor_id = "046d";
  d.product_id = "c31c";
  d.manufacturer = "Logitech";
  d.product = "Logitech USB Keyboard";
  return d;
}

class UsbEventsTest : public ::testing::Test {
 protected:
  UsbEventsTest() {
    recorder.emplace(clock, ids, sink,
                     [this](const std::string& name, const json& data) { pushed.emplace_back(name, data); });
  }

  ManualClock clock;
  UuidV7Generator ids{clock};
  Recorder sink;
  std::vector<std::pair<std::string, json>> pushed;
  std::optional<UsbEventRecorder> recorder;
};

TEST_F(UsbEventsTest, ConnectedBecomesAPointRecordInTheServersVocabulary) {
  recorder->onEvent(UsbEvent{UsbEvent::Kind::kConnected, stick()});
  ASSERT_EQ(sink.records.size(), 1u);
  const Record& r = sink.records[0];
  EXPECT_TRUE(isUuidV7(r.id));
  EXPECT_EQ(r.kind, RecordKind::kUsbEvent);
  EXPECT_EQ(r.revision, 1);
  EXPECT_EQ(r.start_ms, toUnixMs(clock.wall()));
  ASSERT_TRUE(r.end_ms);
  EXPECT_EQ(*r.end_ms, r.start_ms);
  EXPECT_EQ(r.duration_ms, 0);
  EXPECT_EQ(r.data, (json{{"action", "connected"},
                          {"present_at_start", false},
                          {"vendor_id", "0781"},
                          {"product_id", "5567"},
                          {"serial", "4C530001230101117165"},
                          {"manufacturer", "SanDisk"},
                          {"product", "Cruzer Blade"},
                          {"device_name", "SanDisk Cruzer Blade"},
                          {"device_class", 0},
                          {"is_storage", true}}));
  // What the outbox stores and the server receives round-trips as a valid record.
  auto back = api::recordFromJson(api::toJson(r));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->data, r.data);
}

TEST_F(UsbEventsTest, PresentAtStartIsConnectedWithAFlagAndDisconnectIsComplete) {
  recorder->onEvent(UsbEvent{UsbEvent::Kind::kPresentAtStart, keyboard()});
  clock.advance(90s);
  recorder->onEvent(UsbEvent{UsbEvent::Kind::kDisconnected, keyboard()});
  ASSERT_EQ(sink.records.size(), 2u);
  const json& present = sink.records[0].data;
  EXPECT_EQ(present["action"], "connected");
  EXPECT_EQ(present["present_at_start"], true);
  EXPECT_EQ(present["is_storage"], false);
  const json& gone = sink.records[1].data;
  EXPECT_EQ(gone["action"], "disconnected");
  EXPECT_EQ(gone["present_at_start"], false);
  EXPECT_EQ(gone["vendor_id"], "046d");
  EXPECT_EQ(gone["product_id"], "c31c");
  // The product already names its maker: not "Logitech Logitech USB Keyboard".
  EXPECT_EQ(gone["device_name"], "Logitech USB Keyboard");
  EXPECT_EQ(sink.records[1].start_ms - sink.records[0].start_ms, 90'000);
  EXPECT_NE(sink.records[0].id, sink.records[1].id);
  for (const auto& r : sink.records) {
    const std::string action = r.data["action"];
    EXPECT_TRUE(action == "connected" || action == "disconnected") << action;
  }
}

TEST_F(UsbEventsTest, SecondAnnouncementOfAnAttachedDeviceIsMarkedCorrected) {
  UsbDevice d = stick();
  d.mass_storage = false;
  recorder->onEvent(UsbEvent{UsbEvent::Kind::kConnected, d});
  d.mass_storage = true;
  recorder->onEvent(UsbEvent{UsbEvent::Kind::kConnected, d});
  recorder->onEvent(UsbEvent{UsbEvent::Kind::kDisconnected, d});
  recorder->onEvent(UsbEvent{UsbEvent::Kind::kConnected, d});  // plugged in again: a new attachment
  ASSERT_EQ(sink.records.size(), 4u);
  EXPECT_FALSE(sink.records[0].data.contains("corrected"));
  EXPECT_EQ(sink.records[1].data["corrected"], true);
  EXPECT_EQ(sink.records[1].data["is_storage"], true);
  EXPECT_FALSE(sink.records[2].data.contains("corrected"));
  EXPECT_FALSE(sink.records[3].data.contains("corrected"));
  EXPECT_EQ(recorder->status()["attached"], 1);
  EXPECT_EQ(recorder->status()["recorded"], 4);
}

TEST_F(UsbEventsTest, EachEventIsPushedAsUsb) {
  recorder->onEvent(UsbEvent{UsbEvent::Kind::kConnected, stick()});
  ASSERT_EQ(pushed.size(), 1u);
  EXPECT_EQ(pushed[0].first, "usb");
  const json& p = pushed[0].second;
  EXPECT_EQ(p["action"], "connected");
  EXPECT_EQ(p["device_name"], "SanDisk Cruzer Blade");
  EXPECT_EQ(p["is_storage"], true);
  EXPECT_EQ(p["vendor_id"], "0781");
  EXPECT_EQ(p["record_id"], sink.records[0].id);
  EXPECT_FALSE(p.contains("serial")) << "the pushed notice carries no serial number";
}

TEST_F(UsbEventsTest, OffMeansNothingIsRecordedOrPushed) {
  recorder->setEnabled(false);
  recorder->onEvent(UsbEvent{UsbEvent::Kind::kConnected, stick()});
  EXPECT_TRUE(sink.records.empty());
  EXPECT_TRUE(pushed.empty());
  EXPECT_EQ(recorder->status()["enabled"], false);
  recorder->setEnabled(true);
  recorder->onEvent(UsbEvent{UsbEvent::Kind::kPresentAtStart, stick()});
  ASSERT_EQ(sink.records.size(), 1u);
  EXPECT_FALSE(sink.records[0].data.contains("corrected"));
}

TEST(UsbDeviceName, FallsBackToWhatTheDeviceHas) {
  UsbDevice d;
  d.vendor_id = "1234";
  d.product_id = "abcd";
  EXPECT_EQ(usbDeviceName(d), "USB device 1234:abcd");
  d.manufacturer = "Acme";
  EXPECT_EQ(usbDeviceName(d), "Acme");
  d.manufacturer.clear();
  d.product = "Widget";
  EXPECT_EQ(usbDeviceName(d), "Widget");
  d.manufacturer = " Acme ";
  EXPECT_EQ(usbDeviceName(d), "Acme Widget");
}

TEST(UsbEventData, DeviceStringsBecomeBoundedValidUtf8) {
  UsbDevice d = stick();
  d.serial = std::string("AB\xff\xfe", 4) + "\x01" + "CD";  // invalid bytes and a control character
  d.product = "Stick \xC3\xA9t\xC3\xA9";                    // valid UTF-8 stays as it is
  d.manufacturer = std::string(300, 'x') + "\xE2\x82\xAC";  // longer than the server's 256 bytes
  d.vendor_id = std::string("\xED\xA0\x80", 3) + "0781";    // an encoded surrogate is not UTF-8
  const json data = usbEventData(UsbEvent{UsbEvent::Kind::kConnected, d});
  const std::string bad = "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER
  EXPECT_EQ(data["serial"].get<std::string>(), "AB" + bad + bad + "CD");
  EXPECT_EQ(data["product"], "Stick \xC3\xA9t\xC3\xA9");
  EXPECT_EQ(data["manufacturer"].get<std::string>().size(), 256u);
  EXPECT_EQ(data["vendor_id"].get<std::string>(), bad + bad + bad + "0781");
  EXPECT_LE(data["device_name"].get<std::string>().size(), 512u);
  EXPECT_NO_THROW((void)data.dump()) << "nlohmann throws on invalid UTF-8";

  // A multi-byte character is never cut in half at the limit.
  d.manufacturer = std::string(255, 'x') + "\xE2\x82\xAC";
  const json cut = usbEventData(UsbEvent{UsbEvent::Kind::kConnected, d});
  EXPECT_EQ(cut["manufacturer"], std::string(255, 'x'));
}

// A watcher the test drives: start/stop are counted, events are fired by hand (as from the watcher thread).
class FakeWatcher final : public platform::UsbWatcher {
 public:
  struct Shared {
    int starts = 0;
    int stops = 0;
    bool refuse = false;
    Sink sink;
  };
  explicit FakeWatcher(Shared& s) : s_(s) {}
  Result<void> start(Sink sink) override {
    if (s_.refuse) return fail(Errc::kUnavailable, "USB monitoring: no udev here");
    ++s_.starts;
    s_.sink = std::move(sink);
    return {};
  }
  void stop() override {
    ++s_.stops;
    s_.sink = nullptr;
  }

 private:
  Shared& s_;
};

class UsbCollectorTest : public ::testing::Test {
 protected:
  UsbCollector make() {
    return UsbCollector(
        std::make_unique<FakeWatcher>(watcher), clock, ids, sink,
        [this](const std::string& name, const json& data) { pushed.emplace_back(name, data); },
        [this](std::function<void()> fn) { queue.push_back(std::move(fn)); });
  }
  void runQueue() {
    auto q = std::move(queue);
    queue.clear();
    for (auto& fn : q) fn();
  }

  ManualClock clock;
  UuidV7Generator ids{clock};
  Recorder sink;
  FakeWatcher::Shared watcher;
  std::vector<std::function<void()>> queue;  // the io thread's queue
  std::vector<std::pair<std::string, json>> pushed;
};

TEST_F(UsbCollectorTest, EventsArePostedToTheOwningThreadAndRecordedThere) {
  UsbCollector usb = make();
  ASSERT_TRUE(usb.setEnabled(true));
  EXPECT_TRUE(usb.running());
  ASSERT_TRUE(watcher.sink);
  watcher.sink(UsbEvent{UsbEvent::Kind::kPresentAtStart, keyboard()});
  watcher.sink(UsbEvent{UsbEvent::Kind::kConnected, stick()});
  EXPECT_TRUE(sink.records.empty()) << "recorded on the watcher's thread instead of the posted one";
  runQueue();
  ASSERT_EQ(sink.records.size(), 2u);
  EXPECT_EQ(sink.records[0].data["present_at_start"], true);
  EXPECT_EQ(sink.records[1].data["is_storage"], true);
  EXPECT_EQ(pushed.size(), 2u);
  auto [ok, detail] = usb.doctorCheck();
  EXPECT_TRUE(ok);
  EXPECT_NE(detail.find("2 attached"), std::string::npos) << detail;
}

TEST_F(UsbCollectorTest, TurningOffStopsTheWatcherAndDropsEventsStillQueued) {
  UsbCollector usb = make();
  ASSERT_TRUE(usb.setEnabled(true));
  watcher.sink(UsbEvent{UsbEvent::Kind::kConnected, stick()});
  ASSERT_TRUE(usb.setEnabled(false));
  EXPECT_EQ(watcher.stops, 1);
  EXPECT_FALSE(usb.running());
  runQueue();
  EXPECT_TRUE(sink.records.empty()) << "an event queued before the switch-off was recorded";
  EXPECT_TRUE(usb.doctorCheck().first);

  // On again: a fresh start (the watcher reports what is attached as present at start).
  ASSERT_TRUE(usb.setEnabled(true));
  ASSERT_TRUE(usb.setEnabled(true));  // already on: no second start
  EXPECT_EQ(watcher.starts, 2);
  watcher.sink(UsbEvent{UsbEvent::Kind::kPresentAtStart, stick()});
  runQueue();
  ASSERT_EQ(sink.records.size(), 1u);

  usb.stop();
  EXPECT_EQ(watcher.stops, 2);
  EXPECT_EQ(usb.status()["running"], false);
}

TEST_F(UsbCollectorTest, AWatcherThatCannotStartIsReportedByDoctor) {
  watcher.refuse = true;
  UsbCollector usb = make();
  auto ok = usb.setEnabled(true);
  ASSERT_FALSE(ok);
  EXPECT_EQ(ok.error().code, Errc::kUnavailable);
  EXPECT_FALSE(usb.running());
  auto [fine, detail] = usb.doctorCheck();
  EXPECT_FALSE(fine);
  EXPECT_EQ(detail, "USB monitoring: no udev here");
  EXPECT_EQ(usb.status()["problem"], "USB monitoring: no udev here");
}

}  // namespace
}  // namespace wm::agent
