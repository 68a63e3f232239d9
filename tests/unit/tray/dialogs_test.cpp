// The tray's windows (ui/src/dialogs): their words from the agent's JSON, and the exact commands their
// buttons send, against a recording AgentApi (a test seam for the socket). Widgets run offscreen.
#include <gtest/gtest.h>
#include <QAbstractButton>
#include <QCheckBox>
#include <QComboBox>
#include <QLabel>
#include <QLineEdit>
#include <QSpinBox>
#include <QTemporaryDir>
#include <QTest>

#include "dialogs/dialog_host_impl.h"
#include "dialogs/dialog_models.h"
#include "dialogs/widget_util.h"
#include "dialogs_test_support.h"

namespace wm::tray {
namespace {

using nlohmann::json;
using test::qtApp;
using test::RecordingAgentApi;

const QTimeZone kBerlin("Europe/Berlin");

json consentFixture() {
  return json::parse(R"j({
    "required": true, "version": "9f2c4e1a7b3d5e60", "granted": false, "changes": [],
    "collects": [
      {"category": "app_usage", "detail": "the app and window title in front of you while time is tracked"},
      {"category": "website_usage", "detail": "the website domains you visit while time is tracked"},
      {"category": "screenshots", "detail": "1 screenshot every 10 min while time is tracked, blurred"},
      {"category": "activity", "detail": "how many keyboard and mouse events per minute (never which keys)"},
      {"category": "usb", "detail": "USB devices connected to and removed from this computer"}
    ]
})j");
}

json idleFixture() {
  return json::parse(R"j({"idle_id": "idle-7", "from": "2026-11-25T09:02:00.000Z", "to": "2026-11-25T09:19:00.000Z",
    "duration_ms": 1020000, "default": "discard_continue", "decides_in_ms": 300000,
    "allowed": ["keep", "discard", "discard_continue", "reassign", "break"]})j");
}

json settingsFixture() {
  return json::parse(R"j({"settings": [
    {"key": "screenshot_notify", "value": true, "locked": false, "source": "default"},
    {"key": "idle_threshold_s", "value": 300, "locked": false, "source": "user"},
    {"key": "screenshot_interval_s", "value": 600, "locked": true, "source": "policy"},
    {"key": "screenshots_enabled", "value": true, "locked": true, "source": "profile"},
    {"key": "idle_default_decision", "value": "discard_continue", "locked": false, "source": "default"},
    {"key": "screenshot_excluded_apps", "value": ["keepassxc"], "locked": false, "source": "user"}]})j");
}

std::string text(QWidget* root, const char* name) {
  auto* label = root->findChild<QLabel*>(QString::fromLatin1(name));
  return label ? label->text().toStdString() : "<no label " + std::string(name) + ">";
}

// --- pure models ----------------------------------------------------------------------------------------

TEST(ConsentText, ListsWhatIsCollectedAndWhoSeesIt) {
  const ConsentModel m = consentText(consentFixture());
  EXPECT_FALSE(m.is_update);
  EXPECT_EQ(m.version, "9f2c4e1a7b3d5e60");
  ASSERT_EQ(m.items.size(), 5u);
  const std::string t = m.text();
  for (const char* expected :
       {"Screenshots — 1 screenshot every 10 min while time is tracked, blurred", "Applications and window titles",
        "Websites — the website domains you visit", "never in private/incognito windows",
        "Keyboard and mouse activity counts — how many keyboard and mouse events per minute (never which keys)",
        "USB devices — USB devices connected", "never its files", "you", "your company's admins and managers"})
    EXPECT_NE(t.find(expected), std::string::npos) << expected << " missing in:\n" << t;
  EXPECT_EQ(t.find("What changed"), std::string::npos);
  EXPECT_NE(m.decline_note.find("Nothing is monitored and the timer stays off"), std::string::npos);
}

TEST(ConsentText, ShowsWhatChangedSinceTheLastGrant) {
  json c = consentFixture();
  c["granted"] = true;
  c["version"] = "a0b1c2d3e4f50617";
  c["changes"] = {"screenshots", "usb"};
  const ConsentModel m = consentText(c);
  EXPECT_TRUE(m.is_update);
  EXPECT_EQ(m.title, "Your company changed what WorkMonitor collects");
  ASSERT_EQ(m.changes.size(), 2u);
  EXPECT_EQ(m.changes[0], "New: Screenshots — 1 screenshot every 10 min while time is tracked, blurred");
  EXPECT_EQ(m.changes[1].rfind("New: USB devices", 0), 0u) << m.changes[1];
  EXPECT_TRUE(m.items[2].changed);
  EXPECT_FALSE(m.items[0].changed);
  EXPECT_NE(m.text().find("What changed since you last agreed"), std::string::npos);
}

TEST(ConsentText, ToleratesMissingAndMistypedFields) {
  const ConsentModel m =
      consentText(json::parse(R"j({"collects": [{"category": 5}, {"detail": "x"}], "changes": 7})j"));
  EXPECT_TRUE(m.items.empty());
  EXPECT_FALSE(m.is_update);
  EXPECT_TRUE(m.version.is_null());
  EXPECT_NO_THROW(consentText(json("nonsense")));
}

TEST(IdleChoices, SentenceInLocalTimeAndAllowedButtons) {
  const QDateTime now = QDateTime::fromString(QStringLiteral("2026-11-25T09:19:30Z"), Qt::ISODate);
  const IdleModel m = idleChoices(idleFixture(), kBerlin, now);
  EXPECT_EQ(m.idle_id, "idle-7");
  EXPECT_EQ(m.sentence, "You were idle from 10:02 to 10:19 (17 min).");
  std::vector<std::string> decisions;
  for (const auto& c : m.choices) decisions.push_back(c.decision);
  EXPECT_EQ(decisions, (std::vector<std::string>{"keep", "discard_continue", "discard", "reassign", "break"}));
  EXPECT_TRUE(m.choices[1].is_default);
  EXPECT_EQ(m.default_note, "If you don't answer by 10:24, “Discard and continue the timer” applies.");

  json limited = idleFixture();
  limited["allowed"] = {"discard", "break"};
  const IdleModel l = idleChoices(limited, kBerlin, now);
  ASSERT_EQ(l.choices.size(), 2u);
  EXPECT_FALSE(l.allows("keep"));
  EXPECT_FALSE(l.allows("reassign"));
  EXPECT_TRUE(l.allows("break"));
}

TEST(IdleChoices, EventFormAndSuspend) {
  json event = idleFixture();
  event.erase("allowed");
  event["choices"] = {"discard", "discard_continue", "break"};
  event["reason"] = "suspend";
  event["duration_ms"] = 2 * 3600 * 1000 + 5 * 60 * 1000;
  const IdleModel m = idleChoices(event, kBerlin);
  EXPECT_EQ(m.sentence, "Your computer was asleep from 10:02 to 10:19 (2 h 05 min).");
  EXPECT_EQ(m.choices.size(), 3u);
  json bare = idleFixture();
  bare.erase("allowed");
  EXPECT_FALSE(idleChoices(bare, kBerlin).allows("reassign")) << "reassign needs the profile's permission";
}

// Thumbnails are decoded at their small size: a full screen's pixels never sit in the tray's memory.
TEST(Thumbnails, AreDecodedToFitTheirBoxKeepingTheAspect) {
  test::qtApp();
  QTemporaryDir tmp;
  ASSERT_TRUE(tmp.isValid());
  QImage screen(1920, 1080, QImage::Format_RGB32);
  screen.fill(QColor(30, 90, 160));
  const QString jpeg = tmp.path() + "/shot.jpg";
  ASSERT_TRUE(screen.save(jpeg, "JPEG", 80));
  const QImage thumb = readThumbnail(jpeg.toStdString(), QSize(240, 135));
  ASSERT_FALSE(thumb.isNull());
  EXPECT_EQ(thumb.size(), QSize(240, 135));
  const QImage tall = readThumbnail(jpeg.toStdString(), QSize(100, 100));
  EXPECT_EQ(tall.size(), QSize(100, 56));
  QImage small(64, 36, QImage::Format_RGB32);
  small.fill(Qt::white);
  ASSERT_TRUE(small.save(tmp.path() + "/small.png", "PNG"));
  EXPECT_EQ(readThumbnail((tmp.path() + "/small.png").toStdString(), QSize(240, 135)).size(), QSize(64, 36))
      << "never enlarged";
  EXPECT_TRUE(readThumbnail((tmp.path() + "/gone.jpg").toStdString(), QSize(240, 135)).isNull());
  EXPECT_TRUE(readThumbnail("", QSize(240, 135)).isNull());
}

TEST(SettingsRows, LockedRowsAreMarked) {
  const auto rows = settingsRows(settingsFixture());
  ASSERT_EQ(rows.size(), 6u);
  EXPECT_EQ(rows[0].kind, SettingRow::Kind::kBool);
  EXPECT_EQ(rows[1].kind, SettingRow::Kind::kInt);
  EXPECT_EQ(rows[1].note, "changed by you");
  EXPECT_TRUE(rows[2].locked);
  EXPECT_EQ(rows[2].note, "locked on this computer by its administrator");  // machine policy
  EXPECT_EQ(rows[2].label, "Screenshot interval (s)");
  EXPECT_TRUE(rows[3].locked);
  EXPECT_FALSE(rows[4].locked);
  EXPECT_EQ(rows[4].kind, SettingRow::Kind::kChoice);
  ASSERT_EQ(rows[4].choices.size(), 4u);
  EXPECT_EQ(rows[4].choices[0].first, "keep");
  EXPECT_EQ(rows[5].kind, SettingRow::Kind::kList);
  EXPECT_EQ(settingValueFromText(SettingRow::Kind::kList, " a, b ,,c"), json({"a", "b", "c"}));
  EXPECT_EQ(settingValueText(json({"a", "b"})), "a, b");
}

TEST(ActivitySummary, NumbersFromTheReport) {
  const json report = json::parse(R"j({
    "tracked_ms": 12000000,
    "projects": [{"project_id": "p1", "ms": 9000000}, {"project_id": "(no project)", "ms": 3000000}],
    "apps": [{"app": "code", "ms": 7200000, "top_titles": []}, {"app": "firefox", "ms": 1800000}],
    "websites": [{"domain": "github.com", "ms": 1200000}],
    "idle": {"count": 2, "ms": 1500000, "by_decision": {"discard_continue": 900000, "keep": 600000}},
    "breaks": {"count": 1, "ms": 1800000},
    "entries": [{"project_id": "p1", "task_id": "t1", "note": "", "start": "2026-11-25T08:00:00.000Z",
                 "end": "2026-11-25T10:30:00.000Z", "ms": 9000000},
                {"project_id": "", "task_id": "", "start": "2026-11-25T11:00:00.000Z", "end": null, "ms": 3000000}],
    "screenshots": [{"thumbnail": "/nonexistent/a.jpg", "taken_at": "2026-11-25T08:15:00.000Z"}]
})j");
  const json status = json::parse(R"j({"outbox": {"records": 40, "pending": 12, "quarantined": 1},
    "sync": {"mode": "sync", "last_upload_at": "2020-01-02T03:04:00.000Z",
             "recent_quarantine": [{"reason": "task_id is not a uuid"}]}})j");
  const json projects = json::parse(R"j({"projects": [{"id": "p1", "name": "Website redesign",
    "tasks": [{"id": "t1", "name": "Layout"}]}]})j");
  const ActivitySummary s = activitySummary(report, status, projects, kBerlin);
  EXPECT_EQ(s.tracked, "Tracked today: 3 h 20 min");
  ASSERT_EQ(s.timeline.size(), 2u);
  EXPECT_EQ(s.timeline[0], "09:00–11:30  Website redesign / Layout (2 h 30 min)");
  EXPECT_EQ(s.timeline[1], "12:00–now  (no project) (50 min)");
  ASSERT_EQ(s.projects.size(), 2u);
  EXPECT_EQ(s.projects[0].text, "Website redesign — 2 h 30 min");
  EXPECT_EQ(s.apps[0].text, "code — 2 h 00 min");
  EXPECT_EQ(s.websites[0].text, "github.com — 20 min");
  EXPECT_EQ(s.idle, "Idle: 2 periods, 25 min (discarded 15 min, kept 10 min)");
  EXPECT_EQ(s.breaks, "Breaks: 1, 30 min");
  ASSERT_EQ(s.screenshots.size(), 1u);
  EXPECT_EQ(s.screenshots[0].caption, "09:15");
  ASSERT_GE(s.queue.size(), 3u);
  EXPECT_EQ(s.queue[0], "Waiting to upload: 12 records");
  EXPECT_EQ(s.queue[1], "Last successful upload: 2020-01-02 04:04");
  EXPECT_EQ(s.queue[2], "Quarantined (refused by the server): 1 record — latest: task_id is not a uuid");
}

TEST(ActivitySummary, LocalDayRange) {
  const QDateTime now = QDateTime::fromString(QStringLiteral("2026-11-25T23:30:00Z"), Qt::ISODate);
  const auto [from, to] = localDayRange(now, kBerlin);  // 00:30 on the 26th in Berlin
  EXPECT_EQ(from, QDateTime::fromString(QStringLiteral("2026-11-25T23:00:00Z"), Qt::ISODate).toMSecsSinceEpoch());
  EXPECT_EQ(to - from, 24LL * 3600 * 1000);
}

TEST(FormatDuration, Short) {
  EXPECT_EQ(formatDurationShort(45'000), "45 s");
  EXPECT_EQ(formatDurationShort(17 * 60'000 + 20'000), "17 min");
  EXPECT_EQ(formatDurationShort(3600'000 + 5 * 60'000), "1 h 05 min");
}

// --- windows --------------------------------------------------------------------------------------------

class DialogsTest : public ::testing::Test {
 protected:
  void SetUp() override { qtApp(); }
  RecordingAgentApi api;
};

TEST_F(DialogsTest, ConsentAcceptSendsGrantWithTheVersion) {
  ConsentDialog d(api);
  d.setConsent(consentFixture());
  d.show();
  d.findChild<QAbstractButton*>(QStringLiteral("accept"))->click();
  ASSERT_EQ(api.calls.size(), 1u);
  EXPECT_EQ(api.calls[0].cmd, "consent");
  EXPECT_EQ(api.calls[0].args, json({{"decision", "grant"}, {"version", "9f2c4e1a7b3d5e60"}}));
  EXPECT_EQ(api.answer("consent", json::object()), 1);
  EXPECT_FALSE(d.isVisible());
  EXPECT_EQ(d.result(), QDialog::Accepted);
}

TEST_F(DialogsTest, ConsentDeclineSendsDeclineAndSaysNothingIsMonitored) {
  ConsentDialog d(api);
  d.setConsent(consentFixture());
  d.show();
  d.findChild<QAbstractButton*>(QStringLiteral("decline"))->click();
  ASSERT_EQ(api.calls.size(), 1u);
  EXPECT_EQ(api.calls[0].cmd, "consent");
  EXPECT_EQ(api.calls[0].args, json({{"decision", "decline"}, {"version", "9f2c4e1a7b3d5e60"}}));
  api.answer("consent", json::object());
  auto* note = d.findChild<QLabel*>(QStringLiteral("decline_note"));
  ASSERT_NE(note, nullptr);
  EXPECT_TRUE(note->isVisible());
  EXPECT_NE(note->text().indexOf(QStringLiteral("Nothing is monitored and the timer stays off")), -1);
  EXPECT_FALSE(d.findChild<QAbstractButton*>(QStringLiteral("accept"))->isVisible());
}

TEST_F(DialogsTest, ConsentErrorIsShownAndTheButtonsComeBack) {
  ConsentDialog d(api);
  d.setConsent(consentFixture());
  d.show();
  auto* accept = d.findChild<QAbstractButton*>(QStringLiteral("accept"));
  accept->click();
  EXPECT_FALSE(accept->isEnabled());
  api.answer("consent", {}, "the agent is not running");
  EXPECT_TRUE(d.isVisible());
  EXPECT_TRUE(accept->isEnabled());
  EXPECT_NE(text(&d, "error").find("the agent is not running"), std::string::npos);
}

TEST_F(DialogsTest, ConsentDialogShowsTheDiff) {
  ConsentDialog d(api);
  json c = consentFixture();
  c["changes"] = {"usb"};
  d.setConsent(c);
  d.show();
  auto* changes = d.findChild<QLabel*>(QStringLiteral("changes"));
  ASSERT_NE(changes, nullptr);
  EXPECT_TRUE(changes->isVisible());
  EXPECT_NE(changes->text().indexOf(QStringLiteral("New: USB devices")), -1);
  d.setConsent(consentFixture());
  EXPECT_FALSE(changes->isVisible());
}

TEST_F(DialogsTest, EachIdleChoiceSendsItsDecisionWithTheIdleId) {
  for (const char* decision : {"keep", "discard", "discard_continue", "break"}) {
    RecordingAgentApi fresh;
    IdleReturnDialog d(fresh);
    d.setQuestion(idleFixture());
    d.show();
    auto* button = d.findChild<QAbstractButton*>(QString::fromStdString(std::string("idle_") + decision));
    ASSERT_NE(button, nullptr) << decision;
    button->click();
    ASSERT_EQ(fresh.calls.size(), 1u) << decision;
    EXPECT_EQ(fresh.calls[0].cmd, "idle_decision");
    EXPECT_EQ(fresh.calls[0].args, json({{"decision", decision}, {"idle_id", "idle-7"}}));
    fresh.answer("idle_decision", json::object());
    EXPECT_FALSE(d.isVisible()) << decision;
  }
}

TEST_F(DialogsTest, IdleDialogOffersOnlyAllowedChoices) {
  IdleReturnDialog d(api);
  json q = idleFixture();
  q["allowed"] = {"discard", "break"};
  d.setQuestion(q);
  EXPECT_EQ(d.findChild<QAbstractButton*>(QStringLiteral("idle_keep")), nullptr);
  EXPECT_EQ(d.findChild<QAbstractButton*>(QStringLiteral("idle_reassign")), nullptr);
  EXPECT_NE(d.findChild<QAbstractButton*>(QStringLiteral("idle_discard")), nullptr);
  EXPECT_EQ(text(&d, "sentence"), idleChoices(q).sentence);
}

TEST_F(DialogsTest, ReassignPicksProjectAndTaskFromProjects) {
  IdleReturnDialog d(api);
  d.setQuestion(idleFixture());
  d.show();
  d.findChild<QAbstractButton*>(QStringLiteral("idle_reassign"))->click();
  ASSERT_EQ(api.calls.size(), 1u);
  EXPECT_EQ(api.calls[0].cmd, "projects");
  api.answer("projects", json::parse(R"j({"projects": [
      {"id": "p1", "name": "Website redesign", "tasks": [{"id": "t1", "name": "Layout"}]},
      {"id": "p2", "name": "Support", "tasks": [{"id": "t2", "name": "Tickets"}, {"id": "t3", "name": "Calls"}]}],
      "offline": false})j"));
  auto* project = d.findChild<QComboBox*>(QStringLiteral("project"));
  auto* task = d.findChild<QComboBox*>(QStringLiteral("task"));
  ASSERT_EQ(project->count(), 2);
  project->setCurrentIndex(1);
  ASSERT_EQ(task->count(), 3);  // (no task), Tickets, Calls
  task->setCurrentIndex(2);
  d.findChild<QAbstractButton*>(QStringLiteral("reassign_confirm"))->click();
  ASSERT_EQ(api.argsOf("idle_decision").size(), 1u);
  EXPECT_EQ(api.argsOf("idle_decision")[0],
            json({{"decision", "reassign"}, {"idle_id", "idle-7"}, {"project_id", "p2"}, {"task_id", "t3"}}));
}

TEST_F(DialogsTest, IdleErrorKeepsTheDialogOpen) {
  IdleReturnDialog d(api);
  d.setQuestion(idleFixture());
  d.show();
  d.findChild<QAbstractButton*>(QStringLiteral("idle_keep"))->click();
  api.answer("idle_decision", {}, "no idle period is waiting for a decision");
  EXPECT_TRUE(d.isVisible());
  EXPECT_NE(text(&d, "error").find("no idle period is waiting"), std::string::npos);
}

TEST_F(DialogsTest, HostClosesIdleReturnOnIdleResolvedAndKeepsConsentOnRepeat) {
  auto host = makeDialogHost(api);
  auto* impl = static_cast<DialogHostImpl*>(host.get());
  host->showIdleReturn(idleFixture());
  ASSERT_NE(impl->idleReturnDialog(), nullptr);
  EXPECT_TRUE(impl->idleReturnDialog()->isVisible());
  host->closeIdleReturn();
  EXPECT_FALSE(impl->idleReturnDialog()->isVisible());

  host->showConsent(consentFixture());
  impl->consentDialog()->findChild<QAbstractButton*>(QStringLiteral("decline"))->click();
  api.answer("consent", json::object());
  host->showConsent(consentFixture());  // the next status poll: the decline note stays
  EXPECT_TRUE(impl->consentDialog()->findChild<QLabel*>(QStringLiteral("decline_note"))->isVisible());
  json changed = consentFixture();
  changed["version"] = "a0b1c2d3e4f50617";
  changed["changes"] = {"usb"};
  host->showConsent(changed);
  EXPECT_FALSE(impl->consentDialog()->findChild<QLabel*>(QStringLiteral("decline_note"))->isVisible());
  EXPECT_TRUE(impl->consentDialog()->findChild<QLabel*>(QStringLiteral("changes"))->isVisible());
}

TEST_F(DialogsTest, LockedSettingsAreDisabledWithANote) {
  SettingsDialog d(api);
  d.reload();
  ASSERT_EQ(api.calls.size(), 1u);
  EXPECT_EQ(api.calls[0].cmd, "settings");
  api.answer("settings", settingsFixture());
  auto* locked = d.findChild<QSpinBox*>(QStringLiteral("screenshot_interval_s"));
  ASSERT_NE(locked, nullptr);
  EXPECT_FALSE(locked->isEnabled());
  EXPECT_EQ(text(&d, "note_screenshot_interval_s"), "locked on this computer by its administrator");
  EXPECT_EQ(text(&d, "note_screenshots_enabled"), "set by your company");
  EXPECT_FALSE(d.findChild<QCheckBox*>(QStringLiteral("screenshots_enabled"))->isEnabled());
  EXPECT_TRUE(d.findChild<QCheckBox*>(QStringLiteral("screenshot_notify"))->isEnabled());
  EXPECT_TRUE(d.findChild<QSpinBox*>(QStringLiteral("idle_threshold_s"))->isEnabled());
}

TEST_F(DialogsTest, EditingUnlockedSettingsSendsSetSetting) {
  SettingsDialog d(api);
  d.show();
  d.reload();
  api.answer("settings", settingsFixture());

  d.findChild<QCheckBox*>(QStringLiteral("screenshot_notify"))->click();
  ASSERT_EQ(api.argsOf("set_setting").size(), 1u);
  EXPECT_EQ(api.argsOf("set_setting")[0], json({{"key", "screenshot_notify"}, {"value", false}}));
  json after = settingsFixture();
  after["settings"][0]["value"] = false;
  after["settings"][0]["source"] = "user";
  api.answer("set_setting", after);
  EXPECT_FALSE(d.findChild<QCheckBox*>(QStringLiteral("screenshot_notify"))->isChecked());

  auto* spin = d.findChild<QSpinBox*>(QStringLiteral("idle_threshold_s"));
  spin->setValue(600);
  emit spin->editingFinished();
  ASSERT_EQ(api.argsOf("set_setting").size(), 2u);
  EXPECT_EQ(api.argsOf("set_setting")[1], json({{"key", "idle_threshold_s"}, {"value", 600}}));
  api.answer("set_setting", after);

  auto* list = d.findChild<QLineEdit*>(QStringLiteral("screenshot_excluded_apps"));
  list->setText(QStringLiteral("keepassxc, signal-desktop"));
  emit list->editingFinished();
  ASSERT_EQ(api.argsOf("set_setting").size(), 3u);
  EXPECT_EQ(api.argsOf("set_setting")[2],
            json({{"key", "screenshot_excluded_apps"}, {"value", {"keepassxc", "signal-desktop"}}}));
  api.answer("set_setting", after);

  // A word setting is a list of what the agent accepts (no typing a value it would refuse).
  auto* choice = d.findChild<QComboBox*>(QStringLiteral("idle_default_decision"));
  ASSERT_NE(choice, nullptr);
  EXPECT_EQ(choice->count(), 4) << "keep, discard, discard and continue, break — not reassign";
  EXPECT_EQ(choice->currentData().toString(), QStringLiteral("discard_continue"));
  EXPECT_EQ(choice->currentText().toStdString(), idleDecisionLabel("discard_continue"));
  const int keep = choice->findData(QStringLiteral("keep"));
  ASSERT_GE(keep, 0);
  choice->setCurrentIndex(keep);
  emit choice->activated(keep);
  ASSERT_EQ(api.argsOf("set_setting").size(), 4u);
  EXPECT_EQ(api.argsOf("set_setting")[3], json({{"key", "idle_default_decision"}, {"value", "keep"}}));
}

TEST_F(DialogsTest, SettingErrorIsShownAndTheValueReverts) {
  SettingsDialog d(api);
  d.show();
  d.reload();
  api.answer("settings", settingsFixture());
  d.findChild<QCheckBox*>(QStringLiteral("screenshot_notify"))->click();
  api.answer("set_setting", {}, "screenshot_notify is locked by your company's policy");
  EXPECT_NE(text(&d, "error").find("locked by your company's policy"), std::string::npos);
  EXPECT_TRUE(d.findChild<QCheckBox*>(QStringLiteral("screenshot_notify"))->isChecked());
  EXPECT_EQ(api.argsOf("set_setting").size(), 1u) << "rebuilding the form must not send again";
}

TEST_F(DialogsTest, ActivityWindowAsksForTodayAndShowsTheNumbers) {
  ActivityWindow w(api);
  w.refresh();
  const auto report_args = api.argsOf("report");
  ASSERT_EQ(report_args.size(), 1u);
  const auto [from, to] = localDayRange(QDateTime::currentDateTimeUtc());
  EXPECT_EQ(report_args[0], json({{"from_ms", from}, {"to_ms", to}}));
  EXPECT_EQ(api.argsOf("status").size(), 1u);
  api.answer("report", json::parse(R"j({"tracked_ms": 5400000,
    "projects": [{"project_id": "p1", "ms": 5400000}], "apps": [{"app": "code", "ms": 3600000}],
    "websites": [{"domain": "docs.qt.io", "ms": 600000}], "idle": {"count": 1, "ms": 300000, "by_decision": {}},
    "breaks": {"count": 0, "ms": 0}, "entries": [],
    "screenshots": [{"thumbnail": "/nonexistent/shot.jpg", "taken_at": "2026-11-25T08:15:00.000Z"}]})j"));
  api.answer("status",
             json::parse(R"j({"outbox": {"pending": 7, "quarantined": 0}, "sync": {"mode": "local-only"}})j"));
  api.answer("projects", json::parse(R"j({"projects": [{"id": "p1", "name": "Website redesign"}]})j"));
  EXPECT_EQ(text(&w, "tracked"), "Tracked today: 1 h 30 min");
  EXPECT_EQ(text(&w, "projects"), "Website redesign — 1 h 30 min");
  EXPECT_EQ(text(&w, "apps"), "code — 1 h 00 min");
  EXPECT_EQ(text(&w, "websites"), "docs.qt.io — 10 min");
  EXPECT_EQ(text(&w, "idle"), "Idle: 1 period, 5 min");
  EXPECT_NE(text(&w, "queue").find("Waiting to upload: 7 records"), std::string::npos);
  EXPECT_NE(w.findChild<QLabel*>(QStringLiteral("shot_missing")), nullptr) << "a missing file is a placeholder";
  // This reply has no day picture (an agent from before it): the window says so and shows the rest.
  EXPECT_NE(text(&w, "timeline_note").find("does not send the day picture"), std::string::npos);
  EXPECT_TRUE(w.timelineView()->day().shots.empty()) << "a screenshot of another day is not on today's picture";

  w.findChild<QAbstractButton*>(QStringLiteral("refresh"))->click();
  EXPECT_EQ(api.argsOf("report").size(), 2u);
}

TEST_F(DialogsTest, ActivityWindowShowsAnError) {
  ActivityWindow w(api);
  w.refresh();
  api.answer("report", {}, "the agent is not running");
  EXPECT_NE(text(&w, "error").find("the agent is not running"), std::string::npos);
}

TEST_F(DialogsTest, ScreenshotNoticeWithoutAFileStillSaysSo) {
  ScreenshotNotice n;
  n.showShot(json::parse(R"j({"id": "s1", "monitor": "DP-1", "taken_at": "2026-11-25T08:15:00.000Z",
    "unchanged": false, "path": "/nonexistent/s1.jpg"})j"),
             1000);
  EXPECT_TRUE(n.isVisible());
  EXPECT_FALSE(n.hasThumbnail());
  EXPECT_NE(text(&n, "caption").find("Screenshot taken at"), std::string::npos);
  EXPECT_NE(text(&n, "caption").find("DP-1"), std::string::npos);
}

}  // namespace
}  // namespace wm::tray
