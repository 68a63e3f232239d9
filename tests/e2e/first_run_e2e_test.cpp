// Issue 13, "first run, tried as a new user would": the real workmonitor-agent binary and its CLI on Xvfb,
// read as a person reads them. While consent is pending `status` says that only the timer runs and how to
// answer; every failed `doctor` check says why; the consent list and `doctor` agree on what is collected;
// `report` shows the person's local day while --json keeps UTC milliseconds.
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <regex>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include "agent_process.h"
#include "workmonitor/agent/control_client.h"
#include "xvfb_fixture.h"

namespace wm {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

class FirstRunE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = test::XvfbSession::start();
    ASSERT_TRUE(s) << s.error().message;
    x_ = std::move(*s);
    dir_ = fs::temp_directory_path() / ("wm-first-run-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    socket_ = dir_ / "run" / "agent.sock";
    // A new user: nobody has answered the consent question yet.
    writeConfig(json{{"consent_preapproved", false}, {"idle_threshold_s", 60}, {"heartbeat_s", 1}});
  }
  void TearDown() override {
    if (agent_ > 0) test::stopAgentProcess(agent_, SIGKILL);
    x_.reset();
    fs::remove_all(dir_);
  }

  void writeConfig(json j) { test::writeAgentConfig(dir_ / "agent.json", std::move(j)); }
  void startAgent() {
    agent_ = x_->spawn({WM_AGENT_BINARY, "--state-dir", (dir_ / "state").string(), "--socket", socket_.string(),
                        "--config", (dir_ / "agent.json").string(), "run", "--local-only"});
    ASSERT_GT(agent_, 0);
    ASSERT_TRUE(test::waitUntil([&] { return agent::ControlClient::connect(socket_).has_value(); }, 10s))
        << "the agent did not open its control socket";
  }
  void stopAgent() { EXPECT_EQ(test::stopAgentProcess(agent_, SIGTERM), 0); }
  json call(const std::string& cmd, const json& args = json::object()) { return test::callAgent(socket_, cmd, args); }
  // The CLI as a person runs it, optionally with extra environment (e.g. TZ=...).
  test::CommandOutput cli(std::vector<std::string> args, std::vector<std::string> env = {}) {
    std::vector<std::string> argv{"/usr/bin/env"};
    argv.insert(argv.end(), env.begin(), env.end());
    argv.insert(argv.end(), {WM_AGENT_BINARY, "--socket", socket_.string()});
    argv.insert(argv.end(), args.begin(), args.end());
    return x_->run(argv);
  }
  // Every failed check says why, in the JSON and in the text a person reads.
  void expectEveryFailedCheckSaysWhy(const std::string& when) {
    const json d = call("doctor");
    ASSERT_TRUE(d.contains("checks")) << d.dump();
    int failed = 0;
    for (const auto& c : d["checks"]) {
      if (c.value("ok", true)) continue;
      ++failed;
      EXPECT_FALSE(c.value("detail", std::string()).empty()) << when << ": " << c.dump();
    }
    EXPECT_GT(failed, 0) << when << ": this run is expected to have failed checks: " << d.dump();
    const auto text = cli({"doctor"});
    EXPECT_NE(text.exit_code, 0) << text.out;
    std::istringstream lines(text.out);
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind("[FAIL]", 0) != 0) continue;
      const auto colon = line.find(": ");
      ASSERT_NE(colon, std::string::npos) << line;
      EXPECT_GT(line.size(), colon + 2) << when << ": a failed check with nothing after the colon: " << line;
    }
  }

  std::unique_ptr<test::XvfbSession> x_;
  fs::path dir_, socket_;
  pid_t agent_ = -1;
};

TEST_F(FirstRunE2E, PendingConsentStatusSaysOnlyTheTimerRunsAndHowToAnswer) {
  startAgent();
  auto st = cli({"start", "--project", "p1"});
  ASSERT_TRUE(st.ok()) << st.out;
  {
    const std::string out = cli({"status"}).out;
    EXPECT_NE(out.find("State: tracking (timer only: waiting for your consent)"), std::string::npos) << out;
    EXPECT_NE(out.find("only the timer runs until you answer"), std::string::npos) << out;
    EXPECT_NE(out.find("the tray"), std::string::npos) << out;
    EXPECT_NE(out.find("workmonitor-agent consent --grant"), std::string::npos) << out;
    EXPECT_NE(out.find("workmonitor-agent consent --decline"), std::string::npos) << out;
  }

  ASSERT_TRUE(cli({"consent", "--decline"}).ok());
  const auto declined = cli({"status"});
  EXPECT_NE(declined.out.find("State: not_tracking"), std::string::npos) << declined.out;
  EXPECT_NE(declined.out.find("Consent: DECLINED: nothing is monitored and the timer stays off"), std::string::npos)
      << declined.out;
  EXPECT_NE(declined.out.find("workmonitor-agent consent --grant"), std::string::npos) << declined.out;
  EXPECT_EQ(declined.out.find("waiting for your consent"), std::string::npos) << declined.out;

  ASSERT_TRUE(cli({"consent", "--grant"}).ok());
  const auto granted = cli({"status"});
  EXPECT_NE(granted.out.find("Consent: granted"), std::string::npos) << granted.out;
  EXPECT_EQ(granted.out.find("only the timer runs"), std::string::npos) << granted.out;
}

// Counting is unavailable without a display; before and after consent no failed check is left without a
// reason (the old agent printed "[FAIL] activity counts: " while consent was pending).
TEST_F(FirstRunE2E, WithoutADisplayEveryFailedDoctorCheckSaysWhy) {
  const std::string display = x_->display();
  ::unsetenv("DISPLAY");
  startAgent();
  ::setenv("DISPLAY", display.c_str(), 1);
  expectEveryFailedCheckSaysWhy("consent pending");
  ASSERT_TRUE(cli({"consent", "--grant"}).ok());
  expectEveryFailedCheckSaysWhy("consent granted");
  bool activity_checked = false;
  const json doctor = call("doctor");
  for (const auto& c : doctor["checks"]) {
    if (c["check"] != "activity counts") continue;
    activity_checked = true;
    EXPECT_FALSE(c["ok"].get<bool>()) << "no display: nothing can be counted: " << c.dump();
    EXPECT_NE(c["detail"].get<std::string>().find("display"), std::string::npos) << c.dump();
  }
  EXPECT_TRUE(activity_checked);
}

// What the person is asked to agree to is what runs: the consent list and `doctor` read the same settings.
TEST_F(FirstRunE2E, ConsentListAndDoctorAgreeOnWhatIsCollected) {
  auto listed = [&] {
    std::set<std::string> out;
    const json status = call("status");
    for (const auto& c : status["consent"]["collects"]) out.insert(c["category"].get<std::string>());
    return out;
  };
  auto usbCheck = [&] {
    const json d = call("doctor");
    EXPECT_EQ(d["config"]["usb_events"].is_boolean(), true) << d.dump();
    for (const auto& c : d["checks"])
      if (c["check"] == "usb devices") return std::make_pair(d["config"]["usb_events"].get<bool>(), c);
    ADD_FAILURE() << "no usb devices check: " << d.dump();
    return std::make_pair(false, json());
  };

  startAgent();  // defaults: usb_events on
  auto [usb_on, check] = usbCheck();
  EXPECT_TRUE(usb_on);
  EXPECT_TRUE(listed().count("usb"));
  const std::string detail = check.value("detail", "");
  EXPECT_EQ(detail.find("usb_events is off"), std::string::npos)
      << "usb_events is on and USB is in the consent list: doctor must not call it off: " << detail;
  EXPECT_NE(detail.find("consent"), std::string::npos) << "it waits for the person's consent: " << detail;
  stopAgent();

  writeConfig(json{{"consent_preapproved", false}, {"usb_events", false}, {"activity_counts", false}});
  startAgent();
  std::tie(usb_on, check) = usbCheck();
  EXPECT_FALSE(usb_on);
  const auto off = listed();
  EXPECT_FALSE(off.count("usb")) << "usb_events is off: the person is not asked about USB devices";
  EXPECT_FALSE(off.count("activity")) << "activity_counts is off";
  EXPECT_TRUE(off.count("app_usage"));
  EXPECT_NE(check.value("detail", "").find("usb_events is off"), std::string::npos) << check.dump();
  const auto consent_text = cli({"consent"});
  EXPECT_EQ(consent_text.out.find("usb:"), std::string::npos) << consent_text.out;
  EXPECT_EQ(consent_text.out.find("USB"), std::string::npos) << consent_text.out;
}

// `report` is the person's local day: the header names the local date in their zone, never a UTC instant;
// --json keeps UTC and unix milliseconds.
TEST_F(FirstRunE2E, ReportTextIsTheLocalDayAndJsonStaysUtc) {
  startAgent();
  const std::vector<std::string> ny{"TZ=America/New_York"};
  const auto day = cli({"report", "--day", "2026-12-02"}, ny);
  ASSERT_TRUE(day.ok()) << day.out;
  EXPECT_EQ(day.out.substr(0, day.out.find('\n')), "Report for Wednesday 2026-12-02 (local time, EST)") << day.out;
  EXPECT_EQ(day.out.find(".000Z"), std::string::npos) << day.out;

  const auto today = cli({"report"}, ny);
  ASSERT_TRUE(today.ok()) << today.out;
  const std::string header = today.out.substr(0, today.out.find('\n'));
  EXPECT_TRUE(std::regex_match(header, std::regex(R"(Report for \w+ \d{4}-\d{2}-\d{2} \(local time, E[SD]T\))")))
      << header;

  const auto j = cli({"report", "--day", "2026-12-02", "--json"}, ny);
  ASSERT_TRUE(j.ok()) << j.out;
  const json r = json::parse(j.out, nullptr, false);
  ASSERT_TRUE(r.is_object()) << j.out;
  EXPECT_EQ(r["from_ms"], 1'796'187'600'000) << "New York's midnight is 05:00 UTC";
  EXPECT_EQ(r["to_ms"], 1'796'187'600'000 + 24 * 3'600'000LL);
  EXPECT_EQ(r["from"], "2026-12-02T05:00:00.000Z");
}

}  // namespace
}  // namespace wm
