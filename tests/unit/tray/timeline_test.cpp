// The "my activity" day picture (ui/src/dialogs/timeline_model.h, timeline_view.h): the contract's categories
// each have a colour, a pattern and a label; a scripted day becomes the right items, rects, ticks, legend and
// tooltips; the keyboard goes through it in a fixed order; bad input never throws. Offscreen.
#include <gtest/gtest.h>
#include <QHelpEvent>
#include <QLabel>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <QToolTip>
#include <map>
#include <set>

#include "dialogs/activity_window.h"
#include "dialogs/timeline_model.h"
#include "dialogs/timeline_view.h"
#include "dialogs_test_support.h"
#include "scripted_day.h"

namespace wm::tray {
namespace {

using nlohmann::json;
using test::qtApp;

const QTimeZone kBerlin("Europe/Berlin");

int64_t berlinDay() {
  return localDayRange(QDateTime::fromString(QStringLiteral("2026-11-25T12:00:00Z"), Qt::ISODate), kBerlin).first;
}

QPalette lightPalette() {
  QPalette p;
  p.setColor(QPalette::Base, Qt::white);
  p.setColor(QPalette::Window, QColor(0xef, 0xef, 0xef));
  p.setColor(QPalette::Text, Qt::black);
  p.setColor(QPalette::WindowText, Qt::black);
  return p;
}

QPalette darkPalette() {
  QPalette p;
  p.setColor(QPalette::Base, QColor(0x1e, 0x1e, 0x1e));
  p.setColor(QPalette::Window, QColor(0x2b, 0x2b, 0x2b));
  p.setColor(QPalette::Text, QColor(0xee, 0xee, 0xee));
  p.setColor(QPalette::WindowText, QColor(0xee, 0xee, 0xee));
  p.setColor(QPalette::Highlight, QColor(0x3d, 0xae, 0xe9));
  return p;
}

// The colour most pixels of `r` have: the fill under a pattern.
QRgb dominant(const QImage& img, const QRectF& r) {
  std::map<QRgb, int> n;
  const QRect box = r.toAlignedRect().adjusted(2, 2, -2, -2);
  for (int y = box.top(); y <= box.bottom(); ++y)
    for (int x = box.left(); x <= box.right(); ++x) ++n[img.pixel(x, y) & 0xffffff];
  QRgb best = 0;
  int count = -1;
  for (auto [c, k] : n)
    if (k > count) best = c, count = k;
  return best;
}

TEST(TimelineCategories, EveryOneHasANameAColourAPatternAndALabel) {
  std::set<std::string> names, labels;
  std::set<int> patterns;
  std::set<QRgb> light_fills, dark_fills;
  for (TimelineCategory c : kTimelineCategories) {
    const std::string name = categoryName(c);
    ASSERT_FALSE(name.empty());
    EXPECT_EQ(categoryFromName(name), c) << name;
    const CategoryStyle s = categoryStyle(c);
    EXPECT_FALSE(s.label.empty()) << name;
    names.insert(name);
    labels.insert(s.label);
    patterns.insert(static_cast<int>(s.pattern));
    light_fills.insert(fillColor(c, lightPalette()).rgb());
    dark_fills.insert(fillColor(c, darkPalette()).rgb());
  }
  const size_t n = std::size(kTimelineCategories);
  EXPECT_EQ(names.size(), n);
  EXPECT_EQ(labels.size(), n);
  EXPECT_EQ(patterns.size(), n) << "two categories must never differ by hue alone";
  EXPECT_EQ(light_fills.size(), n);
  EXPECT_EQ(dark_fills.size(), n);
  // The contract's words, in its order.
  std::vector<std::string> order;
  for (TimelineCategory c : kTimelineCategories) order.push_back(categoryName(c));
  EXPECT_EQ(order, (std::vector<std::string>{"worked", "auto", "idle", "break", "locked", "asleep", "agent_not_running",
                                             "not_tracked", "future"}));
  EXPECT_FALSE(categoryFromName("teleported").has_value());
  // Projects' colours are never a category's, and the first six differ.
  std::set<QRgb> projects;
  for (size_t i = 0; i < 6; ++i) {
    projects.insert(projectColor(i).rgb());
    for (TimelineCategory c : kTimelineCategories)
      if (c != TimelineCategory::kWorked) {
        EXPECT_NE(projectColor(i).rgb(), fillColor(c, lightPalette()).rgb());
      }
  }
  EXPECT_EQ(projects.size(), 6u);
  // Discarded idle/locked time is hatched differently from kept time.
  EXPECT_NE(decisionPattern(TimelineCategory::kIdle, "discard"), decisionPattern(TimelineCategory::kIdle, "keep"));
  EXPECT_NE(decisionPattern(TimelineCategory::kLocked, "discard_continue"),
            decisionPattern(TimelineCategory::kLocked, "keep"));
  // The ink over a fill is the readable one.
  EXPECT_EQ(inkOver(QColor(Qt::white)).black(), 255);
  EXPECT_EQ(inkOver(QColor(0x1e, 0x1e, 0x1e)).value(), 255);
}

TEST(TimelineModel, ScriptedDayItemsLegendAndTooltips) {
  const auto d = test::scriptedDay(berlinDay());
  const TimelineDay day = timelineDay(d.report, d.projects, kBerlin);
  EXPECT_TRUE(day.has_day);
  EXPECT_TRUE(day.note.empty());
  const std::vector<int> segs = day.lane(TimelineLane::kDay);
  ASSERT_EQ(segs.size(), test::scriptedSegments().size());
  EXPECT_EQ(day.items[segs.front()].start_ms, day.from_ms);
  EXPECT_EQ(day.items[segs.back()].end_ms, day.to_ms);
  for (size_t i = 1; i < segs.size(); ++i) EXPECT_EQ(day.items[segs[i]].start_ms, day.items[segs[i - 1]].end_ms);
  EXPECT_EQ(day.lane(TimelineLane::kScreenshots).size(), 48u);
  EXPECT_EQ(day.shots.size(), 48u);
  EXPECT_EQ(day.lane(TimelineLane::kUsb).size(), 3u);
  EXPECT_FALSE(day.lane(TimelineLane::kApps).empty());
  EXPECT_FALSE(day.lane(TimelineLane::kWebsites).empty());
  EXPECT_FALSE(day.lane(TimelineLane::kActivity).empty());
  EXPECT_GT(day.max_count, 0);

  std::vector<std::string> legend;
  for (const LegendEntry& e : day.legend) legend.push_back(e.label);
  EXPECT_EQ(legend, (std::vector<std::string>{"Website redesign", "Customer support", "Internal tools", "(no project)",
                                              "Automatic recording", "Idle (discarded)", "Idle", "Break",
                                              "Screen locked (discarded)", "Computer asleep", "Agent not running",
                                              "Not tracked", "Later today"}));
  EXPECT_EQ(day.legend[0].color, projectColor(0));
  EXPECT_EQ(day.legend[1].color, projectColor(1));

  const auto tip = [&](size_t seg) { return day.items[segs[seg]].tooltip; };
  EXPECT_EQ(tip(0), "00:00–07:40 (7 h 40 min)\nAgent not running — the computer was off or restarting");
  EXPECT_EQ(tip(1), "07:40–08:00 (20 min)\nNot tracked");
  EXPECT_EQ(tip(2), "08:00–09:30 (1 h 30 min)\nWorked: Website redesign / Layout");
  EXPECT_EQ(tip(3), "09:30–09:45 (15 min)\nIdle — discarded, the timer went on");
  EXPECT_EQ(tip(7), "12:00–12:30 (30 min)\nScreen locked — discarded, the timer stopped");
  EXPECT_EQ(tip(8), "12:30–13:10 (40 min)\nComputer asleep");
  EXPECT_EQ(tip(9), "13:10–13:25 (15 min)\nAgent not running — the agent ended without shutting down (a crash)");
  EXPECT_EQ(tip(10), "13:25–14:30 (1 h 05 min)\nAutomatic recording");
  EXPECT_EQ(tip(13), "15:40–16:30 (50 min)\nWorked: (no project)");
  EXPECT_EQ(tip(14), "16:30–16:50 (20 min)\nIdle — not answered yet");
  EXPECT_EQ(tip(15), "16:50–17:00 (10 min)\nAgent not running — the agent was stopped or quit");
  EXPECT_EQ(tip(17), "17:30–24:00 (6 h 30 min)\nLater today");
  EXPECT_EQ(day.items[segs[2]].accessible, "Worked: Website redesign / Layout, from 08:00 to 09:30, 1 h 30 min");

  const TimelineItem& app = day.items[day.lane(TimelineLane::kApps)[1]];
  EXPECT_EQ(app.tooltip, "08:12–08:24 (12 min)\nApp: firefox\nWindow: Pull requests · GitHub — Mozilla Firefox");
  const TimelineItem& site = day.items[day.lane(TimelineLane::kWebsites)[0]];
  EXPECT_EQ(site.tooltip, "08:12–08:24 (12 min)\nWebsite: github.com\nBrowser: firefox");
  const TimelineItem& slot = day.items[day.lane(TimelineLane::kActivity)[0]];
  EXPECT_EQ(slot.tooltip,
            "08:00–08:10\nActivity: 80 keystrokes, 10 clicks, 200 mouse moves, 0 scrolls\nActive 5 min (50 %) — "
            "counts only, never which keys");
  EXPECT_EQ(slot.count, 290);
  const TimelineItem& usb = day.items[day.lane(TimelineLane::kUsb)[1]];
  EXPECT_EQ(usb.tooltip,
            "11:02 USB device attached: SanDisk Cruzer (0781:5567)\nA storage device (its files are never read)");
  EXPECT_EQ(day.items[day.lane(TimelineLane::kUsb)[0]].tooltip,
            "08:00 USB device already plugged in: Logitech USB Receiver (046d:c52b)");
  const TimelineItem& shot = day.items[day.lane(TimelineLane::kScreenshots)[0]];
  EXPECT_EQ(shot.tooltip, "08:04 Screenshot, monitor 0\nThe image is not on this computer");
  EXPECT_EQ(shot.shot_index, 0);
}

TEST(TimelineModel, GeometryAtAWidth) {
  const auto d = test::scriptedDay(berlinDay());
  const TimelineDay day = timelineDay(d.report, d.projects, kBerlin);
  TimelineMetrics m;
  m.label_width = 76;
  m.line_height = 16;
  const TimelineGeometry g = layoutTimeline(day, 1000, kBerlin, m);
  const double left = 76, bar_w = 1000 - 76 - 8;
  EXPECT_DOUBLE_EQ(g.bar.left(), left);
  EXPECT_DOUBLE_EQ(g.bar.width(), bar_w);
  ASSERT_EQ(g.item_rects.size(), day.items.size());
  const std::vector<int> segs = day.lane(TimelineLane::kDay);
  const QRectF work = g.item_rects[segs[2]];  // 08:00–09:30
  EXPECT_NEAR(work.left(), left + bar_w * 480 / 1440, 1e-6);
  EXPECT_NEAR(work.width(), bar_w * 90 / 1440, 1e-6);
  EXPECT_EQ(work.top(), g.bar.top());
  for (size_t i = 1; i < segs.size(); ++i)
    EXPECT_NEAR(g.item_rects[segs[i]].left(), g.item_rects[segs[i - 1]].right(), 1e-6) << "no gaps, no overlaps";
  EXPECT_NEAR(g.item_rects[segs.back()].right(), left + bar_w, 1e-6);
  EXPECT_NEAR(g.now_x, left + bar_w * 1050 / 1440, 1e-6);

  // Hour ticks: 00 to 24, every hour labelled at this width; every third at 400 px.
  ASSERT_EQ(g.ticks.size(), 25u);
  EXPECT_EQ(g.ticks.front().label, "00");
  EXPECT_EQ(g.ticks[9].label, "09");
  EXPECT_EQ(g.ticks.back().label, "24");
  EXPECT_NEAR(g.ticks[9].x, left + bar_w * 9 / 24, 1e-6);
  const TimelineGeometry narrow = layoutTimeline(day, 400, kBerlin, m);
  EXPECT_EQ(narrow.ticks[1].label, "");
  EXPECT_FALSE(narrow.ticks[3].label.empty());

  // Every lane below the bar, in order; items inside their lane.
  ASSERT_EQ(g.lane_rects.size(), std::size(kTimelineLanes));
  for (size_t l = 1; l < g.lane_rects.size(); ++l) EXPECT_GT(g.lane_rects[l].top(), g.lane_rects[l - 1].bottom());
  for (size_t i = 0; i < day.items.size(); ++i) {
    const QRectF& lane = g.lane_rects[static_cast<size_t>(day.items[i].lane)];
    EXPECT_TRUE(lane.adjusted(-5, -0.01, 5, 0.01).contains(g.item_rects[i])) << i;
  }
  // The busiest activity slot fills its lane; thumbnails never overlap; some shots are markers at 1000 px.
  const QRectF& act = g.lane_rects[static_cast<size_t>(TimelineLane::kActivity)];
  double tallest = 0;
  for (int i : day.lane(TimelineLane::kActivity)) tallest = std::max(tallest, g.item_rects[i].height());
  EXPECT_DOUBLE_EQ(tallest, act.height());
  double last_right = -1;
  int thumbs = 0;
  for (int i : day.lane(TimelineLane::kScreenshots)) {
    if (!g.item_thumb[i]) continue;
    EXPECT_GT(g.item_rects[i].left(), last_right);
    last_right = g.item_rects[i].right();
    ++thumbs;
  }
  EXPECT_GT(thumbs, 5);
  EXPECT_LT(thumbs, 48);
  // Hit testing: the middle of a segment is that segment; a USB marker is found within its slack.
  EXPECT_EQ(g.itemAt(work.center()), segs[2]);
  const int usb = day.lane(TimelineLane::kUsb)[1];
  EXPECT_EQ(g.itemAt(g.item_rects[usb].center() + QPointF(5, 0)), usb);
  EXPECT_EQ(g.itemAt(QPointF(5, 5)), -1);
  // The legend is laid out in entry order, within the width.
  ASSERT_EQ(g.legend.size(), day.legend.size());
  for (const LegendBox& b : g.legend) EXPECT_LE(b.text.right(), 1000);
  EXPECT_GT(g.height, g.lane_rects.back().bottom());
}

TEST(TimelineModel, KeyboardOrder) {
  const auto d = test::scriptedDay(berlinDay());
  const TimelineDay day = timelineDay(d.report, d.projects, kBerlin);
  const std::vector<int> segs = day.lane(TimelineLane::kDay);
  EXPECT_EQ(timelineNeighbour(day, -1, TimelineMove::kRight), 0);
  int i = 0;
  for (size_t k = 1; k < segs.size(); ++k) {
    i = timelineNeighbour(day, i, TimelineMove::kRight);
    EXPECT_EQ(i, segs[k]);
  }
  EXPECT_EQ(timelineNeighbour(day, i, TimelineMove::kRight), i) << "Right stops at the last segment";
  EXPECT_EQ(timelineNeighbour(day, i, TimelineMove::kHome), segs.front());
  EXPECT_EQ(timelineNeighbour(day, segs.front(), TimelineMove::kLeft), segs.front());
  EXPECT_EQ(timelineNeighbour(day, segs.front(), TimelineMove::kEnd), segs.back());
  // Down from 08:00–09:30 goes through the lanes at that time: the app, website, slot, USB, screenshot.
  int at = segs[2];
  const double mid = (day.items[at].start_ms + day.items[at].end_ms) / 2.0;
  std::vector<TimelineLane> lanes;
  for (int k = 0; k < 6; ++k) {
    const int next = timelineNeighbour(day, at, TimelineMove::kDown);
    if (next == at) break;
    at = next;
    lanes.push_back(day.items[at].lane);
  }
  EXPECT_EQ(lanes, (std::vector<TimelineLane>{TimelineLane::kApps, TimelineLane::kWebsites, TimelineLane::kActivity,
                                              TimelineLane::kUsb, TimelineLane::kScreenshots}));
  const int app = timelineNeighbour(day, segs[2], TimelineMove::kDown);
  EXPECT_LE(day.items[app].start_ms, mid);
  EXPECT_GE(day.items[app].end_ms, mid);
  EXPECT_EQ(timelineNeighbour(day, app, TimelineMove::kUp), segs[2]);
  TimelineDay empty;
  EXPECT_EQ(timelineNeighbour(empty, -1, TimelineMove::kRight), -1);
}

TEST(TimelineModel, BadInputNeverThrows) {
  for (const char* text : {"null", "[]", "\"report\"", "42", R"({"day": 7})", R"({"day": {"timeline": "x"}})",
                           R"({"day": {"timeline": [1, "a", null, {}]}, "apps_timeline": {}, "usb": "no"})"}) {
    const json bad = json::parse(text);
    TimelineDay day;
    EXPECT_NO_THROW(day = timelineDay(bad, bad, kBerlin)) << text;
    EXPECT_FALSE(day.has_day) << text;
    EXPECT_FALSE(day.note.empty()) << text;
    EXPECT_TRUE(day.items.empty()) << text;
    EXPECT_GT(day.to_ms, day.from_ms);
    EXPECT_NO_THROW(layoutTimeline(day, 500, kBerlin));
  }
  const int64_t from = berlinDay(), h = 3'600'000;
  const json report = {
      {"from_ms", from},
      {"to_ms", from + 24 * h},
      {"day",
       {{"timeline",
         {{{"start_ms", from}, {"end_ms", from + 2 * h}, {"category", "worked"}, {"project_id", "p9"}},
          {{"start_ms", from + 2 * h}, {"end_ms", from + 3 * h}, {"category", "worked"}, {"project_id", "p9"}},
          {{"start_ms", from + 3 * h}, {"end_ms", from + 2 * h}, {"category", "idle"}},  // ends before it starts
          {{"start_ms", "soon"}, {"end_ms", from + 4 * h}, {"category", "break"}},
          {{"start_ms", from + 3 * h}, {"end_ms", from + 5 * h}, {"category", "teleported"}},
          {{"start_ms", from + 4 * h}, {"end_ms", from + 30 * h}, {"category", 5}}}}}},  // overlaps, too long
      {"apps_timeline", {1, {{"start_ms", from}, {"end_ms", from + h}}, {{"start_ms", from}, {"app", "x"}}}},
      {"activity", {{"slot_ms", "ten"}, {"slots", {{{"start_ms", from}, {"keystrokes", "many"}}, "x"}}}},
      {"usb", {{{"at_ms", "now"}}, {{"at_ms", from + h}}}},
      {"screenshots", {{{"taken_at", "yesterday"}}, {{"taken_at", "2026-11-25T08:15:00.000Z"}, {"thumbnail", 5}}}}};
  TimelineDay day;
  ASSERT_NO_THROW(day = timelineDay(report, json::object(), kBerlin));
  EXPECT_TRUE(day.has_day);
  const std::vector<int> segs = day.lane(TimelineLane::kDay);
  ASSERT_EQ(segs.size(), 3u) << "equal neighbours merge; backwards and unreadable segments are left out";
  EXPECT_EQ(day.items[segs[0]].end_ms, from + 3 * h);
  EXPECT_EQ(day.items[segs[0]].name, "p9") << "an unknown project shows its id";
  EXPECT_EQ(day.items[segs[1]].category, TimelineCategory::kNotTracked);
  EXPECT_EQ(day.items[segs[2]].category, TimelineCategory::kNotTracked);
  EXPECT_EQ(day.items[segs[2]].start_ms, from + 5 * h) << "an overlap starts where the previous one ended";
  EXPECT_EQ(day.items[segs[2]].end_ms, from + 24 * h) << "clipped to the day";
  EXPECT_NE(day.items[segs[1]].tooltip.find("the agent called it “teleported”"), std::string::npos);
  ASSERT_EQ(day.lane(TimelineLane::kApps).size(), 1u);
  EXPECT_EQ(day.items[day.lane(TimelineLane::kApps)[0]].name, "(unknown)");
  ASSERT_EQ(day.lane(TimelineLane::kActivity).size(), 1u);
  EXPECT_EQ(day.items[day.lane(TimelineLane::kActivity)[0]].count, 0);
  EXPECT_EQ(day.lane(TimelineLane::kUsb).size(), 1u);
  ASSERT_EQ(day.shots.size(), 1u);
  EXPECT_EQ(day.shots[0].path, "");
}

TEST(TimelineModel, AnOldAgentWithoutTheDayStillShowsTheRest) {
  auto d = test::scriptedDay(berlinDay());
  d.report.erase("day");
  for (auto& s : d.report["screenshots"]) s.erase("taken_at_ms");  // older agents only had the text
  const TimelineDay day = timelineDay(d.report, d.projects, kBerlin);
  EXPECT_FALSE(day.has_day);
  EXPECT_NE(day.note.find("does not send the day picture"), std::string::npos);
  EXPECT_TRUE(day.lane(TimelineLane::kDay).empty());
  EXPECT_EQ(day.shots.size(), 48u) << "screenshots placed from taken_at";
  EXPECT_FALSE(day.lane(TimelineLane::kApps).empty());
  EXPECT_EQ(day.from_ms, berlinDay());
  const TimelineGeometry g = layoutTimeline(day, 800, kBerlin);
  EXPECT_TRUE(g.lane_empty[static_cast<size_t>(TimelineLane::kDay)]) << "an empty lane says so";
  EXPECT_FALSE(g.lane_empty[static_cast<size_t>(TimelineLane::kScreenshots)]);
}

class TimelineViewTest : public ::testing::Test {
 protected:
  void SetUp() override { qtApp(); }
};

TEST_F(TimelineViewTest, PaintsTheCategoryColoursInLightAndDarkPalettes) {
  const auto d = test::scriptedDay(berlinDay());
  for (const QPalette& pal : {lightPalette(), darkPalette()}) {
    TimelineView v;
    v.setPalette(pal);
    v.resize(1000, 300);
    v.setDay(timelineDay(d.report, d.projects, kBerlin), {}, kBerlin);
    v.resize(1000, v.heightForWidth(1000));
    QImage img(v.size(), QImage::Format_RGB32);
    v.render(&img);
    const TimelineDay& day = v.day();
    const TimelineGeometry& g = v.geometryModel();
    for (int i : day.lane(TimelineLane::kDay)) {
      const TimelineItem& it = day.items[i];
      const QColor want = it.color.isValid() ? it.color : fillColor(it.category, pal);
      if (g.item_rects[i].width() < 8) continue;
      EXPECT_EQ(QColor(dominant(img, g.item_rects[i])).name().toStdString(), want.name().toStdString())
          << categoryName(it.category);
    }
    EXPECT_EQ(QColor(img.pixel(2, img.height() - 2)), pal.color(QPalette::Base)) << "the background follows the theme";
  }
}

TEST_F(TimelineViewTest, KeyboardSelectsAndEnterOpensAScreenshot) {
  const auto d = test::scriptedDay(berlinDay());
  TimelineView v;
  v.resize(1000, 300);
  v.setDay(timelineDay(d.report, d.projects, kBerlin), {}, kBerlin);
  EXPECT_EQ(v.focusPolicy(), Qt::StrongFocus);
  QSignalSpy selected(&v, &TimelineView::selectionChanged);
  QSignalSpy opened(&v, &TimelineView::screenshotActivated);
  QTest::keyClick(&v, Qt::Key_Right);
  EXPECT_EQ(v.selected(), 0);
  QTest::keyClick(&v, Qt::Key_Right);
  QTest::keyClick(&v, Qt::Key_Right);
  EXPECT_EQ(v.selected(), 2);
  EXPECT_EQ(v.accessibleDescription().toStdString(),
            "Day: Worked: Website redesign / Layout, from 08:00 to 09:30, 1 h 30 min");
  EXPECT_EQ(selected.count(), 3);
  QTest::keyClick(&v, Qt::Key_Return);
  EXPECT_EQ(opened.count(), 0) << "Enter on a segment opens nothing";
  for (int k = 0; k < 5; ++k) QTest::keyClick(&v, Qt::Key_Down);
  ASSERT_GE(v.selected(), 0);
  EXPECT_EQ(v.day().items[v.selected()].lane, TimelineLane::kScreenshots);
  QTest::keyClick(&v, Qt::Key_Right);
  QTest::keyClick(&v, Qt::Key_Enter);
  ASSERT_EQ(opened.count(), 1);
  EXPECT_EQ(opened[0][0].toInt(), v.day().items[v.selected()].shot_index);
  EXPECT_EQ(v.accessibleDescription().left(21).toStdString(), "Screenshots: Screensh");
  // Hovering shows the item's details as a tooltip.
  const QRectF crash = v.geometryModel().item_rects[v.day().lane(TimelineLane::kDay)[9]];
  QHelpEvent help(QEvent::ToolTip, crash.center().toPoint(), v.mapToGlobal(crash.center().toPoint()));
  QCoreApplication::sendEvent(&v, &help);
  EXPECT_EQ(QToolTip::text().toStdString(),
            "13:10–13:25 (15 min)\nAgent not running — the agent ended without shutting down (a crash)");
  QToolTip::hideText();
  // A click selects what is under the mouse.
  const int usb = v.day().lane(TimelineLane::kUsb)[1];
  QTest::mouseClick(&v, Qt::LeftButton, {}, v.geometryModel().item_rects[usb].center().toPoint());
  EXPECT_EQ(v.selected(), usb);
}

TEST_F(TimelineViewTest, ActivityWindowShowsTheDayTheDetailsAndOpensAShot) {
  QTemporaryDir tmp;
  const auto d = test::scriptedDay(berlinDay(), tmp.path());
  ASSERT_EQ(d.thumbnails.size(), 48u);
  test::RecordingAgentApi api;
  ActivityWindow w(api);
  w.refresh();
  api.answer("report", d.report);
  api.answer("status", d.status);
  api.answer("projects", d.projects);
  TimelineView* v = w.timelineView();
  ASSERT_NE(v, nullptr);
  EXPECT_TRUE(v->day().has_day);
  EXPECT_EQ(v->day().legend[0].label, "Website redesign");
  EXPECT_FALSE(w.findChild<QLabel*>(QStringLiteral("timeline_note"))->isVisibleTo(&w));
  const int shot = v->day().lane(TimelineLane::kScreenshots)[3];
  v->setSelected(shot);
  const QString details = w.findChild<QLabel*>(QStringLiteral("timeline_details"))->text();
  EXPECT_TRUE(details.startsWith(QStringLiteral("Screenshots: "))) << details.toStdString();
  EXPECT_TRUE(w.findChild<QLabel*>(QStringLiteral("timeline_preview"))->isVisibleTo(&w));
  QTest::keyClick(v, Qt::Key_Return);
  QWidget* viewer = w.shotViewer();
  ASSERT_NE(viewer, nullptr);
  auto* label = qobject_cast<QLabel*>(viewer);
  ASSERT_NE(label, nullptr);
  EXPECT_EQ(label->pixmap().width(), 320) << "the thumbnail file at its size";
  viewer->close();
  QCoreApplication::sendPostedEvents(nullptr, QEvent::DeferredDelete);
  EXPECT_EQ(w.shotViewer(), nullptr);
  // The words below stay.
  EXPECT_EQ(w.summary().projects.size(), 4u);
}

}  // namespace
}  // namespace wm::tray
