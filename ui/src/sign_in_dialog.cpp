#include "sign_in_dialog.h"

#include <QDialogButtonBox>
#include <QFormLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPointer>
#include <QPushButton>
#include <QTimer>
#include <QVBoxLayout>

#include "dialogs/widget_util.h"
#include "json_fields.h"

namespace wm::tray {

using nlohmann::json;

namespace {

void pollJob(AgentApi& api, QPointer<QObject> context, int64_t job, int remaining_ms, AgentApi::Reply done) {
  api.call("sync_job", json{{"job", job}},
           [&api, context, job, remaining_ms, done = std::move(done)](Result<json> r) mutable {
             if (!context) return;
             if (!r) return done(std::unexpected(r.error()));
             if (jf::flag(*r, "done")) return done(r->contains("result") ? (*r)["result"] : json::object());
             if (remaining_ms <= 0) return done(fail(Errc::kUnavailable, "the agent did not finish in time"));
             constexpr int kStep = 250;
             QTimer::singleShot(kStep, context.data(), [&api, context, job, remaining_ms, done]() mutable {
               pollJob(api, context, job, remaining_ms - kStep, std::move(done));
             });
           });
}

bool contains(const std::string& s, const char* what) { return s.find(what) != std::string::npos; }

}  // namespace

void runSyncJob(AgentApi& api, QObject* context, const std::string& cmd, json args, AgentApi::Reply done,
                int timeout_ms) {
  QPointer<QObject> ctx(context);
  api.call(cmd, std::move(args), [&api, ctx, timeout_ms, done = std::move(done)](Result<json> r) mutable {
    if (!ctx) return;
    if (!r) return done(std::unexpected(r.error()));
    if (!r->contains("job") || !(*r)["job"].is_number_integer()) return done(*r);  // answered at once
    pollJob(api, ctx, (*r)["job"].get<int64_t>(), timeout_ms, std::move(done));
  });
}

QString signInErrorText(const Error& e) {
  const std::string& m = e.message;
  if (contains(m, "local-only"))
    return "This computer's WorkMonitor runs without a server, so there is nothing to sign in to. Ask your "
           "administrator for the server address.";
  if (contains(m, "agent is not running") || contains(m, "did not answer"))
    return "The WorkMonitor agent is not running. It is being restarted; try again in a moment.";
  if (contains(m, "needs an email and a password")) return "Enter your email and your password.";
  if (e.code == Errc::kInvalidInput && contains(m, "sign-in refused"))
    return "Wrong email or password. Check them and try again.";
  if (e.code == Errc::kUnavailable && contains(m, "cannot reach the server"))
    return "Cannot reach the WorkMonitor server. Check your network connection (or VPN) and try again.";
  if (e.code == Errc::kBusy) return "Too many sign-in attempts, or the server is busy. Wait a minute, then try again.";
  return "Sign-in failed: " + QString::fromStdString(m);
}

SignInDialog::SignInDialog(AgentApi& api, QWidget* parent) : QDialog(parent), api_(api) {
  setWindowTitle("Sign in to WorkMonitor");
  auto* form = new QFormLayout;
  email_ = new QLineEdit;
  email_->setObjectName("email");
  email_->setPlaceholderText("you@example.com");
  password_ = new QLineEdit;
  password_->setObjectName("password");
  password_->setEchoMode(QLineEdit::Password);
  form->addRow("Email", email_);
  form->addRow("Password", password_);
  error_ = new QLabel;
  error_->setObjectName("error");
  error_->setWordWrap(true);
  setTextColor(error_, QColor(0xb0, 0x00, 0x20));
  error_->hide();
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Cancel);
  submit_ = buttons->addButton("Sign in", QDialogButtonBox::AcceptRole);
  submit_->setDefault(true);
  connect(buttons, &QDialogButtonBox::accepted, this, &SignInDialog::submit);
  connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
  auto* layout = new QVBoxLayout(this);
  layout->addLayout(form);
  layout->addWidget(error_);
  layout->addWidget(buttons);
}

QString SignInDialog::errorText() const { return error_->isHidden() ? QString() : error_->text(); }

void SignInDialog::setCredentials(const QString& email, const QString& password) {
  email_->setText(email);
  password_->setText(password);
}

void SignInDialog::submit() {
  const QString email = email_->text().trimmed();
  if (email.isEmpty() || password_->text().isEmpty()) {
    finished(fail(Errc::kInvalidInput, "login needs an email and a password"));
    return;
  }
  error_->hide();
  submit_->setEnabled(false);
  submit_->setText("Signing in…");
  runSyncJob(api_, this, "login", json{{"email", email.toStdString()}, {"password", password_->text().toStdString()}},
             [this](Result<json> r) { finished(std::move(r)); });
}

void SignInDialog::finished(Result<json> r) {
  submit_->setEnabled(true);
  submit_->setText("Sign in");
  if (!r) {
    error_->setText(signInErrorText(r.error()));
    error_->show();
    password_->selectAll();
    password_->setFocus();
    return;
  }
  password_->clear();
  emit signedIn(*r);
  accept();
}

}  // namespace wm::tray
