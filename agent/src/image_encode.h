// JPEG (libjpeg-turbo) and WebP (libwebp) encoding of 8-bit BGR/BGRX pixels. Used instead of OpenCV's
// imgcodecs, whose Debian build pulls ~120 libraries (GDAL, HDF5, ...) into the agent: ~25 MB of RSS for two
// encoders (measured by bench/footprint). JPEG can also be written row by row (JpegWriter), so a screenshot
// never has to exist as one whole picture in memory; libwebp needs the whole picture.
#pragma once

#include <cstdint>
#include <memory>
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

/// A JPEG written one row at a time, top to bottom: libjpeg-turbo keeps only a few rows of its own, and the
/// compressed bytes grow in one buffer. Usage: start(), height × writeRow(), finish().
class JpegWriter {
 public:
  JpegWriter();
  ~JpegWriter();
  JpegWriter(const JpegWriter&) = delete;
  JpegWriter& operator=(const JpegWriter&) = delete;

  /// An image of width × height pixels of `channels` (3: B,G,R; 4: B,G,R,X) at quality 1..100.
  Result<void> start(int width, int height, int channels, int quality);
  /// The next row, width × channels bytes. After an error the rows are ignored and finish() reports it.
  void writeRow(const uint8_t* row);
  /// After the last row: the JPEG file's bytes, or the first error (also rows missing, or start() not called).
  Result<std::vector<uint8_t>> finish();

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace wm::agent
