// DialogHost as the tray uses it: creates each window when it opens and deletes it when it closes (a window
// already open is reused). The accessors let the tests reach the windows it opened, until they are deleted.
#pragma once

#include <QPointer>

#include "dialogs/activity_window.h"
#include "dialogs/consent_dialog.h"
#include "dialogs/dialog_host.h"
#include "dialogs/idle_return_dialog.h"
#include "dialogs/screenshot_notice.h"
#include "dialogs/settings_dialog.h"

namespace wm::tray {

class DialogHostImpl : public DialogHost {
 public:
  DialogHostImpl(AgentApi& api, QWidget* parent) : api_(api), parent_(parent) {}
  ~DialogHostImpl() override;
  DialogHostImpl(const DialogHostImpl&) = delete;
  DialogHostImpl& operator=(const DialogHostImpl&) = delete;

  void showConsent(const nlohmann::json& consent) override;
  void showIdleReturn(const nlohmann::json& idle_pending) override;
  void showMyActivity() override;
  void showSettings() override;
  void showScreenshotNotice(const nlohmann::json& shot) override;
  void closeIdleReturn() override;

  ConsentDialog* consentDialog() const { return consent_; }
  IdleReturnDialog* idleReturnDialog() const { return idle_; }
  ActivityWindow* activityWindow() const { return activity_; }
  SettingsDialog* settingsDialog() const { return settings_; }
  ScreenshotNotice* screenshotNotice() const { return notice_; }

 private:
  AgentApi& api_;
  QWidget* parent_;
  // With a parent the windows are its children too; QPointer notices if the parent deleted them first.
  QPointer<ConsentDialog> consent_;
  QPointer<IdleReturnDialog> idle_;
  QPointer<ActivityWindow> activity_;
  QPointer<SettingsDialog> settings_;
  QPointer<ScreenshotNotice> notice_;
  nlohmann::json consent_shown_;  // the consent state the dialog shows, to keep a repeat from resetting it
};

}  // namespace wm::tray
