#include "dialogs/consent_dialog.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QPointer>
#include <QPushButton>
#include <QVBoxLayout>

#include "dialogs/widget_util.h"

namespace wm::tray {

ConsentDialog::ConsentDialog(AgentApi& api, QWidget* parent) : QDialog(parent), api_(api) {
  setObjectName(QStringLiteral("consent_dialog"));
  setWindowTitle(QStringLiteral("WorkMonitor — your consent"));
  auto* layout = new QVBoxLayout(this);
  title_ = plainLabel({}, "title", this);
  emphasize(title_, 1.3);
  intro_ = plainLabel({}, "intro", this);
  changes_ = plainLabel({}, "changes", this);
  changes_->setFrameShape(QFrame::StyledPanel);
  changes_->setMargin(8);
  items_ = plainLabel({}, "items", this);
  who_ = plainLabel({}, "who_can_see", this);
  note_ = plainLabel({}, "decline_note", this);
  emphasize(note_, 1.15);
  error_ = plainLabel({}, "error", this);
  setTextColor(error_, QColor(0xb0, 0x00, 0x20));
  for (QLabel* l : {title_, intro_, changes_, items_, who_, note_, error_}) layout->addWidget(l);

  auto* buttons = new QHBoxLayout;
  buttons->addStretch();
  decline_ = new QPushButton(QStringLiteral("Decline"), this);
  decline_->setObjectName(QStringLiteral("decline"));
  accept_ = new QPushButton(QStringLiteral("Accept"), this);
  accept_->setObjectName(QStringLiteral("accept"));
  close_ = new QPushButton(QStringLiteral("Close"), this);
  close_->setObjectName(QStringLiteral("close"));
  buttons->addWidget(decline_);
  buttons->addWidget(accept_);
  buttons->addWidget(close_);
  layout->addLayout(buttons);
  // Neither answer is the default: Enter must not agree to monitoring by accident.
  accept_->setAutoDefault(false);
  decline_->setAutoDefault(false);
  connect(accept_, &QPushButton::clicked, this, [this] { answer("grant"); });
  connect(decline_, &QPushButton::clicked, this, [this] { answer("decline"); });
  connect(close_, &QPushButton::clicked, this, &QDialog::reject);
  setMinimumWidth(460);
  setConsent(nlohmann::json::object());
}

void ConsentDialog::setConsent(const nlohmann::json& consent) {
  model_ = consentText(consent);
  title_->setText(QString::fromStdString(model_.title));
  intro_->setText(QString::fromStdString(model_.intro));
  changes_->setText(QString::fromStdString("What changed since you last agreed:\n" + joinLines(model_.changes, "")));
  changes_->setVisible(model_.is_update);
  std::vector<std::string> lines;
  for (const auto& item : model_.items)
    lines.push_back("• " + item.label + (item.detail.empty() ? "" : " — " + item.detail) +
                    (item.changed ? "  (new)" : ""));
  items_->setText(
      QString::fromStdString((model_.is_update ? "Everything collected now:\n" : "") + joinLines(lines, "")));
  who_->setText(QString::fromStdString(model_.who_can_see));
  note_->hide();
  error_->hide();
  accept_->setVisible(true);
  decline_->setVisible(true);
  accept_->setEnabled(true);
  decline_->setEnabled(true);
  close_->hide();
}

void ConsentDialog::answer(const char* decision) {
  accept_->setEnabled(false);
  decline_->setEnabled(false);
  error_->hide();
  const bool grant = std::string(decision) == "grant";
  QPointer<ConsentDialog> self(this);
  api_.call("consent", {{"decision", decision}, {"version", model_.version}}, [self, grant](Result<nlohmann::json> r) {
    if (!self) return;
    if (!r) {
      self->error_->setText(QString::fromStdString("The answer did not reach the agent: " + r.error().message));
      self->error_->show();
      self->accept_->setEnabled(true);
      self->decline_->setEnabled(true);
      return;
    }
    if (grant) {
      self->accept();
      return;
    }
    // Declining is final for this version: say what it means and leave only Close.
    self->note_->setText(QString::fromStdString(self->model_.decline_note));
    self->note_->show();
    self->accept_->hide();
    self->decline_->hide();
    self->close_->show();
  });
}

}  // namespace wm::tray
