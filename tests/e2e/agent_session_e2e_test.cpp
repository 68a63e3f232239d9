// Lock and sleep for real (issue 6): the workmonitor-agent binary on Xvfb + openbox, talking to a mocked
// logind (python3-dbusmock on a private bus, DBUS_SYSTEM_BUS_ADDRESS). Lock/unlock and PrepareForSleep are
// emitted through the mock; what the agent did is read from its status and, after it exits, its outbox.
#include <pwd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "agent_process.h"
#include "logind_mock.h"
#include "workmonitor/agent/control_client.h"
#include "workmonitor/sync/outbox.h"
#include "xvfb_fixture.h"

namespace wm {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

// Each span's wall start is derived from the monotonic clock at a slightly different moment, so boundaries
// that are the same instant may differ by a millisecond.
constexpr int64_t kMsRounding = 2;

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class AgentSessionE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = test::XvfbSession::start();
    ASSERT_TRUE(s) << s.error().message;
    x_ = std::move(*s);
    auto m = test::LogindMock::start();
    ASSERT_TRUE(m) << m.error().message;
    logind_ = std::move(*m);
    const passwd* pw = ::getpwuid(::getuid());
    auto session = logind_->addSession("c3", ::getuid(), pw != nullptr ? pw->pw_name : "user");
    ASSERT_TRUE(session) << session.error().message;
    session_ = *session;
    ASSERT_TRUE(logind_->addGetSessionByPid(session_));
    dir_ = fs::temp_directory_path() / ("wm-sess-e2e-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    socket_ = dir_ / "run" / "agent.sock";
  }
  void TearDown() override {
    if (agent_ > 0) stopAgent(SIGKILL);
    logind_.reset();
    x_.reset();
    fs::remove_all(dir_);
  }

  // The X idle threshold is far away: only the lock makes the user idle here.
  void writeConfig(const std::string& lock_counts_as) {
    std::ofstream(dir_ / "agent.json") << json{
        {"idle_threshold_s", 600},
        {"idle_decision_timeout_s", 60},
        {"idle_default_decision", "discard_continue"},
        {"heartbeat_s", 1},
        {"pulse_s", 1},
        {"lock_counts_as", lock_counts_as},
        {"consent_preapproved", true}}.dump();
  }
  void startAgent() {
    agent_ = x_->spawn({WM_AGENT_BINARY, "--state-dir", (dir_ / "state").string(), "--socket", socket_.string(),
                        "--config", (dir_ / "agent.json").string(), "run", "--local-only"});
    ASSERT_GT(agent_, 0);
    ASSERT_TRUE(test::waitUntil([&] { return agent::ControlClient::connect(socket_).has_value(); }, 10s))
        << "the agent did not open its control socket";
    // Watching: it holds its sleep inhibitor.
    ASSERT_TRUE(test::waitUntil(
        [&] {
          auto l = logind_->inhibitors();
          return l && l->size() == 1;
        },
        5s))
        << "the agent took no delay inhibitor";
  }
  int stopAgent(int sig) { return test::stopAgentProcess(agent_, sig); }
  json call(const std::string& cmd, const json& args = json::object()) { return test::callAgent(socket_, cmd, args); }
  bool waitForStatus(const std::function<bool(const json&)>& pred, std::chrono::milliseconds timeout = 5s) {
    return test::waitUntil([&] { return pred(call("status")); }, timeout, 50ms);
  }
  std::vector<api::Record> stored(api::RecordKind kind) {
    ManualClock clock;
    sync::OutboxOptions o;
    o.path = dir_ / "state" / "outbox.db";
    auto ob = sync::Outbox::open(o, clock);
    EXPECT_TRUE(ob) << (ob ? "" : ob.error().message);
    if (!ob) return {};
    sync::RecordQuery q;
    q.kinds = {kind};
    auto r = (*ob)->query(q);
    EXPECT_TRUE(r);
    return r ? *r : std::vector<api::Record>{};
  }

  std::unique_ptr<test::XvfbSession> x_;
  std::unique_ptr<test::LogindMock> logind_;
  std::string session_;
  fs::path dir_, socket_;
  pid_t agent_ = -1;
};

TEST_F(AgentSessionE2E, LockIsIdleAndTheQuestionComesAtTheUnlock) {
  writeConfig("idle");
  startAgent();
  json doctor = call("doctor");
  bool seen = false;
  for (const auto& c : doctor["checks"])
    if (c["check"] == "lock and sleep") {
      seen = true;
      EXPECT_TRUE(c["ok"].get<bool>()) << c.dump();
    }
  EXPECT_TRUE(seen) << doctor.dump();
  auto events = agent::ControlClient::connect(socket_);
  ASSERT_TRUE(events);
  ASSERT_TRUE(events->call("subscribe"));
  ASSERT_EQ(call("start", {{"project_id", "p-lock"}})["state"], "tracking");
  std::this_thread::sleep_for(1s);

  const int64_t locked_at = nowMs();
  ASSERT_TRUE(logind_->lock(session_));
  ASSERT_TRUE(waitForStatus([](const json& s) { return s["locked"] == true; }));
  json st = call("status");
  EXPECT_EQ(st["state"], "idle");
  EXPECT_EQ(st["idle"]["reason"], "lock");
  std::this_thread::sleep_for(1500ms);

  ASSERT_TRUE(logind_->unlock(session_));
  std::optional<json> question;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!question && std::chrono::steady_clock::now() < deadline) {
    auto ev = events->nextEvent(500ms);
    ASSERT_TRUE(ev);
    if (*ev && (**ev)["event"] == "idle_return") question = (**ev)["data"];
  }
  ASSERT_TRUE(question) << "no idle-return question at the unlock";
  EXPECT_EQ((*question)["reason"], "lock");
  EXPECT_GE((*question)["duration_ms"].get<int64_t>(), 1400);
  st = call("status");
  EXPECT_EQ(st["locked"], false);
  EXPECT_EQ(st["state"], "idle_decision_pending");
  ASSERT_TRUE(
      call("idle_decision", {{"decision", "discard_continue"}, {"idle_id", (*question)["idle_id"]}}).is_object());
  EXPECT_EQ(call("status")["state"], "tracking");

  ASSERT_EQ(stopAgent(SIGTERM), 0);
  auto idle = stored(api::RecordKind::kIdlePeriod);
  ASSERT_EQ(idle.size(), 1u);
  EXPECT_EQ(idle[0].data["reason"], "lock");
  EXPECT_EQ(idle[0].data["decision"], "discard_continue");
  EXPECT_NEAR(static_cast<double>(idle[0].start_ms), static_cast<double>(locked_at), 1000.0);
  auto entries = stored(api::RecordKind::kTimeEntry);
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_NEAR(static_cast<double>(*entries[0].end_ms), static_cast<double>(idle[0].start_ms), kMsRounding)
      << "work ends at the lock";
  EXPECT_NEAR(static_cast<double>(entries[1].start_ms), static_cast<double>(*idle[0].end_ms), kMsRounding)
      << "and goes on from the unlock";
}

TEST_F(AgentSessionE2E, LockAsBreakIsABreakAndTheTimerGoesOn) {
  writeConfig("break");
  startAgent();
  ASSERT_EQ(call("start", {{"project_id", "p-break"}})["state"], "tracking");
  std::this_thread::sleep_for(1s);
  ASSERT_TRUE(logind_->setLockedHint(session_, true));  // a locker that only sets LockedHint
  ASSERT_TRUE(waitForStatus([](const json& s) { return s["state"] == "on_break" && s["locked"] == true; }));
  std::this_thread::sleep_for(1500ms);
  ASSERT_TRUE(logind_->setLockedHint(session_, false));
  ASSERT_TRUE(waitForStatus([](const json& s) { return s["state"] == "tracking" && s["locked"] == false; }));
  EXPECT_EQ(call("status")["timer"]["project_id"], "p-break");

  ASSERT_EQ(stopAgent(SIGTERM), 0);
  auto breaks = stored(api::RecordKind::kBreak);
  ASSERT_EQ(breaks.size(), 1u);
  EXPECT_EQ(breaks[0].data["reason"], "lock");
  EXPECT_GE(breaks[0].duration_ms, 1400);
  auto entries = stored(api::RecordKind::kTimeEntry);
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_NEAR(static_cast<double>(*entries[0].end_ms), static_cast<double>(breaks[0].start_ms), kMsRounding);
  EXPECT_NEAR(static_cast<double>(entries[1].start_ms), static_cast<double>(*breaks[0].end_ms), kMsRounding);
  EXPECT_TRUE(stored(api::RecordKind::kIdlePeriod).empty());
}

TEST_F(AgentSessionE2E, SleepEndsTheEntryAtTheSleepAndTheGapIsNotWork) {
  writeConfig("idle");
  startAgent();
  ASSERT_EQ(call("start", {{"project_id", "p-sleep"}})["state"], "tracking");
  std::this_thread::sleep_for(1500ms);

  const int64_t asleep_at = nowMs();
  ASSERT_TRUE(logind_->prepareForSleep(true));
  // The agent lets go of its inhibitor only once the spans are closed (and committed).
  ASSERT_TRUE(test::waitUntil(
      [&] {
        auto l = logind_->inhibitors();
        return l && l->empty();
      },
      6s))
      << "the inhibitor was not released after the sleep announcement";
  json st = call("status");
  EXPECT_TRUE(st["timer"].is_null()) << st.dump();
  EXPECT_EQ(st["idle"]["reason"], "suspend");
  std::this_thread::sleep_for(2s);  // "asleep"
  const int64_t resumed_at = nowMs();
  ASSERT_TRUE(logind_->prepareForSleep(false));
  ASSERT_TRUE(waitForStatus([](const json& s) { return s["state"] == "idle_decision_pending"; }));
  EXPECT_TRUE(test::waitUntil(
      [&] {
        auto l = logind_->inhibitors();
        return l && l->size() == 1;
      },
      5s))
      << "the inhibitor is taken again after the resume";
  // "keep" is not possible for a sleep: it continues from the resume instead.
  ASSERT_TRUE(call("idle_decision", {{"decision", "keep"}}).is_object());
  EXPECT_EQ(call("status")["state"], "tracking");
  std::this_thread::sleep_for(500ms);
  // The day picture shows the sleep as the computer asleep, between two stretches of work (issue 14).
  const json report = call("report", {{"from_ms", asleep_at - 60'000}, {"to_ms", nowMs() + 60'000}});
  std::vector<std::string> categories;
  int64_t asleep_ms = 0;
  for (const auto& seg : report["day"]["timeline"]) {
    categories.push_back(seg["category"]);
    if (seg["category"] == "asleep") asleep_ms += seg["end_ms"].get<int64_t>() - seg["start_ms"].get<int64_t>();
  }
  EXPECT_GE(asleep_ms, 1900) << report["day"].dump();
  EXPECT_LE(asleep_ms, resumed_at - asleep_at + 1000) << report["day"].dump();
  const auto asleep_at_index = std::find(categories.begin(), categories.end(), "asleep") - categories.begin();
  ASSERT_GT(asleep_at_index, 0) << report["day"].dump();
  ASSERT_LT(asleep_at_index + 1, static_cast<long>(categories.size()));
  EXPECT_EQ(categories[asleep_at_index - 1], "worked");
  EXPECT_EQ(categories[asleep_at_index + 1], "worked");

  ASSERT_EQ(stopAgent(SIGTERM), 0);
  auto entries = stored(api::RecordKind::kTimeEntry);
  ASSERT_EQ(entries.size(), 2u);
  ASSERT_TRUE(entries[0].end_ms);
  EXPECT_NEAR(static_cast<double>(*entries[0].end_ms), static_cast<double>(asleep_at), 800.0)
      << "the entry ends at the sleep";
  EXPECT_GE(entries[1].start_ms, resumed_at - 100) << "the next one starts at the resume";
  auto idle = stored(api::RecordKind::kIdlePeriod);
  ASSERT_EQ(idle.size(), 1u);
  EXPECT_EQ(idle[0].data["reason"], "suspend");
  EXPECT_EQ(idle[0].data["decision"], "discard_continue");
  EXPECT_NEAR(static_cast<double>(idle[0].start_ms), static_cast<double>(*entries[0].end_ms), kMsRounding);
  EXPECT_GE(idle[0].duration_ms, 1900);
  EXPECT_LE(*entries[0].end_ms, idle[0].start_ms + kMsRounding);
  EXPECT_GE(entries[1].start_ms + kMsRounding, *idle[0].end_ms) << "no work inside the gap";
}

}  // namespace
}  // namespace wm
