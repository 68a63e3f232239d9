#include "workmonitor/nmhost/framing.h"

#include <algorithm>
#include <cstring>

namespace wm::nmhost {

const char* frameErrorCode(FrameError e) {
  switch (e) {
    case FrameError::kNone:
      return "none";
    case FrameError::kTooLarge:
      return "too_large";
    case FrameError::kCorrupt:
      return "corrupt_stream";
    case FrameError::kTruncated:
      return "truncated";
    case FrameError::kInvalidUtf8:
      return "invalid_utf8";
    case FrameError::kNotJson:
      return "not_json";
    case FrameError::kNotObject:
      return "not_object";
  }
  return "unknown";
}

void FrameDecoder::feed(std::string_view bytes, std::vector<Frame>& out) {
  while (!bytes.empty() && state_ != State::kFailed) {
    switch (state_) {
      case State::kHeader: {
        const size_t n = std::min(bytes.size(), sizeof header_ - header_used_);
        std::memcpy(header_ + header_used_, bytes.data(), n);
        header_used_ += n;
        bytes.remove_prefix(n);
        if (header_used_ < sizeof header_) break;
        header_used_ = 0;
        std::memcpy(&length_, header_, sizeof length_);  // native byte order, as the browsers write it
        if (length_ > kMaxPlausibleBytes) {
          out.push_back(Frame{FrameError::kCorrupt, length_, {}});
          state_ = State::kFailed;
        } else if (length_ > kMaxIncomingBytes) {
          // Skipping keeps the stream in step without holding the body; the port stays usable.
          out.push_back(Frame{FrameError::kTooLarge, length_, {}});
          left_ = length_;
          state_ = State::kSkip;
        } else if (length_ == 0) {
          out.push_back(Frame{FrameError::kNone, 0, {}});
        } else {
          left_ = length_;
          body_.clear();
          body_.reserve(length_);
          state_ = State::kBody;
        }
        break;
      }
      case State::kBody: {
        const size_t n = std::min<size_t>(bytes.size(), left_);
        body_.append(bytes.data(), n);
        bytes.remove_prefix(n);
        left_ -= static_cast<uint32_t>(n);
        if (left_ == 0) {
          out.push_back(Frame{FrameError::kNone, length_, std::move(body_)});
          body_ = std::string();
          state_ = State::kHeader;
        }
        break;
      }
      case State::kSkip: {
        const size_t n = std::min<size_t>(bytes.size(), left_);
        bytes.remove_prefix(n);
        left_ -= static_cast<uint32_t>(n);
        if (left_ == 0) state_ = State::kHeader;
        break;
      }
      case State::kFailed:
        break;
    }
  }
}

std::optional<Frame> FrameDecoder::finish() {
  const bool mid_frame = header_used_ > 0 || state_ == State::kBody || state_ == State::kSkip;
  const uint32_t length = header_used_ > 0 ? 0 : length_;
  header_used_ = 0;
  body_ = std::string();
  const State was = state_;
  state_ = State::kHeader;
  if (was == State::kFailed) {
    state_ = State::kFailed;
    return std::nullopt;  // already reported as kCorrupt
  }
  if (!mid_frame) return std::nullopt;
  return Frame{FrameError::kTruncated, length, {}};
}

bool isValidUtf8(std::string_view s) {
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len = 0;
    uint32_t cp = 0;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;  // a continuation byte first, an overlong 2-byte lead (C0, C1) or beyond F4
    }
    if (n - i < len) return false;
    for (size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF))) return false;  // overlong
    if (cp >= 0xD800 && cp <= 0xDFFF) return false;                                               // surrogate
    i += len;
  }
  return true;
}

Message parseMessage(std::string_view body) {
  if (!isValidUtf8(body)) return Message{FrameError::kInvalidUtf8, {}};
  nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Message{FrameError::kNotJson, {}};
  if (!j.is_object()) return Message{FrameError::kNotObject, {}};
  return Message{FrameError::kNone, std::move(j)};
}

std::optional<std::string> encodeFrame(const nlohmann::json& j) {
  // replace: a stray invalid byte in what the agent sent must not throw here; the browser gets U+FFFD.
  const std::string text = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (text.size() > kMaxOutgoingBytes) return std::nullopt;
  const auto length = static_cast<uint32_t>(text.size());
  std::string frame(sizeof length, '\0');
  std::memcpy(frame.data(), &length, sizeof length);
  frame += text;
  return frame;
}

}  // namespace wm::nmhost
