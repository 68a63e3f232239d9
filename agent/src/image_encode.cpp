#include "image_encode.h"

#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <string>

// clang-format off
#include <jpeglib.h>  // needs <cstdio> first
#include <jerror.h>
// clang-format on
#include <webp/encode.h>

namespace wm::agent {
namespace {

// libjpeg reports errors through error_exit, which must not return: jump back to the step that called it.
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

/// The compressor and its output buffer: plain C state, so a longjmp out of libjpeg skips no destructor.
struct JpegCore {
  jpeg_compress_struct cinfo;
  JpegError err;
  jpeg_destination_mgr dest;
  unsigned char* buf = nullptr;  // malloc'ed; grown by realloc (mremap once it is big: no copy)
  size_t cap = 0, size = 0;
  bool created = false;
};

constexpr size_t kFirstOutputBytes = 64 * 1024;

void initDestination(j_compress_ptr cinfo) {
  auto* core = static_cast<JpegCore*>(cinfo->client_data);
  core->buf = static_cast<unsigned char*>(std::malloc(kFirstOutputBytes));
  if (core->buf == nullptr) ERREXIT1(cinfo, JERR_OUT_OF_MEMORY, 1);
  core->cap = kFirstOutputBytes;
  cinfo->dest->next_output_byte = core->buf;
  cinfo->dest->free_in_buffer = core->cap;
}

// Called when the buffer is full: twice the room, the bytes so far kept.
boolean growDestination(j_compress_ptr cinfo) {
  auto* core = static_cast<JpegCore*>(cinfo->client_data);
  const size_t cap = core->cap * 2;
  auto* grown = static_cast<unsigned char*>(std::realloc(core->buf, cap));
  if (grown == nullptr) ERREXIT1(cinfo, JERR_OUT_OF_MEMORY, 2);
  core->buf = grown;
  cinfo->dest->next_output_byte = grown + core->cap;
  cinfo->dest->free_in_buffer = cap - core->cap;
  core->cap = cap;
  return TRUE;
}

void termDestination(j_compress_ptr cinfo) {
  auto* core = static_cast<JpegCore*>(cinfo->client_data);
  core->size = core->cap - cinfo->dest->free_in_buffer;
}

struct StartArgs {
  int width, height, channels, quality;
};

void stepStart(JpegCore* core, const void* arg) {
  const auto* a = static_cast<const StartArgs*>(arg);
  jpeg_compress_struct& cinfo = core->cinfo;
  jpeg_create_compress(&cinfo);
  core->created = true;
  cinfo.client_data = core;
  core->dest.init_destination = initDestination;
  core->dest.empty_output_buffer = growDestination;
  core->dest.term_destination = termDestination;
  cinfo.dest = &core->dest;
  cinfo.image_width = static_cast<JDIMENSION>(a->width);
  cinfo.image_height = static_cast<JDIMENSION>(a->height);
  cinfo.input_components = a->channels;
  cinfo.in_color_space = a->channels == 4 ? JCS_EXT_BGRX : JCS_EXT_BGR;  // libjpeg-turbo's extensions
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, a->quality, TRUE);
  cinfo.dct_method = JDCT_ISLOW;
  jpeg_start_compress(&cinfo, TRUE);
}

void stepRow(JpegCore* core, const void* arg) {
  JSAMPROW row = const_cast<JSAMPROW>(static_cast<const JSAMPLE*>(arg));
  jpeg_write_scanlines(&core->cinfo, &row, 1);
}

void stepFinish(JpegCore* core, const void*) { jpeg_finish_compress(&core->cinfo); }

/// Runs one libjpeg step. On an error libjpeg jumps back here: the message is kept in core->err and false returned.
/// Nothing with a destructor lives in this frame.
bool guarded(JpegCore* core, void (*step)(JpegCore*, const void*), const void* arg) {
  if (setjmp(core->err.jump)) return false;
  step(core, arg);
  return true;
}

Result<void> checkShape(int width, int height, int channels, int quality) {
  if (width <= 0 || height <= 0) return fail(Errc::kInvalidInput, "no pixels to encode");
  if (channels != 3 && channels != 4) return fail(Errc::kInvalidInput, "3 or 4 channels expected");
  if (quality < 1 || quality > 100) return fail(Errc::kInvalidInput, "quality must be 1..100");
  return {};
}

Result<void> check(const PixelView& image, int quality) {
  if (!image.pixels) return fail(Errc::kInvalidInput, "no pixels to encode");
  if (auto ok = checkShape(image.width, image.height, image.channels, quality); !ok) return ok;
  if (image.stride < static_cast<size_t>(image.width) * static_cast<size_t>(image.channels))
    return fail(Errc::kInvalidInput, "stride shorter than a row");
  return {};
}

}  // namespace

struct JpegWriter::State {
  JpegCore core;
  int height = 0;
  bool started = false, failed = false;

  void release() {
    if (core.created) jpeg_destroy_compress(&core.cinfo);
    core.created = false;
    std::free(core.buf);
    core.buf = nullptr;
  }
  /// A step; after a failure the compressor is gone and every later step is skipped.
  void run(void (*step)(JpegCore*, const void*), const void* arg) {
    if (failed) return;
    if (!guarded(&core, step, arg)) {
      failed = true;
      release();
    }
  }
};

JpegWriter::JpegWriter() : s_(std::make_unique<State>()) {
  s_->core.cinfo.err = jpeg_std_error(&s_->core.err.mgr);
  s_->core.err.mgr.error_exit = onJpegError;
  s_->core.err.message[0] = '\0';
}

JpegWriter::~JpegWriter() { s_->release(); }

Result<void> JpegWriter::start(int width, int height, int channels, int quality) {
  if (s_->started) return fail(Errc::kInvalidInput, "this JPEG was already started");
  if (auto ok = checkShape(width, height, channels, quality); !ok) return ok;
  s_->started = true;
  s_->height = height;
  const StartArgs args{width, height, channels, quality};
  s_->run(stepStart, &args);
  if (s_->failed) return fail(Errc::kInternal, std::string("JPEG encoding failed: ") + s_->core.err.message);
  return {};
}

void JpegWriter::writeRow(const uint8_t* row) {
  if (!s_->started || s_->failed) return;
  if (s_->core.cinfo.next_scanline >= static_cast<JDIMENSION>(s_->height)) return;  // more rows than the height
  s_->run(stepRow, row);
}

Result<std::vector<uint8_t>> JpegWriter::finish() {
  if (!s_->started) return fail(Errc::kInvalidInput, "JPEG encoding failed: no image was started");
  if (!s_->failed && s_->core.cinfo.next_scanline < static_cast<JDIMENSION>(s_->height)) {
    s_->release();
    s_->failed = true;
    return fail(Errc::kInvalidInput, "JPEG encoding failed: " + std::to_string(s_->core.cinfo.next_scanline) + " of " +
                                         std::to_string(s_->height) + " rows written");
  }
  s_->run(stepFinish, nullptr);
  if (s_->failed) return fail(Errc::kInternal, std::string("JPEG encoding failed: ") + s_->core.err.message);
  std::vector<uint8_t> out(s_->core.buf, s_->core.buf + s_->core.size);
  s_->release();
  s_->failed = true;  // finished: nothing more goes in
  return out;
}

Result<std::vector<uint8_t>> encodeJpeg(const PixelView& image, int quality) {
  if (auto ok = check(image, quality); !ok) return std::unexpected(ok.error());
  JpegWriter writer;
  if (auto ok = writer.start(image.width, image.height, image.channels, quality); !ok) {
    return std::unexpected(ok.error());
  }
  for (int y = 0; y < image.height; ++y) writer.writeRow(image.pixels + static_cast<size_t>(y) * image.stride);
  return writer.finish();
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
