// Foreground window: change events for the active application and its window title.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "workmonitor/common/result.h"

namespace wm::platform {

/// What is in front of the user. Empty strings when unknown (no window focused, desktop).
struct WindowInfo {
  std::string app;       // human app name (WM_CLASS class on X11, bundle/product name elsewhere)
  std::string exe_path;  // full path of the executable
  int64_t pid = 0;       // 0 when unknown
  std::string title;     // window title
  std::string wm_class;  // X11 WM_CLASS instance, or the platform's equivalent id (AppUserModelID, bundle id)

  bool operator==(const WindowInfo&) const = default;
};

/// Reports the foreground window when it or its title changes (event driven, no 1 s polling).
class ForegroundWatcher {
 public:
  using Sink = std::function<void(const WindowInfo&)>;
  virtual ~ForegroundWatcher() = default;
  /// Starts watching; sink is called on an internal thread, first with the current window, then
  /// only when the WindowInfo differs from the last one reported. If the display goes away, events stop.
  virtual Result<void> start(Sink sink) = 0;
  /// Returns promptly (joins the thread); harmless when not started; start() may follow again.
  /// Do not call it from inside the sink (it would join its own thread).
  virtual void stop() = 0;
  /// The window in front right now, queried afresh. Works without start(), from any thread.
  virtual Result<WindowInfo> current() = 0;
};

std::unique_ptr<ForegroundWatcher> makeForegroundWatcher();

}  // namespace wm::platform
