// USB device presence: connected / disconnected events plus what was present at start.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "workmonitor/common/result.h"

namespace wm::platform {

struct UsbDevice {
  std::string device_key;  // stable per attachment (sysfs path, device instance id, registry entry id)
  std::string vendor_id;   // 4 hex digits
  std::string product_id;  // 4 hex digits
  std::string serial;
  std::string manufacturer;
  std::string product;
  int device_class = 0;
  bool mass_storage = false;  // device or any interface of class 08
};

struct UsbEvent {
  enum class Kind { kPresentAtStart, kConnected, kDisconnected };
  Kind kind = Kind::kConnected;
  UsbDevice device;  // complete on disconnect too (attributes cached at connect)
};

/// Watches USB attach/detach (libudev monitor, CM_Register_Notification, IOKit notifications).
class UsbWatcher {
 public:
  using Sink = std::function<void(const UsbEvent&)>;
  virtual ~UsbWatcher() = default;
  virtual Result<void> start(Sink sink) = 0;
  virtual void stop() = 0;
};

std::unique_ptr<UsbWatcher> makeUsbWatcher();

}  // namespace wm::platform
