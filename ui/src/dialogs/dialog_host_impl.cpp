#include "dialogs/dialog_host_impl.h"

#include "memory_release.h"

namespace wm::tray {

namespace {

void bringUp(QWidget* w) {
  w->show();
  w->raise();
  w->activateWindow();
}

// The window in `slot` while it is open, else a new one from `make`. Every window is deleted when it closes
// (WA_DeleteOnClose) and what it leaves behind is given back (releaseMemoryAfter): a hidden window would
// keep its widgets, its X backing store and its drawings for the tray's whole life. A closed window waiting
// for its deletion is not reused; one merely hidden is closed, so that it goes too.
template <class W, class Make>
W* openOrMake(QPointer<W>& slot, Make make) {
  if (slot && !slot->isVisible()) {
    W* old = slot.data();
    slot.clear();
    old->close();  // deleted later; nothing more if it had closed already
  }
  if (!slot) {
    slot = make();
    slot->setAttribute(Qt::WA_DeleteOnClose);
    releaseMemoryAfter(slot.data());
  }
  return slot.data();
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
  ConsentDialog* d = openOrMake(consent_, [this] { return new ConsentDialog(api_, parent_); });
  // The same question again (a status poll) leaves the dialog as it is: an answer may be on its way or the
  // decline note on screen. A new version or new changes replace it.
  const bool same = d->isVisible() && consent_shown_.is_object() && consent.is_object() &&
                    consent_shown_.value("version", nlohmann::json()) == consent.value("version", nlohmann::json()) &&
                    consent_shown_.value("changes", nlohmann::json()) == consent.value("changes", nlohmann::json());
  if (!same) {
    d->setConsent(consent);
    consent_shown_ = consent;
  }
  bringUp(d);
}

void DialogHostImpl::showIdleReturn(const nlohmann::json& idle_pending) {
  IdleReturnDialog* d = openOrMake(idle_, [this] { return new IdleReturnDialog(api_, parent_); });
  if (!d->isVisible() || d->model().idle_id != jsonString(idle_pending, "idle_id")) d->setQuestion(idle_pending);
  bringUp(d);
}

void DialogHostImpl::closeIdleReturn() {
  if (idle_) idle_->close();  // deleted later: the accessor still finds it until then
}

void DialogHostImpl::showMyActivity() {
  ActivityWindow* w = openOrMake(activity_, [this] { return new ActivityWindow(api_, parent_); });
  w->refresh();
  bringUp(w);
}

void DialogHostImpl::showSettings() {
  SettingsDialog* d = openOrMake(settings_, [this] { return new SettingsDialog(api_, parent_); });
  d->reload();
  bringUp(d);
}

void DialogHostImpl::showScreenshotNotice(const nlohmann::json& shot) {
  openOrMake(notice_, [this] { return new ScreenshotNotice(parent_); })->showShot(shot);
}

std::unique_ptr<DialogHost> makeDialogHost(AgentApi& api, QWidget* parent) {
  return std::make_unique<DialogHostImpl>(api, parent);
}

}  // namespace wm::tray
