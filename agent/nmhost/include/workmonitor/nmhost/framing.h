// Native-messaging framing (Chromium and Firefox alike): each message is a 32-bit length in the machine's
// byte order, then that many bytes of UTF-8 JSON. FrameDecoder turns stdin's byte chunks into messages or
// errors without ever holding more than one accepted message; encodeFrame makes the host's replies.
// Free of wm::Result on purpose: the libFuzzer target builds these files alone with clang.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace wm::nmhost {

/// Browser to host: the most we accept (the browsers allow 64 MiB; a tab report is a few KiB).
inline constexpr uint32_t kMaxIncomingBytes = 1u << 20;
/// A length above this cannot come from a browser (its own limit is 64 MiB): the stream is out of step.
inline constexpr uint32_t kMaxPlausibleBytes = 64u << 20;
/// Host to browser: the browsers' limit (1 MB, which Chromium counts as 1024 * 1024 bytes).
inline constexpr size_t kMaxOutgoingBytes = 1024 * 1024;

enum class FrameError {
  kNone,
  kTooLarge,     // over kMaxIncomingBytes: its body is skipped unread, the stream goes on
  kCorrupt,      // over kMaxPlausibleBytes: nothing after it can be trusted; the decoder stops
  kTruncated,    // the input ended inside a frame
  kInvalidUtf8,  // the body is not UTF-8
  kNotJson,      // the body is not JSON
  kNotObject,    // JSON, but not an object
};

/// A stable name for the error (it goes to the extension in {"type":"error","code":...}).
const char* frameErrorCode(FrameError e);

/// One frame's body (error kNone) or what was wrong with it; declared_length is the header's value.
struct Frame {
  FrameError error = FrameError::kNone;
  uint32_t declared_length = 0;
  std::string body;
};

class FrameDecoder {
 public:
  /// Feeds the next bytes of the stream; complete frames (and errors) are appended to out in order.
  /// After a kCorrupt frame every further byte is ignored.
  void feed(std::string_view bytes, std::vector<Frame>& out);
  /// The stream ended: a frame cut short is reported as kTruncated (nullopt when it ended between frames).
  std::optional<Frame> finish();
  bool failed() const { return state_ == State::kFailed; }
  /// Bytes held for an unfinished frame (at most 4 + kMaxIncomingBytes).
  size_t buffered() const { return header_used_ + body_.size(); }

 private:
  enum class State { kHeader, kBody, kSkip, kFailed };
  State state_ = State::kHeader;
  unsigned char header_[4] = {};
  size_t header_used_ = 0;
  uint32_t length_ = 0;
  uint32_t left_ = 0;  // body bytes still to read (or to skip)
  std::string body_;
};

/// Whether s is well-formed UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF).
bool isValidUtf8(std::string_view s);

/// A frame's body checked and parsed: the JSON object, or the error.
struct Message {
  FrameError error = FrameError::kNone;
  nlohmann::json json;
};
Message parseMessage(std::string_view body);

/// The frame for j, or nullopt when its JSON would exceed kMaxOutgoingBytes.
std::optional<std::string> encodeFrame(const nlohmann::json& j);

}  // namespace wm::nmhost
