// Screenshot pipeline, streamed row by row: downscale → redact → blur → encode, hash, thumbnail. See
// screenshot_pipeline.h.

#include "workmonitor/agent/screenshot_pipeline.h"

#include "image_encode.h"
#include "workmonitor/agent/site_rules.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cctype>
#include <cmath>
#include <cstring>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <optional>
#include <span>
#include <string_view>

namespace wm::agent {
namespace {

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

/// OpenCV's BGR→gray (15-bit fixed point, rounded): the same value cv::cvtColor gives, one pixel at a time.
inline uint8_t grayOf(const uint8_t* bgr) {
  return static_cast<uint8_t>((bgr[0] * 3735u + bgr[1] * 19235u + bgr[2] * 9798u + (1u << 14)) >> 15);
}

// The picture flows through the stages below one row at a time, top to bottom, so no stage ever holds a whole
// full-size picture (WebP, whose encoder needs one, holds it at the output size). A row is width × channels
// bytes: 4 channels (B,G,R,X) as captured, 3 (B,G,R) after a resampler. Each stage passes rows on to the next
// and, after the last one, its finish() to the next.
class RowSink {
 public:
  virtual ~RowSink() = default;
  virtual void row(const uint8_t* px) = 0;
  virtual void finish() {}
};

/// Copies rows into a B,G,R cv::Mat (a fourth channel dropped): the small pictures (thumbnail, blur, WebP).
class MatRows final : public RowSink {
 public:
  MatRows(int width, int height, int channels) : mat_(height, width, CV_8UC3), channels_(channels) {}
  void row(const uint8_t* px) override {
    if (y_ >= mat_.rows) return;
    uint8_t* out = mat_.ptr<uint8_t>(y_++);
    if (channels_ == 3) {
      std::memcpy(out, px, static_cast<size_t>(mat_.cols) * 3);
    } else {
      for (int x = 0; x < mat_.cols; ++x, out += 3, px += 4) out[0] = px[0], out[1] = px[1], out[2] = px[2];
    }
  }
  const cv::Mat& mat() const { return mat_; }

 private:
  cv::Mat mat_;
  int channels_;
  int y_ = 0;
};

/// Passes each row to several sinks.
class Fanout final : public RowSink {
 public:
  void add(RowSink& sink) { sinks_.push_back(&sink); }
  void row(const uint8_t* px) override {
    for (RowSink* s : sinks_) s->row(px);
  }
  void finish() override {
    for (RowSink* s : sinks_) s->finish();
  }

 private:
  std::vector<RowSink*> sinks_;
};

/// Exact area average (what INTER_AREA computes) of rows streaming in, into a picture no larger than the source
/// in either direction; emits B,G,R rows. Positions are counted in integer units — a source pixel is out_w × out_h
/// of them, an output pixel in_w × in_h — so every weight is an integer and every sum exact: the vertical sums
/// (at most 255 × in_h) are integers a float holds exactly, the horizontal ones (at most 255 × in_w × in_h)
/// integers a double holds exactly. Each output value is rounded once. Holds two rows of vertical sums (the
/// output row being filled and the next one).
class AreaDownscaler final : public RowSink {
 public:
  AreaDownscaler(int in_w, int in_h, int in_channels, int out_w, int out_h, RowSink& next)
      : in_w_(in_w), in_h_(in_h), ch_(in_channels), out_h_(out_h), next_(next) {
    // Horizontally, output pixel k covers units [k·in_w, (k+1)·in_w), source pixel x [x·out_w, (x+1)·out_w): the
    // first and last source pixels are partly inside (weights w_first, w_last), those between wholly (out_w).
    const auto n = static_cast<size_t>(out_w);
    taps_.resize(n);
    for (size_t k = 0; k < n; ++k) {
      const int64_t a = static_cast<int64_t>(k) * in_w, b = a + in_w;
      Tap& t = taps_[k];
      t.first = static_cast<size_t>(a / out_w);
      t.last = static_cast<size_t>((b - 1) / out_w);
      t.inner_end = std::max(t.last, t.first + 1);
      if (t.first == t.last) {
        t.w_first = in_w;
      } else {
        t.w_first = static_cast<double>((static_cast<int64_t>(t.first) + 1) * out_w - a);
        t.w_last = static_cast<double>(b - static_cast<int64_t>(t.last) * out_w);
      }
    }
    whole_ = out_w;
    for (auto& acc : acc_) acc.assign(static_cast<size_t>(in_w) * static_cast<size_t>(ch_), 0.f);
    prefix_.resize((static_cast<size_t>(in_w) + 1) * 3);
    out_.resize(n * 3);
  }

  void row(const uint8_t* px) override {
    if (in_row_ >= in_h_) return;
    // Vertically this source row covers units [a, b); the output row being filled ends at `end`.
    const int64_t a = int64_t{in_row_} * out_h_, b = a + out_h_;
    const int64_t end = (int64_t{out_row_} + 1) * in_h_;
    const size_t n = acc_[0].size();
    float* cur = acc_[0].data();
    if (b <= end) {
      const auto w = static_cast<float>(out_h_);
      for (size_t i = 0; i < n; ++i) cur[i] += w * static_cast<float>(px[i]);
    } else {  // straddles two output rows (never more: the ratio is at least 1)
      const auto w0 = static_cast<float>(end - a), w1 = static_cast<float>(b - end);
      float* nxt = acc_[1].data();
      for (size_t i = 0; i < n; ++i) {
        const auto v = static_cast<float>(px[i]);
        cur[i] += w0 * v;
        nxt[i] += w1 * v;
      }
    }
    ++in_row_;
    if (b >= end) emit();
  }
  void finish() override { next_.finish(); }  // the last source row has completed the last output row

 private:
  struct Tap {
    size_t first = 0, last = 0, inner_end = 0;  // wholly inside: [first + 1, inner_end)
    double w_first = 0, w_last = 0;
  };

  void emit() {
    const float* acc = acc_[0].data();
    const auto ch = static_cast<size_t>(ch_);
    // Running sums of the vertical sums along the row, per channel: the wholly covered run of any output pixel is
    // one subtraction.
    double* p = prefix_.data();
    p[0] = p[1] = p[2] = 0;
    for (size_t x = 0; x < static_cast<size_t>(in_w_); ++x) {
      for (size_t c = 0; c < 3; ++c) p[(x + 1) * 3 + c] = p[x * 3 + c] + acc[x * ch + c];
    }
    // sum / (in_w·in_h) rounded half up, without a division per value: a quotient that is not exactly k + .5 is
    // at least 1 / (2·in_w·in_h) (> 1e-9) away from it, while the reciprocal's rounding errs by < 1e-13; the 1e-10
    // added tips exact halves up, as integer rounding would.
    const double inv_total = 1.0 / (double(in_w_) * double(in_h_));
    for (size_t k = 0; k < taps_.size(); ++k) {
      const Tap& t = taps_[k];
      for (size_t c = 0; c < 3; ++c) {
        const double sum = t.w_first * acc[t.first * ch + c] +
                           whole_ * (p[t.inner_end * 3 + c] - p[(t.first + 1) * 3 + c]) +
                           t.w_last * acc[t.last * ch + c];
        out_[k * 3 + c] = static_cast<uint8_t>(sum * inv_total + (0.5 + 1e-10));
      }
    }
    std::swap(acc_[0], acc_[1]);
    std::fill(acc_[1].begin(), acc_[1].end(), 0.f);
    ++out_row_;
    next_.row(out_.data());
  }

  int in_w_, in_h_, ch_, out_h_;
  RowSink& next_;
  std::vector<Tap> taps_;  // per output pixel
  double whole_ = 0;       // the weight of a source pixel wholly inside an output pixel
  std::vector<float> acc_[2];
  std::vector<double> prefix_;
  std::vector<uint8_t> out_;
  int in_row_ = 0, out_row_ = 0;
};

/// Blacks out rectangles (in this stage's pixel coordinates) in the rows passing through. Rows that need it are
/// copied first: what comes in may be the capture's own memory, which is not ours to write.
class Redactor final : public RowSink {
 public:
  Redactor(int width, int channels, std::vector<cv::Rect> rects, RowSink& next)
      : channels_(channels), rects_(std::move(rects)), buf_(static_cast<size_t>(width) * channels), next_(next) {}
  void row(const uint8_t* px) override {
    bool copied = false;
    for (const cv::Rect& r : rects_) {
      if (y_ < r.y || y_ >= r.y + r.height) continue;
      if (!copied) {
        std::memcpy(buf_.data(), px, buf_.size());
        copied = true;
      }
      std::memset(buf_.data() + static_cast<size_t>(r.x) * channels_, 0, static_cast<size_t>(r.width) * channels_);
    }
    ++y_;
    next_.row(copied ? buf_.data() : px);
  }
  void finish() override { next_.finish(); }

 private:
  int channels_;
  std::vector<cv::Rect> rects_;
  std::vector<uint8_t> buf_;
  RowSink& next_;
  int y_ = 0;
};

/// A Gaussian blur with sigma = width / 96 (20 px on a 1920-wide image: far wider than a glyph, so text is
/// gone), computed at reduced resolution since a blur that wide has nothing finer to keep: the rows are
/// area-averaged into a small picture, blurred there, and on finish() scaled back up (bilinear, OpenCV's
/// INTER_LINEAR pixel centres) and passed on as B,G,R rows.
class Blur final : public RowSink {
 public:
  Blur(int width, int height, int channels, RowSink& next)
      : w_(width),
        h_(height),
        sigma_(std::max(2.0, width / 96.0)),
        factor_(std::max(1, static_cast<int>(sigma_ / 2.5))),
        small_(std::max(1, width / factor_), std::max(1, height / factor_), 3),
        shrink_(width, height, channels, small_.mat().cols, small_.mat().rows, small_),
        next_(next) {}
  void row(const uint8_t* px) override { shrink_.row(px); }
  void finish() override {
    shrink_.finish();
    cv::Mat small = small_.mat();
    cv::GaussianBlur(small, small, cv::Size(0, 0), sigma_ / factor_, sigma_ / factor_, cv::BORDER_REPLICATE);
    upscale(small);
    next_.finish();
  }

 private:
  struct Tap {
    int i0, i1;
    float w1;  // weight of i1; i0 gets 1 - w1
  };
  static std::vector<Tap> taps(int out, int in) {
    std::vector<Tap> t(static_cast<size_t>(out));
    const double scale = double(in) / out;
    for (int o = 0; o < out; ++o) {
      const double s = (o + 0.5) * scale - 0.5;
      int i0 = static_cast<int>(std::floor(s));
      float w1 = static_cast<float>(s - i0);
      if (i0 < 0) i0 = 0, w1 = 0;
      if (i0 >= in - 1) i0 = in - 1, w1 = 0;
      t[static_cast<size_t>(o)] = {i0, std::min(i0 + 1, in - 1), w1};
    }
    return t;
  }
  void upscale(const cv::Mat& small) {
    const std::vector<Tap> xs = taps(w_, small.cols), ys = taps(h_, small.rows);
    // Two small rows stretched to full width, reused while consecutive output rows fall between the same two.
    std::vector<float> lines[2] = {std::vector<float>(static_cast<size_t>(w_) * 3),
                                   std::vector<float>(static_cast<size_t>(w_) * 3)};
    int line_of[2] = {-1, -1};
    auto stretch = [&](int sy, std::vector<float>& line) {
      const uint8_t* in = small.ptr<uint8_t>(sy);
      for (size_t x = 0; x < xs.size(); ++x) {
        const uint8_t* a = in + xs[x].i0 * 3;
        const uint8_t* b = in + xs[x].i1 * 3;
        for (size_t c = 0; c < 3; ++c) line[x * 3 + c] = a[c] + xs[x].w1 * (float(b[c]) - float(a[c]));
      }
    };
    std::vector<uint8_t> out(static_cast<size_t>(w_) * 3);
    for (const Tap& y : ys) {
      if (line_of[0] != y.i0) {
        if (line_of[1] == y.i0) {  // moving down: the lower row becomes the upper one
          lines[0].swap(lines[1]);
          std::swap(line_of[0], line_of[1]);
        } else {
          stretch(y.i0, lines[0]);
          line_of[0] = y.i0;
        }
      }
      if (y.i1 != y.i0 && line_of[1] != y.i1) {  // (i1 == i0 only at the edges, where its weight is 0)
        stretch(y.i1, lines[1]);
        line_of[1] = y.i1;
      }
      const float* a = lines[0].data();
      const float* b = lines[1].data();
      // Between two values in 0..255, so rounding needs no clamp.
      for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<uint8_t>(a[i] + y.w1 * (b[i] - a[i]) + 0.5f);
      next_.row(out.data());
    }
  }

  int w_, h_;
  double sigma_;
  int factor_;
  MatRows small_;
  AreaDownscaler shrink_;
  RowSink& next_;
};

/// The JPEG, written as the rows come.
class JpegRows final : public RowSink {
 public:
  explicit JpegRows(JpegWriter& writer) : writer_(writer) {}
  void row(const uint8_t* px) override { writer_.writeRow(px); }

 private:
  JpegWriter& writer_;
};

/// Mean brightness of each cell of a 32×32 grid over the image (an exact area average), summed as rows pass,
/// for the perceptual hash. Images narrower or shorter than 32 pixels keep their gray picture instead and hash
/// its stretched (nearest) grid, which is still stable.
class GridMeans final : public RowSink {
 public:
  static constexpr int kGrid = 32;
  GridMeans(int width, int height, int channels) : w_(width), h_(height), ch_(channels) {
    if (w_ < kGrid || h_ < kGrid) {
      gray_.create(h_, w_, CV_8U);
      return;
    }
    for (int i = 0; i <= kGrid; ++i) {
      x_edge_[static_cast<size_t>(i)] = static_cast<int>(int64_t{i} * w_ / kGrid);
      y_edge_[static_cast<size_t>(i)] = static_cast<int>(int64_t{i} * h_ / kGrid);
    }
  }
  void row(const uint8_t* px) override {
    if (y_ >= h_) return;
    const size_t ch = static_cast<size_t>(ch_);
    if (!gray_.empty()) {
      uint8_t* out = gray_.ptr<uint8_t>(y_++);
      for (int x = 0; x < w_; ++x) out[x] = grayOf(px + static_cast<size_t>(x) * ch);
      return;
    }
    while (y_ >= y_edge_[static_cast<size_t>(cell_row_) + 1]) ++cell_row_;
    uint64_t* sums = sums_[static_cast<size_t>(cell_row_)].data();
    for (size_t bx = 0; bx < kGrid; ++bx) {
      uint32_t sum = 0;  // at most 255 × a row's width: no overflow
      for (int x = x_edge_[bx]; x < x_edge_[bx + 1]; ++x) sum += grayOf(px + static_cast<size_t>(x) * ch);
      sums[bx] += sum;
    }
    ++y_;
  }
  /// The 32×32 grid (CV_32F).
  cv::Mat grid() const {
    cv::Mat means(kGrid, kGrid, CV_32F, cv::Scalar(0));
    if (!gray_.empty()) {
      cv::Mat stretched;
      cv::resize(gray_, stretched, cv::Size(kGrid, kGrid), 0, 0, cv::INTER_NEAREST);
      stretched.convertTo(means, CV_32F);
      return means;
    }
    for (size_t by = 0; by < kGrid; ++by) {
      const int cell_h = y_edge_[by + 1] - y_edge_[by];
      for (size_t bx = 0; bx < kGrid; ++bx) {
        const int cell = cell_h * (x_edge_[bx + 1] - x_edge_[bx]);
        means.at<float>(static_cast<int>(by), static_cast<int>(bx)) =
            cell > 0 ? static_cast<float>(double(sums_[by][bx]) / cell) : 0.f;
      }
    }
    return means;
  }

 private:
  int w_, h_, ch_;
  int y_ = 0, cell_row_ = 0;
  std::array<int, kGrid + 1> x_edge_{}, y_edge_{};
  std::array<std::array<uint64_t, kGrid>, kGrid> sums_{};
  cv::Mat gray_;  // only for images under 32 pixels in a dimension
};

/// 64-bit DCT hash of a 32×32 grid: its 8×8 lowest frequencies, one bit per coefficient above their median.
uint64_t perceptualHash(const cv::Mat& grid) {
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
  if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr) != 1)
    return fail(Errc::kInternal, "SHA-256 of the screenshot failed (OpenSSL EVP_Digest)");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned char b : std::span(md, len)) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 0xF]);
  }
  return out;
}

/// The monitor's rows, band by band: slices of the whole picture, or reads through MonitorImage::rows.
class Bands {
 public:
  explicit Bands(const platform::MonitorImage& image) : image_(image) {}
  int bandRows() const { return image_.pixels != nullptr ? image_.geometry.height : image_.band_rows; }
  Result<const uint8_t*> read(int y, int count) const {
    if (image_.pixels != nullptr) return image_.pixels + static_cast<size_t>(y) * static_cast<size_t>(image_.stride);
    return image_.rows(y, count);
  }

 private:
  const platform::MonitorImage& image_;
};

}  // namespace

bool appExcluded(const std::string& app, const std::vector<std::string>& excluded) {
  const std::string_view name = blankTrimmed(app);
  if (name.empty()) return false;
  return std::any_of(excluded.begin(), excluded.end(),
                     [&](const std::string& e) { return equalsIgnoreCase(name, blankTrimmed(e)); });
}

int phashDistance(uint64_t a, uint64_t b) { return std::popcount(a ^ b); }

Result<Shot> processMonitor(const platform::MonitorImage& image, const std::vector<platform::WindowRect>& windows,
                            const ShotOptions& options) {
  const platform::Rect& geo = image.geometry;
  const bool streamed = image.pixels == nullptr && image.rows && image.band_rows > 0;
  if ((image.pixels == nullptr && !streamed) || geo.width <= 0 || geo.height <= 0) {
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
    // The stages, last first (each is handed the next). Rows are 4 channels as captured, 3 after a resampler.
    const bool downscale = geo.width > options.max_width;
    const int out_w = downscale ? options.max_width : geo.width;
    const int out_h =
        downscale ? std::max(1, static_cast<int>(std::lround(double(geo.height) * out_w / geo.width))) : geo.height;
    const int out_ch = downscale || options.blur ? 3 : 4;  // of the final rows
    shot.width = out_w;
    shot.height = out_h;
    shot.blurred = options.blur;

    Fanout final_rows;
    JpegWriter jpeg;
    JpegRows jpeg_rows(jpeg);
    std::optional<MatRows> whole;  // WebP: libwebp takes the whole picture (at the output size)
    if (format == "webp") {
      whole.emplace(out_w, out_h, out_ch);
      final_rows.add(*whole);
    } else {
      if (auto ok = jpeg.start(out_w, out_h, out_ch, options.quality); !ok) {
        return fail(Errc::kInternal, "encoding the screenshot as jpeg failed: " + ok.error().message);
      }
      final_rows.add(jpeg_rows);
    }
    GridMeans grid(out_w, out_h, out_ch);
    final_rows.add(grid);
    // What the person sees of their own shot: the same redacted and blurred picture, small.
    std::optional<MatRows> thumb;
    std::optional<AreaDownscaler> thumb_shrink;
    if (options.thumbnail_width > 0) {
      if (out_w > options.thumbnail_width) {
        const int h =
            std::max(1, static_cast<int>(static_cast<int64_t>(out_h) * options.thumbnail_width / std::max(1, out_w)));
        thumb.emplace(options.thumbnail_width, h, 3);
        thumb_shrink.emplace(out_w, out_h, out_ch, options.thumbnail_width, h, *thumb);
        final_rows.add(*thumb_shrink);
      } else {
        thumb.emplace(out_w, out_h, out_ch);
        final_rows.add(*thumb);
      }
    }

    std::optional<Blur> blur;
    RowSink* redacted = &final_rows;  // where the redacted rows go
    if (options.blur) {
      blur.emplace(out_w, out_h, downscale ? 3 : 4, final_rows);
      redacted = &*blur;
    }
    // Redaction: at full size straight on the captured rows; through a downscale, on the scaled rows, widened to
    // every output pixel whose source area touches the window, so no edge of it bleeds in.
    std::vector<cv::Rect> rects = redact;
    if (downscale) {
      const double sx = double(out_w) / geo.width, sy = double(out_h) / geo.height;
      for (cv::Rect& r : rects) r = scaledOutward(r, sx, sy, cv::Size(out_w, out_h));
    }
    Redactor redactor(out_w, downscale ? 3 : 4, std::move(rects), *redacted);
    std::optional<AreaDownscaler> shrink;
    RowSink* head = &redactor;
    if (downscale) {
      shrink.emplace(geo.width, geo.height, 4, out_w, out_h, redactor);
      head = &*shrink;
    }

    // The capture, band by band, through the stages.
    const Bands bands(image);
    const int band_rows = bands.bandRows();
    for (int y = 0; y < geo.height; y += band_rows) {
      const int count = std::min(band_rows, geo.height - y);
      auto band = bands.read(y, count);
      if (!band) {
        return fail(band.error().code,
                    "reading the screen of monitor \"" + image.monitor_name + "\" failed: " + band.error().message);
      }
      for (int i = 0; i < count; ++i) head->row(*band + static_cast<size_t>(i) * static_cast<size_t>(image.stride));
    }
    head->finish();

    Result<std::vector<uint8_t>> encoded;
    if (whole) {
      // WebP would keep a fourth channel as alpha, and X leaves it undefined: MatRows keeps B,G,R only.
      const cv::Mat& m = whole->mat();
      encoded = encodeWebp(PixelView{m.ptr<uint8_t>(0), m.cols, m.rows, m.step[0], 3}, options.quality);
    } else {
      encoded = jpeg.finish();
    }
    if (!encoded) {
      return fail(Errc::kInternal, "encoding the screenshot as " + format + " failed: " + encoded.error().message);
    }
    shot.encoded = std::move(*encoded);
    shot.phash = perceptualHash(grid.grid());
    if (thumb) {
      const cv::Mat& m = thumb->mat();
      if (auto t = encodeJpeg(PixelView{m.ptr<uint8_t>(0), m.cols, m.rows, m.step[0], 3}, 70)) {
        shot.thumbnail = std::move(*t);
      }
    }
  } catch (const cv::Exception& e) {
    return fail(Errc::kInternal, std::string("screenshot processing failed: ") + e.what());
  }

  auto digest = sha256Hex(shot.encoded);
  if (!digest) return std::unexpected(digest.error());
  shot.sha256_hex = std::move(*digest);
  return shot;
}

namespace detail {

std::vector<uint8_t> areaDownscale(const uint8_t* pixels, int width, int height, size_t stride, int channels, int out_w,
                                   int out_h) {
  MatRows out(out_w, out_h, 3);
  AreaDownscaler shrink(width, height, channels, out_w, out_h, out);
  for (int y = 0; y < height; ++y) shrink.row(pixels + static_cast<size_t>(y) * stride);
  shrink.finish();
  const cv::Mat& m = out.mat();
  return std::vector<uint8_t>(m.datastart, m.dataend);
}

}  // namespace detail

}  // namespace wm::agent
