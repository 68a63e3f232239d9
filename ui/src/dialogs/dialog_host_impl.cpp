#include "dialogs/dialog_host_impl.h"

namespace wm::tray {

namespace {
void bringUp(QWidget* w) {
  w->show();
  w->raise();
  w->activateWindow();
}
}  // namespace

DialogHostImpl::~DialogHostImpl() {
  delete consent_.data();
  delete idle_.data();
  delete activity_.data();
  delete settings_.data();
  delete notice_.data();
}

void DialogHostImpl::showConsent(const nlohmann::json& consent) {
  if (!consent_) consent_ = new ConsentDialog(api_, parent_);
  // The same question again (a status poll) leaves the dialog as it is: an answer may be on its way or the
  // decline note on screen. A new version or new changes replace it.
  const bool same = consent_->isVisible() && consent_shown_.is_object() && consent.is_object() &&
                    consent_shown_.value("version", nlohmann::json()) == consent.value("version", nlohmann::json()) &&
                    consent_shown_.value("changes", nlohmann::json()) == consent.value("changes", nlohmann::json());
  if (!same) {
    consent_->setConsent(consent);
    consent_shown_ = consent;
  }
  bringUp(consent_);
}

void DialogHostImpl::showIdleReturn(const nlohmann::json& idle_pending) {
  if (!idle_) idle_ = new IdleReturnDialog(api_, parent_);
  if (!idle_->isVisible() || idle_->model().idle_id != jsonString(idle_pending, "idle_id"))
    idle_->setQuestion(idle_pending);
  bringUp(idle_);
}

void DialogHostImpl::closeIdleReturn() {
  if (idle_) idle_->hide();
}

void DialogHostImpl::showMyActivity() {
  if (!activity_) activity_ = new ActivityWindow(api_, parent_);
  activity_->refresh();
  bringUp(activity_);
}

void DialogHostImpl::showSettings() {
  if (!settings_) settings_ = new SettingsDialog(api_, parent_);
  settings_->reload();
  bringUp(settings_);
}

void DialogHostImpl::showScreenshotNotice(const nlohmann::json& shot) {
  if (!notice_) notice_ = new ScreenshotNotice(parent_);
  notice_->showShot(shot);
}

std::unique_ptr<DialogHost> makeDialogHost(AgentApi& api, QWidget* parent) {
  return std::make_unique<DialogHostImpl>(api, parent);
}

}  // namespace wm::tray
