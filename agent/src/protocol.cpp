#include "workmonitor/agent/protocol.h"

namespace wm::agent::protocol {

using nlohmann::json;

Result<Request> parseRequest(std::string_view line, json* id_out) {
  json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return fail(Errc::kInvalidInput, "request is not valid JSON");
  if (!j.is_object()) return fail(Errc::kInvalidInput, "request must be a JSON object");
  Request r;
  if (auto it = j.find("id"); it != j.end()) {
    if (!it->is_number_integer() && !it->is_string())
      return fail(Errc::kInvalidInput, "id must be an integer or string");
    r.id = *it;
    if (id_out) *id_out = r.id;
  }
  auto v = j.find("v");
  if (v == j.end() || !v->is_number_integer())
    return fail(Errc::kInvalidInput, "request has no protocol version \"v\"");
  if (v->get<int64_t>() != kVersion)
    return fail(Errc::kInvalidInput, "protocol version " + v->dump() + " is not supported (this agent speaks " +
                                         std::to_string(kVersion) + ")");
  auto cmd = j.find("cmd");
  if (cmd == j.end() || !cmd->is_string() || cmd->get_ref<const std::string&>().empty())
    return fail(Errc::kInvalidInput, "request has no \"cmd\"");
  r.cmd = cmd->get<std::string>();
  if (auto args = j.find("args"); args != j.end() && !args->is_null()) {
    if (!args->is_object()) return fail(Errc::kInvalidInput, "\"args\" must be an object");
    r.args = *args;
  }
  return r;
}

std::string makeRequest(const json& id, const std::string& cmd, const json& args) {
  return json{{"v", kVersion}, {"id", id}, {"cmd", cmd}, {"args", args}}.dump() + "\n";
}

std::string makeReply(const json& id, const json& result) {
  return json{{"v", kVersion}, {"id", id}, {"ok", true}, {"result", result}}.dump(-1, ' ', false,
                                                                                  json::error_handler_t::replace) +
         "\n";
}

std::string makeErrorReply(const json& id, const Error& error) {
  return json{{"v", kVersion},
              {"id", id},
              {"ok", false},
              {"error", {{"code", errcName(error.code)}, {"message", error.message}}}}
             .dump(-1, ' ', false, json::error_handler_t::replace) +
         "\n";
}

std::string makeEvent(const std::string& name, const json& data) {
  return json{{"v", kVersion}, {"event", name}, {"data", data}}.dump(-1, ' ', false, json::error_handler_t::replace) +
         "\n";
}

void LineReader::feed(std::string_view bytes, const OnLine& on_line, const OnOversize& on_oversize) {
  while (!bytes.empty()) {
    const size_t nl = bytes.find('\n');
    const std::string_view chunk = bytes.substr(0, nl);
    if (skipping_) {
      if (nl != std::string_view::npos) skipping_ = false;
    } else if (buf_.size() + chunk.size() > max_) {
      buf_.clear();
      on_oversize();
      skipping_ = nl == std::string_view::npos;
    } else {
      buf_.append(chunk);
      if (nl != std::string_view::npos) {
        std::string line = std::move(buf_);
        buf_.clear();
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (!line.empty()) on_line(line);
      }
    }
    if (nl == std::string_view::npos) break;
    bytes.remove_prefix(nl + 1);
  }
}

}  // namespace wm::agent::protocol
