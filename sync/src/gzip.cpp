#include "workmonitor/sync/gzip.h"

#include <zlib.h>

#include <climits>

namespace wm::sync {
namespace {
constexpr int kGzipWindowBits = 15 + 16;  // +16: a gzip wrapper rather than raw zlib
}

Result<std::string> gzipCompress(std::string_view data, int level) {
  if (data.size() > UINT_MAX) return fail(Errc::kInvalidInput, "body too large to compress");
  z_stream zs{};
  if (deflateInit2(&zs, level, Z_DEFLATED, kGzipWindowBits, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return fail(Errc::kInternal, "zlib deflateInit2 failed");
  std::string out;
  out.resize(deflateBound(&zs, static_cast<uLong>(data.size())) + 32);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);
  const size_t produced = zs.total_out;
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) return fail(Errc::kInternal, "zlib deflate did not finish");
  out.resize(produced);
  return out;
}

Result<std::string> gzipDecompress(std::string_view data, size_t max_out) {
  if (data.size() > UINT_MAX) return fail(Errc::kInvalidInput, "compressed body too large");
  z_stream zs{};
  if (inflateInit2(&zs, kGzipWindowBits) != Z_OK) return fail(Errc::kInternal, "zlib inflateInit2 failed");
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  std::string out;
  char chunk[16384];
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    zs.next_out = reinterpret_cast<Bytef*>(chunk);
    zs.avail_out = sizeof chunk;
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      inflateEnd(&zs);
      return fail(Errc::kInvalidInput, "not valid gzip data");
    }
    out.append(chunk, sizeof chunk - zs.avail_out);
    if (out.size() > max_out) {
      inflateEnd(&zs);
      return fail(Errc::kInvalidInput, "gzip data expands beyond " + std::to_string(max_out) + " bytes");
    }
    if (rc == Z_OK && zs.avail_in == 0 && zs.avail_out != 0) {
      inflateEnd(&zs);
      return fail(Errc::kInvalidInput, "truncated gzip data");
    }
  }
  inflateEnd(&zs);
  return out;
}

}  // namespace wm::sync
