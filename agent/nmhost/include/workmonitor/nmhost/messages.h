// The message contract between the extension and workmonitor-nmhost (documented in ../README.md), and
// the host's own privacy checks: it strips query strings and fragments again and never forwards an
// incognito tab's URL or title, whatever the extension sent.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "workmonitor/common/result.h"

namespace wm::nmhost {

inline constexpr int kContractVersion = 1;
/// What the agent's `tab` command accepts (website_usage.cpp); longer values are cut here, not rejected.
inline constexpr size_t kMaxUrlBytes = 8192;
inline constexpr size_t kMaxTitleBytes = 4096;

/// {"type":"tab","url":...,"title":...,"incognito":bool}: the active tab of the focused window.
/// An empty url means no tab worth recording (no focused window, a browser page).
struct TabReport {
  std::string url;
  std::string title;
  bool incognito = false;
};

/// {"type":"hello","browser":...}: sent once the port opens; browser is the extension's guess (optional).
struct Hello {
  std::string browser;
};

struct Incoming {
  enum class Kind { kHello, kTab } kind = Kind::kTab;
  Hello hello;
  TabReport tab;
};

/// A message object from the extension; kInvalidInput says which field is wrong or that the type is unknown.
Result<Incoming> parseIncoming(const nlohmann::json& message);

/// url without its query string and fragment (everything from the first '?' or '#').
std::string stripQueryAndFragment(std::string_view url);

/// What may leave the host: incognito → empty url and title (the agent still ends the previous span);
/// otherwise the query and fragment stripped, the url dropped when too long, the title cut at a UTF-8
/// boundary.
TabReport sanitize(TabReport tab);

/// The agent's `tab` arguments for a sanitized report.
nlohmann::json tabArgs(const TabReport& tab, const std::string& browser);

/// {"type":"ack","recording":bool,"reason"?,"settings"?} from the agent's `tab` result.
nlohmann::json makeAck(const nlohmann::json& agent_result);
/// {"type":"status","agent":"running"|"not_running","browser":...,"retry_in_ms"?,"message"?}.
nlohmann::json makeStatus(bool agent_running, const std::string& browser, std::optional<int64_t> retry_in_ms,
                          const std::string& message = {});
/// {"type":"error","code":...,"message":...}: a message the host rejected or the agent refused.
nlohmann::json makeError(const std::string& code, const std::string& message);

}  // namespace wm::nmhost
