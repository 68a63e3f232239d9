// The tray's windows as a person sees them: each one opened through DialogHost with realistic agent
// replies (from a recording AgentApi, a test seam for the socket), rendered offscreen (or on the X display
// QT_QPA_PLATFORM names), grabbed to build/test-artifacts/dialogs_*.png for review, and checked for the
// words it must show.
#include <gtest/gtest.h>
#include <QAbstractButton>
#include <QApplication>
#include <QDir>
#include <QImage>
#include <QLabel>
#include <QPainter>
#include <QTemporaryDir>

#include <map>
#include <set>

#include "../unit/tray/scripted_day.h"
#include "dialogs/dialog_host_impl.h"
#include "dialogs/timeline_view.h"
#include "dialogs_test_support.h"
#include "window_report.h"

namespace wm::tray {
namespace {

using nlohmann::json;
using test::qtApp;
using test::RecordingAgentApi;

QString artifactDir() {
  const QString dir = QStringLiteral(WM_BINARY_DIR_FALLBACK) + "/test-artifacts";
  QDir().mkpath(dir);
  return dir;
}

// Everything a person can read in the window (the same words the real tray prints with --debug-ui).
QString visibleText(QWidget* root) { return visibleTexts(root).join('\n'); }

void grabTo(QWidget* w, const char* name) {
  QApplication::processEvents();
  const QPixmap shot = w->grab();
  ASSERT_FALSE(shot.isNull()) << name;
  const QString path = artifactDir() + "/dialogs_" + name + ".png";
  EXPECT_TRUE(shot.save(path, "PNG")) << path.toStdString();
}

void expectTexts(QWidget* w, const std::vector<QString>& expected) {
  const QString all = visibleText(w);
  for (const QString& e : expected)
    EXPECT_TRUE(all.contains(e)) << "missing \"" << e.toStdString() << "\" in:\n" << all.toStdString();
}

// A made-up screen capture: a window-ish picture with some text, saved as a JPEG thumbnail.
QString writeThumbnail(const QString& dir, const QString& name) {
  QImage img(320, 180, QImage::Format_RGB32);
  img.fill(QColor(40, 44, 52));
  QPainter p(&img);
  p.fillRect(10, 10, 300, 20, QColor(70, 130, 180));
  p.setPen(Qt::white);
  p.drawText(20, 60, QStringLiteral("main.cpp — code"));
  p.end();
  const QString path = dir + "/" + name;
  img.save(path, "JPEG", 80);
  return path;
}

class DialogsGuiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    qtApp();
    host = makeDialogHost(api);
    impl = static_cast<DialogHostImpl*>(host.get());
  }
  RecordingAgentApi api;
  std::unique_ptr<DialogHost> host;
  DialogHostImpl* impl = nullptr;
};

TEST_F(DialogsGuiTest, Consent) {
  host->showConsent(json::parse(R"j({"required": true, "version": "9f2c4e1a7b3d5e60", "granted": false,
    "decision": "none", "changes": [],
    "collects": [
      {"category": "app_usage", "detail": "the app and window title in front of you while time is tracked"},
      {"category": "website_usage", "detail": "the website domains you visit while time is tracked (browser extension)"},
      {"category": "screenshots", "detail": "1 screenshot every 10 min while time is tracked, blurred; password managers are blacked out"},
      {"category": "activity", "detail": "how many keyboard and mouse events per minute while time is tracked (never which keys)"},
      {"category": "usb", "detail": "USB devices connected to and removed from this computer"}]})j"));
  ConsentDialog* d = impl->consentDialog();
  ASSERT_NE(d, nullptr);
  grabTo(d, "consent");
  expectTexts(d, {"Before WorkMonitor starts", "Screenshots — 1 screenshot every 10 min", "blurred",
                  "Applications and window titles", "Websites", "Keyboard and mouse activity counts", "USB devices",
                  "your company's admins and managers", "Accept", "Decline"});

  d->findChild<QAbstractButton*>(QStringLiteral("decline"))->click();
  api.answer("consent", json::object());
  grabTo(d, "consent_declined");
  expectTexts(d, {"Nothing is monitored and the timer stays off", "Close"});
}

TEST_F(DialogsGuiTest, ConsentChanged) {
  host->showConsent(json::parse(R"j({"required": true, "version": "a0b1c2d3e4f50617", "granted": false,
    "decision": "granted", "changes": ["screenshots"],
    "collects": [
      {"category": "app_usage", "detail": "the app and window title in front of you while time is tracked"},
      {"category": "screenshots", "detail": "2 screenshots every 10 min while time is tracked, not blurred"}]})j"));
  ConsentDialog* d = impl->consentDialog();
  grabTo(d, "consent_changed");
  expectTexts(d, {"Your company changed what WorkMonitor collects", "What changed since you last agreed",
                  "New: Screenshots — 2 screenshots every 10 min while time is tracked, not blurred", "(new)"});
}

TEST_F(DialogsGuiTest, IdleReturn) {
  const json q = json::parse(R"j({"idle_id": "0193a1b2-idle", "from": "2026-11-25T09:02:00.000Z",
    "to": "2026-11-25T09:19:00.000Z", "duration_ms": 1020000, "default": "discard_continue", "decides_in_ms": 290000,
    "allowed": ["keep", "discard", "discard_continue", "reassign", "break"]})j");
  host->showIdleReturn(q);
  IdleReturnDialog* d = impl->idleReturnDialog();
  ASSERT_NE(d, nullptr);
  d->findChild<QAbstractButton*>(QStringLiteral("idle_reassign"))->click();
  api.answer("projects", json::parse(R"j({"projects": [
    {"id": "p1", "name": "Website redesign", "tasks": [{"id": "t1", "name": "Layout"}, {"id": "t2", "name": "Copy"}]},
    {"id": "p2", "name": "Customer support", "tasks": []}], "offline": true})j"));
  grabTo(d, "idle_return");
  expectTexts(d, {QString::fromStdString(idleChoices(q).sentence), "Keep as work time", "Discard and stop the timer",
                  "Discard and continue the timer", "Reassign to another project", "Mark as a break",
                  "Offline: the projects as last fetched.", "Move the idle time there"});
  EXPECT_TRUE(visibleText(d).contains("You were idle from "));
  host->closeIdleReturn();
  EXPECT_FALSE(d->isVisible());
}

TEST_F(DialogsGuiTest, MyActivity) {
  QTemporaryDir tmp;
  ASSERT_TRUE(tmp.isValid());
  const QString shot1 = writeThumbnail(tmp.path(), "s1.jpg");
  const QString shot2 = writeThumbnail(tmp.path(), "s2.jpg");
  host->showMyActivity();
  ActivityWindow* w = impl->activityWindow();
  ASSERT_NE(w, nullptr);
  json report = json::parse(R"j({"tracked_ms": 12000000,
    "projects": [{"project_id": "p1", "ms": 9000000}, {"project_id": "(no project)", "ms": 3000000}],
    "apps": [{"app": "code", "ms": 7200000}, {"app": "firefox", "ms": 2700000}, {"app": "slack", "ms": 900000}],
    "websites": [{"domain": "github.com", "ms": 1500000}, {"domain": "docs.qt.io", "ms": 1200000}],
    "idle": {"count": 2, "ms": 1500000, "by_decision": {"discard_continue": 900000, "keep": 600000}},
    "breaks": {"count": 1, "ms": 1800000},
    "entries": [{"project_id": "p1", "task_id": "t1", "note": "header", "start": "2026-11-25T08:00:00.000Z",
                 "end": "2026-11-25T10:30:00.000Z", "ms": 9000000},
                {"project_id": "", "task_id": "", "note": "", "start": "2026-11-25T11:00:00.000Z", "end": null,
                 "ms": 3000000}]})j");
  report["screenshots"] = {
      {{"thumbnail", shot1.toStdString()}, {"taken_at", "2026-11-25T08:15:00.000Z"}},
      {{"thumbnail", shot2.toStdString()}, {"taken_at", "2026-11-25T08:27:00.000Z"}},
      {{"thumbnail", (tmp.path() + "/gone.jpg").toStdString()}, {"taken_at", "2026-11-25T08:41:00.000Z"}}};
  api.answer("report", report);
  api.answer("status",
             json::parse(R"j({"state": "tracking", "outbox": {"records": 120, "pending": 14, "quarantined": 1},
    "sync": {"mode": "sync", "online": true, "last_upload_at": "2026-11-25T10:45:00.000Z",
             "recent_quarantine": [{"id": "x", "kind": "app_usage", "reason": "title longer than 1024 characters"}]}})j"));
  api.answer("projects", json::parse(R"j({"projects": [{"id": "p1", "name": "Website redesign",
    "tasks": [{"id": "t1", "name": "Layout"}]}]})j"));
  w->resize(760, 1100);
  grabTo(w, "my_activity");
  expectTexts(w, {"Tracked today: 3 h 20 min", "Website redesign — 2 h 30 min", "(no project) — 50 min",
                  "code — 2 h 00 min", "github.com — 25 min", "Idle: 2 periods, 25 min", "Breaks: 1, 30 min",
                  "Website redesign / Layout — header (2 h 30 min)", "Waiting to upload: 14 records",
                  "Last successful upload:", "Quarantined (refused by the server): 1 record",
                  "(image not on this computer)", "Refresh", "does not send the day picture"});
  int thumbs = 0;
  for (QLabel* l : w->findChildren<QLabel*>(QStringLiteral("shot"))) thumbs += l->pixmap().isNull() ? 0 : 1;
  EXPECT_EQ(thumbs, 2);
}

// The colour most pixels of `r` have in `img`: a category's fill under its pattern.
QColor dominant(const QImage& img, const QRectF& r) {
  std::map<QRgb, int> n;
  const QRect box = r.toAlignedRect().adjusted(2, 2, -2, -2).intersected(img.rect());
  for (int y = box.top(); y <= box.bottom(); ++y)
    for (int x = box.left(); x <= box.right(); ++x) ++n[img.pixel(x, y) & 0xffffff];
  QRgb best = 0;
  int count = -1;
  for (auto [c, k] : n)
    if (k > count) best = c, count = k;
  return QColor(best);
}

QPalette themePalette(bool dark) {
  QPalette p = QApplication::palette();
  const QColor base = dark ? QColor(0x1e, 0x1e, 0x1e) : Qt::white, text = dark ? QColor(0xee, 0xee, 0xee) : Qt::black;
  for (auto role : {QPalette::Base, QPalette::Window, QPalette::Button})
    p.setColor(role, dark ? base.lighter(130) : base);
  p.setColor(QPalette::Base, base);
  for (auto role : {QPalette::Text, QPalette::WindowText, QPalette::ButtonText}) p.setColor(role, text);
  return p;
}

// The day picture of a scripted day (every category, 48 screenshots with real thumbnails), in a light and a
// dark theme: kept as dialogs_my_activity_timeline.png / _dark.png, and each segment wide enough to sample
// has its category's colour (a project's for worked time) at its place in the picture.
TEST_F(DialogsGuiTest, MyActivityTimeline) {
  QTemporaryDir tmp;
  ASSERT_TRUE(tmp.isValid());
  const auto [from, to] = localDayRange(QDateTime::currentDateTimeUtc());
  const auto day = test::scriptedDay(from, tmp.path());
  host->showMyActivity();
  ActivityWindow* w = impl->activityWindow();
  ASSERT_NE(w, nullptr);
  api.answer("report", day.report);
  api.answer("status", day.status);
  api.answer("projects", day.projects);
  w->resize(1100, 1000);
  for (const bool dark : {false, true}) {
    w->setPalette(themePalette(dark));
    QApplication::processEvents();
    TimelineView* v = w->timelineView();
    ASSERT_NE(v, nullptr);
    ASSERT_TRUE(v->day().has_day);
    grabTo(v, dark ? "my_activity_timeline_dark" : "my_activity_timeline");
    if (!dark) grabTo(w, "my_activity_day");
    const QImage img = v->grab().toImage();
    const TimelineGeometry& g = v->geometryModel();
    ASSERT_EQ(g.item_rects.size(), v->day().items.size());
    int sampled = 0;
    std::set<std::string> categories;
    for (int i : v->day().lane(TimelineLane::kDay)) {
      const TimelineItem& it = v->day().items[i];
      if (g.item_rects[i].width() < 8) continue;
      const QColor want = it.color.isValid() ? it.color : fillColor(it.category, v->palette());
      EXPECT_EQ(dominant(img, g.item_rects[i]).name().toStdString(), want.name().toStdString())
          << categoryName(it.category) << (dark ? " (dark)" : " (light)");
      ++sampled;
      categories.insert(categoryName(it.category));
    }
    EXPECT_GE(sampled, 15);
    EXPECT_EQ(categories.size(), std::size(kTimelineCategories)) << "every category is in the scripted day";
    // Worked time at 08:45 is the first project's colour, exactly, in the middle of the bar.
    const int seg = v->day().lane(TimelineLane::kDay)[2];
    EXPECT_EQ(QColor(img.pixel(g.item_rects[seg].center().toPoint())), projectColor(0));
    // The background follows the theme; the hour labels are the theme's text colour.
    const QColor bg(img.pixel(2, img.height() - 3));
    EXPECT_EQ(bg, v->palette().color(QPalette::Base));
    EXPECT_EQ(bg.lightness() < 80, dark);
    // Thumbnails are drawn: the lane of screenshots holds something other than the lane's background.
    int drawn = 0;
    for (int i : v->day().lane(TimelineLane::kScreenshots))
      if (g.item_thumb[i]) drawn += dominant(img, g.item_rects[i]) != dominant(img, g.lane_rects.back()) ? 1 : 0;
    EXPECT_GT(drawn, 5);
  }
  expectTexts(w, {"Today as a picture", "Website redesign — ", "Waiting to upload: 12 records"});
}

TEST_F(DialogsGuiTest, Settings) {
  host->showSettings();
  SettingsDialog* d = impl->settingsDialog();
  ASSERT_NE(d, nullptr);
  api.answer("settings", json::parse(R"j({"settings": [
    {"key": "screenshots_enabled", "value": true, "locked": true, "source": "policy"},
    {"key": "screenshot_interval_s", "value": 600, "locked": true, "source": "policy"},
    {"key": "screenshot_blur", "value": true, "locked": true, "source": "profile"},
    {"key": "screenshot_notify", "value": true, "locked": false, "source": "default"},
    {"key": "idle_threshold_s", "value": 300, "locked": false, "source": "user"},
    {"key": "idle_default_decision", "value": "discard_continue", "locked": false, "source": "profile"},
    {"key": "screenshot_excluded_apps", "value": ["keepassxc", "1password"], "locked": false, "source": "user"},
    {"key": "website_domain_only", "value": true, "locked": true, "source": "policy"}]})j"));
  grabTo(d, "settings");
  expectTexts(d, {"Screenshot interval (s):", "set by your company", "Notify me when a screenshot is taken:",
                  "changed by you", "locked on this computer by its administrator",
                  "4 of these are locked by your company or this computer's administrator"});
  auto* interval = d->findChild<QWidget*>(QStringLiteral("screenshot_interval_s"));
  ASSERT_NE(interval, nullptr);
  EXPECT_FALSE(interval->isEnabled());
}

TEST_F(DialogsGuiTest, ScreenshotNotice) {
  QTemporaryDir tmp;
  const QString path = writeThumbnail(tmp.path(), "shot.jpg");
  host->showScreenshotNotice({{"id", "s1"},
                              {"monitor", "DP-1"},
                              {"width", 1280},
                              {"height", 720},
                              {"taken_at", "2026-11-25T08:15:00.000Z"},
                              {"unchanged", false},
                              {"path", path.toStdString()}});
  ScreenshotNotice* n = impl->screenshotNotice();
  ASSERT_NE(n, nullptr);
  EXPECT_TRUE(n->isVisible());
  EXPECT_TRUE(n->hasThumbnail());
  grabTo(n, "screenshot_notice");
  expectTexts(n, {"Screenshot taken at", "(DP-1)"});
}

}  // namespace
}  // namespace wm::tray
