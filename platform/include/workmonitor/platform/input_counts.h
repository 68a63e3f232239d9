// Keyboard and mouse activity COUNTS. No key codes, characters or pointer positions cross this interface.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "workmonitor/common/result.h"

namespace wm::platform {

/// Counts accumulated since the previous delivery.
struct InputCounts {
  uint32_t keys = 0;
  uint32_t clicks = 0;
  uint32_t moves = 0;
  uint32_t scrolls = 0;
};

/// Counts input events (XInput2 raw events, Raw Input with RIDEV_INPUTSINK, listen-only CGEventTap).
class InputCounter {
 public:
  using Sink = std::function<void(const InputCounts&)>;
  virtual ~InputCounter() = default;
  /// Starts counting; the sink gets the counts accumulated since the last call, about once a second
  /// while there is input and never while there is none.
  virtual Result<void> start(Sink sink) = 0;
  virtual void stop() = 0;
};

std::unique_ptr<InputCounter> makeInputCounter();

}  // namespace wm::platform
