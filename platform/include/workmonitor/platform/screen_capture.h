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

/// Reads rows [y, y + count) of a monitor (0 <= y, count <= MonitorImage::band_rows, y + count <= height) into
/// memory the image owns; the rows are MonitorImage::stride bytes apart. The pointer is valid until the next call
/// or until the image goes. Calls must not overlap (one consumer reads an image, top to bottom or in any order).
using RowReader = std::function<Result<const uint8_t*>(int32_t y, int32_t count)>;

/// One monitor's pixels, 4 bytes per pixel in B, G, R, X order, rows `stride` bytes apart. Either the whole
/// picture is in memory (`pixels`, owned by `owner`, so a consumer can wrap it without a copy), or it is read band
/// by band through `rows` (`pixels` is null) so that a full-size copy never has to exist in this process: the
/// X11 capturer freezes the screen on the server at capture time and hands out bands of at most `band_rows` rows.
struct MonitorImage {
  std::string monitor_name;
  Rect geometry;  // in virtual-desktop coordinates
  int32_t stride = 0;
  const uint8_t* pixels = nullptr;
  std::shared_ptr<const void> owner;
  RowReader rows;         // set when pixels is null
  int32_t band_rows = 0;  // the most rows one `rows` call returns (> 0 when rows is set)
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
  /// Captures all monitors (pseudo-monitors duplicating others skipped) and calls done once. All monitors show
  /// the same moment, also when their pixels are read later through MonitorImage::rows.
  virtual void captureAll(Done done) = 0;
  /// Visible top-level windows with their app names, for on-device redaction, bottom-most first.
  virtual Result<std::vector<WindowRect>> visibleWindows() = 0;
};

std::unique_ptr<ScreenCapturer> makeScreenCapturer();

}  // namespace wm::platform
