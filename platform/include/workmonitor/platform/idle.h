// Idle time: "the user became idle (last input N ms ago)" / "the user is active again" events.
// Fits polled sources (X11 screensaver, GetLastInputInfo, CGEventSourceSecondsSinceLastEventType) and
// notified ones (ext-idle-notify-v1, org.gnome.Mutter.IdleMonitor) alike.
#pragma once

#include <functional>
#include <memory>

#include "workmonitor/common/clock.h"
#include "workmonitor/common/result.h"

namespace wm::platform {

/// One idle transition. since_last_input is measured when the event is made, so the receiver
/// computes the moment of the last input with its own clock (now - since_last_input).
struct IdleEvent {
  bool idle = false;
  Millis since_last_input{0};
};

/// Watches for the user crossing an idle threshold and coming back.
class IdleWatcher {
 public:
  using Sink = std::function<void(const IdleEvent&)>;
  virtual ~IdleWatcher() = default;
  /// Starts watching; events arrive on an internal thread. Fails with kUnavailable when the
  /// facility is missing (no display), saying why. Only transitions are reported; a user already past
  /// the threshold at start gets an idle event at once. If the display goes away later, events stop.
  virtual Result<void> start(Millis threshold, Sink sink) = 0;
  /// Returns promptly (joins the thread); harmless when not started; start() may follow again.
  /// Do not call it from inside the sink (it would join its own thread).
  virtual void stop() = 0;
  /// Time since the last user input right now. Works without start(), from any thread.
  virtual Result<Millis> idleTime() = 0;
};

std::unique_ptr<IdleWatcher> makeIdleWatcher();

}  // namespace wm::platform
