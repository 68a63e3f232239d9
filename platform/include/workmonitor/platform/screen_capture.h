// Screen capture of every monitor. Asynchronous, and may be refused (a Wayland portal asks the user;
// macOS needs Screen Recording permission): a refusal is an error, never a black image.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "workmonitor/common/result.h"

namespace wm::platform {

struct Rect {
  int32_t x = 0, y = 0;
  int32_t width = 0, height = 0;
};

/// One monitor's pixels, 4 bytes per pixel in B, G, R, X order, rows `stride` bytes apart.
/// The buffer is owned by `owner` so a consumer can wrap it (e.g. in cv::Mat) without a copy.
struct MonitorImage {
  std::string monitor_name;
  Rect geometry;  // in virtual-desktop coordinates
  int32_t stride = 0;
  const uint8_t* pixels = nullptr;
  std::shared_ptr<const void> owner;
};

/// A window to black out before the image goes anywhere (excluded apps).
struct WindowRect {
  std::string app;       // human app name (WM_CLASS class on X11)
  Rect geometry;         // in virtual-desktop coordinates, including the window manager's frame when known
  std::string wm_class;  // X11 WM_CLASS instance (or the platform's equivalent id); may be empty
  std::string exe_path;  // full path of the executable; empty when unknown
};

class ScreenCapturer {
 public:
  using Done = std::function<void(Result<std::vector<MonitorImage>>)>;
  virtual ~ScreenCapturer() = default;
  /// Captures all monitors (pseudo-monitors duplicating others skipped) and calls done once.
  virtual void captureAll(Done done) = 0;
  /// Visible top-level windows with their app names, for on-device redaction, bottom-most first.
  virtual Result<std::vector<WindowRect>> visibleWindows() = 0;
};

std::unique_ptr<ScreenCapturer> makeScreenCapturer();

}  // namespace wm::platform
