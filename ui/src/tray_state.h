// What the tray shows for an agent status: a pure mapping (no Qt widgets), so the logic tests cover every
// state; plus the icons, drawn at runtime so the tray ships no image files.
//
// Two axes, so that a problem never hides what is being recorded: the TrayState says what is recorded NOW
// (the menu title, the tooltip's first line, the icon's shape), and TrayProblems (sync failing, sign-in
// needed with records queued, consent needed...) are further lines and a badge on that icon.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <QIcon>
#include <nlohmann/json.hpp>

namespace wm::tray {

/// What is being recorded now. Keep kCount last: the state table (tray_state.cpp) is checked against it.
enum class TrayState : uint8_t {
  kAgentNotRunning,      // no agent answers: nothing is recorded
  kTracking,             // a timer runs (state `tracking`)
  kAutoTracking,         // automatic recording (state `auto_tracking`, also in service mode)
  kIdle,                 // away (state `idle`, idle.reason `idle`)
  kIdleDecisionPending,  // back from idle, the question is open; recording goes on meanwhile
  kOnBreak,              // state `on_break`
  kLocked,               // status.locked, or idle.reason `lock`
  kAsleep,               // idle.reason `suspend`
  kConsentNeeded,        // consent.required and nothing runs: only a timer may run until the answer
  kConsentDeclined,      // the person declined: nothing is monitored
  kNotTracking,          // nothing runs
  kCount
};
inline constexpr size_t kTrayStateCount = static_cast<size_t>(TrayState::kCount);

/// Something the person should know or do, shown besides the recording state. In badge priority order.
enum class TrayProblem : uint8_t {
  kConsent,      // consent needed for some categories while others (or a timer) run
  kSignIn,       // signed out or sign-in needed (with N records queued on this computer)
  kSyncFailing,  // uploads fail while the server answers (backing off), or auto-enrolment fails
  kOffline,      // records queued and the server not reachable
  kOther,        // display, company profile, quarantined records
  kCount
};
inline constexpr size_t kTrayProblemCount = static_cast<size_t>(TrayProblem::kCount);

/// One row of the state table: the words for a state. `title` may hold "%1" (the project, or what runs).
struct TrayStateInfo {
  TrayState state;
  const char* name;    // stable, for logs and tests (--debug-ui prints "state: <name>")
  const char* title;   // the menu title and the tooltip's first line: what is recorded now
  const char* detail;  // the tooltip's second line: what that means
};

const TrayStateInfo& trayStateInfo(TrayState s);
const char* trayStateName(TrayState s);
const char* trayProblemName(TrayProblem p);
/// Every state, in table order: tests iterate it so that no state lacks its words or icon.
const std::array<TrayState, kTrayStateCount>& allTrayStates();
const std::array<TrayProblem, kTrayProblemCount>& allTrayProblems();

struct TrayProblemItem {
  TrayProblem kind;
  std::string text;  // one sentence for the person
};

struct TrayView {
  TrayState state = TrayState::kNotTracking;
  std::string title;                      // what is recorded now (menu title, tooltip line 1 after "WorkMonitor: ")
  std::string tooltip;                    // title, detail, today's time, service mode, problems, one per line
  std::string project;                    // the running timer's project (name when known, else id); empty if none
  int64_t today_ms = 0;                   // tracked today (status.today_ms; else the running entry's elapsed time)
  std::vector<TrayProblemItem> problems;  // in TrayProblem order; the first one is the icon's badge
  std::optional<TrayProblem> badge() const {
    return problems.empty() ? std::nullopt : std::optional<TrayProblem>(problems.front().kind);
  }
};

/// status: the agent's `status` result (agent/CONTROL_PROTOCOL.md); connected: whether an agent answers.
/// projects: the `projects` result, when known, to show project and task names instead of ids.
TrayView trayViewOf(const nlohmann::json& status, bool connected, const nlohmann::json& projects = nlohmann::json());

/// "1:05" (h:mm) for a duration.
std::string formatDuration(int64_t ms);

/// The icon for a state (a distinct shape and colour each), with a small badge in the corner for a problem
/// (a distinct shape each). Drawn on every call: callers cache by trayIconKey.
QIcon trayIcon(TrayState s, std::optional<TrayProblem> badge = std::nullopt);
inline constexpr size_t kTrayIconCount = kTrayStateCount * (kTrayProblemCount + 1);
size_t trayIconKey(TrayState s, std::optional<TrayProblem> badge);

}  // namespace wm::tray
