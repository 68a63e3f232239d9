// Batch ingest through the real HTTP server: idempotence, revisions, rejections, limits, RLS isolation.
#include <gtest/gtest.h>

#include <random>

#include "../../server/http/src/record_mapping.h"  // the server's own upsert statements (private to it)
#include "server_test_env.h"
#include "workmonitor/server/http/crypto.h"
#include "workmonitor/server/http/gzip.h"

namespace wm::test {
namespace {

using nlohmann::json;

// The server writes the set statements' JSON itself (setRows, appendJsonString): whatever bytes a record's
// strings hold — quotes, control characters, broken or overlong UTF-8 — the result is JSON that parses back,
// and valid UTF-8 comes back unchanged.
TEST(IngestJson, HandWrittenStringsAlwaysParseBackAndKeepValidText) {
  const std::vector<std::string> hostile = {"",
                                            "plain",
                                            "quote\" and \\ backslash",
                                            std::string("nul\0inside", 10),
                                            "\x01\x1f\x7f\b\f\n\r\t",
                                            "\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
                                            "\xc0\x80",
                                            "\xe0\x80\x80",
                                            "\xed\xa0\x80",
                                            "\xf4\x90\x80\x80",
                                            "\xe2\x82",
                                            "\xe2\x82"
                                            "A",
                                            "\x80",
                                            "\xff\xfe",
                                            "\xf0\x9f\x98",
                                            "</script>\u2028"};
  std::mt19937 rng(7);
  std::vector<std::string> cases = hostile;
  for (int i = 0; i < 2000; ++i) {
    std::string r(rng() % 24, '\0');
    for (char& c : r) c = static_cast<char>(rng() % 256);
    cases.push_back(r);
  }
  for (const std::string& s : cases) {
    std::string out;
    server::http::appendJsonString(out, s);
    const json back = json::parse(out, nullptr, false);
    ASSERT_TRUE(back.is_string()) << "not JSON for input of " << s.size() << " bytes: " << out;
    // Valid UTF-8 (nlohmann's strict dump accepts it) must come back byte for byte.
    bool valid = true;
    try {
      (void)json(s).dump();
    } catch (const json::type_error&) {
      valid = false;
    }
    if (valid) {
      EXPECT_EQ(back.get<std::string>(), s);
    }
  }
}

class ServerBatchTest : public ServerTest {
 protected:
  std::map<std::string, std::string> statuses(const HttpReply& r) {
    std::map<std::string, std::string> out;
    const json body = r.json();  // kept alive: a range-for over a temporary's member would dangle
    for (const auto& x : body["results"]) out[x["id"].get<std::string>()] = x["status"].get<std::string>();
    return out;
  }
  /// An app_usage row of company B's admin under `record`'s id, with no ledger entry: only the database can
  /// refuse `record` when alice uploads it.
  bool plantOtherAccountsRow(const json& record) {
    auto c = connect();
    return c
        .query(
            "insert into public.app_usage (id, company_id, user_id, started_at, app_name) "
            "values ($1::uuid, $2::uuid, $3::uuid, now(), 'theirs')",
            {record["id"].get<std::string>(), company_b_, admin_b_})
        .has_value();
  }
  /// Count of rows visible to `user` through the runtime role with their claim set.
  std::string countAs(const std::string& user, const std::string& sql) {
    auto conn = connect("workmonitor_app");
    auto b = conn.exec("begin");
    EXPECT_TRUE(b);
    auto s = conn.query("select set_config('request.jwt.claim.sub', $1, true)", {user});
    EXPECT_TRUE(s);
    auto r = conn.query(sql);
    EXPECT_TRUE(r) << (r ? "" : r.error().message);
    return r ? std::string(r->value(0, 0)) : "";
  }
};

TEST_F(ServerBatchTest, StoredThenDuplicateThenRevisions) {
  const std::string at = token("alice@a.test");
  const long long t = nowMs() - 60000;
  json entry =
      makeRecord("time_entry", t, t + 1000, {{"project_id", ""}, {"task_id", ""}, {"note", "n"}, {"source", "manual"}});
  json app = makeRecord("app_usage", t, t + 500, {{"app", "vim"}, {"title", "x"}, {"pid", 42}, {"wm_class", "Vim"}});
  auto r = postBatch(at, json::array({entry, app}));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(statuses(r)[entry["id"].get<std::string>()], "stored");
  EXPECT_EQ(statuses(r)[app["id"].get<std::string>()], "stored");
  // The same batch again changes nothing.
  r = postBatch(at, json::array({entry, app}));
  EXPECT_EQ(statuses(r)[entry["id"].get<std::string>()], "duplicate");
  EXPECT_EQ(scalar("select count(*) from public.time_entries"), "1");
  EXPECT_EQ(scalar("select details->>'wm_class' from public.app_usage"), "Vim");
  // A higher revision replaces, a lower one is ignored.
  entry["revision"] = 3;
  entry["data"]["note"] = "third";
  EXPECT_EQ(statuses(postBatch(at, json::array({entry})))[entry["id"].get<std::string>()], "stored");
  entry["revision"] = 2;
  entry["data"]["note"] = "second";
  EXPECT_EQ(statuses(postBatch(at, json::array({entry})))[entry["id"].get<std::string>()], "duplicate");
  EXPECT_EQ(scalar("select note from public.time_entries"), "third");
  EXPECT_EQ(
      scalar("select revision from agent.record_revisions where record_id = '" + entry["id"].get<std::string>() + "'"),
      "3");
}

// The batch goes in as one statement per kind; an id twice in one batch must not break it: the highest
// revision is stored, the other answered as a duplicate.
TEST_F(ServerBatchTest, AnIdTwiceInOneBatchKeepsItsHighestRevision) {
  const std::string at = token("alice@a.test");
  const long long t = nowMs() - 60000;
  json first = makeRecord("app_usage", t, t + 500, {{"app", "first"}});
  json second = first;
  second["revision"] = 2;
  second["data"]["app"] = "second";
  json other = makeRecord("app_usage", t, t + 700, {{"app", "other"}});
  auto r = postBatch(at, json::array({second, other, first}));
  ASSERT_EQ(r.status, 200) << r.body;
  auto res = r.json()["results"];
  ASSERT_EQ(res.size(), 3u);
  EXPECT_EQ(res[0]["status"], "stored") << res.dump();
  EXPECT_EQ(res[1]["status"], "stored");
  EXPECT_EQ(res[2]["status"], "duplicate");
  EXPECT_EQ(scalar("select app_name from public.app_usage where id = '" + first["id"].get<std::string>() + "'"),
            "second");
  EXPECT_EQ(scalar("select count(*) from public.app_usage"), "2");
}

// An id the server holds as one kind, sent again as another kind (a client bug), is not acknowledged as a
// duplicate (the agent would drop it): it is rejected with the reason, and the stored record is untouched.
TEST_F(ServerBatchTest, AnIdReusedForAnotherKindIsRejectedNotAcknowledged) {
  const std::string at = token("alice@a.test");
  const long long t = nowMs() - 60000;
  json app = makeRecord("app_usage", t, t + 500, {{"app", "vim"}});
  ASSERT_EQ(statuses(postBatch(at, json::array({app})))[app["id"].get<std::string>()], "stored");
  json web = makeRecord("website_usage", t, t + 500, {{"domain", "example.org"}});
  web["id"] = app["id"];
  json fresh = makeRecord("app_usage", t, t + 700, {{"app", "other"}});
  auto r = postBatch(at, json::array({web, app, fresh}));
  ASSERT_EQ(r.status, 200) << r.body;
  auto res = r.json()["results"];
  ASSERT_EQ(res.size(), 3u);
  EXPECT_EQ(res[0]["status"], "rejected") << res.dump();
  EXPECT_NE(res[0].value("reason", "").find("already names a app_usage record"), std::string::npos) << res.dump();
  EXPECT_EQ(res[1]["status"], "duplicate") << res.dump();  // the same record again is still a duplicate
  EXPECT_EQ(res[2]["status"], "stored") << res.dump();
  EXPECT_EQ(scalar("select count(*) from public.website_usage"), "0");
  EXPECT_EQ(scalar("select app_name from public.app_usage where id = '" + app["id"].get<std::string>() + "'"), "vim");
}

// A record only the database can refuse (its id is a row of another account that has no ledger entry) sends
// the batch down the per-record path: that record is rejected, the others in the batch are stored.
TEST_F(ServerBatchTest, ARecordTheDatabaseRefusesIsRejectedAlone) {
  const std::string at = token("alice@a.test");
  const long long t = nowMs() - 60000;
  json hostile = makeRecord("app_usage", t, t + 1, {{"app", "takeover"}});
  ASSERT_TRUE(plantOtherAccountsRow(hostile));
  json before = makeRecord("time_entry", t, t + 1000, {{"note", "kept"}});
  json after = makeRecord("app_usage", t, t + 2, {{"app", "fine"}});
  auto r = postBatch(at, json::array({before, hostile, after}));
  ASSERT_EQ(r.status, 200) << r.body;
  auto res = r.json()["results"];
  ASSERT_EQ(res.size(), 3u);
  EXPECT_EQ(res[0]["status"], "stored") << res.dump();
  EXPECT_EQ(res[1]["status"], "rejected");
  EXPECT_NE(res[1].value("reason", "").find("another account"), std::string::npos) << res[1].dump();
  EXPECT_EQ(res[2]["status"], "stored");
  EXPECT_EQ(scalar("select app_name from public.app_usage where id = '" + hostile["id"].get<std::string>() + "'"),
            "theirs");
  EXPECT_EQ(scalar("select count(*) from agent.record_revisions"), "2");
}

// Records that refer to a time entry (an idle period's entry_id, a screenshot's time_entry_id) listed before
// that entry in one batch: the entry is stored first, so the references are kept rather than stored as NULL
// — on the set-based path and on the per-record path a refused record sends the batch down.
TEST_F(ServerBatchTest, ReferencesToATimeEntryInTheSameBatchHoldWhateverTheOrder) {
  const std::string at = token("alice@a.test");
  for (const bool with_refused_record : {false, true}) {
    SCOPED_TRACE(with_refused_record ? "per-record path" : "set path");
    const long long t = nowMs() - 60000;
    json entry = makeRecord("time_entry", t, t + 1000, {{"note", "n"}});
    const std::string entry_id = entry["id"].get<std::string>();
    json idle = makeRecord("idle_period", t + 10, t + 20, {{"decision", "keep"}, {"entry_id", entry_id}});
    json shot = makeRecord("screenshot", t + 30, t + 30, {{"width", 10}, {"height", 10}, {"time_entry_id", entry_id}});
    json recs = json::array({idle, shot, entry});
    if (with_refused_record) {
      json hostile = makeRecord("app_usage", t, t + 1, {{"app", "takeover"}});
      ASSERT_TRUE(plantOtherAccountsRow(hostile));
      recs.insert(recs.begin(), hostile);
    }
    auto r = postBatch(at, recs);
    ASSERT_EQ(r.status, 200) << r.body;
    const auto got = statuses(r);
    EXPECT_EQ(got.at(entry_id), "stored");
    EXPECT_EQ(got.at(idle["id"].get<std::string>()), "stored");
    EXPECT_EQ(got.at(shot["id"].get<std::string>()), "stored");
    EXPECT_EQ(
        scalar("select time_entry_id from public.idle_periods where id = '" + idle["id"].get<std::string>() + "'"),
        entry_id);
    EXPECT_EQ(scalar("select time_entry_id from public.screenshots where id = '" + shot["id"].get<std::string>() + "'"),
              entry_id);
  }
}

// A reference (an idle period's time entry, a screenshot's, a time entry's project) is looked up under RLS for
// every record of a batch. With the id cast from text inside the lookup, the policy made it a sequential scan
// of the user's rows (a cast from text is not leakproof); read from the JSON as a uuid, it is the primary key.
TEST_F(ServerBatchTest, ReferenceLookupsInTheSetStatementUseThePrimaryKey) {
  auto super = connect();
  ASSERT_TRUE(super.query(
      "insert into public.time_entries (company_id, user_id, start_time, end_time, duration_ms, source) "
      "select $1::uuid, $2::uuid, now() - g * interval '1 min', now() - g * interval '1 min' + interval '30 s', "
      "30000, 'timer' from generate_series(1, 3000) g",
      {company_a_, user_a_}));
  ASSERT_TRUE(super.exec("analyze public.time_entries"));
  const long long t = nowMs() - 60000;
  const std::string entry_id = scalar("select id from public.time_entries limit 1");
  struct Case {
    std::string kind;
    json data;
  };
  for (const Case& c : {Case{"idle_period", {{"decision", "keep"}, {"entry_id", entry_id}}},
                        Case{"screenshot", {{"width", 10}, {"height", 10}, {"time_entry_id", entry_id}}}}) {
    SCOPED_TRACE(c.kind);
    auto rec = api::recordFromJson(makeRecord(c.kind, t, t + 1000, c.data));
    ASSERT_TRUE(rec) << rec.error().message;
    auto mapped = server::http::mapRecord(*rec, nowMs());
    ASSERT_TRUE(mapped) << mapped.error().message;
    const std::string rows = server::http::setRows(*mapped->kind, {&*mapped});
    auto app = connect("workmonitor_app");
    ASSERT_TRUE(app.exec("begin"));
    ASSERT_TRUE(app.query("select set_config('request.jwt.claim.sub', $1, true)", {user_a_}));
    auto plan = app.query("explain " + mapped->kind->set_sql, {rows, company_a_, user_a_, std::nullopt, c.kind});
    ASSERT_TRUE(plan) << plan.error().message;
    std::string text;
    for (int i = 0; i < plan->rows(); ++i) text += std::string(plan->value(i, 0)) + "\n";
    EXPECT_EQ(text.find("Seq Scan on time_entries"), std::string::npos) << text;
    EXPECT_NE(text.find("Index Scan using time_entries_pkey"), std::string::npos) << text;
  }
}

TEST_F(ServerBatchTest, EveryKindLandsInItsTable) {
  const std::string at = token("alice@a.test");
  const long long t = nowMs() - 60000;
  json recs = json::array({
      makeRecord("time_entry", t, t + 1000, {{"source", "after_idle"}}),
      makeRecord("idle_period", t, t + 1000, {{"decision", "keep"}, {"entry_id", ""}, {"reason", "idle"}}),
      makeRecord("break", t, t + 1000, {{"reason", "manual"}}),
      makeRecord("app_usage", t, t + 1000, {{"app", "a"}}),
      makeRecord("website_usage", t, t + 1000, {{"domain", "example.org"}, {"url", "https://example.org/"}}),
      makeRecord("activity", t, t + 1000, {{"keystrokes", 5}, {"mouse_events", 7}}),
      makeRecord("screenshot", t, t, {{"width", 1280}, {"height", 720}}),
      makeRecord("usb_event", t, t, {{"action", "connected"}, {"vendor_id", "abcd"}}),
      makeRecord("consent_event", t, t, {{"consent_type", "screenshots"}, {"action", "granted"}}),
      makeRecord("incident", t, t, {{"kind", "usb_copy"}, {"severity", "high"}}),
  });
  auto r = postBatch(at, recs);
  ASSERT_EQ(r.status, 200) << r.body;
  const json body = r.json();
  for (const auto& x : body["results"]) EXPECT_EQ(x["status"], "stored") << x.dump();
  for (const char* table : {"time_entries", "idle_periods", "breaks", "app_usage", "website_usage", "activity_logs",
                            "screenshots", "usb_events", "consent_audit_log", "dlp_incidents"}) {
    // consent_audit_log also holds the five grants alice's setup gave her (addUser).
    EXPECT_EQ(scalar(std::string("select count(*) from public.") + table + " where user_id = '" + user_a_ + "'"),
              std::string(table) == "consent_audit_log" ? "6" : "1")
        << table;
  }
  EXPECT_EQ(scalar("select decision from public.idle_periods"), "kept");
  EXPECT_EQ(scalar("select count(*) from agent.record_revisions where user_id = '" + user_a_ + "'"), "10");
}

TEST_F(ServerBatchTest, RejectionsComeWithReasons) {
  const std::string at = token("alice@a.test");
  const long long t = nowMs() - 60000;
  json good = makeRecord("app_usage", t, t + 1, {{"app", "ok"}});
  json backwards = makeRecord("app_usage", t, t + 1, {{"app", "x"}});
  backwards["end_ms"] = t - 5000;
  json future = makeRecord("app_usage", t + 10LL * 86400000, t + 10LL * 86400000 + 1, {{"app", "x"}});
  json badkind = makeRecord("app_usage", t, t + 1, {});
  badkind["kind"] = "keylogger";
  json badtype = makeRecord("usb_event", t, t, {{"is_storage", "yes"}});
  json badvalue = makeRecord("incident", t, t, {{"severity", "apocalyptic"}});
  json noid = makeRecord("app_usage", t, t + 1, {{"app", "x"}});
  noid["id"] = "not-a-uuid";
  auto r = postBatch(at, json::array({good, backwards, future, badkind, badtype, badvalue, noid, 17}));
  ASSERT_EQ(r.status, 200) << r.body;
  auto res = r.json()["results"];
  ASSERT_EQ(res.size(), 8u);
  EXPECT_EQ(res[0]["status"], "stored");
  for (size_t i = 1; i < res.size(); ++i) {
    EXPECT_EQ(res[i]["status"], "rejected") << res[i].dump();
    EXPECT_FALSE(res[i].value("reason", "").empty());
  }
  EXPECT_EQ(scalar("select count(*) from public.app_usage"), "1");
}

TEST_F(ServerBatchTest, UserComesFromTheTokenNotThePayload) {
  const std::string at = token("alice@a.test");
  const long long t = nowMs() - 60000;
  json rec = makeRecord("app_usage", t, t + 1, {{"app", "x"}});
  rec["user_id"] = admin_b_;
  rec["company_id"] = company_b_;
  json batch{{"records", json::array({rec})}, {"user_id", admin_b_}, {"company_id", company_b_}};
  auto h = bearer(at);
  auto r = call("POST", "/api/v1/agent/batches", batch.dump(), h);  // plain JSON is accepted too
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(scalar("select user_id::text || ' ' || company_id::text from public.app_usage"),
            user_a_ + " " + company_a_);
  // Another user sending the same id cannot take the row over.
  const std::string other = token("admin@b.test");
  rec["revision"] = 5;
  auto r2 = postBatch(other, json::array({rec}));
  ASSERT_EQ(r2.status, 200) << r2.body;
  EXPECT_NE(r2.json()["results"][0]["status"], "stored");
  EXPECT_EQ(scalar("select user_id from public.app_usage"), user_a_);
}

TEST_F(ServerBatchTest, LimitsAndMalformedInput) {
  const std::string at = token("alice@a.test");
  auto h = bearer(at);
  EXPECT_EQ(call("POST", "/api/v1/agent/batches", "{not json", h).status, 400);
  EXPECT_EQ(call("POST", "/api/v1/agent/batches", "[]", h).status, 400);
  EXPECT_EQ(call("POST", "/api/v1/agent/batches", "{\"records\": 5}", h).status, 400);
  auto gz = h;
  gz["Content-Encoding"] = "gzip";
  EXPECT_EQ(call("POST", "/api/v1/agent/batches", "definitely not gzip", gz).status, 400);
  // A gzip bomb: 40 MiB of zeros is ~40 KiB on the wire; inflating stops at the 32 MiB limit.
  auto bomb = server::http::gzip(std::string(40u << 20, ' '));
  ASSERT_TRUE(bomb);
  auto r = call("POST", "/api/v1/agent/batches", *bomb, gz);
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.errorCode(), "too_large");
  // Over the 8 MiB body limit.
  EXPECT_EQ(call("POST", "/api/v1/agent/batches", std::string(9u << 20, 'x'), h).status, 413);
  // Over the record limit.
  json many = json::array();
  for (int i = 0; i < 1001; ++i) many.push_back(json::object());
  EXPECT_EQ(postBatch(at, many).status, 413);
  // No token, wrong method, unknown path.
  EXPECT_EQ(call("POST", "/api/v1/agent/batches", "{}").status, 401);
  EXPECT_EQ(call("GET", "/api/v1/agent/batches", "", h).status, 405);
  EXPECT_EQ(call("GET", "/nope").status, 404);
  EXPECT_EQ(call("GET", "/healthz").status, 200);
  EXPECT_EQ(call("GET", "/readyz").status, 200);
  auto m = call("GET", "/metrics");
  EXPECT_NE(m.body.find("wm_http_requests_total"), std::string::npos);
  EXPECT_NE(m.body.find("wm_db_pool_connections"), std::string::npos);
}

TEST_F(ServerBatchTest, RowsAreIsolatedByRls) {
  const long long t = nowMs() - 60000;
  ASSERT_EQ(postBatch(token("alice@a.test"), json::array({makeRecord("time_entry", t, t + 1000, json::object()),
                                                          makeRecord("app_usage", t, t + 1000, {{"app", "a"}})}))
                .status,
            200);
  for (const char* table : {"public.time_entries", "public.app_usage", "agent.record_revisions"}) {
    const std::string q = std::string("select count(*) from ") + table;
    EXPECT_EQ(countAs(user_a_, q), table == std::string("agent.record_revisions") ? "2" : "1") << table;
    EXPECT_EQ(countAs(admin_a_, q), table == std::string("agent.record_revisions") ? "2" : "1") << table;
    EXPECT_EQ(countAs(admin_b_, q), "0") << table;
  }
}

// The agent's own absences (issue 14): stored with their reason in agent.downtime, read by their owner and the
// company's admin only, and a new revision (a longer gap) replaces the row; an open or unknown one is refused.
TEST_F(ServerBatchTest, DowntimeIsStoredUnderRlsAndRejectedWhenMalformed) {
  const std::string at = token("alice@a.test");
  const long long t = nowMs() - 3600000;
  json crash =
      makeRecord("downtime", t, t + 600000, {{"reason", "crash"}, {"clean", false}, {"since", "last_heartbeat"}});
  json sleep = makeRecord("downtime", t + 700000, t + 800000, {{"reason", "suspend"}, {"clean", true}});
  json open = makeRecord("downtime", t, t + 1000, {{"reason", "shutdown"}});
  open.erase("end_ms");
  json unknown = makeRecord("downtime", t, t + 1000, {{"reason", "vacation"}});
  json badclean = makeRecord("downtime", t, t + 1000, {{"reason", "crash"}, {"clean", "no"}});
  auto r = postBatch(at, json::array({crash, sleep, open, unknown, badclean}));
  ASSERT_EQ(r.status, 200) << r.body;
  auto st = statuses(r);
  EXPECT_EQ(st[crash["id"]], "stored");
  EXPECT_EQ(st[sleep["id"]], "stored");
  for (const json* bad : {&open, &unknown, &badclean}) EXPECT_EQ(st[(*bad)["id"]], "rejected") << bad->dump();
  EXPECT_EQ(scalar("select string_agg(reason || ':' || clean::text || ':' || duration_ms::text, ',' order by "
                   "started_at) from agent.downtime where user_id = '" +
                   user_a_ + "'"),
            "crash:false:600000,suspend:true:100000");
  EXPECT_EQ(scalar("select count(*) from agent.record_revisions where kind = 'downtime'"), "2");

  crash["revision"] = 2;
  crash["end_ms"] = t + 650000;
  crash["duration_ms"] = 650000;
  ASSERT_EQ(statuses(postBatch(at, json::array({crash})))[crash["id"]], "stored");
  EXPECT_EQ(scalar("select duration_ms from agent.downtime where id = '" + crash["id"].get<std::string>() + "'"),
            "650000");

  const std::string q = "select count(*) from agent.downtime";
  EXPECT_EQ(countAs(user_a_, q), "2");
  EXPECT_EQ(countAs(admin_a_, q), "2") << "the company's admin sees the person's day";
  EXPECT_EQ(countAs(admin_b_, q), "0") << "another company sees nothing";
}

// An unchanged screen is a metadata record without an image: it shares the earlier shot's image, whether it
// arrives before that image's upload or after it.
TEST_F(ServerBatchTest, AnUnchangedScreenSharesTheEarlierShotsImage) {
  const std::string at = token("alice@a.test");
  const long long t = nowMs() - 60000;
  json first = makeRecord("screenshot", t, t, {{"width", 10}, {"height", 10}});
  const std::string first_id = first["id"];
  json before = makeRecord("screenshot", t + 1000, t + 1000, {{"unchanged", true}, {"same_as", first_id}});
  ASSERT_EQ(postBatch(at, json::array({first, before})).status, 200);
  EXPECT_EQ(scalar("select storage_key from public.screenshots where id = '" + before["id"].get<std::string>() + "'"),
            "same/" + first_id);
  const std::string image = "\xff\xd8\xff an image";
  const std::string sha = server::http::hex(server::http::sha256(image));
  auto h = bearer(at);
  h["Content-Type"] = "image/jpeg";
  h["X-Content-SHA256"] = sha;
  ASSERT_EQ(call("PUT", "/api/v1/agent/screenshots/" + first_id, image, h).status, 200);
  const std::string key = "sha256/" + sha.substr(0, 2) + "/" + sha;
  json after = makeRecord("screenshot", t + 2000, t + 2000, {{"unchanged", true}, {"same_as", first_id}});
  // Another account's shot cannot be borrowed: its same_as stays unresolved.
  const std::string bt = token("admin@b.test");
  json foreign = makeRecord("screenshot", t + 3000, t + 3000, {{"unchanged", true}, {"same_as", first_id}});
  ASSERT_EQ(postBatch(at, json::array({after})).status, 200);
  ASSERT_EQ(postBatch(bt, json::array({foreign})).status, 200);
  EXPECT_EQ(scalar("select count(*) from public.screenshots where split_part(storage_key, '#', 1) = '" + key + "'"),
            "3");
  EXPECT_EQ(scalar("select storage_key from public.screenshots where id = '" + after["id"].get<std::string>() + "'"),
            key + "#" + after["id"].get<std::string>());
  EXPECT_EQ(scalar("select storage_key from public.screenshots where id = '" + foreign["id"].get<std::string>() + "'"),
            "same/" + first_id);
}

TEST_F(ServerBatchTest, ScreenshotUploadAfterMetadata) {
  const std::string at = token("alice@a.test");
  const long long t = nowMs() - 60000;
  json shot = makeRecord("screenshot", t, t, {{"width", 10}, {"height", 10}});
  const std::string image = "\xff\xd8\xff not really a jpeg";
  const std::string sha = server::http::hex(server::http::sha256(image));
  auto h = bearer(at);
  h["Content-Type"] = "image/jpeg";
  h["X-Content-SHA256"] = sha;
  const std::string target = "/api/v1/agent/screenshots/" + shot["id"].get<std::string>();
  EXPECT_EQ(call("PUT", target, image, h).errorCode(), "metadata_missing");
  ASSERT_EQ(postBatch(at, json::array({shot})).status, 200);
  auto bad = h;
  bad["X-Content-SHA256"] = std::string(64, '0');
  EXPECT_EQ(call("PUT", target, image, bad).errorCode(), "checksum_mismatch");
  auto r = call("PUT", target, image, h);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(std::filesystem::exists(shots_ / "sha256" / sha.substr(0, 2) / sha));
  EXPECT_EQ(scalar("select storage_key from public.screenshots"),
            "sha256/" + sha.substr(0, 2) + "/" + sha + "#" + shot["id"].get<std::string>());
  // The same image for another screenshot (an identical screen) is one file and a second row.
  json again = makeRecord("screenshot", t + 1, t + 1, {{"width", 10}, {"height", 10}});
  ASSERT_EQ(postBatch(at, json::array({again})).status, 200);
  ASSERT_EQ(call("PUT", "/api/v1/agent/screenshots/" + again["id"].get<std::string>(), image, h).status, 200);
  EXPECT_EQ(scalar("select count(distinct split_part(storage_key, '#', 1)) || ' ' || count(*) from "
                   "public.screenshots"),
            "1 2");
}

}  // namespace
}  // namespace wm::test
