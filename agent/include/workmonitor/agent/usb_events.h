// USB device events (issue 6) as records: one kUsbEvent point record per connect / disconnect, plus what was
// attached when the agent started. A device-security signal, so it is recorded whenever the agent runs and
// CollectorConfig.usb_events is on, whether or not a timer runs. Single-threaded (the daemon's io thread, where
// the watcher's events are posted), free of I/O of its own.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "workmonitor/agent/tracker.h"
#include "workmonitor/api/records.h"
#include "workmonitor/common/clock.h"
#include "workmonitor/common/result.h"
#include "workmonitor/common/uuid.h"
#include "workmonitor/platform/usb.h"

namespace wm::agent {

/// The record's data, in the server's vocabulary (server/http record_mapping: usb_event):
///   action            "connected" | "disconnected" (a device present at start is "connected" ...)
///   present_at_start  ... with this true: it was already attached when the watcher started
///   vendor_id, product_id, serial, manufacturer, product   as the device reports them (valid UTF-8, bounded)
///   device_name       manufacturer + product ("USB device vvvv:pppp" when the device names neither)
///   device_class      the USB device class (bDeviceClass), a number
///   is_storage        the device or one of its interfaces is USB mass storage (class 08)
///   corrected         true when this re-announces a device already connected (a late storage interface)
/// Strings are made valid UTF-8 and cut to the server's limits (ids 64 bytes, names and serial 256, name 512).
nlohmann::json usbEventData(const platform::UsbEvent& event, bool corrected = false);

/// "Manufacturer Product", without repeating a manufacturer the product name already starts with.
std::string usbDeviceName(const platform::UsbDevice& device);

class UsbEventRecorder {
 public:
  /// Pushed to control-socket clients: ("usb", {action, present_at_start, vendor_id, product_id, device_name,
  /// is_storage, record_id}).
  using EventFn = std::function<void(const std::string& event, const nlohmann::json& data)>;
  static constexpr const char* kEventName = "usb";

  UsbEventRecorder(const Clock& clock, UuidV7Generator& ids, RecordSink& sink, EventFn events);

  /// Records one watcher event (if enabled) as a kUsbEvent at the current wall time, and announces it.
  void onEvent(const platform::UsbEvent& event);
  /// Off: events are dropped (the daemon also stops the watcher) and what is attached is forgotten.
  void setEnabled(bool enabled);
  bool enabled() const { return enabled_; }
  /// {enabled, recorded, attached}.
  nlohmann::json status() const;

 private:
  const Clock& clock_;
  UuidV7Generator& ids_;
  RecordSink& sink_;
  EventFn events_;
  bool enabled_ = true;
  int64_t recorded_ = 0;
  std::set<std::string> attached_;  // device keys announced and not yet disconnected
};

/// The watcher and the recorder as the daemon runs them. The watcher runs while the collector is enabled; its
/// events arrive on the watcher's thread and are handed to `post`, which must run them on the thread that owns
/// the collector (the daemon's io thread). Events still queued from a stopped watcher are dropped.
class UsbCollector {
 public:
  using Post = std::function<void(std::function<void()>)>;

  UsbCollector(std::unique_ptr<platform::UsbWatcher> watcher, const Clock& clock, UuidV7Generator& ids,
               RecordSink& sink, UsbEventRecorder::EventFn events, Post post);
  ~UsbCollector();
  UsbCollector(const UsbCollector&) = delete;
  UsbCollector& operator=(const UsbCollector&) = delete;

  /// Starts or stops the watcher to match (CollectorConfig.usb_events). Starting again reports what is attached
  /// as present at start. The error says why the watcher cannot run; the collector then stays off.
  Result<void> setEnabled(bool enabled);
  /// Stops the watcher for good (shutdown).
  void stop();
  bool running() const { return running_; }
  /// For `doctor`: {ok, detail}.
  std::pair<bool, std::string> doctorCheck() const;
  /// {enabled, running, recorded, attached[, problem]}.
  nlohmann::json status() const;

 private:
  std::unique_ptr<platform::UsbWatcher> watcher_;
  UsbEventRecorder recorder_;
  Post post_;
  bool enabled_ = false;
  bool running_ = false;
  uint64_t generation_ = 0;  // bumped on each start and stop: queued events of an earlier run are stale
  std::string problem_;
};

}  // namespace wm::agent
