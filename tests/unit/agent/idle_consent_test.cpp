// Issue 7 under a ManualClock: the `reassign` idle decision and the profile's list of allowed decisions
// (Tracker), app spans gated by consent (Tracker::monitoring_allowed), the consent state (Consent) and the
// new settings keys (idle_decisions, allow_quit, consent_preapproved).
#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "workmonitor/agent/config.h"
#include "workmonitor/agent/consent.h"
#include "workmonitor/agent/sync_service.h"
#include "workmonitor/agent/tracker.h"

namespace wm::agent {
namespace {

using api::Record;
using api::RecordKind;
using nlohmann::json;
using std::chrono::minutes;
using std::chrono::seconds;

class Sink : public RecordSink {
 public:
  void put(const Record& r) override {
    auto it = latest.find(r.id);
    ASSERT_TRUE(it == latest.end() || it->second.revision < r.revision) << "revision must grow: " << r.id;
    latest[r.id] = r;
  }
  void setState(const std::string& key, const std::string& value) override { state[key] = value; }
  std::vector<Record> of(RecordKind kind) const {
    std::vector<Record> out;
    for (const auto& [id, r] : latest)
      if (r.kind == kind) out.push_back(r);
    return out;
  }
  std::map<std::string, Record> latest;
  std::map<std::string, std::string> state;
};

class TrackerReassignTest : public ::testing::Test {
 protected:
  void SetUp() override { make(); }
  void make() {
    tracker = std::make_unique<Tracker>(clock, ids, sink, config, [this](const std::string& n, const json& d) {
      if (n == "idle_return") last_question = d;
    });
  }
  int64_t nowMs() const { return toUnixMs(clock.wall()); }
  void advance(Millis d) {
    while (d.count() > 0) {
      const Millis s = std::min(d, Millis(seconds(30)));
      clock.advance(s);
      tracker->tick();
      d -= s;
    }
  }
  // Timer on p1/t1 from t0; idle from t0+5m (detected at t0+10m); back at t0+20m; answered at t0+21m.
  void scenario() {
    t0 = nowMs();
    ASSERT_TRUE(tracker->startTimer({"p1", "t1", "coding"}));
    advance(minutes(10));
    tracker->onIdle(minutes(5));
    advance(minutes(10));
    tracker->onActive(Millis(0));
    ASSERT_TRUE(last_question.is_object());
    idle_id = last_question["idle_id"];
    advance(minutes(1));
  }

  ManualClock clock;
  UuidV7Generator ids{clock};
  Sink sink;
  TrackerConfig config;
  std::unique_ptr<Tracker> tracker;
  json last_question;
  int64_t t0 = 0;
  std::string idle_id;
};

TEST_F(TrackerReassignTest, IdleTimeBecomesAnEntryForTheOtherProjectAndTheTimerGoesOnFromTheReturn) {
  scenario();
  ASSERT_TRUE(tracker->decideIdle(IdleDecision::kReassign, idle_id, TimerSpec{"p2", "t9", "meeting"}));
  auto entries = sink.of(RecordKind::kTimeEntry);
  ASSERT_EQ(entries.size(), 3u);
  // The original entry ends where the idle time began.
  EXPECT_EQ(entries[0].data["project_id"], "p1");
  EXPECT_EQ(entries[0].end_ms, t0 + 5 * 60'000);
  // The idle time, reassigned: closed, exactly the idle period's times.
  const Record& moved = entries[1];
  EXPECT_EQ(moved.data["project_id"], "p2");
  EXPECT_EQ(moved.data["task_id"], "t9");
  EXPECT_EQ(moved.data["note"], "meeting");
  EXPECT_EQ(moved.data["source"], "reassigned");
  EXPECT_EQ(moved.data["idle_id"], idle_id);
  EXPECT_EQ(moved.start_ms, t0 + 5 * 60'000);
  EXPECT_EQ(moved.end_ms, t0 + 20 * 60'000);
  EXPECT_EQ(moved.duration_ms, 15 * 60'000);
  // The original timer goes on from the return (not from the answer).
  EXPECT_EQ(entries[2].data["project_id"], "p1");
  EXPECT_EQ(entries[2].data["task_id"], "t1");
  EXPECT_EQ(entries[2].start_ms, t0 + 20 * 60'000);
  EXPECT_TRUE(entries[2].isOpen());
  EXPECT_EQ(tracker->status()["state"], "tracking");
  auto idle = sink.of(RecordKind::kIdlePeriod);
  ASSERT_EQ(idle.size(), 1u);
  EXPECT_EQ(idle[0].data["decision"], "reassign");
}

TEST_F(TrackerReassignTest, ReassignWithoutAProjectIsRefusedAndTheQuestionStays) {
  scenario();
  auto r = tracker->decideIdle(IdleDecision::kReassign, idle_id, std::nullopt);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("project_id"), std::string::npos);
  EXPECT_FALSE(tracker->decideIdle(IdleDecision::kReassign, idle_id, TimerSpec{"", "t1", ""}));
  EXPECT_EQ(tracker->status()["state"], "idle_decision_pending");
}

TEST_F(TrackerReassignTest, DecisionsTheProfileDoesNotAllowAreRefusedAndListed) {
  config.idle_decisions = {IdleDecision::kKeep, IdleDecision::kReassign};
  make();
  scenario();
  const json pending = tracker->status()["idle_pending"];
  EXPECT_EQ(pending["allowed"], json({"keep", "reassign"}));
  EXPECT_EQ(last_question["choices"], json({"keep", "reassign"}));
  auto r = tracker->decideIdle(IdleDecision::kDiscard, idle_id);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("not allowed"), std::string::npos) << r.error().message;
  EXPECT_TRUE(sink.of(RecordKind::kIdlePeriod)[0].data["decision"] == "pending");
  ASSERT_TRUE(tracker->decideIdle(IdleDecision::kKeep, idle_id));
  EXPECT_EQ(sink.of(RecordKind::kIdlePeriod)[0].data["decision"], "keep");
}

TEST_F(TrackerReassignTest, AllFiveDecisionsAreAllowedByDefault) {
  scenario();
  EXPECT_EQ(tracker->status()["idle_pending"]["allowed"],
            json({"keep", "discard", "discard_continue", "break", "reassign"}));
}

TEST_F(TrackerReassignTest, ATimeoutStillAppliesTheDefaultWhateverTheList) {
  config.idle_decisions = {IdleDecision::kReassign};
  config.idle_default = IdleDecision::kDiscardContinue;
  make();
  scenario();
  advance(config.idle_decision_timeout + seconds(1));
  EXPECT_EQ(sink.of(RecordKind::kIdlePeriod)[0].data["decision"], "discard_continue");
}

TEST_F(TrackerReassignTest, AppSpansWaitForMonitoringToBeAllowedButTheTimerRuns) {
  config.monitoring_allowed = false;
  make();
  tracker->onWindow({"editor", "/usr/bin/editor", 7, "a.cpp", "editor"});
  ASSERT_TRUE(tracker->startTimer({"p1", "", ""}));
  advance(minutes(2));
  EXPECT_TRUE(sink.of(RecordKind::kAppUsage).empty()) << "no app spans without consent";
  EXPECT_EQ(sink.of(RecordKind::kTimeEntry).size(), 1u);
  EXPECT_FALSE(tracker->status()["recording_apps"].get<bool>());
  // Consent arrives: the window in front is recorded from now on.
  const int64_t granted_at = nowMs();
  TrackerConfig allowed = config;
  allowed.monitoring_allowed = true;
  tracker->setConfig(allowed);
  advance(minutes(1));
  auto apps = sink.of(RecordKind::kAppUsage);
  ASSERT_EQ(apps.size(), 1u);
  EXPECT_EQ(apps[0].start_ms, granted_at);
  // And taken back: the span ends at once.
  tracker->setConfig(config);
  apps = sink.of(RecordKind::kAppUsage);
  ASSERT_EQ(apps.size(), 1u);
  EXPECT_FALSE(apps[0].isOpen());
  EXPECT_EQ(apps[0].duration_ms, 60'000);
}

// ---- settings keys --------------------------------------------------------------------------------------

TEST(AgentConfigIssue7, IdleDecisionsAllowQuitAndPreapprovalAreRead) {
  LoadedConfig c = configFromJson(json{{"idle_decisions", {"keep", "reassign"}}, {"allow_quit", false}});
  EXPECT_TRUE(c.problems.empty());
  EXPECT_EQ(c.config.tracker.idle_decisions, (std::vector<IdleDecision>{IdleDecision::kKeep, IdleDecision::kReassign}));
  EXPECT_FALSE(c.config.allow_quit);
  EXPECT_FALSE(c.config.consent_preapproved);
  EXPECT_EQ(configToJson(c.config)["idle_decisions"], json({"keep", "reassign"}));

  LoadedConfig d = configFromJson(json::object());
  EXPECT_EQ(d.config.tracker.idle_decisions.size(), 5u);
  EXPECT_TRUE(d.config.allow_quit);

  LoadedConfig bad = configFromJson(json{{"idle_decisions", {"keep", "nap"}}, {"idle_default_decision", "reassign"}});
  ASSERT_EQ(bad.problems.size(), 2u);
  EXPECT_EQ(bad.config.tracker.idle_decisions.size(), 5u);
  EXPECT_EQ(bad.config.tracker.idle_default, IdleDecision::kDiscardContinue);
}

TEST(AgentConfigIssue7, AProfileCannotPreapproveConsentButCanRestrictDecisionsAndQuit) {
  AgentConfig local;
  auto cfg = applyProfile(
      local, json{{"settings",
                   {{"consent_preapproved", true}, {"allow_quit", false}, {"idle_decisions", {"discard", "break"}}}}});
  ASSERT_TRUE(cfg) << cfg.error().message;
  EXPECT_FALSE(cfg->consent_preapproved);
  EXPECT_FALSE(cfg->allow_quit);
  EXPECT_EQ(cfg->tracker.idle_decisions, (std::vector<IdleDecision>{IdleDecision::kDiscard, IdleDecision::kBreak}));
  local.consent_preapproved = true;  // the local file's pre-approval survives a profile
  cfg = applyProfile(local, json{{"settings", {{"allow_quit", false}}}});
  ASSERT_TRUE(cfg);
  EXPECT_TRUE(cfg->consent_preapproved);
  EXPECT_FALSE(applyProfile(local, json{{"settings", {{"idle_decisions", "keep"}}}}));
  // A newer agent's setting is no reason to refuse the rest; a bad value of a known one is, and says which.
  EXPECT_TRUE(applyProfile(local, json{{"settings", {{"a_newer_setting", 1}, {"allow_quit", true}}}}));
  auto refused = applyProfile(local, json{{"settings", {{"screenshot_quality", 0}}}});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().message, "screenshot_quality: must be an integer from 1 to 100");
}

// ---- consent --------------------------------------------------------------------------------------------

class AgentConsentTest : public ::testing::Test {
 protected:
  ManualClock clock;
  UuidV7Generator ids{clock};
  Sink sink;
  AgentConfig config;  // defaults: app usage, websites, screenshots, activity, usb
};

std::vector<std::string> categories(const json& status) {
  std::vector<std::string> out;
  for (const auto& c : status["collects"]) out.push_back(c["category"]);
  return out;
}

TEST_F(AgentConsentTest, NothingButTheTimerUntilTheCurrentVersionIsGranted) {
  Consent c(clock, ids, sink);
  c.setConfig(config);
  const json s = c.status();
  EXPECT_TRUE(s["required"].get<bool>());
  EXPECT_FALSE(s["granted"].get<bool>());
  EXPECT_EQ(categories(s), (std::vector<std::string>{"app_usage", "website_usage", "screenshots", "activity", "usb"}));
  for (const auto& i : s["collects"]) EXPECT_FALSE(i["detail"].get<std::string>().empty());
  EXPECT_EQ(s["version"].get<std::string>().size(), 16u);
  for (const char* cat : {"app_usage", "website_usage", "screenshots", "activity", "usb"}) EXPECT_FALSE(c.allows(cat));
  EXPECT_FALSE(c.declined());

  auto stale = c.decide(true, "0000000000000000");
  ASSERT_FALSE(stale);
  EXPECT_NE(stale.error().message.find("not the current one"), std::string::npos);
  EXPECT_TRUE(sink.of(RecordKind::kConsentEvent).empty());

  ASSERT_TRUE(c.decide(true, c.version()));
  for (const char* cat : {"app_usage", "website_usage", "screenshots", "activity", "usb"}) EXPECT_TRUE(c.allows(cat));
  EXPECT_FALSE(c.allows("auto_tracking")) << "not collected under these settings";
  EXPECT_FALSE(c.required());
  EXPECT_TRUE(c.status()["granted"].get<bool>());
  auto events = sink.of(RecordKind::kConsentEvent);
  ASSERT_EQ(events.size(), 5u);
  for (const auto& e : events) {
    EXPECT_EQ(e.data["action"], "granted");
    EXPECT_EQ(e.data["policy_version"], c.version());
    EXPECT_EQ(e.data["source"], "agent");
    EXPECT_EQ(e.start_ms, toUnixMs(clock.wall()));
  }
  EXPECT_EQ(events[2].data["consent_type"], "screenshots");
  ASSERT_TRUE(sink.state.contains(Consent::kStateKey));
}

// Issue 13: what a person is asked to agree to is exactly what the settings switch on: each collector's
// setting adds or removes its category, and a category off in the settings is never allowed, not even by
// a pre-approval; one switched on but not yet granted says why it waits and what to do.
TEST_F(AgentConsentTest, TheListIsExactlyWhatTheSettingsSwitchOn) {
  struct Switch {
    const char* category;
    void (*set)(AgentConfig&, bool);
  };
  const Switch switches[] = {
      {"auto_tracking", [](AgentConfig& c, bool on) { c.tracker.auto_tracking = on; }},
      {"website_usage", [](AgentConfig& c, bool on) { c.collectors.website_usage = on; }},
      {"screenshots", [](AgentConfig& c, bool on) { c.screenshots.enabled = on; }},
      {"activity", [](AgentConfig& c, bool on) { c.collectors.activity_counts = on; }},
      {"usb", [](AgentConfig& c, bool on) { c.collectors.usb_events = on; }},
  };
  for (const Switch& sw : switches) {
    for (bool on : {false, true}) {
      AgentConfig cfg = config;
      sw.set(cfg, on);
      for (bool preapproved : {false, true}) {
        cfg.consent_preapproved = preapproved;
        Consent c(clock, ids, sink);
        c.setConfig(cfg);
        const auto listed = categories(c.status());
        const bool in_list = std::find(listed.begin(), listed.end(), sw.category) != listed.end();
        EXPECT_EQ(in_list, on) << sw.category << (on ? " on" : " off");
        EXPECT_EQ(c.collects(sw.category), on) << sw.category;
        if (!on) {
          EXPECT_FALSE(c.allows(sw.category))
              << sw.category << " is off in the settings (preapproved " << preapproved << ")";
          EXPECT_EQ(c.withheldReason(sw.category), "");
        } else if (!preapproved) {
          EXPECT_NE(c.withheldReason(sw.category).find("consent --grant"), std::string::npos) << sw.category;
          ASSERT_TRUE(c.decide(true, c.version()));
          EXPECT_TRUE(c.allows(sw.category)) << sw.category;
          EXPECT_EQ(c.withheldReason(sw.category), "");
        } else {
          EXPECT_TRUE(c.allows(sw.category)) << sw.category;
        }
      }
    }
  }
}

TEST_F(AgentConsentTest, TheVersionIsStableAndFollowsWhatMatters) {
  const std::string v = consentVersion(consentItems(config));
  EXPECT_EQ(v, consentVersion(consentItems(AgentConfig{})));
  AgentConfig other = config;
  other.screenshots.quality = 40;  // not something a person consents to
  EXPECT_EQ(v, consentVersion(consentItems(other)));
  other.screenshots.blur = true;
  EXPECT_NE(v, consentVersion(consentItems(other)));
  other = config;
  other.screenshots.interval = minutes(5);
  EXPECT_NE(v, consentVersion(consentItems(other)));
  other = config;
  other.collectors.usb_events = false;
  EXPECT_NE(v, consentVersion(consentItems(other)));
}

TEST_F(AgentConsentTest, AChangedSetAsksAgainOnlyForWhatChanged) {
  Consent c(clock, ids, sink);
  c.setConfig(config);
  ASSERT_TRUE(c.decide(true, c.version()));
  const std::string granted_version = c.version();
  AgentConfig changed = config;
  changed.screenshots.interval = minutes(3);  // more often
  changed.tracker.auto_tracking = true;       // new
  EXPECT_TRUE(c.setConfig(changed));
  EXPECT_NE(c.version(), granted_version);
  const json s = c.status();
  EXPECT_TRUE(s["required"].get<bool>());
  EXPECT_FALSE(s["granted"].get<bool>());
  EXPECT_EQ(s["changes"], json({"auto_tracking", "screenshots"}));
  EXPECT_FALSE(c.allows("screenshots"));
  EXPECT_FALSE(c.allows("auto_tracking"));
  EXPECT_TRUE(c.allows("app_usage"));
  EXPECT_TRUE(c.allows("usb"));
  // Answering the old version is an error; the new one grants the changed parts.
  EXPECT_FALSE(c.decide(true, granted_version));
  ASSERT_TRUE(c.decide(true, c.version()));
  EXPECT_TRUE(c.allows("screenshots"));
  EXPECT_TRUE(c.allows("auto_tracking"));
  EXPECT_FALSE(c.required());
  // Something stops being collected: nothing new to ask, the rest keeps running.
  AgentConfig fewer = changed;
  fewer.tracker.auto_tracking = false;
  fewer.collectors.usb_events = false;
  c.setConfig(fewer);
  EXPECT_FALSE(c.required());
  EXPECT_TRUE(c.allows("screenshots"));
  EXPECT_FALSE(c.allows("usb"));
}

TEST_F(AgentConsentTest, DeclineStopsEverythingIsRecordedAndSurvivesARestart) {
  Consent c(clock, ids, sink);
  c.setConfig(config);
  ASSERT_TRUE(c.decide(false, c.version()));
  EXPECT_TRUE(c.declined());
  EXPECT_FALSE(c.required()) << "answered";
  for (const char* cat : {"app_usage", "website_usage", "screenshots", "activity", "usb"}) EXPECT_FALSE(c.allows(cat));
  auto events = sink.of(RecordKind::kConsentEvent);
  ASSERT_EQ(events.size(), 5u);
  for (const auto& e : events) EXPECT_EQ(e.data["action"], "revoked");
  EXPECT_EQ(c.status()["decision"], "declined");

  Consent again(clock, ids, sink);
  again.restore(sink.state[Consent::kStateKey]);
  again.setConfig(config);
  EXPECT_TRUE(again.declined());
  EXPECT_FALSE(again.allows("app_usage"));
  // A later grant turns monitoring on.
  ASSERT_TRUE(again.decide(true, again.version()));
  EXPECT_FALSE(again.declined());
  EXPECT_TRUE(again.allows("activity"));

  Consent third(clock, ids, sink);
  third.restore(sink.state[Consent::kStateKey]);
  third.setConfig(config);
  EXPECT_TRUE(third.allows("activity"));
  EXPECT_FALSE(third.required());
}

TEST_F(AgentConsentTest, PreapprovalNeedsNoAnswerAndRefusesOne) {
  config.consent_preapproved = true;
  Consent c(clock, ids, sink);
  c.setConfig(config);
  EXPECT_FALSE(c.required());
  EXPECT_TRUE(c.allows("screenshots"));
  EXPECT_TRUE(c.status()["granted"].get<bool>());
  EXPECT_EQ(c.status()["decision"], "preapproved");
  EXPECT_FALSE(c.decide(false, c.version()));
  EXPECT_FALSE(c.declined());
}

// The server stores monitoring records only under a grant it holds (issue 15): a pre-approval is recorded
// as the administrator's grant, one event per category, once per version (not again after a restart), and
// again when what is collected changes.
TEST_F(AgentConsentTest, APreapprovalIsRecordedOncePerVersionAsTheAdministratorsGrant) {
  config.consent_preapproved = true;
  Consent c(clock, ids, sink);
  c.setConfig(config);
  auto events = sink.of(RecordKind::kConsentEvent);
  ASSERT_EQ(events.size(), 5u);
  std::vector<std::string> cats;
  for (const auto& e : events) {
    cats.push_back(e.data["consent_type"]);
    EXPECT_EQ(e.data["action"], "granted");
    EXPECT_EQ(e.data["source"], "admin_import") << "the person was not asked";
    EXPECT_EQ(e.data["policy_version"], "preapproved:" + c.version());
    EXPECT_EQ(e.start_ms, toUnixMs(clock.wall()));
  }
  std::sort(cats.begin(), cats.end());
  EXPECT_EQ(cats, (std::vector<std::string>{"activity", "app_usage", "screenshots", "usb", "website_usage"}));
  c.setConfig(config);
  EXPECT_EQ(sink.of(RecordKind::kConsentEvent).size(), 5u) << "the same settings again record nothing";

  Consent restarted(clock, ids, sink);
  restarted.restore(sink.state[Consent::kStateKey]);
  restarted.setConfig(config);
  EXPECT_EQ(sink.of(RecordKind::kConsentEvent).size(), 5u) << "recorded once, not at every start";

  config.tracker.auto_tracking = true;  // a new version: recorded again, for the new set
  restarted.setConfig(config);
  EXPECT_EQ(sink.of(RecordKind::kConsentEvent).size(), 11u);

  // Without the pre-approval nothing is recorded until the person answers.
  Sink other;
  AgentConfig plain;
  Consent asked(clock, ids, other);
  asked.setConfig(plain);
  EXPECT_TRUE(other.of(RecordKind::kConsentEvent).empty());
}

TEST_F(AgentConsentTest, LiftingAPreapprovalRevokesTheAdministratorsGrants) {
  config.consent_preapproved = true;
  Consent c(clock, ids, sink);
  c.setConfig(config);
  const std::string approved = c.version();
  ASSERT_EQ(sink.of(RecordKind::kConsentEvent).size(), 5u);

  clock.advance(std::chrono::minutes(5));
  config.consent_preapproved = false;
  Consent restarted(clock, ids, sink);  // the policy changes between two runs of the agent
  restarted.restore(sink.state[Consent::kStateKey]);
  restarted.setConfig(config);
  auto events = sink.of(RecordKind::kConsentEvent);
  ASSERT_EQ(events.size(), 11u) << "one revoke per category (auto_tracking, not collected, included)";
  std::vector<std::string> revoked;
  for (size_t i = 5; i < events.size(); ++i) {
    EXPECT_EQ(events[i].data["action"], "revoked");
    EXPECT_EQ(events[i].data["source"], "admin_import");
    EXPECT_EQ(events[i].data["policy_version"], "preapproval_lifted:" + approved);
    EXPECT_EQ(events[i].start_ms, toUnixMs(clock.wall()));
    revoked.push_back(events[i].data["consent_type"]);
  }
  std::sort(revoked.begin(), revoked.end());
  EXPECT_EQ(revoked, (std::vector<std::string>{"activity", "app_usage", "auto_tracking", "screenshots", "usb",
                                               "website_usage"}));
  EXPECT_TRUE(restarted.required()) << "now the person is asked";
  restarted.setConfig(config);
  EXPECT_EQ(sink.of(RecordKind::kConsentEvent).size(), 11u) << "revoked once";

  // The person's own answer afterwards is recorded as theirs.
  ASSERT_TRUE(restarted.decide(true, restarted.version()));
  events = sink.of(RecordKind::kConsentEvent);
  ASSERT_EQ(events.size(), 16u);
  EXPECT_EQ(events.back().data["source"], "agent");
  EXPECT_EQ(events.back().data["action"], "granted");
}

TEST_F(AgentConsentTest, UnreadableSavedStateMeansNoAnswerYet) {
  Consent c(clock, ids, sink);
  c.restore(std::string("{ not json"));
  c.setConfig(config);
  EXPECT_TRUE(c.required());
  EXPECT_FALSE(c.allows("app_usage"));
}

}  // namespace
}  // namespace wm::agent
