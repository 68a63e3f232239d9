// Consent on the server (issue 15): monitoring records of a person who has not granted their category are
// rejected one by one with the reason and never stored; with the grant (earlier, or in the same batch) they
// are; a revoke stops what began after it, not what began before.
#include <gtest/gtest.h>

#include "server_test_env.h"

namespace wm::test {
namespace {

using nlohmann::json;

class ServerConsentTest : public ServerTest {
 protected:
  void SetUp() override {
    ServerTest::SetUp();
    if (HasFatalFailure()) return;
    carol_ = addUser(company_a_, "carol@a.test", "employee", /*consented=*/false);
  }
  /// id → {status, reason}
  std::map<std::string, std::pair<std::string, std::string>> results(const HttpReply& r) {
    std::map<std::string, std::pair<std::string, std::string>> out;
    const json body = r.json();
    for (const auto& x : body["results"]) out[x["id"]] = {x["status"], x.value("reason", "")};
    return out;
  }
  static std::string id(const json& record) { return record["id"].get<std::string>(); }
  std::string carolCount(const std::string& table) {
    return scalar("select count(*) from " + table + " where user_id = '" + carol_ + "'");
  }
  std::string carol_;
};

TEST_F(ServerConsentTest, WithoutConsentEachMonitoringRecordIsRejectedWithItsReasonAndNotStored) {
  const std::string tok = token("carol@a.test");
  const long long t = nowMs() - 600000;
  // Alice (same company) and the admins have granted everything: only carol's own log counts.
  const json timed = makeRecord("time_entry", t, t + 1000, {{"source", "manual"}});
  const json idle = makeRecord("idle_period", t, t + 1000, {{"decision", "keep"}});
  const json rest = makeRecord("break", t, t + 1000, {{"reason", "manual"}});
  const json incident = makeRecord("incident", t, t, {{"kind", "other"}});
  const std::map<std::string, json> monitored{
      {"app_usage", makeRecord("app_usage", t, t + 1000, {{"app", "vim"}})},
      {"website_usage", makeRecord("website_usage", t, t + 1000, {{"domain", "example.org"}})},
      {"activity", makeRecord("activity", t, t + 1000, {{"keystrokes", 3}})},
      {"screenshots", makeRecord("screenshot", t, t, {{"width", 10}, {"height", 10}})},
      {"usb", makeRecord("usb_event", t, t, {{"action", "connected"}})},
      {"app_usage (downtime)", makeRecord("downtime", t, t + 1000, {{"reason", "crash"}})},
  };
  json batch = json::array({timed, idle, rest, incident});
  for (const auto& [cat, rec] : monitored) batch.push_back(rec);
  auto r = postBatch(tok, batch);
  ASSERT_EQ(r.status, 200) << r.body;
  auto res = results(r);
  for (const json* rec : {&timed, &idle, &rest, &incident})
    EXPECT_EQ(res[id(*rec)].first, "stored") << "the timer and the agent's incidents need no monitoring consent";
  for (const auto& [cat, rec] : monitored) {
    EXPECT_EQ(res[id(rec)].first, "rejected") << cat;
    const std::string want = "no_consent: " + cat.substr(0, cat.find(' ')) + " not granted by this person";
    EXPECT_EQ(res[id(rec)].second.rfind(want, 0), 0u) << cat << ": " << res[id(rec)].second;
  }
  for (const char* table : {"public.app_usage", "public.website_usage", "public.activity_logs", "public.screenshots",
                            "public.usb_events", "agent.downtime"})
    EXPECT_EQ(carolCount(table), "0") << table;
  EXPECT_EQ(carolCount("agent.record_revisions"), "4") << "rejected records leave no ledger entry either";

  // Once she has granted app usage (her own row in the log), the same kind of record is stored; websites
  // still wait for theirs.
  recordConsent(carol_, "app_usage", true, t - 1000);
  const json app = makeRecord("app_usage", t, t + 1000, {{"app", "vim"}});
  const json web = makeRecord("website_usage", t, t + 1000, {{"domain", "example.org"}});
  res = results(postBatch(tok, json::array({app, web})));
  EXPECT_EQ(res[id(app)].first, "stored");
  EXPECT_EQ(res[id(web)].first, "rejected");
  EXPECT_EQ(carolCount("public.app_usage"), "1");
}

// The agent sends the grant and the first records it allows together (often the grant after them in the
// outbox's order, never guaranteed before): the grant counts for its own batch, on the set-based path and on
// the per-record path a refused record sends the batch down.
TEST_F(ServerConsentTest, AGrantInTheSameBatchAllowsTheRecordsAfterIt) {
  const std::string tok = token("carol@a.test");
  for (const bool with_refused_record : {false, true}) {
    SCOPED_TRACE(with_refused_record ? "per-record path" : "set path");
    const long long t = nowMs() - 600000;
    const std::string cat = with_refused_record ? "activity" : "app_usage";
    const json grant = consentEvent(cat, true, t);
    const json first = with_refused_record ? makeRecord("activity", t + 5, t + 60000, {{"keystrokes", 1}})
                                           : makeRecord("app_usage", t + 5, t + 1000, {{"app", "vim"}});
    const json early = with_refused_record ? makeRecord("activity", t - 3600000, t - 3000000, {{"keystrokes", 1}})
                                           : makeRecord("app_usage", t - 3600000, t - 3000000, {{"app", "old"}});
    const json web = makeRecord("website_usage", t + 5, t + 1000, {{"domain", "example.org"}});
    json batch = json::array({first, early, web, grant});
    json hostile;
    if (with_refused_record) {
      // A time entry whose id is a row of another account: only the database refuses it.
      hostile = makeRecord("time_entry", t, t + 1000, {{"note", "takeover"}});
      scalar("insert into public.time_entries (id, company_id, user_id, start_time) values ('" + id(hostile) + "', '" +
             company_b_ + "', '" + admin_b_ + "', now()) returning id");
      batch.insert(batch.begin(), hostile);
    }
    auto r = postBatch(tok, batch);
    ASSERT_EQ(r.status, 200) << r.body;
    auto res = results(r);
    EXPECT_EQ(res[id(grant)].first, "stored");
    EXPECT_EQ(res[id(first)].first, "stored") << res[id(first)].second;
    EXPECT_EQ(res[id(early)].first, "rejected") << "an hour before the grant is not under it";
    EXPECT_EQ(res[id(web)].first, "rejected") << "the grant was for " << cat << " only";
    if (with_refused_record) {
      EXPECT_EQ(res[id(hostile)].first, "rejected");
    }
  }
  EXPECT_EQ(carolCount("public.app_usage"), "1");
  EXPECT_EQ(carolCount("public.activity_logs"), "1");
  EXPECT_EQ(carolCount("public.consent_audit_log"), "2");
}

// A span opened right after the grant may carry a start a moment before it (two clock readings, a small wall
// clock step): within a minute it is the grant's; further back it is not.
TEST_F(ServerConsentTest, ARecordStartingMomentsBeforeItsGrantIsUnderIt) {
  const std::string tok = token("carol@a.test");
  const long long t = nowMs() - 600000;
  const json close = makeRecord("app_usage", t - 2000, t + 1000, {{"app", "vim"}});
  const json far = makeRecord("app_usage", t - 5 * 60000, t - 4 * 60000, {{"app", "vim"}});
  auto res = results(postBatch(tok, json::array({consentEvent("app_usage", true, t), close, far})));
  EXPECT_EQ(res[id(close)].first, "stored");
  EXPECT_EQ(res[id(far)].first, "rejected");
}

// After a revoke (the agent sends "revoked" for a decline): records that began before it are still stored —
// also a later revision of a span that was open then — and those that began after are not.
TEST_F(ServerConsentTest, ARevokeStopsLaterRecordsButNotEarlierOnes) {
  const std::string tok = token("carol@a.test");
  const long long t0 = nowMs() - 3600000;
  const long long revoke = t0 + 1800000;
  json open_span = makeRecord("app_usage", revoke - 60000, revoke - 30000, {{"app", "open"}});
  auto res = results(postBatch(
      tok, json::array({consentEvent("screenshots", true, t0), consentEvent("app_usage", true, t0), open_span})));
  ASSERT_EQ(res[id(open_span)].first, "stored");

  open_span["revision"] = 2;  // closed at the revoke, sent after it
  open_span["end_ms"] = revoke;
  open_span["duration_ms"] = 60000;
  const json before = makeRecord("app_usage", revoke - 20000, revoke - 10000, {{"app", "before"}});
  const json after = makeRecord("app_usage", revoke + 30000, revoke + 40000, {{"app", "after"}});
  const json much_after = makeRecord("app_usage", revoke + 600000, revoke + 601000, {{"app", "after"}});
  const json shot = makeRecord("screenshot", revoke + 600000, revoke + 600000, {{"width", 10}, {"height", 10}});
  res = results(postBatch(
      tok, json::array({consentEvent("app_usage", false, revoke), open_span, before, after, much_after, shot})));
  EXPECT_EQ(res[id(open_span)].first, "stored");
  EXPECT_EQ(res[id(before)].first, "stored");
  EXPECT_EQ(res[id(after)].first, "rejected");
  EXPECT_EQ(res[id(much_after)].first, "rejected");
  EXPECT_EQ(res[id(shot)].first, "stored") << "screenshots were not revoked";
  EXPECT_EQ(scalar("select ended_at = 'epoch'::timestamptz + " + std::to_string(revoke) +
                   " * interval '1 millisecond' from public.app_usage where id = '" + id(open_span) + "'"),
            "t");

  // A new grant later allows records again from then on.
  const long long regrant = revoke + 900000;
  const json again = makeRecord("app_usage", regrant + 1000, regrant + 2000, {{"app", "again"}});
  res = results(postBatch(tok, json::array({again, consentEvent("app_usage", true, regrant)})));
  EXPECT_EQ(res[id(again)].first, "stored");
  EXPECT_EQ(carolCount("public.app_usage"), "3");
}

// An administrator's pre-approval (the agent's consent_preapproved) is recorded by the agent as the
// administrator's grant: source admin_import, policy_version "preapproved:<version>". It allows the records.
TEST_F(ServerConsentTest, APreapprovalRecordedAsTheAdministratorsGrantAllows) {
  const std::string tok = token("carol@a.test");
  const long long t = nowMs() - 600000;
  json grant = consentEvent("usb", true, t, "admin_import");
  grant["data"]["policy_version"] = "preapproved:0123456789abcdef";
  const json usb = makeRecord("usb_event", t + 10, t + 10, {{"action", "connected"}});
  auto res = results(postBatch(tok, json::array({grant, usb})));
  EXPECT_EQ(res[id(usb)].first, "stored");
  EXPECT_EQ(
      scalar("select source || ' ' || policy_version from public.consent_audit_log where user_id = '" + carol_ + "'"),
      "admin_import preapproved:0123456789abcdef");
}

}  // namespace
}  // namespace wm::test
