// trayViewOf: every state the tray can show, and why.
#include <set>

#include <gtest/gtest.h>
#include <QImage>

#include "tray_state.h"

namespace wm::tray {
namespace {

using nlohmann::json;

json base(const std::string& state) {
  return json{{"state", state},
              {"timer", nullptr},
              {"agent", {{"display", "ok"}, {"allow_quit", true}}},
              {"outbox", {{"records", 10}, {"pending", 0}, {"quarantined", 0}}},
              {"sync", {{"mode", "local-only"}}},
              {"consent", {{"required", false}, {"granted", true}}}};
}

json tracking() {
  json s = base("tracking");
  s["timer"] = {{"entry_id", "e1"}, {"project_id", "p1"}, {"task_id", "t2"}, {"elapsed_ms", 600000}};
  s["today_ms"] = 2 * 3'600'000 + 5 * 60'000;
  return s;
}

const json kProjects = {
    {"projects", {{{"id", "p1"}, {"name", "Website"}, {"tasks", {{{"id", "t2"}, {"name", "Design"}}}}}}},
    {"offline", false}};

TEST(TrayState, NotTracking) {
  const TrayView v = trayViewOf(base("not_tracking"), true);
  EXPECT_EQ(v.state, TrayState::kNotTracking);
  EXPECT_TRUE(v.attention.empty());
  EXPECT_NE(v.tooltip.find("Not tracking"), std::string::npos) << v.tooltip;
}

TEST(TrayState, TrackingShowsProjectTaskAndToday) {
  const TrayView v = trayViewOf(tracking(), true, kProjects);
  EXPECT_EQ(v.state, TrayState::kTracking);
  EXPECT_EQ(v.project, "Website / Design");
  EXPECT_NE(v.tooltip.find("Tracking: Website / Design"), std::string::npos) << v.tooltip;
  EXPECT_NE(v.tooltip.find("Today: 2:05"), std::string::npos) << v.tooltip;
  // Without the project list, the ids.
  EXPECT_EQ(trayViewOf(tracking(), true).project, "p1 / t2");
}

TEST(TrayState, TrackingWithoutTodayMsShowsTheEntry) {
  json s = tracking();
  s.erase("today_ms");
  const TrayView v = trayViewOf(s, true);
  EXPECT_EQ(v.today_ms, 600000);
  EXPECT_NE(v.tooltip.find("This entry: 0:10"), std::string::npos) << v.tooltip;
}

TEST(TrayState, IdleAndBreak) {
  json idle = tracking();
  idle["state"] = "idle";
  EXPECT_EQ(trayViewOf(idle, true).state, TrayState::kIdle);
  EXPECT_EQ(trayViewOf(base("on_break"), true).state, TrayState::kOnBreak);
  EXPECT_NE(trayViewOf(base("on_break"), true).tooltip.find("break"), std::string::npos);
}

TEST(TrayState, OfflineWhenQueuedAndServerUnreachable) {
  json s = tracking();
  s["sync"] = {{"mode", "sync"}, {"auth", "signed_in"}, {"online", false}, {"last_error", "cannot reach"}};
  s["outbox"]["pending"] = 12;
  const TrayView v = trayViewOf(s, true);
  EXPECT_EQ(v.state, TrayState::kOffline);
  EXPECT_NE(v.tooltip.find("12 record(s) queued"), std::string::npos) << v.tooltip;
  // Nothing queued: just tracking. Online: not offline. Local-only: never offline.
  s["outbox"]["pending"] = 0;
  EXPECT_EQ(trayViewOf(s, true).state, TrayState::kTracking);
  s["outbox"]["pending"] = 3;
  s["sync"]["online"] = true;
  s["sync"].erase("last_error");
  EXPECT_EQ(trayViewOf(s, true).state, TrayState::kTracking);
  json local = tracking();
  local["outbox"]["pending"] = 40;
  EXPECT_EQ(trayViewOf(local, true).state, TrayState::kTracking);
}

struct AttentionCase {
  const char* name;
  std::function<void(json&)> make;
  const char* reason;
};

TEST(TrayState, AttentionForEveryReason) {
  const std::vector<AttentionCase> cases = {
      {"sign-in",
       [](json& s) {
         s["sync"] = {{"mode", "sync"}, {"auth", "sign_in_needed"}, {"online", true}};
       },
       "Sign-in needed"},
      {"display", [](json& s) { s["agent"]["display"] = "cannot open display :9"; }, "Display"},
      {"upload error",
       [](json& s) {
         s["sync"] = {{"mode", "sync"}, {"auth", "signed_in"}, {"online", true}, {"last_error", "HTTP 500"}};
       },
       "Upload problem"},
      {"consent",
       [](json& s) {
         s["consent"] = {{"required", true}, {"version", 2}};
       },
       "Consent"},
      {"quarantine", [](json& s) { s["outbox"]["quarantined"] = 2; }, "quarantined"},
      {"profile",
       [](json& s) {
         s["sync"] = {{"mode", "sync"}, {"online", true}, {"profile_problem", "bad"}};
       },
       "profile"},
  };
  for (const auto& c : cases) {
    json s = tracking();
    c.make(s);
    const TrayView v = trayViewOf(s, true);
    EXPECT_EQ(v.state, TrayState::kAttention) << c.name;
    ASSERT_EQ(v.attention.size(), 1u) << c.name;
    EXPECT_NE(v.attention[0].find(c.reason), std::string::npos) << c.name << ": " << v.attention[0];
    EXPECT_NE(v.tooltip.find(c.reason), std::string::npos) << c.name;
  }
}

TEST(TrayState, AgentNotRunningIsAttention) {
  const TrayView v = trayViewOf(json(), false);
  EXPECT_EQ(v.state, TrayState::kAttention);
  EXPECT_NE(v.tooltip.find("not running"), std::string::npos);
}

TEST(TrayState, FormatDuration) {
  EXPECT_EQ(formatDuration(0), "0:00");
  EXPECT_EQ(formatDuration(59'999), "0:00");
  EXPECT_EQ(formatDuration(65 * 60'000), "1:05");
  EXPECT_EQ(formatDuration(-5), "0:00");
}

TEST(TrayState, EveryStateHasItsOwnIcon) {
  std::set<QByteArray> seen;
  for (TrayState s : {TrayState::kNotTracking, TrayState::kTracking, TrayState::kIdle, TrayState::kOnBreak,
                      TrayState::kOffline, TrayState::kAttention}) {
    const QIcon icon = trayIcon(s);
    ASSERT_FALSE(icon.isNull()) << trayStateName(s);
    const QImage img = icon.pixmap(22, 22).toImage().convertToFormat(QImage::Format_ARGB32);
    EXPECT_EQ(img.width(), 22);
    seen.insert(QByteArray(reinterpret_cast<const char*>(img.constBits()), static_cast<int>(img.sizeInBytes())));
  }
  EXPECT_EQ(seen.size(), 6u);
}

}  // namespace
}  // namespace wm::tray
