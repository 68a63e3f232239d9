#include "dialogs/idle_return_dialog.h"

#include <QComboBox>
#include <QFormLayout>
#include <QLabel>
#include <QPointer>
#include <QPushButton>
#include <QVBoxLayout>

#include "dialogs/widget_util.h"

namespace wm::tray {

using nlohmann::json;

IdleReturnDialog::IdleReturnDialog(AgentApi& api, QWidget* parent) : QDialog(parent), api_(api) {
  setObjectName(QStringLiteral("idle_return_dialog"));
  setWindowTitle(QStringLiteral("WorkMonitor — welcome back"));
  auto* layout = new QVBoxLayout(this);
  sentence_ = plainLabel({}, "sentence", this);
  emphasize(sentence_, 1.15);
  layout->addWidget(sentence_);
  layout->addWidget(plainLabel("What should happen to that time?", "question", this));
  choices_ = new QWidget(this);
  choice_layout_ = new QVBoxLayout(choices_);
  choice_layout_->setContentsMargins(0, 0, 0, 0);
  layout->addWidget(choices_);
  // The project picker comes between the choices and the note, once "reassign" is picked (makePicker).

  default_note_ = plainLabel({}, "default_note", this);
  layout->addWidget(default_note_);
  error_ = plainLabel({}, "error", this);
  setTextColor(error_, QColor(0xb0, 0x00, 0x20));
  error_->hide();
  layout->addWidget(error_);

  setMinimumWidth(380);
}

// Made when first needed: most answers are one click, and a window that never shows the picker does not
// bring the combo boxes' code and models into the tray.
void IdleReturnDialog::makePicker() {
  picker_ = new QWidget(this);
  auto* form = new QFormLayout(picker_);
  picker_note_ = plainLabel("Loading projects…", "picker_note", picker_);
  form->addRow(picker_note_);
  project_ = new QComboBox(picker_);
  project_->setObjectName(QStringLiteral("project"));
  task_ = new QComboBox(picker_);
  task_->setObjectName(QStringLiteral("task"));
  form->addRow(QStringLiteral("Project:"), project_);
  form->addRow(QStringLiteral("Task:"), task_);
  reassign_confirm_ = new QPushButton(QStringLiteral("Move the idle time there"), picker_);
  reassign_confirm_->setObjectName(QStringLiteral("reassign_confirm"));
  form->addRow(reassign_confirm_);
  auto* outer = static_cast<QVBoxLayout*>(layout());
  outer->insertWidget(outer->indexOf(default_note_), picker_);

  connect(project_, &QComboBox::currentIndexChanged, this, [this] { fillTasks(); });
  connect(reassign_confirm_, &QPushButton::clicked, this, [this] {
    const QString project = project_->currentData().toString();
    if (project.isEmpty()) return;
    decide("reassign",
           {{"project_id", project.toStdString()}, {"task_id", task_->currentData().toString().toStdString()}});
  });
  setBusy(!choices_->isEnabled());
}

void IdleReturnDialog::setQuestion(const json& idle_pending) {
  model_ = idleChoices(idle_pending);
  sentence_->setText(QString::fromStdString(model_.sentence));
  default_note_->setText(QString::fromStdString(model_.default_note));
  default_note_->setVisible(!model_.default_note.empty());
  error_->hide();
  if (picker_ != nullptr) picker_->hide();
  // The buttons are rebuilt: another question may allow other choices.
  while (QLayoutItem* item = choice_layout_->takeAt(0)) {
    if (QWidget* w = item->widget()) {
      w->hide();
      w->setObjectName(QString());  // so a lookup by name finds only the new buttons
      w->deleteLater();
    }
    delete item;
  }
  for (const IdleChoice& c : model_.choices) {
    auto* button = new QPushButton(QString::fromStdString(c.label), choices_);
    button->setObjectName(QString::fromStdString("idle_" + c.decision));
    button->setAutoDefault(false);
    if (c.is_default) button->setDefault(true);
    const std::string decision = c.decision;
    connect(button, &QPushButton::clicked, this, [this, decision] {
      if (decision == "reassign")
        showPicker();
      else
        decide(decision);
    });
    choice_layout_->addWidget(button);
  }
  setBusy(false);
}

void IdleReturnDialog::decide(const std::string& decision, json extra) {
  json args = {{"decision", decision}, {"idle_id", model_.idle_id}};
  args.update(extra);
  setBusy(true);
  error_->hide();
  QPointer<IdleReturnDialog> self(this);
  api_.call("idle_decision", std::move(args), [self](Result<json> r) {
    if (!self) return;
    self->setBusy(false);
    if (!r) {
      self->error_->setText(QString::fromStdString("The agent did not take the answer: " + r.error().message));
      self->error_->show();
      return;
    }
    self->accept();
  });
}

void IdleReturnDialog::showPicker() {
  if (picker_ == nullptr) makePicker();
  picker_->show();
  if (!projects_.empty()) return;
  picker_note_->setText(QStringLiteral("Loading projects…"));
  picker_note_->show();
  QPointer<IdleReturnDialog> self(this);
  api_.call("projects", json::object(), [self](Result<json> r) {
    if (!self) return;
    if (!r) {
      self->picker_note_->setText(QString::fromStdString("Could not load the projects: " + r.error().message));
      return;
    }
    self->fillProjects(*r);
  });
}

void IdleReturnDialog::fillProjects(const json& reply) {
  projects_ = json::array();
  if (reply.is_object() && reply.contains("projects") && reply["projects"].is_array()) projects_ = reply["projects"];
  const bool offline = jsonBool(reply, "offline");
  picker_note_->setText(projects_.empty() ? QStringLiteral("No projects are available.")
                        : offline         ? QStringLiteral("Offline: the projects as last fetched.")
                                          : QString());
  picker_note_->setVisible(!picker_note_->text().isEmpty());
  project_->clear();
  for (const auto& p : projects_) {
    const std::string id = jsonString(p, "id");
    if (!id.empty()) project_->addItem(QString::fromStdString(jsonString(p, "name", id)), QString::fromStdString(id));
  }
  fillTasks();
}

void IdleReturnDialog::fillTasks() {
  task_->clear();
  task_->addItem(QStringLiteral("(no task)"), QString());
  const QString project = project_->currentData().toString();
  for (const auto& p : projects_) {
    if (jsonString(p, "id") != project.toStdString() || !p.contains("tasks") || !p["tasks"].is_array()) continue;
    for (const auto& t : p["tasks"]) {
      const std::string id = jsonString(t, "id");
      if (!id.empty()) task_->addItem(QString::fromStdString(jsonString(t, "name", id)), QString::fromStdString(id));
    }
  }
  reassign_confirm_->setEnabled(!project.isEmpty());
}

void IdleReturnDialog::setBusy(bool busy) {
  choices_->setEnabled(!busy);
  if (reassign_confirm_ != nullptr)
    reassign_confirm_->setEnabled(!busy && !project_->currentData().toString().isEmpty());
}

}  // namespace wm::tray
