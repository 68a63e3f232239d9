// The control-socket protocol: JSON lines, versioned. A client sends requests and gets one reply per
// request; a client that subscribed also gets pushed events. Pure functions, no I/O.
//   request: {"v":1,"id":7,"cmd":"start","args":{"project_id":"p1"}}
//   reply:   {"v":1,"id":7,"ok":true,"result":{...}}  or  {"v":1,"id":7,"ok":false,"error":{"code","message"}}
//   event:   {"v":1,"event":"state","data":{...}}
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "workmonitor/common/result.h"

namespace wm::agent::protocol {

inline constexpr int kVersion = 1;
/// Longest accepted line; a longer one gets an error reply and is skipped up to its newline.
inline constexpr size_t kMaxLineBytes = 64 * 1024;
/// A reply the agent sends may be longer than a request (a day's report with its lanes): clients read up to this.
inline constexpr size_t kMaxReplyBytes = 16u << 20;

struct Request {
  nlohmann::json id;  // echoed in the reply (number or string; null when the request had none)
  std::string cmd;
  nlohmann::json args = nlohmann::json::object();
};

/// Parses one line. On failure the error says why, and `id` (when it could be read) is still returned
/// through `id_out` so the error reply can carry it.
Result<Request> parseRequest(std::string_view line, nlohmann::json* id_out = nullptr);

std::string makeRequest(const nlohmann::json& id, const std::string& cmd, const nlohmann::json& args);
std::string makeReply(const nlohmann::json& id, const nlohmann::json& result);
std::string makeErrorReply(const nlohmann::json& id, const Error& error);
std::string makeEvent(const std::string& name, const nlohmann::json& data);

/// Splits a byte stream into lines of at most kMaxLineBytes.
class LineReader {
 public:
  using OnLine = std::function<void(std::string_view line)>;
  using OnOversize = std::function<void()>;
  explicit LineReader(size_t max_line = kMaxLineBytes) : max_(max_line) {}
  void feed(std::string_view bytes, const OnLine& on_line, const OnOversize& on_oversize);

 private:
  size_t max_;
  std::string buf_;
  bool skipping_ = false;  // inside an oversized line: drop bytes until its newline
};

}  // namespace wm::agent::protocol
