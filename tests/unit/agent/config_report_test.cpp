#include <cstdlib>
#include <ctime>
#include <fstream>

#include <gtest/gtest.h>

#include "workmonitor/agent/config.h"
#include "workmonitor/agent/report.h"

namespace wm::agent {
namespace {

using api::Record;
using api::RecordKind;
using nlohmann::json;

TEST(Config, DefaultsWhenEmpty) {
  auto c = configFromJson(json::object());
  EXPECT_TRUE(c.problems.empty());
  EXPECT_EQ(c.config.tracker.idle_threshold, std::chrono::minutes(5));
  EXPECT_EQ(c.config.tracker.idle_default, IdleDecision::kDiscardContinue);
}

TEST(Config, GoodValuesApplyBadValuesAreReportedAndKeepDefaults) {
  auto c = configFromJson(json{{"idle_threshold_s", 120},
                               {"idle_default_decision", "break"},
                               {"auto_tracking", true},
                               {"idle_decision_timeout_s", -5},
                               {"pulse_s", "ten"},
                               {"typo_setting", 1}});
  EXPECT_EQ(c.config.tracker.idle_threshold, std::chrono::seconds(120));
  EXPECT_EQ(c.config.tracker.idle_default, IdleDecision::kBreak);
  EXPECT_TRUE(c.config.tracker.auto_tracking);
  EXPECT_EQ(c.config.tracker.idle_decision_timeout, std::chrono::minutes(2));
  EXPECT_EQ(c.config.tracker.pulse, std::chrono::seconds(10));
  EXPECT_EQ(c.problems.size(), 3u);
}

TEST(Config, ExcludedSitesAreHostNamesOrTheListIsKept) {
  auto c = configFromJson(json{{"website_excluded_sites", {"bank.example", "*.health.example"}}});
  EXPECT_TRUE(c.problems.empty());
  EXPECT_EQ(c.config.collectors.website_excluded_sites, (std::vector<std::string>{"bank.example", "*.health.example"}));
  EXPECT_EQ(configToJson(c.config)["website_excluded_sites"], (json{"bank.example", "*.health.example"}));
  for (const json& bad :
       {json{"https://bank.example/"}, json{"ok.example", 3}, json("bank.example"), json{"bank.example:443"}}) {
    auto b = configFromJson(json{{"website_excluded_sites", bad}});
    ASSERT_EQ(b.problems.size(), 1u) << bad.dump();
    EXPECT_NE(b.problems[0].find("website_excluded_sites"), std::string::npos);
    EXPECT_TRUE(b.config.collectors.website_excluded_sites.empty()) << bad.dump();
  }
}

TEST(Config, MalformedFileMeansDefaultsAndAProblem) {
  const auto path = std::filesystem::temp_directory_path() / "wm-config-test.json";
  { std::ofstream(path) << "{ idle_threshold_s: "; }
  auto c = loadConfig(path);
  EXPECT_EQ(c.problems.size(), 1u);
  EXPECT_EQ(c.config.tracker.idle_threshold, std::chrono::minutes(5));
  std::filesystem::remove(path);
  auto missing = loadConfig(path);
  EXPECT_TRUE(missing.problems.empty());
  EXPECT_EQ(missing.source, "defaults");
}

Record rec(RecordKind kind, int64_t start, std::optional<int64_t> end, json data) {
  Record r;
  r.id = "0190aaaa-0000-7000-8000-000000000000";
  r.kind = kind;
  r.start_ms = start;
  r.end_ms = end;
  r.duration_ms = end ? *end - start : 0;
  r.data = std::move(data);
  return r;
}

// The one validator of a profile's settings: what the server refuses and what the agent refuses are the same
// rules, told apart only by kind (the agent takes a newer agent's keys and ignores local-only ones).
TEST(ProfileSettingsProblems, NamesTheFieldAndTheRuleAndNothingOfTheFallback) {
  EXPECT_TRUE(
      profileSettingsProblems(json{{"idle_threshold_s", 300}, {"website_excluded_sites", {"bank.example"}}}).empty());
  const auto problems = profileSettingsProblems(json{{"screenshot_quality", 101},
                                                     {"consent_preapproved", true},
                                                     {"idle_treshold_s", 300},
                                                     {"website_excluded_sites", {"https://bank.example"}}});
  ASSERT_EQ(problems.size(), 4u);
  EXPECT_EQ(problems[0].key, "consent_preapproved");
  EXPECT_EQ(problems[0].kind, SettingProblem::Kind::kLocalOnly);
  EXPECT_EQ(problems[1].key, "idle_treshold_s");
  EXPECT_EQ(problems[1].kind, SettingProblem::Kind::kUnknown);
  EXPECT_EQ(problems[2].key, "screenshot_quality");
  EXPECT_EQ(problems[2].kind, SettingProblem::Kind::kBadValue);
  EXPECT_EQ(problems[2].message, "must be an integer from 1 to 100");
  EXPECT_EQ(problems[3].key, "website_excluded_sites");
  EXPECT_NE(problems[3].message.find("without scheme"), std::string::npos) << problems[3].message;
  for (const auto& p : problems) EXPECT_EQ(p.message.find("using"), std::string::npos) << p.message;
  const auto whole = profileSettingsProblems(json::array());
  ASSERT_EQ(whole.size(), 1u);
  EXPECT_EQ(whole[0].key, "");
}

TEST(Report, SumsClipsAndGroups) {
  const int64_t day = 1'000'000'000;
  const int64_t h = 3'600'000;
  std::vector<Record> rs{
      rec(RecordKind::kTimeEntry, day - h, day + h, {{"project_id", "p1"}}),  // half before the day
      rec(RecordKind::kTimeEntry, day + 2 * h, day + 3 * h, {{"project_id", "p2"}}),
      rec(RecordKind::kTimeEntry, day + 4 * h, std::nullopt, {{"project_id", "p1"}}),  // running
      rec(RecordKind::kAppUsage, day, day + h, {{"app", "editor"}, {"title", "a.cpp"}}),
      rec(RecordKind::kAppUsage, day + h, day + 2 * h, {{"app", "editor"}, {"title", "b.cpp"}}),
      rec(RecordKind::kAppUsage, day + 2 * h, day + 2 * h + 60'000, {{"app", "browser"}, {"title", "x"}}),
      rec(RecordKind::kIdlePeriod, day + h, day + h + 600'000, {{"decision", "discard"}}),
      rec(RecordKind::kBreak, day + 3 * h, day + 3 * h + 1'800'000, json::object()),
  };
  auto r = buildReport(rs, day, day + 24 * h, day + 5 * h);
  EXPECT_EQ(r["tracked_ms"], 3 * h);
  EXPECT_EQ(r["projects"][0]["project_id"], "p1");
  EXPECT_EQ(r["projects"][0]["ms"], 2 * h);
  EXPECT_EQ(r["apps"][0]["app"], "editor");
  EXPECT_EQ(r["apps"][0]["ms"], 2 * h);
  EXPECT_EQ(r["apps"][0]["top_titles"].size(), 2u);
  EXPECT_EQ(r["idle"]["by_decision"]["discard"], 600'000);
  EXPECT_EQ(r["breaks"]["ms"], 1'800'000);
  EXPECT_EQ(r["entries"].size(), 3u);
  const std::string text = formatReport(r);
  EXPECT_NE(text.find("Tracked: 3h 00m"), std::string::npos) << text;
  EXPECT_NE(text.find("editor: 2h 00m"), std::string::npos) << text;
}

// Issue 13: a person's day is their local day. The text names the local date and local times; the JSON keeps
// UTC and unix milliseconds.
TEST(Report, TextIsInTheLocalZoneAndJsonStaysUtc) {
  const char* old_tz = std::getenv("TZ");
  const std::string saved = old_tz ? old_tz : "";
  ::setenv("TZ", "America/New_York", 1);
  ::tzset();
  const int64_t h = 3'600'000;
  const int64_t from = 1'796'187'600'000;  // 2026-12-02 00:00 in New York (05:00 UTC)
  std::vector<Record> rs{rec(RecordKind::kTimeEntry, from + 9 * h, from + 10 * h + h / 2, {{"project_id", "p1"}})};
  const json r = buildReport(rs, from, from + 24 * h, from + 12 * h);
  const std::string text = formatReport(r);
  if (old_tz)
    ::setenv("TZ", saved.c_str(), 1);
  else
    ::unsetenv("TZ");
  ::tzset();
  EXPECT_EQ(text.substr(0, text.find('\n')), "Report for Wednesday 2026-12-02 (local time, EST)") << text;
  EXPECT_EQ(text.find("T05:00:00"), std::string::npos) << "no UTC timestamps in the text: " << text;
  EXPECT_NE(text.find("09:00 - 10:30  p1: 1h 30m"), std::string::npos) << text;
  EXPECT_EQ(r["from_ms"], from);
  EXPECT_EQ(r["to_ms"], from + 24 * h);
  EXPECT_EQ(r["from"], "2026-12-02T05:00:00.000Z");
  EXPECT_EQ(r["entries"][0]["start_ms"], from + 9 * h);
}

TEST(Report, FormatDuration) {
  EXPECT_EQ(formatDuration(45'000), "45s");
  EXPECT_EQ(formatDuration(750'000), "12m 30s");
  EXPECT_EQ(formatDuration(3'900'000), "1h 05m");
}

}  // namespace
}  // namespace wm::agent
