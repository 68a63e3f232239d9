#include "workmonitor/nmhost/messages.h"

namespace wm::nmhost {

using nlohmann::json;

namespace {

Result<std::string> optionalString(const json& m, const char* key) {
  auto it = m.find(key);
  if (it == m.end() || it->is_null()) return std::string();
  if (!it->is_string()) return fail(Errc::kInvalidInput, std::string(key) + " must be a string");
  return it->get<std::string>();
}

// s cut to at most max bytes without splitting a UTF-8 sequence.
std::string cutUtf8(std::string s, size_t max) {
  if (s.size() <= max) return s;
  size_t end = max;
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  s.resize(end);
  return s;
}

}  // namespace

Result<Incoming> parseIncoming(const json& message) {
  if (!message.is_object()) return fail(Errc::kInvalidInput, "a message must be a JSON object");
  auto type = optionalString(message, "type");
  if (!type) return std::unexpected(type.error());
  Incoming in;
  if (*type == "hello") {
    in.kind = Incoming::Kind::kHello;
    auto browser = optionalString(message, "browser");
    if (!browser) return std::unexpected(browser.error());
    in.hello.browser = *browser;
    return in;
  }
  if (*type != "tab") return fail(Errc::kInvalidInput, "unknown message type '" + cutUtf8(*type, 32) + "'");
  in.kind = Incoming::Kind::kTab;
  auto url = optionalString(message, "url");
  if (!url) return std::unexpected(url.error());
  auto title = optionalString(message, "title");
  if (!title) return std::unexpected(title.error());
  in.tab.url = std::move(*url);
  in.tab.title = std::move(*title);
  if (auto it = message.find("incognito"); it != message.end() && !it->is_null()) {
    if (!it->is_boolean()) return fail(Errc::kInvalidInput, "incognito must be true or false");
    in.tab.incognito = it->get<bool>();
  }
  return in;
}

std::string stripQueryAndFragment(std::string_view url) { return std::string(url.substr(0, url.find_first_of("?#"))); }

TabReport sanitize(TabReport tab) {
  if (tab.incognito) return TabReport{{}, {}, true};
  tab.url = stripQueryAndFragment(tab.url);
  // A cut URL would be a different page: none is better than a wrong one.
  if (tab.url.size() > kMaxUrlBytes) tab.url.clear();
  tab.title = cutUtf8(std::move(tab.title), kMaxTitleBytes);
  return tab;
}

json tabArgs(const TabReport& tab, const std::string& browser) {
  return json{{"browser", browser}, {"url", tab.url}, {"title", tab.title}, {"incognito", tab.incognito}};
}

json makeAck(const json& agent_result) {
  json ack{{"type", "ack"}, {"v", kContractVersion}, {"recording", false}};
  if (!agent_result.is_object()) return ack;
  if (auto it = agent_result.find("recording"); it != agent_result.end() && it->is_boolean()) ack["recording"] = *it;
  if (auto it = agent_result.find("reason"); it != agent_result.end() && it->is_string()) ack["reason"] = *it;
  // The company's settings for the extension (domain-only detail, excluded sites) once the agent sends them.
  if (auto it = agent_result.find("settings"); it != agent_result.end() && it->is_object()) ack["settings"] = *it;
  return ack;
}

json makeStatus(bool agent_running, const std::string& browser, std::optional<int64_t> retry_in_ms,
                const std::string& message) {
  json s{{"type", "status"},
         {"v", kContractVersion},
         {"agent", agent_running ? "running" : "not_running"},
         {"browser", browser}};
  if (retry_in_ms) s["retry_in_ms"] = *retry_in_ms;
  if (!message.empty()) s["message"] = message;
  return s;
}

json makeError(const std::string& code, const std::string& message) {
  return json{{"type", "error"}, {"v", kContractVersion}, {"code", code}, {"message", message}};
}

}  // namespace wm::nmhost
