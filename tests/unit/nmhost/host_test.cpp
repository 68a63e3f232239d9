// The message contract (what may leave the host), browser identification, and the host's behaviour towards an
// agent that is missing, arrives, refuses or restarts: a fake agent and a ManualClock stand in for the socket
// and time (the real agent and the real binary: tests/e2e/nmhost_e2e_test.cpp).
#include <unistd.h>

#include <cstring>

#include <gtest/gtest.h>

#include "workmonitor/nmhost/host.h"
#include "workmonitor/platform/process_info.h"

namespace wm::nmhost {
namespace {

using nlohmann::json;

Frame message(const json& j) { return Frame{FrameError::kNone, 0, j.dump()}; }

TEST(NmhostContract, IncognitoNeverCarriesUrlOrTitle) {
  auto in = parseIncoming(
      json{{"type", "tab"}, {"url", "https://private.example/inbox"}, {"title", "Mail"}, {"incognito", true}});
  ASSERT_TRUE(in);
  TabReport t = sanitize(in->tab);
  EXPECT_TRUE(t.incognito);
  EXPECT_TRUE(t.url.empty());
  EXPECT_TRUE(t.title.empty());
  EXPECT_EQ(tabArgs(t, "chromium"), (json{{"browser", "chromium"}, {"url", ""}, {"title", ""}, {"incognito", true}}));
}

TEST(NmhostContract, QueryAndFragmentAreStrippedAgain) {
  EXPECT_EQ(sanitize({"https://docs.example/guide?session=s3cr3t#part2", "Guide", false}).url,
            "https://docs.example/guide");
  EXPECT_EQ(sanitize({"https://docs.example/a#x?y", "", false}).url, "https://docs.example/a");
  EXPECT_EQ(sanitize({"https://docs.example/", "", false}).url, "https://docs.example/");
  // Too long to be stored: no URL rather than a cut one; a long title is cut on a character boundary.
  EXPECT_EQ(sanitize({"https://a.example/" + std::string(kMaxUrlBytes, 'p'), "", false}).url, "");
  std::string title = std::string(kMaxTitleBytes - 1, 't') + "\xC3\xA9";
  EXPECT_EQ(sanitize({"https://a.example/", title, false}).title, std::string(kMaxTitleBytes - 1, 't'));
}

TEST(NmhostContract, MessagesAreValidated) {
  EXPECT_FALSE(parseIncoming(json{{"type", "tab"}, {"url", 5}}));
  EXPECT_FALSE(parseIncoming(json{{"type", "tab"}, {"incognito", "yes"}}));
  EXPECT_FALSE(parseIncoming(json{{"type", "nope"}}));
  EXPECT_FALSE(parseIncoming(json{{"url", "https://a.example/"}}));
  auto hello = parseIncoming(json{{"type", "hello"}, {"browser", "brave"}});
  ASSERT_TRUE(hello);
  EXPECT_EQ(hello->kind, Incoming::Kind::kHello);
  EXPECT_EQ(hello->hello.browser, "brave");
  EXPECT_EQ(makeAck(json{{"recording", true}, {"settings", {{"domain_only", true}}}, {"other", 1}}),
            (json{{"type", "ack"}, {"v", 1}, {"recording", true}, {"settings", {{"domain_only", true}}}}));
}

TEST(NmhostBrowser, FromTheParentProcess) {
  EXPECT_EQ(browserFromProcess("/usr/lib/chromium/chromium", "chromium"), "chromium");
  EXPECT_EQ(browserFromProcess("/opt/google/chrome/chrome", "chrome"), "chrome");
  EXPECT_EQ(browserFromProcess("/opt/microsoft/msedge/msedge", "msedge"), "edge");
  EXPECT_EQ(browserFromProcess("/opt/brave.com/brave/brave", "brave"), "brave");
  EXPECT_EQ(browserFromProcess("/usr/lib/firefox-esr/firefox-esr", "firefox-esr"), "firefox");
  EXPECT_EQ(browserFromProcess("C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe", ""), "chrome");
  EXPECT_EQ(browserFromProcess("", "firefox-bin"), "firefox");  // exe unreadable: the name still tells
  EXPECT_EQ(browserFromProcess("/usr/bin/python3.11", "python3"), "unknown");
  EXPECT_TRUE(isIntermediary("/bin/sh", "sh"));
  EXPECT_FALSE(isIntermediary("/usr/lib/chromium/chromium", "chromium"));
}

TEST(NmhostBrowser, ArgumentsCrossCheckTheParent) {
  EXPECT_EQ(familyFromArgs({"chrome-extension://abcdefghijklmnop/"}), BrowserFamily::kChromium);
  EXPECT_EQ(familyFromArgs({"chrome-extension://abc/", "--parent-window=1234"}), BrowserFamily::kChromium);
  EXPECT_EQ(
      familyFromArgs({"/home/u/.mozilla/native-messaging-hosts/com.workmonitor.host.json", "workmonitor@example.com"}),
      BrowserFamily::kFirefox);
  EXPECT_EQ(familyFromArgs({}), BrowserFamily::kUnknown);

  auto parent = identifyBrowser("brave", BrowserFamily::kChromium, "chrome");
  EXPECT_EQ(parent.name, "brave");
  EXPECT_EQ(parent.source, "parent");
  EXPECT_FALSE(parent.mismatch);
  EXPECT_TRUE(identifyBrowser("firefox", BrowserFamily::kChromium, "").mismatch);
  EXPECT_EQ(identifyBrowser("unknown", BrowserFamily::kChromium, "Edge").name, "edge");
  // A hello that contradicts the arguments' family is not believed.
  EXPECT_EQ(identifyBrowser("unknown", BrowserFamily::kChromium, "firefox").name, "chromium");
  EXPECT_EQ(identifyBrowser("unknown", BrowserFamily::kFirefox, "").name, "firefox");
  EXPECT_EQ(identifyBrowser("unknown", BrowserFamily::kUnknown, "").name, "unknown");
  EXPECT_EQ(identifyBrowser("unknown", BrowserFamily::kUnknown, "not a name!").name, "unknown");
}

TEST(NmhostBrowser, ProcessInfoReadsThisProcessAndItsParent) {
  auto self = platform::processInfo(0);
#ifdef __linux__
  ASSERT_TRUE(self) << self.error().message;
  EXPECT_EQ(self->pid, ::getpid());
  EXPECT_EQ(self->parent_pid, ::getppid());
  EXPECT_EQ(self->exe.filename(), "nmhost_unit_tests");
  EXPECT_FALSE(self->name.empty());
  EXPECT_TRUE(platform::processInfo(self->parent_pid));
  EXPECT_FALSE(platform::processInfo(999'999'999));
#else
  EXPECT_FALSE(self);
#endif
}

// An agent that can be switched on and off and remembers what it was sent.
struct FakeAgent {
  bool running = false;
  int connects = 0;
  std::vector<json> calls;
  json reply = json{{"recording", true}};
  std::optional<Error> fail_next;

  class Connection final : public AgentConnection {
   public:
    explicit Connection(FakeAgent& a) : a_(a) {}
    Result<json> call(const std::string& cmd, const json& args) override {
      if (!a_.running) return fail(Errc::kIo, "the agent closed the connection");
      if (a_.fail_next) {
        Error e = *a_.fail_next;
        a_.fail_next.reset();
        return std::unexpected(e);
      }
      a_.calls.push_back(json{{"cmd", cmd}, {"args", args}});
      return a_.reply;
    }
    int pollHandle() const override { return 99; }

   private:
    FakeAgent& a_;
  };
  AgentConnector connector() {
    return [this]() -> Result<std::unique_ptr<AgentConnection>> {
      ++connects;
      if (!running) return fail(Errc::kUnavailable, "the agent is not running");
      return std::make_unique<Connection>(*this);
    };
  }
};

json tab(const std::string& url, bool incognito = false) {
  return json{{"type", "tab"}, {"url", url}, {"title", "Page"}, {"incognito", incognito}};
}

TEST(NmhostHost, ForwardsTabsWithTheBrowserAndAcks) {
  ManualClock clock;
  FakeAgent agent;
  agent.running = true;
  Host host(clock, agent.connector(), "chromium", BrowserFamily::kChromium);
  auto out = host.onFrame(message(tab("https://docs.example/guide?token=abc#top")));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0], (json{{"type", "ack"}, {"v", 1}, {"recording", true}}));
  ASSERT_EQ(agent.calls.size(), 1u);
  EXPECT_EQ(agent.calls[0]["cmd"], "tab");
  EXPECT_EQ(
      agent.calls[0]["args"],
      (json{{"browser", "chromium"}, {"url", "https://docs.example/guide"}, {"title", "Page"}, {"incognito", false}}));
  host.onFrame(message(tab("https://private.example/", true)));
  EXPECT_EQ(agent.calls[1]["args"]["url"], "");
  EXPECT_EQ(agent.calls[1]["args"]["title"], "");
  EXPECT_EQ(agent.calls[1]["args"]["incognito"], true);
  EXPECT_EQ(agent.connects, 1);  // one connection for both
  EXPECT_FALSE(host.wakeAt());
}

TEST(NmhostHost, RejectedFramesGetAnErrorAndNothingReachesTheAgent) {
  ManualClock clock;
  FakeAgent agent;
  agent.running = true;
  Host host(clock, agent.connector(), "firefox", BrowserFamily::kFirefox);
  EXPECT_EQ(host.onFrame(Frame{FrameError::kTooLarge, kMaxIncomingBytes + 1, {}})[0]["code"], "too_large");
  EXPECT_EQ(host.onFrame(Frame{FrameError::kNone, 3, "\xFF{}"})[0]["code"], "invalid_utf8");
  EXPECT_EQ(host.onFrame(Frame{FrameError::kNone, 2, "[]"})[0]["code"], "not_object");
  EXPECT_EQ(host.onFrame(message(json{{"type", "tab"}, {"url", 1}}))[0]["code"], "invalid_message");
  EXPECT_TRUE(agent.calls.empty());
  // The agent refusing a report is passed on, and the report is not retried.
  agent.fail_next = Error{Errc::kInvalidInput, "browser must be a short name"};
  EXPECT_EQ(host.onFrame(message(tab("https://a.example/")))[0]["code"], "agent_refused");
  EXPECT_FALSE(host.wakeAt());
}

TEST(NmhostHost, NoAgentThenStatusBackoffAndAcksResumeWhenItStarts) {
  ManualClock clock;
  FakeAgent agent;
  Host host(clock, agent.connector(), "unknown", BrowserFamily::kChromium, HostOptions{Millis(100), Millis(800)});
  auto hello = host.onFrame(message(json{{"type", "hello"}, {"browser", "chromium"}}));
  ASSERT_EQ(hello.size(), 1u);
  EXPECT_EQ(hello[0]["type"], "status");
  EXPECT_EQ(hello[0]["agent"], "not_running");
  EXPECT_EQ(hello[0]["browser"], "chromium");
  auto out = host.onFrame(message(tab("https://a.example/one")));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0]["agent"], "not_running");
  // Retries back off (100 ms after the hello, 200 after the tab, then 400, 800 and no more); a failed retry
  // tells the extension nothing new.
  std::vector<int64_t> delays;
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(host.wakeAt());
    delays.push_back((*host.wakeAt() - clock.mono()).count());
    clock.advance(Millis(delays.back()));
    EXPECT_TRUE(host.onTimer().empty());
  }
  EXPECT_EQ(delays, (std::vector<int64_t>{200, 400, 800, 800, 800}));
  // Only the latest report is kept; the agent gets it as soon as the timer finds it running.
  host.onFrame(message(tab("https://a.example/two")));
  agent.running = true;
  clock.advance(*host.wakeAt() - clock.mono());
  out = host.onTimer();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0]["type"], "status");
  EXPECT_EQ(out[0]["agent"], "running");
  EXPECT_EQ(out[1]["type"], "ack");
  ASSERT_EQ(agent.calls.size(), 1u);
  EXPECT_EQ(agent.calls[0]["args"]["url"], "https://a.example/two");
  EXPECT_FALSE(host.wakeAt());
  EXPECT_EQ(host.onFrame(message(tab("https://a.example/three")))[0]["type"], "ack");
}

TEST(NmhostHost, AnAgentRestartGetsTheCurrentTabAgain) {
  ManualClock clock;
  FakeAgent agent;
  agent.running = true;
  Host host(clock, agent.connector(), "chromium", BrowserFamily::kChromium, HostOptions{Millis(100), Millis(800)});
  host.onFrame(message(tab("https://a.example/doc")));
  EXPECT_EQ(host.agentHandle(), 99);
  agent.running = false;
  auto out = host.onAgentHangup();
  EXPECT_EQ(out[0]["agent"], "not_running");
  EXPECT_EQ(host.agentHandle(), -1);
  agent.running = true;
  clock.advance(Millis(100));
  out = host.onTimer();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1]["type"], "ack");
  ASSERT_EQ(agent.calls.size(), 2u);
  EXPECT_EQ(agent.calls[1]["args"]["url"], "https://a.example/doc");
}

TEST(NmhostHost, ALostConnectionIsRetriedOnceAtOnce) {
  ManualClock clock;
  FakeAgent agent;
  agent.running = true;
  Host host(clock, agent.connector(), "chromium", BrowserFamily::kChromium);
  host.onFrame(message(tab("https://a.example/1")));
  agent.fail_next = Error{Errc::kIo, "the agent closed the connection"};  // it restarted since
  auto out = host.onFrame(message(tab("https://a.example/2")));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0]["type"], "ack");
  EXPECT_EQ(agent.connects, 2);
  EXPECT_EQ(agent.calls.back()["args"]["url"], "https://a.example/2");
}

}  // namespace
}  // namespace wm::nmhost
