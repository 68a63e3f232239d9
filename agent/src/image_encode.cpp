#include "image_encode.h"

#include <csetjmp>
#include <cstdio>
#include <cstdlib>

// clang-format off
#include <jpeglib.h>  // needs <cstdio> first
// clang-format on
#include <webp/encode.h>

namespace wm::agent {
namespace {

// libjpeg reports errors through error_exit, which must not return: jump back to the encoder.
struct JpegError {
  jpeg_error_mgr mgr;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void onJpegError(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegError*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

// Plain C state only between setjmp and longjmp: nothing with a destructor lives in this frame.
bool jpegCompress(const PixelView& image, int quality, unsigned char** out, unsigned long* out_size, char* message) {
  jpeg_compress_struct cinfo;
  JpegError err;
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = onJpegError;
  err.message[0] = '\0';
  if (setjmp(err.jump)) {
    jpeg_destroy_compress(&cinfo);
    std::snprintf(message, JMSG_LENGTH_MAX, "%s", err.message);
    return false;
  }
  jpeg_create_compress(&cinfo);
  jpeg_mem_dest(&cinfo, out, out_size);
  cinfo.image_width = static_cast<JDIMENSION>(image.width);
  cinfo.image_height = static_cast<JDIMENSION>(image.height);
  cinfo.input_components = image.channels;
  cinfo.in_color_space = image.channels == 4 ? JCS_EXT_BGRX : JCS_EXT_BGR;  // libjpeg-turbo's extensions
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, quality, TRUE);
  cinfo.dct_method = JDCT_ISLOW;
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(image.pixels + cinfo.next_scanline * image.stride);
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  return true;
}

Result<void> check(const PixelView& image, int quality) {
  if (!image.pixels || image.width <= 0 || image.height <= 0) return fail(Errc::kInvalidInput, "no pixels to encode");
  if (image.channels != 3 && image.channels != 4) return fail(Errc::kInvalidInput, "3 or 4 channels expected");
  if (image.stride < static_cast<size_t>(image.width) * static_cast<size_t>(image.channels))
    return fail(Errc::kInvalidInput, "stride shorter than a row");
  if (quality < 1 || quality > 100) return fail(Errc::kInvalidInput, "quality must be 1..100");
  return {};
}

}  // namespace

Result<std::vector<uint8_t>> encodeJpeg(const PixelView& image, int quality) {
  if (auto ok = check(image, quality); !ok) return std::unexpected(ok.error());
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  char message[JMSG_LENGTH_MAX] = {};
  const bool ok = jpegCompress(image, quality, &buf, &size, message);
  std::vector<uint8_t> out;
  if (ok && buf) out.assign(buf, buf + size);
  std::free(buf);  // jpeg_mem_dest's buffer is malloc'ed (also after an error)
  if (!ok) return fail(Errc::kInternal, std::string("JPEG encoding failed: ") + message);
  return out;
}

Result<std::vector<uint8_t>> encodeWebp(const PixelView& image, int quality) {
  if (auto ok = check(image, quality); !ok) return std::unexpected(ok.error());
  if (image.channels != 3) return fail(Errc::kInvalidInput, "WebP takes 3 channels (B,G,R)");
  uint8_t* buf = nullptr;
  const size_t size = WebPEncodeBGR(image.pixels, image.width, image.height, static_cast<int>(image.stride),
                                    static_cast<float>(quality), &buf);
  std::vector<uint8_t> out;
  if (size > 0 && buf) out.assign(buf, buf + size);
  WebPFree(buf);
  if (out.empty()) return fail(Errc::kInternal, "WebP encoding failed");
  return out;
}

}  // namespace wm::agent
