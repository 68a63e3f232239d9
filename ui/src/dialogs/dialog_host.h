// The tray's windows, as TrayApp sees them. The dialogs (consent, idle return, my activity, settings,
// screenshot notice) live in ui/src/dialogs/ and implement this (DialogHostImpl); TrayApp only calls it.
#pragma once

#include <memory>

#include <nlohmann/json.hpp>

#include "agent_api.h"

class QWidget;

namespace wm::tray {

// Opens the tray's windows; the dialogs engineer implements it (DialogHostImpl in ui/src/dialogs/), TrayApp calls it.
class DialogHost {
 public:
  virtual ~DialogHost() = default;
  virtual void showConsent(const nlohmann::json& consent) = 0;          // status.consent when required
  virtual void showIdleReturn(const nlohmann::json& idle_pending) = 0;  // status.idle_pending / idle_return event
  virtual void showMyActivity() = 0;
  virtual void showSettings() = 0;
  virtual void showScreenshotNotice(const nlohmann::json& shot) = 0;  // the `screenshot` event
  virtual void closeIdleReturn() = 0;                                 // idle_resolved arrived
};

std::unique_ptr<DialogHost> makeDialogHost(AgentApi& api, QWidget* parent = nullptr);  // in dialogs/

}  // namespace wm::tray
