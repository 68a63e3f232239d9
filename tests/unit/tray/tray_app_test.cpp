// TrayApp and the sign-in dialog against a recording AgentApi: what the menu sends, what it shows, which
// windows open when.
#include <gtest/gtest.h>
#include <QAction>
#include <QLabel>

#include "recording_api.h"
#include "sign_in_dialog.h"
#include "tray_app.h"

namespace wm::tray {
namespace {

using nlohmann::json;
using test::drain;
using test::RecordingApi;
using test::RecordingDialogs;

json statusOf(const std::string& state) {
  json s{{"state", state},
         {"timer", nullptr},
         {"agent", {{"display", "ok"}}},
         {"outbox", {{"pending", 0}}},
         {"sync", {{"mode", "sync"}, {"auth", "signed_in"}, {"online", true}}},
         {"consent", {{"required", false}}}};
  if (state == "tracking") s["timer"] = {{"project_id", "p1"}, {"task_id", "t2"}, {"elapsed_ms", 1000}};
  return s;
}

const json kProjects = {{"projects",
                         {{{"id", "p1"}, {"name", "Website"}, {"tasks", {{{"id", "t2"}, {"name", "Design"}}}}},
                          {{"id", "p2"}, {"name", "R&D"}, {"tasks", json::array()}}}},
                        {"fetched_at", "2024-05-01T10:00:00Z"},
                        {"offline", false}};

class TrayAppTest : public ::testing::Test {
 protected:
  void SetUp() override {
    api_.answers["projects"] = kProjects;
    api_.answers["status"] = statusOf("not_tracking");
    TrayAppOptions o;
    o.show_icon = false;
    app_ = std::make_unique<TrayApp>(api_, &dialogs_, o);
    app_->setConnected(true);
    app_->onStatus(statusOf("not_tracking"));
    drain();
  }
  void trigger(const QString& text) {
    QAction* a = app_->findAction(text);
    ASSERT_NE(a, nullptr) << text.toStdString() << " not in " << app_->menuTexts().join(" | ").toStdString();
    ASSERT_TRUE(a->isEnabled()) << text.toStdString();
    a->trigger();
    drain();
  }
  bool shows(const QString& text) const { return app_->menuTexts().contains(text); }

  RecordingApi api_;
  RecordingDialogs dialogs_;
  std::unique_ptr<TrayApp> app_;
};

TEST_F(TrayAppTest, FetchesProjectsOnConnectAndOffersThemUnderStart) {
  EXPECT_TRUE(api_.sent("projects"));
  EXPECT_TRUE(shows("Start timer ▸ Website ▸ Design")) << app_->menuTexts().join(" | ").toStdString();
  EXPECT_TRUE(shows("Start timer ▸ R&D"));
  EXPECT_TRUE(shows("Start timer ▸ Without a project"));
  EXPECT_FALSE(shows("Stop timer"));
  EXPECT_TRUE(shows("Quit WorkMonitor"));
}

TEST_F(TrayAppTest, StartWithProjectAndTaskSendsStart) {
  api_.answers["start"] = statusOf("tracking");
  trigger("Design");
  const auto* c = api_.last("start");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->args, (json{{"project_id", "p1"}, {"task_id", "t2"}}));
  // The reply is the new status: the menu follows at once.
  EXPECT_EQ(app_->view().state, TrayState::kTracking);
  EXPECT_TRUE(shows("Stop timer"));
  EXPECT_FALSE(shows("Start timer"));
  EXPECT_NE(app_->menuTexts()[0].indexOf("Timer running: Website / Design"), -1) << app_->menuTexts()[0].toStdString();

  EXPECT_EQ(app_->findAction("R&D"), nullptr) << "the project list is hidden while tracking";
}

TEST_F(TrayAppTest, StartWithoutProject) {
  trigger("Without a project");
  ASSERT_NE(api_.last("start"), nullptr);
  EXPECT_EQ(api_.last("start")->args, json::object());
}

TEST_F(TrayAppTest, StopBreakAndEndBreak) {
  app_->onStatus(statusOf("tracking"));
  api_.answers["stop"] = statusOf("not_tracking");
  trigger("Stop timer");
  EXPECT_TRUE(api_.sent("stop"));
  api_.answers["break_start"] = statusOf("on_break");
  trigger("Take a break");
  EXPECT_TRUE(api_.sent("break_start"));
  EXPECT_EQ(app_->view().state, TrayState::kOnBreak);
  EXPECT_FALSE(shows("Take a break"));
  api_.answers["break_end"] = statusOf("not_tracking");
  trigger("End break");
  EXPECT_TRUE(api_.sent("break_end"));
}

TEST_F(TrayAppTest, SyncNowRunsTheSyncJob) {
  api_.answers["sync"] = json{{"job", 4}};
  api_.answers["sync_job"] = json{{"done", true}, {"result", {{"uploaded", 3}}}};
  trigger("Sync now");
  EXPECT_TRUE(api_.sent("sync"));
  ASSERT_NE(api_.last("sync_job"), nullptr);
  EXPECT_EQ(api_.last("sync_job")->args, (json{{"job", 4}}));
  EXPECT_TRUE(app_->lastMessage().startsWith("Sync")) << app_->lastMessage().toStdString();
}

TEST_F(TrayAppTest, SyncNowDisabledInLocalOnlyMode) {
  json s = statusOf("not_tracking");
  s["sync"] = {{"mode", "local-only"}};
  app_->onStatus(s);
  EXPECT_FALSE(app_->findAction("Sync now")->isEnabled());
}

TEST_F(TrayAppTest, SignOutAndSignInFollowAuth) {
  EXPECT_TRUE(shows("Sign out"));
  EXPECT_FALSE(shows("Sign in…"));
  api_.answers["logout"] = json{{"job", 1}};
  api_.answers["sync_job"] = json{{"done", true}, {"result", json::object()}};
  trigger("Sign out");
  EXPECT_TRUE(api_.sent("logout"));
  json s = statusOf("not_tracking");
  s["sync"]["auth"] = "signed_out";
  app_->onStatus(s);
  EXPECT_TRUE(shows("Sign in…"));
  trigger("Sign in…");
  ASSERT_NE(app_->signInDialog(), nullptr);
  EXPECT_TRUE(app_->signInDialog()->isVisible());
  app_->signInDialog()->close();
}

TEST_F(TrayAppTest, MyActivityAndSettingsOpenTheirWindows) {
  trigger("My activity…");
  trigger("Settings…");
  EXPECT_EQ(dialogs_.opened, (std::vector<std::string>{"my_activity", "settings"}));
}

TEST_F(TrayAppTest, QuitHiddenWhenTheProfileForbidsIt) {
  json s = statusOf("tracking");
  s["agent"]["allow_quit"] = false;
  app_->onStatus(s);
  EXPECT_FALSE(shows("Quit WorkMonitor"));
  s["agent"]["allow_quit"] = true;
  app_->onStatus(s);
  EXPECT_TRUE(shows("Quit WorkMonitor"));
  bool quit = false;
  QObject::connect(app_.get(), &TrayApp::quitRequested, [&] { quit = true; });
  trigger("Quit WorkMonitor");
  EXPECT_TRUE(quit);
  EXPECT_FALSE(api_.sent("stop")) << "quitting the tray does not stop the agent's timer";
}

TEST_F(TrayAppTest, ConsentOpensOncePerVersion) {
  json s = statusOf("not_tracking");
  s["consent"] = {{"required", true}, {"version", 3}, {"collects", json::array()}};
  app_->onStatus(s);
  app_->onStatus(s);
  EXPECT_EQ(dialogs_.opened, std::vector<std::string>{"consent"});
  EXPECT_EQ(dialogs_.last["version"], 3);
  EXPECT_EQ(app_->view().state, TrayState::kConsentNeeded);
  s["consent"]["version"] = 4;
  app_->onStatus(s);
  EXPECT_EQ(dialogs_.opened.size(), 2u);
}

TEST_F(TrayAppTest, IdleReturnFromEventOrPendingAtConnectAndClosedWhenResolved) {
  app_->onEvent("idle_return", json{{"idle_id", "i1"}, {"duration_ms", 60000}});
  app_->onEvent("idle_resolved", json{{"idle_id", "i1"}, {"decision", "keep"}});
  json s = statusOf("tracking");
  s["idle_pending"] = {{"idle_id", "i2"}, {"duration_ms", 9000}};
  app_->onStatus(s);
  app_->onStatus(s);  // the same question: not opened twice
  s.erase("idle_pending");
  app_->onStatus(s);  // answered elsewhere (the CLI): closed
  EXPECT_EQ(dialogs_.opened,
            (std::vector<std::string>{"idle_return", "close_idle_return", "idle_return", "close_idle_return"}));
}

TEST_F(TrayAppTest, ScreenshotEventShowsTheNotice) {
  app_->onEvent("screenshot", json{{"id", "s1"}, {"width", 1280}});
  EXPECT_EQ(dialogs_.opened, std::vector<std::string>{"screenshot"});
  EXPECT_EQ(dialogs_.last["id"], "s1");
}

TEST_F(TrayAppTest, DisconnectedKeepsTheCachedProjectsButDisablesActions) {
  app_->setConnected(false);
  EXPECT_EQ(app_->view().state, TrayState::kAgentNotRunning);
  EXPECT_EQ(app_->menuTexts()[0], "Agent not running — nothing is recorded");
  EXPECT_TRUE(shows("Start timer ▸ Website ▸ Design")) << "the cached list is still shown";
  EXPECT_FALSE(app_->findAction("Take a break")->isEnabled());
  EXPECT_FALSE(app_->findAction("Start timer")->isEnabled());
}

TEST_F(TrayAppTest, ProjectsOfflineNoteAndFailure) {
  json p = kProjects;
  p["offline"] = true;
  app_->onProjects(p);
  EXPECT_TRUE(shows("Start timer ▸ Offline: list from 2024-05-01T10:00:00Z"))
      << app_->menuTexts().join(" | ").toStdString();
  RecordingApi api;
  api.answers["projects"] = std::unexpected(Error{Errc::kInvalidInput, "unknown command"});
  TrayAppOptions o;
  o.show_icon = false;
  TrayApp other(api, nullptr, o);
  other.setConnected(true);
  drain();
  EXPECT_TRUE(other.menuTexts().contains("Start timer ▸ No project list: unknown command"))
      << other.menuTexts().join(" | ").toStdString();
  EXPECT_TRUE(other.menuTexts().contains("Start timer ▸ Without a project"));
}

// The menu's first entry says what is recorded; problems follow it, one entry each, and go when solved.
TEST_F(TrayAppTest, MenuTitleSaysWhatIsRecordedAndProblemsFollowIt) {
  json s = statusOf("auto_tracking");
  s["recording_apps"] = true;
  s["today_ms"] = 3 * 3'600'000;
  s["sync"]["last_error"] = "HTTP 503";
  s["sync"]["backing_off"] = true;
  s["outbox"]["pending"] = 9;
  app_->onStatus(s);
  ASSERT_GE(app_->menuTexts().size(), 2);
  EXPECT_EQ(app_->menuTexts()[0], "Recording automatically — apps in front are recorded · 3:00")
      << app_->menuTexts().join(" | ").toStdString();
  EXPECT_TRUE(app_->menuTexts()[1].startsWith("⚠ Upload failing: HTTP 503 — 9 records queued"))
      << app_->menuTexts().join(" | ").toStdString();
  EXPECT_FALSE(app_->menuTexts().join(" | ").contains("Not tracking"));
  s["sync"].erase("last_error");
  app_->onStatus(s);
  EXPECT_FALSE(app_->menuTexts().join(" | ").contains("⚠")) << app_->menuTexts().join(" | ").toStdString();
  app_->onStatus(statusOf("not_tracking"));
  EXPECT_EQ(app_->menuTexts()[0], "Not tracking — nothing is recorded");
  // The title reads plainly (enabled, not greyed out) and shows what was recorded when picked.
  EXPECT_TRUE(app_->findAction("Not tracking — nothing is recorded")->font().bold());
  trigger("Not tracking — nothing is recorded");
  EXPECT_EQ(dialogs_.opened, std::vector<std::string>{"my_activity"});
}

TEST_F(TrayAppTest, AfterADeclineNoTimerIsOffered) {
  json s = statusOf("not_tracking");
  s["consent"] = {{"required", false}, {"decision", "declined"}};
  app_->onStatus(s);
  drain();
  EXPECT_EQ(app_->view().state, TrayState::kConsentDeclined);
  ASSERT_NE(app_->findAction("Start timer"), nullptr);
  EXPECT_FALSE(app_->findAction("Start timer")->isEnabled()) << "the agent refuses a timer after a decline";
  app_->onStatus(statusOf("not_tracking"));
  drain();
  EXPECT_TRUE(app_->findAction("Start timer")->isEnabled());
}

TEST_F(TrayAppTest, StateEventUpdatesAtOnce) {
  app_->onEvent("state", json{{"state", "on_break"}});
  EXPECT_EQ(app_->view().state, TrayState::kOnBreak);
}

// Sign-in: the agent's errors, as a person reads them.
struct SignInCase {
  Error error;
  const char* expect;
};

TEST(SignIn, ErrorsArePlainSentences) {
  const std::vector<SignInCase> cases = {
      {{Errc::kInvalidInput, "sign-in refused: invalid email or password"}, "Wrong email or password"},
      {{Errc::kUnavailable, "cannot reach the server (connect): Connection refused"},
       "Cannot reach the WorkMonitor server"},
      {{Errc::kBusy, "too many requests"}, "Too many sign-in attempts"},
      {{Errc::kUnavailable, "this agent runs local-only: start it with ..."}, "runs without a server"},
      {{Errc::kUnavailable, "the agent is not running"}, "agent is not running"},
      {{Errc::kIo, "HTTP 500"}, "Sign-in failed: HTTP 500"},
  };
  for (const auto& c : cases)
    EXPECT_TRUE(signInErrorText(c.error).contains(c.expect)) << signInErrorText(c.error).toStdString();
}

TEST(SignIn, DialogRunsTheLoginJobAndShowsErrors) {
  RecordingApi api;
  api.answers["login"] = json{{"job", 7}};
  api.answers["sync_job"] = std::unexpected(Error{Errc::kInvalidInput, "sign-in refused: bad password"});
  SignInDialog d(api);
  d.show();
  d.setCredentials("ann@example.com", "wrong");
  d.submit();
  drain();
  ASSERT_NE(api.last("login"), nullptr);
  EXPECT_EQ(api.last("login")->args, (json{{"email", "ann@example.com"}, {"password", "wrong"}}));
  EXPECT_EQ(api.last("sync_job")->args, (json{{"job", 7}}));
  EXPECT_TRUE(d.errorText().contains("Wrong email or password")) << d.errorText().toStdString();
  EXPECT_TRUE(d.isVisible());

  api.answers["sync_job"] = json{{"done", true}, {"result", {{"signed_in", true}}}};
  bool signed_in = false;
  QObject::connect(&d, &SignInDialog::signedIn, [&] { signed_in = true; });
  d.setCredentials("ann@example.com", "right");
  d.submit();
  drain();
  EXPECT_TRUE(signed_in);
  EXPECT_EQ(d.result(), QDialog::Accepted);
}

TEST(SignIn, EmptyFieldsAreCaughtBeforeAsking) {
  RecordingApi api;
  SignInDialog d(api);
  d.setCredentials("", "");
  d.submit();
  EXPECT_TRUE(api.calls.empty());
  EXPECT_TRUE(d.errorText().contains("Enter your email"));
}

}  // namespace
}  // namespace wm::tray
