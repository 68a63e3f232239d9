// What the tray shows for an agent status: a pure mapping (no Qt widgets), so the logic tests cover every
// state; plus the icons, drawn at runtime so the tray ships no image files.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <QIcon>
#include <nlohmann/json.hpp>

namespace wm::tray {

enum class TrayState {
  kNotTracking,
  kTracking,
  kIdle,
  kOnBreak,
  kOffline,    // records queued and the server not reachable
  kAttention,  // something needs the person: sign-in, display, upload errors, consent, quarantined records
};

struct TrayView {
  TrayState state = TrayState::kNotTracking;
  std::string tooltip;                 // one or more lines: state, project, today's time, reasons
  std::string project;                 // the running timer's project (name when known, else id); empty if none
  int64_t today_ms = 0;                // tracked today (status.today_ms; else the running entry's elapsed time)
  std::vector<std::string> attention;  // why the state is kAttention (empty otherwise)
};

const char* trayStateName(TrayState s);

/// status: the agent's `status` result (agent/CONTROL_PROTOCOL.md); connected: whether an agent answers.
/// projects: the `projects` result, when known, to show project and task names instead of ids.
TrayView trayViewOf(const nlohmann::json& status, bool connected, const nlohmann::json& projects = nlohmann::json());

/// "1:05" (h:mm) for a duration.
std::string formatDuration(int64_t ms);

/// The tray icon for a state: a distinct colour and shape each (circle, triangle, pause bars, ...).
QIcon trayIcon(TrayState s);

}  // namespace wm::tray
