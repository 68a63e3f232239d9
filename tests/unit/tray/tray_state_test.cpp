// trayViewOf and the state table: every state the agent can be in says what is recorded now (menu title,
// tooltip's first line, icon), problems are extra lines and a badge that never hide it. The status JSON
// below has the shapes the agent sends (agent/src/tracker.cpp status(), sync_service.cpp statusJson(),
// consent.cpp status(); the base was copied from `workmonitor-agent status --json`).
#include <functional>
#include <map>
#include <set>

#include <gtest/gtest.h>
#include <QImage>

#include "tray_state.h"

namespace wm::tray {
namespace {

using nlohmann::json;

json consentGranted() {
  return json{{"required", false},
              {"version", "d92fc0772e4f8e9e"},
              {"collects", {{{"category", "app_usage"}, {"detail", "the app and window title in front of you"}}}},
              {"granted", true},
              {"changes", json::array()},
              {"decision", "granted"},
              {"preapproved", false},
              {"decided_at", "2026-12-03T08:00:00.000Z"}};
}

// What an idle agent with nothing running sends (local-only, consent given).
json agentStatus(const std::string& state = "not_tracking") {
  return json{
      {"state", state},
      {"now", "2026-12-03T10:00:00.000Z"},
      {"timer", nullptr},
      {"locked", false},
      {"recording_apps", false},
      {"today_ms", 0},
      {"agent",
       {{"allow_quit", true},
        {"display", "ok"},
        {"mode", "local-only"},
        {"pid", 4242},
        {"service_mode", false},
        {"version", "0.1.0"}}},
      {"outbox", {{"bytes", 45056}, {"dropped", json::object()}, {"pending", 0}, {"quarantined", 0}, {"records", 0}}},
      {"sync", {{"mode", "local-only"}}},
      {"consent", consentGranted()}};
}

json withTimer(json s) {
  s["state"] = "tracking";
  s["timer"] = {{"entry_id", "e1"},
                {"project_id", "p1"},
                {"task_id", "t2"},
                {"note", ""},
                {"started_at", "2026-12-03T09:50:00.000Z"},
                {"elapsed_ms", 600000}};
  s["recording_apps"] = true;
  s["window"] = {{"app", "firefox"}, {"title", "Layout — Mozilla Firefox"}};
  s["today_ms"] = 2 * 3'600'000 + 5 * 60'000;
  return s;
}

json autoTracking() {
  json s = agentStatus("auto_tracking");
  s["recording_apps"] = true;
  s["window"] = {{"app", "code"}, {"title", "tracker.cpp — Visual Studio Code"}};
  s["consent"]["decision"] = "preapproved";
  s["consent"]["preapproved"] = true;
  s["consent"].erase("decided_at");
  return s;
}

json idleWith(json s, const std::string& reason) {
  s["state"] = "idle";
  s["idle"] = {{"idle_id", "i1"}, {"since", "2026-12-03T09:55:00.000Z"}, {"reason", reason}};
  s["recording_apps"] = false;
  if (reason == "lock") s["locked"] = true;
  return s;
}

json idlePending(json s) {
  s["state"] = "idle_decision_pending";
  s["idle_pending"] = {{"idle_id", "i1"},
                       {"from", "2026-12-03T09:40:00.000Z"},
                       {"to", "2026-12-03T09:55:00.000Z"},
                       {"duration_ms", 900000},
                       {"default", "keep"},
                       {"decides_in_ms", 280000},
                       {"allowed", {"keep", "discard", "discard_continue", "break", "reassign"}}};
  return s;
}

json sync(const std::string& auth, bool online) {
  return json{{"mode", "sync"},       {"server", "https://wm.example.com"},
              {"auth", auth},         {"online", online},
              {"backing_off", false}, {"uploaded", 12},
              {"failures", 0}};
}

const json kProjects = {
    {"projects", {{{"id", "p1"}, {"name", "Website redesign"}, {"tasks", {{{"id", "t2"}, {"name", "Layout"}}}}}}},
    {"offline", false}};

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }
std::string firstLine(const std::string& s) { return s.substr(0, s.find('\n')); }

// ---- the table ----

TEST(TrayStateTable, EveryStateHasANameWordsAndItsOwnIcon) {
  std::set<std::string> names;
  std::map<QByteArray, std::string> icons;
  for (TrayState s : allTrayStates()) {
    const TrayStateInfo& info = trayStateInfo(s);
    EXPECT_EQ(info.state, s);
    ASSERT_NE(info.name, nullptr);
    EXPECT_FALSE(std::string(info.name).empty());
    EXPECT_TRUE(names.insert(info.name).second) << "two states named " << info.name;
    ASSERT_NE(info.title, nullptr);
    ASSERT_NE(info.detail, nullptr);
    EXPECT_GT(std::string(info.title).size(), 5u) << info.name;
    EXPECT_GT(std::string(info.detail).size(), 5u) << info.name;
    EXPECT_EQ(trayStateName(s), std::string(info.name));
  }
  EXPECT_EQ(names.size(), kTrayStateCount);
  // Every state with no badge and with each badge: pixels differ from every other, at the sizes trays use.
  for (int size : {16, 22}) {
    icons.clear();
    for (TrayState s : allTrayStates()) {
      std::vector<std::optional<TrayProblem>> badges{std::nullopt};
      for (TrayProblem p : allTrayProblems()) badges.emplace_back(p);
      for (const auto& b : badges) {
        const std::string what =
            std::string(trayStateName(s)) + (b ? std::string("+") + trayProblemName(*b) : std::string());
        const QIcon icon = trayIcon(s, b);
        ASSERT_FALSE(icon.isNull()) << what;
        const QImage img = icon.pixmap(size, size).toImage().convertToFormat(QImage::Format_ARGB32);
        ASSERT_EQ(img.width(), size) << what;
        const QByteArray px(reinterpret_cast<const char*>(img.constBits()), static_cast<int>(img.sizeInBytes()));
        const auto [it, fresh] = icons.emplace(px, what);
        EXPECT_TRUE(fresh) << what << " looks like " << it->second << " at " << size << " px";
      }
    }
    EXPECT_EQ(icons.size(), kTrayIconCount);
  }
}

TEST(TrayStateTable, IconKeysAreDistinctAndInRange) {
  std::set<size_t> keys;
  for (TrayState s : allTrayStates()) {
    keys.insert(trayIconKey(s, std::nullopt));
    for (TrayProblem p : allTrayProblems()) keys.insert(trayIconKey(s, p));
  }
  EXPECT_EQ(keys.size(), kTrayIconCount);
  EXPECT_LT(*keys.rbegin(), kTrayIconCount);
}

// ---- every state from a realistic status ----

struct StateCase {
  const char* what;
  std::function<json()> status;
  bool connected;
  TrayState state;
  const char* title;                  // the menu title starts with this
  std::vector<const char*> tooltip;   // and the tooltip holds these
  std::vector<TrayProblem> problems;  // the problems, in order
};

std::vector<StateCase> stateCases() {
  return {
      {"agent not running",
       [] { return json(); },
       false,
       TrayState::kAgentNotRunning,
       "Agent not running — nothing is recorded",
       {"does not answer"},
       {}},
      {"timer",
       [] { return withTimer(agentStatus()); },
       true,
       TrayState::kTracking,
       "Timer running: Website redesign / Layout",
       {"apps in front are recorded", "Today: 2:05"},
       {}},
      {"auto tracking (the bug: was \"Not tracking\")",
       [] { return autoTracking(); },
       true,
       TrayState::kAutoTracking,
       "Recording automatically — apps in front are recorded",
       {"No timer needed"},
       {}},
      {"auto tracking in service mode",
       [] {
         json s = autoTracking();
         s["agent"]["service_mode"] = true;
         return s;
       },
       true,
       TrayState::kAutoTracking,
       "Recording automatically — apps in front are recorded",
       {"Service mode: the agent runs in the background"},
       {}},
      {"idle with the timer",
       [] { return idleWith(withTimer(agentStatus()), "idle"); },
       true,
       TrayState::kIdle,
       "Idle — nothing is recorded while you are away",
       {"Away since ", "the timer (Website redesign / Layout)"},
       {}},
      {"idle under auto tracking",
       [] { return idleWith(autoTracking(), "idle"); },
       true,
       TrayState::kIdle,
       "Idle — nothing is recorded",
       {"asked what this time was"},
       {}},
      {"back from idle, timer goes on",
       [] { return idlePending(withTimer(agentStatus())); },
       true,
       TrayState::kIdleDecisionPending,
       "Timer running: Website redesign / Layout — waiting for your answer",
       {"idle window"},
       {}},
      {"back from idle, auto tracking",
       [] { return idlePending(autoTracking()); },
       true,
       TrayState::kIdleDecisionPending,
       "Recording automatically — waiting for your answer about the idle time",
       {},
       {}},
      {"back from idle, nothing runs",
       [] {
         json s = idlePending(agentStatus());
         s["recording_apps"] = false;
         return s;
       },
       true,
       TrayState::kIdleDecisionPending,
       "Nothing is recorded — waiting for your answer",
       {},
       {}},
      {"on a break",
       [] {
         json s = agentStatus("on_break");
         s["break"] = {{"break_id", "b1"}, {"started_at", "2026-12-03T09:45:00.000Z"}, {"elapsed_ms", 900000}};
         return s;
       },
       true,
       TrayState::kOnBreak,
       "On a break — nothing is recorded",
       {"Since ", "End the break"},
       {}},
      {"screen locked while the timer ran",
       [] { return idleWith(withTimer(agentStatus()), "lock"); },
       true,
       TrayState::kLocked,
       "Paused: screen locked — nothing is recorded",
       {"while the screen is locked"},
       {}},
      {"screen locked, nothing ran",
       [] {
         json s = agentStatus();
         s["locked"] = true;
         return s;
       },
       true,
       TrayState::kLocked,
       "Paused: screen locked",
       {},
       {}},
      {"asleep (announced suspend)",
       [] { return idleWith(autoTracking(), "suspend"); },
       true,
       TrayState::kAsleep,
       "Paused: the computer went to sleep — nothing is recorded",
       {"while the computer sleeps"},
       {}},
      {"waiting for consent",
       [] {
         json s = agentStatus();  // auto_tracking in the settings is gated off by the consent: not_tracking
         s["consent"] = {{"required", true},    {"version", "d92fc0772e4f8e9e"}, {"collects", json::array()},
                         {"granted", false},    {"changes", json::array()},      {"decision", "none"},
                         {"preapproved", false}};
         return s;
       },
       true,
       TrayState::kConsentNeeded,
       "Waiting for your consent — nothing is monitored until you answer",
       {"Only a timer you start runs"},
       {}},
      {"consent declined",
       [] {
         json s = agentStatus();
         s["consent"]["decision"] = "declined";
         s["consent"]["granted"] = false;
         return s;
       },
       true,
       TrayState::kConsentDeclined,
       "Monitoring declined — nothing is recorded",
       {"You declined"},
       {}},
      {"not tracking",
       [] { return agentStatus(); },
       true,
       TrayState::kNotTracking,
       "Not tracking — nothing is recorded",
       {"Start a timer"},
       {}},
  };
}

TEST(TrayState, EveryStateFromARealisticStatus) {
  std::set<TrayState> covered;
  for (const auto& c : stateCases()) {
    const TrayView v = trayViewOf(c.status(), c.connected, kProjects);
    covered.insert(v.state);
    EXPECT_EQ(v.state, c.state) << c.what << ": got " << trayStateName(v.state);
    EXPECT_TRUE(v.title.starts_with(c.title)) << c.what << ": " << v.title;
    EXPECT_EQ(firstLine(v.tooltip), "WorkMonitor: " + v.title) << c.what;
    for (const char* part : c.tooltip) EXPECT_TRUE(has(v.tooltip, part)) << c.what << ": " << part << "\n" << v.tooltip;
    std::vector<TrayProblem> kinds;
    for (const auto& p : v.problems) kinds.push_back(p.kind);
    EXPECT_EQ(kinds, c.problems) << c.what << "\n" << v.tooltip;
    if (c.state != TrayState::kNotTracking) {
      EXPECT_FALSE(has(v.tooltip, "Not tracking")) << c.what;
    }
  }
  for (TrayState s : allTrayStates()) EXPECT_TRUE(covered.contains(s)) << "no case for " << trayStateName(s);
}

// The user's report: auto_tracking from the machine policy, consent pre-approved. Whatever problems come on
// top, the title says apps are recorded.
TEST(TrayState, AutoTrackingIsNeverShownAsNotTracking) {
  json s = autoTracking();
  s["sync"] = sync("signed_in", true);
  s["sync"]["last_error"] = "HTTP 503 from the server";
  s["sync"]["backing_off"] = true;
  s["outbox"]["pending"] = 7;
  const TrayView v = trayViewOf(s, true);
  EXPECT_EQ(v.state, TrayState::kAutoTracking);
  EXPECT_EQ(v.title, "Recording automatically — apps in front are recorded");
  ASSERT_EQ(v.badge(), TrayProblem::kSyncFailing);
  EXPECT_FALSE(has(v.tooltip, "Not tracking"));
  // A state this tray does not know (a newer agent) while apps are recorded: still "recording".
  s["state"] = "some_new_state";
  EXPECT_EQ(trayViewOf(s, true).state, TrayState::kAutoTracking);
}

TEST(TrayState, TimerWhileConsentWaitsRecordsOnlyTheTime) {
  json s = withTimer(agentStatus());
  s["recording_apps"] = false;  // monitoring_allowed is false until the grant
  s["consent"]["required"] = true;
  s["consent"]["decision"] = "none";
  s["consent"]["granted"] = false;
  const TrayView v = trayViewOf(s, true, kProjects);
  EXPECT_EQ(v.state, TrayState::kTracking);
  EXPECT_EQ(v.title, "Timer running: Website redesign / Layout — only the time is recorded");
  EXPECT_TRUE(has(v.tooltip, "The apps in front wait for your consent")) << v.tooltip;
  ASSERT_EQ(v.badge(), TrayProblem::kConsent);
  EXPECT_TRUE(has(v.problems[0].text, "Consent needed")) << v.problems[0].text;
  // A changed set: the granted categories run on, the new ones wait; the problem names them.
  json changed = autoTracking();
  changed["consent"]["preapproved"] = false;
  changed["consent"]["decision"] = "granted";
  changed["consent"]["required"] = true;
  changed["consent"]["changes"] = {"screenshots"};
  const TrayView c = trayViewOf(changed, true);
  EXPECT_EQ(c.state, TrayState::kAutoTracking);
  ASSERT_EQ(c.problems.size(), 1u);
  EXPECT_EQ(c.problems[0].text, "Consent needed for screenshots: they wait for your answer");
}

TEST(TrayState, TrackingWithoutProjectListOrTodayMs) {
  json s = withTimer(agentStatus());
  s.erase("today_ms");
  const TrayView v = trayViewOf(s, true);
  EXPECT_EQ(v.project, "p1 / t2");
  EXPECT_EQ(v.title, "Timer running: p1 / t2");
  EXPECT_EQ(v.today_ms, 600000);
  EXPECT_TRUE(has(v.tooltip, "This entry: 0:10")) << v.tooltip;
  s["timer"]["project_id"] = "";
  s["timer"]["task_id"] = "";
  EXPECT_EQ(trayViewOf(s, true).title, "Timer running: no project");
}

// ---- problems: lines and a badge on top of the recording state ----

struct ProblemCase {
  const char* what;
  std::function<void(json&)> make;
  TrayProblem kind;
  const char* text;
};

TEST(TrayState, ProblemsKeepTheRecordingStateAndAddALine) {
  const std::vector<ProblemCase> cases = {
      {"signed out with data queued",
       [](json& s) {
         s["sync"] = sync("signed_out", true);
         s["outbox"]["pending"] = 12;
       },
       TrayProblem::kSignIn, "Signed out: 12 records wait on this computer until you sign in"},
      {"sign-in needed with data queued (the agent's own last_error is not a second problem)",
       [](json& s) {
         s["sync"] = sync("sign_in_needed", true);
         s["sync"]["last_error"] = "not signed in";
         s["sync"]["auth_problem"] = "the refresh token was revoked";
         s["outbox"]["pending"] = 1;
       },
       TrayProblem::kSignIn, "Sign-in needed: 1 record waits on this computer"},
      {"sign-in needed, nothing queued",
       [](json& s) {
         s["sync"] = sync("sign_in_needed", true);
         s["sync"]["auth_problem"] = "the refresh token was revoked";
       },
       TrayProblem::kSignIn, "Sign-in needed: the refresh token was revoked"},
      {"uploads failing while online, backing off",
       [](json& s) {
         s["sync"] = sync("signed_in", true);
         s["sync"]["backing_off"] = true;
         s["sync"]["failures"] = 3;
         s["sync"]["last_error"] = "HTTP 500 from the server";
         s["sync"]["next_retry_at"] = "2026-12-03T10:05:00.000Z";
         s["outbox"]["pending"] = 40;
       },
       TrayProblem::kSyncFailing, "Upload failing: HTTP 500 from the server — 40 records queued, next try at "},
      {"automatic enrolment failing",
       [](json& s) {
         s["sync"] = sync("signed_out", true);
         s["sync"]["auto_enroll"] = {{"os_account", "ann"}, {"error", "no_account_match: 403 no active user"}};
       },
       TrayProblem::kSyncFailing, "Automatic enrolment failing: no_account_match"},
      {"offline with data queued",
       [](json& s) {
         s["sync"] = sync("signed_in", false);
         s["sync"]["backing_off"] = true;
         s["sync"]["last_error"] = "cannot reach the server (connect): Connection refused";
         s["outbox"]["pending"] = 5;
       },
       TrayProblem::kOffline, "Offline: 5 records queued"},
      {"display", [](json& s) { s["agent"]["display"] = "cannot open display :9"; }, TrayProblem::kOther,
       "Display: cannot open display :9"},
      {"quarantine", [](json& s) { s["outbox"]["quarantined"] = 2; }, TrayProblem::kOther,
       "2 records refused by the server"},
      {"profile",
       [](json& s) {
         s["sync"] = sync("signed_in", true);
         s["sync"]["profile_problem"] = "screenshot_interval_s: out of range";
       },
       TrayProblem::kOther, "Company profile: screenshot_interval_s"},
  };
  const std::vector<std::pair<const char*, std::function<json()>>> bases = {
      {"timer", [] { return withTimer(agentStatus()); }},
      {"auto", [] { return autoTracking(); }},
      {"break", [] { return agentStatus("on_break"); }}};
  for (const auto& [base_name, base] : bases) {
    const TrayView plain = trayViewOf(base(), true, kProjects);
    for (const auto& c : cases) {
      json s = base();
      c.make(s);
      const TrayView v = trayViewOf(s, true, kProjects);
      const std::string what = std::string(base_name) + " + " + c.what;
      EXPECT_EQ(v.state, plain.state) << what;
      EXPECT_EQ(v.title, plain.title) << what << ": the problem must not replace what is recorded";
      ASSERT_EQ(v.problems.size(), 1u) << what << "\n" << v.tooltip;
      EXPECT_EQ(v.problems[0].kind, c.kind) << what;
      EXPECT_TRUE(has(v.problems[0].text, c.text)) << what << ": " << v.problems[0].text;
      EXPECT_TRUE(has(v.tooltip, "\n⚠ " + v.problems[0].text)) << what;
      EXPECT_EQ(v.badge(), c.kind) << what;
    }
  }
}

TEST(TrayState, NoProblemWhenSyncIsFine) {
  json s = autoTracking();
  s["sync"] = sync("signed_in", true);
  s["outbox"]["pending"] = 3;  // queued, uploading normally
  EXPECT_TRUE(trayViewOf(s, true).problems.empty());
  s["sync"] = sync("signed_out", true);
  s["outbox"]["pending"] = 0;  // never signed in, nothing waiting
  EXPECT_TRUE(trayViewOf(s, true).problems.empty());
  s["sync"] = {{"mode", "local-only"}};
  s["outbox"]["pending"] = 40;  // local-only: nothing is ever uploaded, nothing to warn about
  EXPECT_TRUE(trayViewOf(s, true).problems.empty());
}

TEST(TrayState, SeveralProblemsInBadgeOrder) {
  json s = withTimer(agentStatus());
  s["sync"] = sync("signed_out", true);
  s["outbox"]["pending"] = 4;
  s["outbox"]["quarantined"] = 1;
  s["consent"]["required"] = true;
  s["recording_apps"] = false;
  const TrayView v = trayViewOf(s, true);
  ASSERT_EQ(v.problems.size(), 3u) << v.tooltip;
  EXPECT_EQ(v.problems[0].kind, TrayProblem::kConsent);
  EXPECT_EQ(v.problems[1].kind, TrayProblem::kSignIn);
  EXPECT_EQ(v.problems[2].kind, TrayProblem::kOther);
  EXPECT_EQ(v.badge(), TrayProblem::kConsent);
  EXPECT_TRUE(v.title.starts_with("Timer running: p1 / t2")) << v.title;
}

TEST(TrayState, FormatDuration) {
  EXPECT_EQ(formatDuration(0), "0:00");
  EXPECT_EQ(formatDuration(59'999), "0:00");
  EXPECT_EQ(formatDuration(65 * 60'000), "1:05");
  EXPECT_EQ(formatDuration(-5), "0:00");
}

}  // namespace
}  // namespace wm::tray
