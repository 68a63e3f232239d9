// Activity counts end to end: the real workmonitor-agent on Xvfb + openbox, a distinctive string typed with
// xdotool while a timer runs, then every byte the agent left behind (outbox SQLite files, log, state) searched
// for that string, its key codes and its key names. Counts must be there; which keys were pressed must not.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "agent_process.h"
#include "workmonitor/agent/control_client.h"
#include "workmonitor/sync/outbox.h"
#include "xvfb_fixture.h"

namespace wm {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

// Letters rare enough together that finding them anywhere means the keys were stored.
constexpr const char* kSecret = "zqxjzqxj";

class ActivityE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = test::XvfbSession::start();
    ASSERT_TRUE(s) << s.error().message;
    x_ = std::move(*s);
    dir_ = fs::temp_directory_path() / ("wm-act-e2e-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    socket_ = dir_ / "run" / "agent.sock";
  }
  void TearDown() override {
    if (agent_ > 0) stopAgent(SIGKILL);
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
  int stopAgent(int sig) { return test::stopAgentProcess(agent_, sig); }
  json call(const std::string& cmd, const json& args = json::object()) { return test::callAgent(socket_, cmd, args); }
  std::vector<api::Record> storedActivity() {
    ManualClock clock;
    sync::OutboxOptions o;
    o.path = dir_ / "state" / "outbox.db";
    auto ob = sync::Outbox::open(o, clock);
    EXPECT_TRUE(ob) << (ob ? "" : ob.error().message);
    if (!ob) return {};
    sync::RecordQuery q;
    q.kinds = {api::RecordKind::kActivity};
    auto r = (*ob)->query(q);
    EXPECT_TRUE(r);
    return r ? *r : std::vector<api::Record>{};
  }
  /// Every file the agent wrote (outbox.db, its -wal/-shm, logs, state), as raw bytes.
  std::map<std::string, std::string> agentFiles() {
    std::map<std::string, std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(dir_ / "state")) {
      if (!e.is_regular_file()) continue;
      std::ifstream in(e.path(), std::ios::binary);
      out[e.path().string()] = std::string(std::istreambuf_iterator<char>(in), {});
    }
    return out;
  }
  /// The keycode of each letter in the server's keymap (`xmodmap -pke`: "keycode  52 = z Z ...").
  std::map<char, int> keycodes() {
    std::map<char, int> out;
    auto r = x_->run({"xmodmap", "-pke"});
    EXPECT_TRUE(r.ok());
    std::istringstream lines(r.out);
    std::string line;
    while (std::getline(lines, line)) {
      std::istringstream w(line);
      std::string kw, eq, sym;
      int code = 0;
      if (!(w >> kw >> code >> eq >> sym) || kw != "keycode" || eq != "=") continue;
      if (sym.size() == 1 && !out.contains(sym[0])) out[sym[0]] = code;
    }
    return out;
  }

  std::unique_ptr<test::XvfbSession> x_;
  fs::path dir_, socket_;
  pid_t agent_ = -1;
};

TEST_F(ActivityE2E, CountsAreStoredButNeverWhichKeys) {
  writeConfig(json{{"idle_threshold_s", 120}, {"heartbeat_s", 1}, {"pulse_s", 1}, {"activity_counts", true}});
  auto term = x_->openXterm("Typing target");
  ASSERT_TRUE(term);
  ASSERT_TRUE(x_->activate(term->second));
  startAgent();

  const json doctor = call("doctor");
  bool counting_ok = false;
  for (const auto& c : doctor["checks"]) {
    if (c["check"] == "activity counts") counting_ok = c["ok"].get<bool>();
  }
  EXPECT_TRUE(counting_ok) << doctor.dump();

  // Not tracking yet: this input must not be counted.
  ASSERT_TRUE(x_->xdotool({"type", "--delay", "20", "abc"}).ok());
  std::this_thread::sleep_for(1500ms);

  ASSERT_EQ(call("start", {{"project_id", "proj-act"}})["state"], "tracking");
  constexpr int kRepeats = 3;
  for (int i = 0; i < kRepeats; ++i) ASSERT_TRUE(x_->xdotool({"type", "--delay", "30", kSecret}).ok());
  ASSERT_TRUE(x_->xdotool({"click", "--repeat", "2", "--delay", "50", "1"}).ok());
  ASSERT_TRUE(x_->xdotool({"mousemove_relative", "--", "15", "10"}).ok());
  // The platform delivers after about a second; wait until the agent has the counts in its open minute (or
  // already closed a minute with them).
  ASSERT_TRUE(test::waitUntil(
      [&] {
        const json st = call("status");
        return st.contains("activity") && st["activity"].value("counting", false) &&
               st["activity"].contains("minute") && st["activity"]["minute"].value("keystrokes", 0) > 0;
      },
      10s, 200ms))
      << call("status").dump();
  std::this_thread::sleep_for(1500ms);               // the last delivery (the clicks) lands
  EXPECT_EQ(call("stop")["state"], "not_tracking");  // the gate closes: the open minute is recorded
  // Not tracking any more: not counted either.
  ASSERT_TRUE(x_->xdotool({"type", "--delay", "20", "def"}).ok());
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(stopAgent(SIGTERM), 0);

  const auto records = storedActivity();
  ASSERT_FALSE(records.empty()) << "no activity records";
  int64_t keys = 0, clicks = 0, mouse = 0, active = 0;
  for (const auto& r : records) {
    EXPECT_FALSE(r.isOpen()) << "activity records are closed";
    for (const auto& [k, v] : r.data.items()) EXPECT_TRUE(v.is_number_integer()) << k << " is not a count";
    keys += r.data.value("keystrokes", int64_t{0});
    clicks += r.data.value("clicks", int64_t{0});
    mouse += r.data.value("mouse_events", int64_t{0});
    active += r.data.value("active_seconds", int64_t{0});
  }
  const auto typed = static_cast<int64_t>(kRepeats * std::string(kSecret).size());
  EXPECT_EQ(keys, typed) << "each press once, and nothing typed before start or after stop";
  EXPECT_EQ(clicks, 2);
  EXPECT_GE(mouse, 3);
  EXPECT_GE(active, 1);

  // Now the bytes: nothing that says which keys were pressed, in any form.
  std::vector<std::pair<std::string, std::string>> needles;
  const std::string secret = kSecret;
  needles.push_back({"the typed string", secret});
  needles.push_back({"half of it", secret.substr(0, 4)});
  std::string upper = secret;
  std::transform(upper.begin(), upper.end(), upper.begin(), [](char c) { return static_cast<char>(c - 32); });
  needles.push_back({"its key names (upper case)", upper.substr(0, 4)});
  std::string utf16;
  for (char c : secret.substr(0, 4)) utf16 += std::string{c, '\0'};
  needles.push_back({"UTF-16", utf16});
  const auto codes = keycodes();
  std::string code_bytes, code_words, code_text, code_csv;
  for (char c : secret.substr(0, 4)) {
    ASSERT_TRUE(codes.contains(c)) << "no keycode for " << c;
    const int k = codes.at(c);
    code_bytes += static_cast<char>(k);
    code_words += std::string{static_cast<char>(k), '\0', '\0', '\0'};
    code_text += (code_text.empty() ? "" : " ") + std::to_string(k);
    code_csv += (code_csv.empty() ? "" : ",") + std::to_string(k);
  }
  needles.push_back({"keycodes as bytes", code_bytes});
  needles.push_back({"keycodes as 32-bit words", code_words});
  needles.push_back({"keycodes as text", code_text});
  needles.push_back({"keycodes as a list", code_csv});

  const auto files = agentFiles();
  bool saw_outbox = false, saw_log = false, saw_title = false;
  for (const auto& [path, bytes] : files) {
    saw_outbox = saw_outbox || path.ends_with("outbox.db");
    saw_log = saw_log || path.ends_with("agent.log");
    saw_title = saw_title || bytes.find("Typing target") != std::string::npos;
    for (const auto& [what, needle] : needles) {
      EXPECT_EQ(bytes.find(needle), std::string::npos) << what << " found in " << path;
    }
  }
  EXPECT_TRUE(saw_outbox) << "the outbox file was scanned";
  EXPECT_TRUE(saw_log) << "the agent log was scanned";
  // The control: text the agent does store (the window title of its app span) is found by the same scan.
  EXPECT_TRUE(saw_title) << "the scan does not see stored text";
}

TEST_F(ActivityE2E, ActivityCountsOffRecordsNothing) {
  writeConfig(json{{"idle_threshold_s", 120}, {"activity_counts", false}});
  startAgent();
  ASSERT_EQ(call("start", {{"project_id", "proj-act"}})["state"], "tracking");
  ASSERT_TRUE(x_->xdotool({"type", "--delay", "20", "hello"}).ok());
  ASSERT_TRUE(x_->xdotool({"click", "1"}).ok());
  std::this_thread::sleep_for(1500ms);
  const json doctor = call("doctor");
  for (const auto& c : doctor["checks"]) {
    if (c["check"] == "activity counts") {
      EXPECT_EQ(c["detail"], "off (activity_counts)");
    }
  }
  call("stop");
  EXPECT_EQ(stopAgent(SIGTERM), 0);
  EXPECT_TRUE(storedActivity().empty());
}

}  // namespace
}  // namespace wm
