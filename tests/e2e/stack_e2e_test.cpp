// The whole system end to end: a private PostgreSQL 15 cluster with the migrations, the real
// workmonitor-server binary on a free loopback port (as the runtime role), and the real workmonitor-agent
// binary signed in through its CLI. What the agent recorded is read back from PostgreSQL under RLS, and
// after faults (server, agent or database killed, network cut) every record it produced must be there
// exactly once.
#include "stack_e2e_env.h"

namespace wm {
namespace {

using namespace stack_e2e;

TEST_F(StackE2E, TimerWindowsIdleReachPostgresVisibleToTheUserAndTheirAdminOnly) {
  auto s = test::XvfbSession::start();
  ASSERT_TRUE(s) << s.error().message;
  x_ = std::move(*s);
  auto alpha = x_->openXterm("Alpha window");
  auto beta = x_->openXterm("Beta window");
  ASSERT_TRUE(alpha && beta);
  ASSERT_TRUE(x_->activate(alpha->second));
  // 5 s, not 2: under a loaded CI one xdotool round trip can take seconds, and a window switched while the
  // user is (rightly) idle is not app usage.
  writeConfig(json{{"idle_threshold_s", 5},
                   {"idle_decision_timeout_s", 2},
                   {"idle_default_decision", "discard_continue"},
                   {"heartbeat_s", 1},
                   {"pulse_s", 1}});
  startAgent("http://127.0.0.1:" + std::to_string(server_port_));
  login();
  EXPECT_EQ(call("status")["sync"]["auth"], "signed_in");

  auto events = agent::ControlClient::connect(socket_);
  ASSERT_TRUE(events);
  ASSERT_TRUE(events->call("subscribe"));
  EXPECT_EQ(call("start", {{"note", "e2e"}})["state"], "tracking");
  auto busy = [&](std::chrono::milliseconds d) {
    const auto end = std::chrono::steady_clock::now() + d;
    for (int i = 0; std::chrono::steady_clock::now() < end; ++i) {
      x_->xdotool({"mousemove", std::to_string(100 + i % 50), "100"});
      std::this_thread::sleep_for(300ms);
    }
  };
  // Each window change reaches the agent asynchronously (X event -> watcher thread -> io thread): wait for it.
  auto inFront = [&](const std::string& title) {
    return test::waitUntil(
        [&] {
          const json w = call("status")["window"];
          return w.is_object() && w.value("title", "") == title;
        },
        10s);
  };
  busy(1200ms);
  ASSERT_TRUE(x_->activate(beta->second));
  EXPECT_TRUE(inFront("Beta window"));
  busy(1200ms);
  ASSERT_TRUE(x_->activate(alpha->second));
  EXPECT_TRUE(inFront("Alpha window"));
  busy(1000ms);

  // Hands off until the agent goes idle (5 s), then back: the default decision applies after 2 s.
  bool moved = false, resolved = false;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline && !resolved) {
    auto ev = events->nextEvent(500ms);
    ASSERT_TRUE(ev);
    if (*ev && (**ev)["event"] == "state" && (**ev)["data"]["state"] == "idle" && !moved) {
      std::this_thread::sleep_for(500ms);
      x_->xdotool({"mousemove", "300", "300"});
      moved = true;
    }
    if (*ev && (**ev)["event"] == "idle_resolved") resolved = true;
  }
  ASSERT_TRUE(resolved) << "the idle period was not resolved";
  EXPECT_EQ(call("stop")["state"], "not_tracking");
  syncUntilDrained(30s);
  ASSERT_EQ(agent_->stop(SIGTERM), 0);

  std::map<std::string, std::vector<api::Record>> by_kind;
  const Ledger ours = agentLedger(&by_kind);
  const auto entries = static_cast<long long>(by_kind["time_entry"].size());
  const auto apps = static_cast<long long>(by_kind["app_usage"].size());
  const auto idles = static_cast<long long>(by_kind["idle_period"].size());
  ASSERT_GE(entries, 2) << "discard-and-continue splits the entry around the idle time";
  ASSERT_GE(apps, 2);
  ASSERT_GE(idles, 1);
  expectExactlyOnce(ours);

  const std::string where = " where user_id = '" + employee_ + "'";
  struct Viewer {
    std::string id, role, company;
    bool sees;
  };
  for (const Viewer& v : {Viewer{employee_, "employee", company_a_, true}, Viewer{admin_a_, "admin", company_a_, true},
                          Viewer{admin_b_, "admin", company_b_, false}}) {
    SCOPED_TRACE(v.role + " " + v.id);
    EXPECT_EQ(countAs(v.id, v.role, v.company, "select count(*) from public.time_entries" + where),
              v.sees ? entries : 0);
    EXPECT_EQ(countAs(v.id, v.role, v.company, "select count(*) from public.app_usage" + where), v.sees ? apps : 0);
    EXPECT_EQ(countAs(v.id, v.role, v.company, "select count(*) from public.idle_periods" + where), v.sees ? idles : 0);
    const auto titles = titlesAs(v.id, v.role, v.company);
    if (v.sees) {
      EXPECT_TRUE(titles.count("Alpha window") && titles.count("Beta window")) << titles.size();
    } else {
      EXPECT_TRUE(titles.empty());
    }
  }
  // The discarded idle time is recorded as such (the agent's discard_continue is the table's 'discarded'),
  // and the entries are closed.
  long long discarded = 0;
  for (const auto& r : by_kind["idle_period"]) discarded += r.data.value("decision", "") == "discard_continue";
  EXPECT_GE(discarded, 1);
  EXPECT_EQ(countAs(employee_, "employee", company_a_,
                    "select count(*) from public.idle_periods" + where + " and decision = 'discarded'"),
            discarded);
  EXPECT_EQ(countAs(employee_, "employee", company_a_,
                    "select count(*) from public.time_entries" + where + " and end_time is null"),
            0);
}

TEST_F(StackE2E, ServerKilledMidUploadAndRestartedLosesAndDoublesNothing) {
  queueManyAndHoldFirstReply();
  ASSERT_EQ(server_->stop(SIGKILL), 128 + SIGKILL);
  proxy_->setMode(test::TcpProxy::Mode::kForward);
  // The agent notices the dead server (its next tries fail), then the server comes back on the same port.
  call("sync");
  startServer();
  syncUntilDrained(60s);
  stopAgentAndCheck();
}

TEST_F(StackE2E, AgentKilledMidUploadAndRestartedLosesAndDoublesNothing) {
  queueManyAndHoldFirstReply();
  ASSERT_EQ(agent_->stop(SIGKILL), 128 + SIGKILL);
  proxy_->setMode(test::TcpProxy::Mode::kForward);
  startAgent("http://127.0.0.1:" + std::to_string(proxy_->port()));
  EXPECT_EQ(call("status")["sync"]["auth"], "signed_in") << "the stored credential survives the crash";
  syncUntilDrained(60s);
  stopAgentAndCheck();
}

// The network goes for two minutes in the middle of an upload and comes back. From the cut on nothing forces
// an upload: the agent retries on its own, keeps everything queued, and once the network is back its data
// follows within the offline retry cap (60 s) — not after the 5-minute cap for a server asking for time.
TEST_F(StackE2E, NetworkCutForMinutesMidUploadThenRestoredLosesAndDoublesNothing) {
  queueManyAndHoldFirstReply();
  const int64_t before = proxy_->accepted();
  const auto cut_at = std::chrono::steady_clock::now();
  proxy_->setMode(test::TcpProxy::Mode::kCut);
  ASSERT_TRUE(test::waitUntil([&] { return call("status")["sync"].value("failures", 0) > 0; }, 30s))
      << "the cut did not fail the upload on the wire";
  std::this_thread::sleep_until(cut_at + 2min);
  const json during = call("status");
  EXPECT_FALSE(during["sync"].value("online", true)) << during["sync"].dump();
  EXPECT_GT(during["outbox"].value("pending", 0), 0);
  // Waits are drawn under a doubling ceiling capped at 60 s: at least 5 tries fit in two minutes.
  EXPECT_GE(proxy_->accepted() - before, 3) << "the agent stopped trying while the network was gone";
  proxy_->setMode(test::TcpProxy::Mode::kForward);
  const auto restored_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(test::waitUntil([&] { return call("status")["outbox"].value("pending", -1) == 0; }, 90s, 500ms))
      << "the queue did not drain on its own after the network came back: " << call("status")["sync"].dump();
  std::printf("queue drained %.1f s after the network came back (%ld tries during the cut)\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - restored_at).count(),
              static_cast<long>(during["sync"].value("failures", 0)));
  stopAgentAndCheck();
}

TEST_F(StackE2E, DatabaseRestartedMidUploadLosesAndDoublesNothing) {
  queueManyAndHoldFirstReply();
  // The agent resends at once while PostgreSQL goes down under the server (a fast shutdown ends the
  // transactions in progress) and comes back.
  proxy_->setMode(test::TcpProxy::Mode::kForward);
  kickSync();
  restartDatabase();
  syncUntilDrained(60s);
  stopAgentAndCheck();
}

}  // namespace
}  // namespace wm
