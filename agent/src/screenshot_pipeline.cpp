// Screenshot pipeline: redact → downscale → blur → encode → hash. See screenshot_pipeline.h.
#include "workmonitor/agent/screenshot_pipeline.h"

#include "image_encode.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cctype>
#include <cmath>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <string_view>

namespace wm::agent {
namespace {

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

bool windowExcluded(const platform::WindowRect& w, const std::vector<std::string>& excluded) {
  if (appExcluded(w.app, excluded) || appExcluded(w.wm_class, excluded)) return true;
  if (w.exe_path.empty()) return false;
  const size_t slash = w.exe_path.find_last_of('/');
  return appExcluded(slash == std::string::npos ? w.exe_path : w.exe_path.substr(slash + 1), excluded);
}

/// The part of `r` (virtual-desktop coordinates) on `monitor`, in the monitor's own pixel coordinates.
cv::Rect onMonitor(const platform::Rect& r, const platform::Rect& monitor) {
  const cv::Rect window(r.x - monitor.x, r.y - monitor.y, r.width, r.height);
  return window & cv::Rect(0, 0, monitor.width, monitor.height);
}

/// `r` in an image scaled by (sx, sy), widened to every output pixel whose source area touches `r`, plus
/// one pixel of margin against rounding in the resampler.
cv::Rect scaledOutward(const cv::Rect& r, double sx, double sy, const cv::Size& bounds) {
  const int x0 = static_cast<int>(std::floor(r.x * sx)) - 1;
  const int y0 = static_cast<int>(std::floor(r.y * sy)) - 1;
  const int x1 = static_cast<int>(std::ceil((r.x + r.width) * sx)) + 1;
  const int y1 = static_cast<int>(std::ceil((r.y + r.height) * sy)) + 1;
  return cv::Rect(x0, y0, x1 - x0, y1 - y0) & cv::Rect(cv::Point(0, 0), bounds);
}

/// A Gaussian blur with sigma = width / 96 (20 px on a 1920-wide image: far wider than a glyph, so text is
/// gone), computed at reduced resolution since a blur that wide has nothing finer to keep.
cv::Mat strongBlur(const cv::Mat& in) {
  const double sigma = std::max(2.0, in.cols / 96.0);
  const int factor = std::max(1, static_cast<int>(sigma / 2.5));
  cv::Mat small;
  cv::resize(in, small, cv::Size(std::max(1, in.cols / factor), std::max(1, in.rows / factor)), 0, 0, cv::INTER_AREA);
  cv::GaussianBlur(small, small, cv::Size(0, 0), sigma / factor, sigma / factor, cv::BORDER_REPLICATE);
  cv::Mat out;
  cv::resize(small, out, in.size(), 0, 0, cv::INTER_LINEAR);
  return out;
}

/// Mean brightness of each cell of a 32×32 grid over the image: an exact area average, summed by hand
/// because OpenCV's INTER_AREA for such large non-integer factors costs several milliseconds.
cv::Mat gridMeans(const cv::Mat& img) {
  cv::Mat gray;
  cv::cvtColor(img, gray, img.channels() == 4 ? cv::COLOR_BGRA2GRAY : cv::COLOR_BGR2GRAY);
  constexpr int kGrid = 32;
  const int w = gray.cols, h = gray.rows;
  std::array<int, kGrid + 1> x_edge{}, y_edge{};
  for (int i = 0; i <= kGrid; ++i) {
    x_edge[static_cast<size_t>(i)] = static_cast<int>(int64_t{i} * w / kGrid);
    y_edge[static_cast<size_t>(i)] = static_cast<int>(int64_t{i} * h / kGrid);
  }
  cv::Mat means(kGrid, kGrid, CV_32F, cv::Scalar(0));
  for (int by = 0; by < kGrid; ++by) {
    std::array<uint64_t, kGrid> sums{};
    for (int y = y_edge[static_cast<size_t>(by)]; y < y_edge[static_cast<size_t>(by) + 1]; ++y) {
      const uint8_t* row = gray.ptr<uint8_t>(y);
      for (int bx = 0; bx < kGrid; ++bx) {
        uint32_t sum = 0;  // at most 255 × a row's width: no overflow
        for (int x = x_edge[static_cast<size_t>(bx)]; x < x_edge[static_cast<size_t>(bx) + 1]; ++x) sum += row[x];
        sums[static_cast<size_t>(bx)] += sum;
      }
    }
    const int cell_h = y_edge[static_cast<size_t>(by) + 1] - y_edge[static_cast<size_t>(by)];
    for (int bx = 0; bx < kGrid; ++bx) {
      const int cell = cell_h * (x_edge[static_cast<size_t>(bx) + 1] - x_edge[static_cast<size_t>(bx)]);
      means.at<float>(by, bx) = cell > 0 ? static_cast<float>(double(sums[static_cast<size_t>(bx)]) / cell) : 0.f;
    }
  }
  return means;
}

/// 64-bit DCT hash: 32×32 grayscale, its 8×8 lowest frequencies, one bit per coefficient above their median.
/// Images narrower or shorter than 32 pixels hash their stretched (nearest) grid, which is still stable.
uint64_t perceptualHash(const cv::Mat& img) {
  cv::Mat grid;
  if (img.cols >= 32 && img.rows >= 32) {
    grid = gridMeans(img);
  } else {
    cv::Mat gray, f;
    cv::cvtColor(img, gray, img.channels() == 4 ? cv::COLOR_BGRA2GRAY : cv::COLOR_BGR2GRAY);
    cv::resize(gray, f, cv::Size(32, 32), 0, 0, cv::INTER_NEAREST);
    f.convertTo(grid, CV_32F);
  }
  cv::Mat freq;
  cv::dct(grid, freq);
  std::array<float, 64> c{};
  for (int y = 0; y < 8; ++y) {
    for (int x = 0; x < 8; ++x) c[static_cast<size_t>(y * 8 + x)] = freq.at<float>(y, x);
  }
  // The median of the 63 AC terms: the DC term (overall brightness) would skew it.
  std::array<float, 63> ac{};
  std::copy(c.begin() + 1, c.end(), ac.begin());
  std::nth_element(ac.begin(), ac.begin() + 31, ac.end());
  const float median = ac[31];
  uint64_t hash = 0;
  for (size_t i = 0; i < c.size(); ++i) {
    if (c[i] > median) hash |= uint64_t{1} << i;
  }
  return hash;
}

Result<std::string> sha256Hex(const std::vector<uint8_t>& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr) != 1) {
    return fail(Errc::kInternal, "SHA-256 of the screenshot failed (OpenSSL EVP_Digest)");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 0xF]);
  }
  return out;
}

}  // namespace

bool appExcluded(const std::string& app, const std::vector<std::string>& excluded) {
  const std::string_view name = trimmed(app);
  if (name.empty()) return false;
  return std::any_of(excluded.begin(), excluded.end(),
                     [&](const std::string& e) { return equalsIgnoreCase(name, trimmed(e)); });
}

int phashDistance(uint64_t a, uint64_t b) { return std::popcount(a ^ b); }

Result<Shot> processMonitor(const platform::MonitorImage& image, const std::vector<platform::WindowRect>& windows,
                            const ShotOptions& options) {
  const platform::Rect& geo = image.geometry;
  if (image.pixels == nullptr || geo.width <= 0 || geo.height <= 0) {
    return fail(Errc::kInvalidInput, "screenshot of monitor \"" + image.monitor_name + "\" has no pixels");
  }
  if (image.stride < geo.width * 4) {
    return fail(Errc::kInvalidInput, "screenshot of monitor \"" + image.monitor_name + "\": stride " +
                                         std::to_string(image.stride) + " is less than 4 × width " +
                                         std::to_string(geo.width));
  }
  std::string format;
  if (equalsIgnoreCase(options.format, "jpeg") || equalsIgnoreCase(options.format, "jpg")) {
    format = "jpeg";
  } else if (equalsIgnoreCase(options.format, "webp")) {
    format = "webp";
  } else {
    return fail(Errc::kInvalidInput, "screenshot format \"" + options.format + "\" is not supported (jpeg or webp)");
  }
  if (options.quality < 1 || options.quality > 100) {
    return fail(Errc::kInvalidInput, "screenshot quality " + std::to_string(options.quality) + " is not in 1..100");
  }
  if (options.max_width <= 0) {
    return fail(Errc::kInvalidInput, "screenshot max_width " + std::to_string(options.max_width) + " must be > 0");
  }

  Shot shot;
  shot.monitor = image.monitor_name;
  shot.geometry = geo;
  shot.format = format;

  // Excluded windows on this monitor, in its pixel coordinates.
  std::vector<cv::Rect> redact;
  for (const auto& w : windows) {
    if (!windowExcluded(w, options.excluded_apps)) continue;
    const cv::Rect r = onMonitor(w.geometry, geo);
    if (r.area() > 0) redact.push_back(r);
  }
  shot.redacted_windows = static_cast<int>(redact.size());

  try {
    // The capture buffer, wrapped: OpenCV never writes through a Mat it did not allocate here.
    const cv::Mat src(geo.height, geo.width, CV_8UC4, const_cast<uint8_t*>(image.pixels),
                      static_cast<size_t>(image.stride));
    cv::Mat work = src;
    if (geo.width > options.max_width) {
      const int out_w = options.max_width;
      const int out_h = std::max(1, static_cast<int>(std::lround(double(geo.height) * out_w / geo.width)));
      // Dropping X first makes the area resampler (OpenCV's slowest common path) do a quarter less work.
      cv::Mat bgr;
      cv::cvtColor(src, bgr, cv::COLOR_BGRA2BGR);
      cv::Mat scaled;  // a new buffer: redaction can now happen in it, after scaling, with no extra copy
      cv::resize(bgr, scaled, cv::Size(out_w, out_h), 0, 0, cv::INTER_AREA);
      const double sx = double(out_w) / geo.width, sy = double(out_h) / geo.height;
      for (const cv::Rect& r : redact) scaled(scaledOutward(r, sx, sy, scaled.size())).setTo(cv::Scalar::all(0));
      work = scaled;
    } else if (!redact.empty()) {
      work = src.clone();  // the one copy: the capture buffer is not ours to black out
      for (const cv::Rect& r : redact) work(r).setTo(cv::Scalar::all(0));
    }
    if (options.blur) {
      work = strongBlur(work);
      shot.blurred = true;
    }

    auto view = [](const cv::Mat& m) { return PixelView{m.ptr<uint8_t>(0), m.cols, m.rows, m.step[0], m.channels()}; };
    Result<std::vector<uint8_t>> encoded;
    if (format == "webp") {
      // WebP would keep the fourth channel as alpha, and X leaves it undefined (often 0: transparent).
      cv::Mat bgr;
      if (work.channels() == 4) {
        cv::cvtColor(work, bgr, cv::COLOR_BGRA2BGR);
      } else {
        bgr = work;
      }
      encoded = encodeWebp(view(bgr), options.quality);
    } else {
      encoded = encodeJpeg(view(work), options.quality);  // libjpeg-turbo reads B,G,R,X directly
    }
    if (!encoded) {
      return fail(Errc::kInternal, "encoding the screenshot as " + format + " failed: " + encoded.error().message);
    }
    shot.encoded = std::move(*encoded);
    shot.width = work.cols;
    shot.height = work.rows;
    shot.phash = perceptualHash(work);
    if (options.thumbnail_width > 0) {
      // What the person sees of their own shot: the same redacted and blurred picture, small.
      cv::Mat thumb = work;
      if (work.cols > options.thumbnail_width) {
        const int h = std::max(
            1, static_cast<int>(static_cast<int64_t>(work.rows) * options.thumbnail_width / std::max(1, work.cols)));
        cv::resize(work, thumb, cv::Size(options.thumbnail_width, h), 0, 0, cv::INTER_AREA);
      }
      if (thumb.channels() == 4) {
        cv::Mat bgr;
        cv::cvtColor(thumb, bgr, cv::COLOR_BGRA2BGR);
        thumb = bgr;
      }
      if (auto t = encodeJpeg(view(thumb), 70)) shot.thumbnail = std::move(*t);
    }
  } catch (const cv::Exception& e) {
    return fail(Errc::kInternal, std::string("screenshot processing failed: ") + e.what());
  }

  auto digest = sha256Hex(shot.encoded);
  if (!digest) return std::unexpected(digest.error());
  shot.sha256_hex = std::move(*digest);
  return shot;
}

}  // namespace wm::agent
