// JPEG (libjpeg-turbo) and WebP (libwebp) encoding of 8-bit BGR/BGRX pixels. Used instead of OpenCV's
// imgcodecs, whose Debian build pulls ~120 libraries (GDAL, HDF5, ...) into the agent: ~25 MB of RSS for two
// encoders (measured by bench/footprint).
#pragma once

#include <cstdint>
#include <vector>

#include "workmonitor/common/result.h"

namespace wm::agent {

struct PixelView {
  const uint8_t* pixels = nullptr;
  int width = 0, height = 0;
  size_t stride = 0;  // bytes per row
  int channels = 3;   // 3: B,G,R; 4: B,G,R,X (X ignored)
};

Result<std::vector<uint8_t>> encodeJpeg(const PixelView& image, int quality);
/// 3 channels only (a fourth would become alpha, and X is undefined).
Result<std::vector<uint8_t>> encodeWebp(const PixelView& image, int quality);

}  // namespace wm::agent
