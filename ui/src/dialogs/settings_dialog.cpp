#include "dialogs/settings_dialog.h"

#include <limits>

#include <QCheckBox>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPointer>
#include <QPushButton>
#include <QScrollArea>
#include <QSpinBox>
#include <QVBoxLayout>

#include "dialogs/widget_util.h"

namespace wm::tray {

using nlohmann::json;

SettingsDialog::SettingsDialog(AgentApi& api, QWidget* parent) : QDialog(parent), api_(api) {
  setObjectName(QStringLiteral("settings_dialog"));
  setWindowTitle(QStringLiteral("WorkMonitor — settings"));
  auto* layout = new QVBoxLayout(this);
  status_ = plainLabel("Loading settings…", "status", this);
  layout->addWidget(status_);
  error_ = plainLabel({}, "error", this);
  setTextColor(error_, QColor(0xb0, 0x00, 0x20));
  error_->hide();
  layout->addWidget(error_);
  auto* scroll = new QScrollArea(this);
  scroll->setObjectName(QStringLiteral("rows"));
  scroll->setWidgetResizable(true);
  form_widget_ = new QWidget(scroll);
  scroll->setWidget(form_widget_);
  layout->addWidget(scroll, 1);
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close, this);
  connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
  layout->addWidget(buttons);
  resize(780, 600);  // wide enough for the longest label, editor and note side by side
}

void SettingsDialog::reload() {
  QPointer<SettingsDialog> self(this);
  api_.call("settings", json::object(), [self](Result<json> r) {
    if (!self) return;
    if (!r) return self->showError("Could not load the settings: " + r.error().message);
    self->error_->hide();
    self->setRows(*r);
  });
}

void SettingsDialog::showError(const std::string& message) {
  error_->setText(QString::fromStdString(message));
  error_->show();
}

void SettingsDialog::setRows(const json& reply) {
  last_reply_ = reply;
  rows_ = settingsRows(reply);
  // A new form replaces the old one; the old one goes later, since its editor may be sending the signal
  // that led here.
  auto* scroll = findChild<QScrollArea*>(QStringLiteral("rows"));
  QWidget* old = scroll->takeWidget();
  if (old) {
    old->hide();
    old->setObjectName(QString());
    for (QWidget* child : old->findChildren<QWidget*>()) {
      child->disconnect(this);  // hiding a focused editor ends its editing: that must not save again
      child->setObjectName(QString());
    }
    old->deleteLater();
  }
  form_widget_ = new QWidget(scroll);
  form_widget_->setObjectName(QStringLiteral("form"));
  auto* form = new QFormLayout(form_widget_);
  for (const SettingRow& row : rows_) {
    auto* field = new QWidget(form_widget_);
    auto* h = new QHBoxLayout(field);
    h->setContentsMargins(0, 0, 0, 0);
    QWidget* editor = editorFor(row, field);
    editor->setObjectName(QString::fromStdString(row.key));
    h->addWidget(editor, 1);
    if (!row.note.empty()) {
      QLabel* note = plainLabel(row.note, "", field);
      note->setWordWrap(false);
      note->setObjectName(QString::fromStdString("note_" + row.key));
      if (row.locked) setTextColor(note, QColor(0x8a, 0x5a, 0x00));
      h->addWidget(note);
    }
    if (row.locked) {
      editor->setEnabled(false);
      editor->setToolTip(row.source == "policy"
                             ? QStringLiteral("Locked on this computer by its administrator (machine policy).")
                             : QStringLiteral("Set by your company; you cannot change it here."));
    }
    form->addRow(QString::fromStdString(row.label + ":"), field);
  }
  scroll->setWidget(form_widget_);
  const auto locked = std::count_if(rows_.begin(), rows_.end(), [](const SettingRow& r) { return r.locked; });
  status_->setText(QString::fromStdString(
      rows_.empty() ? std::string("The agent reported no settings.")
      : locked > 0  ? std::to_string(locked) + " of these are locked by your company or this computer's administrator."
                    : std::string("Changes apply at once.")));
}

QWidget* SettingsDialog::editorFor(const SettingRow& row, QWidget* parent) {
  const std::string key = row.key;
  switch (row.kind) {
    case SettingRow::Kind::kBool: {
      auto* box = new QCheckBox(parent);
      box->setChecked(row.value.get<bool>());
      connect(box, &QCheckBox::toggled, this, [this, key](bool on) { save(key, on); });
      return box;
    }
    case SettingRow::Kind::kInt: {
      auto* spin = new QSpinBox(parent);
      spin->setRange(0, std::numeric_limits<int>::max());
      const auto v = row.value.get<int64_t>();
      if (v < 0) spin->setMinimum(std::numeric_limits<int>::min());
      spin->setValue(static_cast<int>(v));
      spin->setKeyboardTracking(false);
      connect(spin, &QSpinBox::editingFinished, this, [this, key, spin, v] {
        if (spin->value() != v) save(key, static_cast<int64_t>(spin->value()));
      });
      return spin;
    }
    case SettingRow::Kind::kChoice: {
      auto* combo = new QComboBox(parent);
      for (const auto& [value, label] : row.choices)
        combo->addItem(QString::fromStdString(label), QString::fromStdString(value));
      const QString current = QString::fromStdString(row.value.get<std::string>());
      if (combo->findData(current) < 0) combo->addItem(current, current);  // a value this tray does not know
      combo->setCurrentIndex(combo->findData(current));
      connect(combo, &QComboBox::activated, this, [this, key, combo, current](int i) {
        const QString picked = combo->itemData(i).toString();
        if (picked != current) save(key, picked.toStdString());
      });
      return combo;
    }
    case SettingRow::Kind::kText:
    case SettingRow::Kind::kList: {
      auto* edit = new QLineEdit(QString::fromStdString(settingValueText(row.value)), parent);
      if (row.kind == SettingRow::Kind::kList) edit->setPlaceholderText(QStringLiteral("comma separated"));
      const SettingRow::Kind kind = row.kind;
      const json old = row.value;
      connect(edit, &QLineEdit::editingFinished, this, [this, key, edit, kind, old] {
        json value = settingValueFromText(kind, edit->text().toStdString());
        if (value != old) save(key, std::move(value));
      });
      return edit;
    }
  }
  return new QWidget(parent);
}

void SettingsDialog::save(const std::string& key, json value) {
  error_->hide();
  QPointer<SettingsDialog> self(this);
  api_.call("set_setting", {{"key", key}, {"value", std::move(value)}}, [self, key](Result<json> r) {
    if (!self) return;
    if (!r) {
      self->showError("Could not change “" + key + "”: " + r.error().message);
      self->setRows(self->last_reply_);  // back to what the agent holds
      return;
    }
    self->setRows(*r);
  });
}

}  // namespace wm::tray
