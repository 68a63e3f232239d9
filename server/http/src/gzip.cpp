#include "workmonitor/server/http/gzip.h"

#include <zlib.h>

#include <array>

namespace wm::server::http {

Result<std::string> gunzip(std::string_view in, size_t limit) {
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) return fail(Errc::kInternal, "inflateInit2 failed");
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  std::string out;
  std::array<char, 64 * 1024> buf{};
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    zs.next_out = reinterpret_cast<Bytef*>(buf.data());
    zs.avail_out = static_cast<uInt>(buf.size());
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      inflateEnd(&zs);
      return fail(Errc::kInvalidInput, "the gzip body is corrupt");
    }
    const size_t produced = buf.size() - zs.avail_out;
    if (out.size() + produced > limit) {
      inflateEnd(&zs);
      return fail(Errc::kBusy, "the decompressed body exceeds " + std::to_string(limit) + " bytes");
    }
    out.append(buf.data(), produced);
    if (rc == Z_OK && produced == 0 && zs.avail_in == 0) {
      inflateEnd(&zs);
      return fail(Errc::kInvalidInput, "the gzip body is truncated");
    }
  }
  const bool trailing = zs.avail_in != 0;
  inflateEnd(&zs);
  if (trailing) return fail(Errc::kInvalidInput, "data after the end of the gzip stream");
  return out;
}

Result<std::string> gzip(std::string_view in) {
  z_stream zs{};
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    return fail(Errc::kInternal, "deflateInit2 failed");
  }
  std::string out(deflateBound(&zs, in.size()), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) return fail(Errc::kInternal, "deflate failed");
  return out;
}

}  // namespace wm::server::http
