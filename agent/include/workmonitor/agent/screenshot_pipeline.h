// The on-device screenshot pipeline: one captured monitor in, one redacted, downscaled, optionally blurred and
// encoded image out. Privacy happens here, before anything is queued: windows of excluded apps are blacked
// out and blur makes text unreadable. The picture streams through row by row (see processMonitor); OpenCV does
// the Gaussian blur and the hash's DCT on small pictures. No OpenCV type appears in this header.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "workmonitor/common/result.h"
#include "workmonitor/platform/screen_capture.h"

namespace wm::agent {

struct ShotOptions {
  int max_width = 1920;  // wider images are downscaled to this width (aspect kept); must be > 0
  bool blur = false;
  std::string format = "jpeg";  // "jpeg" (also "jpg") or "webp"
  int quality = 75;             // 1..100
  std::vector<std::string> excluded_apps;
  int thumbnail_width = 0;  // > 0: also a small JPEG at most this wide (for the employee's own view); 0: none
};

struct Shot {
  std::string monitor;
  platform::Rect geometry;    // the monitor's name and place on the virtual desktop
  int width = 0, height = 0;  // of the encoded image
  std::vector<uint8_t> encoded;
  std::string format;      // "jpeg" or "webp"
  std::string sha256_hex;  // of `encoded`
  uint64_t phash = 0;      // perceptual hash of the (redacted) image
  bool blurred = false;
  int redacted_windows = 0;
  std::vector<uint8_t> thumbnail;  // JPEG of the final (redacted, blurred) image, when thumbnail_width > 0
};

/// Redacts (blacks out every window of an excluded app, clipped to this monitor), downscales to max_width
/// (aspect kept, an exact area average), optionally blurs, encodes, hashes.
///
/// The picture is streamed: the monitor's rows are read band by band (MonitorImage::rows, or slices of
/// MonitorImage::pixels) and pass through every step one row at a time, so no full-size copy of the screen is
/// made — the JPEG is written row by row, the hash and thumbnail are summed as rows pass. WebP, whose encoder takes
/// a whole picture, keeps one at the output size. The input pixels are never written to.
///
/// A window counts as excluded when its app name, WM_CLASS instance or executable basename matches an entry
/// of excluded_apps (appExcluded). Its whole rectangle is blacked out even where another window covers part
/// of it: over-redacting is the safe side. When the image is downscaled, redaction is applied to the scaled
/// rows, widened to every output pixel whose source area touches the window, so no edge of it bleeds in.
/// Redaction happens before blur, hash, thumbnail and encoding see a row.
/// Blur: a Gaussian of sigma = width / 96, computed on a picture about sigma / 2.5 times smaller and scaled back up.
/// The perceptual hash is a 64-bit DCT hash of the final (redacted, scaled, blurred) image's 32×32 grid of means.
/// Errors: kInvalidInput for an empty image, a bad stride or bad options; kInternal if encoding fails; the
/// reader's error (e.g. kUnavailable: the X server went away) if a band cannot be read.
Result<Shot> processMonitor(const platform::MonitorImage& image, const std::vector<platform::WindowRect>& windows,
                            const ShotOptions& options);

/// Bits that differ between two perceptual hashes; <= kSameScreenDistance means "the same screen".
int phashDistance(uint64_t a, uint64_t b);
inline constexpr int kSameScreenDistance = 4;

/// True when `app` equals one of `excluded`, ignoring ASCII case and surrounding blanks. Empty never matches.
bool appExcluded(const std::string& app, const std::vector<std::string>& excluded);  // case-insensitive

namespace detail {
/// The pipeline's streamed area resampler on a whole picture (for tests): B,G,R or B,G,R,X rows in, a packed
/// out_w × out_h B,G,R picture out (out_w <= width, out_h <= height).
std::vector<uint8_t> areaDownscale(const uint8_t* pixels, int width, int height, size_t stride, int channels, int out_w,
                                   int out_h);
}  // namespace detail

}  // namespace wm::agent
