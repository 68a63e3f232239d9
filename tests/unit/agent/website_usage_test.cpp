// Website spans from `tab` messages: foreground-only, working-only, no incognito, no query strings,
// domain-only mode, heartbeat merging.
#include "workmonitor/agent/website_usage.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>

namespace wm::agent {
namespace {

using api::Record;
using api::RecordKind;
using nlohmann::json;
using namespace std::chrono_literals;

class Recorder : public RecordSink {
 public:
  void put(const Record& r) override {
    auto it = latest.find(r.id);
    EXPECT_TRUE(it == latest.end() || it->second.revision < r.revision) << "revision must grow: " << r.id;
    latest[r.id] = r;
    ++puts;
  }
  void setState(const std::string&, const std::string&) override {}
  std::vector<Record> spans() const {
    std::vector<Record> out;
    for (const auto& [id, r] : latest) out.push_back(r);
    return out;
  }
  std::map<std::string, Record> latest;
  int puts = 0;
};

platform::WindowInfo chromium() {
  return {"Chromium", "/usr/lib/chromium/chromium", 42, "News - Chromium", "chromium"};
}
platform::WindowInfo terminal() { return {"XTerm", "/usr/bin/xterm", 43, "bash", "xterm"}; }
TabInfo tab(std::string url, std::string title = "Page", bool incognito = false) {
  return TabInfo{"chromium", std::move(url), std::move(title), incognito};
}

class WebsiteTest : public ::testing::Test {
 protected:
  ManualClock clock;
  UuidV7Generator ids{clock};
  Recorder sink;
  bool working = true;
  WebsiteTracker web{clock, ids, sink, WebsiteConfig{}, [this] { return working; }};
};

TEST(CleanUrl, KeepsSchemeHostPortAndPathOnly) {
  auto c = cleanUrl("https://User:Secret@Example.COM:8443/a/b?token=abc#frag");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->url, "https://example.com:8443/a/b");
  EXPECT_EQ(c->host, "example.com");
  EXPECT_EQ(cleanUrl("http://example.org")->url, "http://example.org/");
  EXPECT_EQ(cleanUrl("http://example.org#x")->url, "http://example.org/");
  EXPECT_EQ(cleanUrl("https://[2001:db8::1]:443/x?y")->url, "https://[2001:db8::1]:443/x");
  for (const char* bad : {"chrome://settings", "about:blank", "file:///etc/passwd", "data:text/html,hi", "https://",
                          "https://exa mple.com/", "https://h:99999999/", "javascript:alert(1)", ""}) {
    EXPECT_FALSE(cleanUrl(bad)) << bad;
  }
}

TEST(TabFromJson, ValidatesEveryField) {
  auto t = tabFromJson(json{{"browser", "Firefox"}, {"url", "https://a.b/"}, {"title", "T"}, {"incognito", false}});
  ASSERT_TRUE(t);
  EXPECT_EQ(t->browser, "firefox");
  EXPECT_FALSE(tabFromJson(json{{"url", "https://a.b/"}}));
  EXPECT_FALSE(tabFromJson(json{{"browser", "fire fox"}}));
  EXPECT_FALSE(tabFromJson(json{{"browser", "firefox"}, {"incognito", "no"}}));
  EXPECT_FALSE(tabFromJson(json{{"browser", "firefox"}, {"url", 7}}));
  EXPECT_FALSE(tabFromJson(json{{"browser", "firefox"}, {"title", std::string(5000, 'x')}}));
  EXPECT_FALSE(tabFromJson(json::array()));
}

TEST(BrowserWindow, MatchesByClassInstanceOrExecutable) {
  EXPECT_TRUE(isBrowserWindow("chromium", chromium()));
  EXPECT_TRUE(isBrowserWindow("firefox", {"Firefox-esr", "/usr/lib/firefox-esr/firefox-esr", 1, "x", "Navigator"}));
  EXPECT_TRUE(isBrowserWindow("chrome", {"Google-chrome", "/opt/google/chrome/chrome", 1, "x", "google-chrome"}));
  EXPECT_FALSE(isBrowserWindow("chrome", chromium()));
  EXPECT_FALSE(isBrowserWindow("chromium", terminal()));
}

TEST_F(WebsiteTest, RecordsOnlyWhileTheBrowserIsInFront) {
  web.onWindow(terminal());
  auto r = web.onTab(tab("https://example.com/news?id=7#top", "News"));
  EXPECT_FALSE(r["recording"]);
  EXPECT_EQ(r["reason"], "the browser is not the foreground app");
  EXPECT_TRUE(sink.spans().empty());
  clock.advance(5s);
  web.onWindow(chromium());
  clock.advance(30s);
  web.onWindow(terminal());
  clock.advance(60s);
  web.onWindow(chromium());  // back after more than the pulse: a new span
  clock.advance(10s);
  web.shutdown();
  auto spans = sink.spans();
  ASSERT_EQ(spans.size(), 2u);
  EXPECT_EQ(spans[0].kind, RecordKind::kWebsiteUsage);
  EXPECT_EQ(spans[0].duration_ms, 30000);
  EXPECT_EQ(spans[1].duration_ms, 10000);
  EXPECT_EQ(spans[0].data["url"], "https://example.com/news");
  EXPECT_EQ(spans[0].data["domain"], "example.com");
  EXPECT_EQ(spans[0].data["title"], "News");
  EXPECT_EQ(spans[0].data["browser"], "chromium");
  for (const auto& [id, rec] : sink.latest) {
    EXPECT_EQ(rec.data.dump().find("id=7"), std::string::npos);
    EXPECT_EQ(rec.data.dump().find("top"), std::string::npos);
  }
}

TEST_F(WebsiteTest, TabSwitchesSplitSpansAndAQuickReturnMerges) {
  web.onWindow(chromium());
  web.onTab(tab("https://a.example/", "A"));
  clock.advance(20s);
  web.onTab(tab("https://b.example/", "B"));
  clock.advance(5s);
  web.onWindow(terminal());
  clock.advance(5s);
  web.onWindow(chromium());  // B again 5 s after it ended: within the 10 s pulse, the same span goes on
  clock.advance(20s);
  web.shutdown();
  auto spans = sink.spans();
  ASSERT_EQ(spans.size(), 2u);
  EXPECT_EQ(spans[0].data["domain"], "a.example");
  EXPECT_EQ(spans[0].duration_ms, 20000);
  EXPECT_EQ(spans[1].data["domain"], "b.example");
  EXPECT_EQ(spans[1].duration_ms, 30000);  // merged: 5 s, the 5 s gap, 20 s
}

TEST_F(WebsiteTest, ATitleThatSettlesWhileThePageLoadsRetitlesItsSpan) {
  web.onWindow(chromium());
  // A loading page shows its address as its title, then its <title> (seen 0.2 s apart in a loaded machine).
  web.onTab(tab("https://docs.example/intro?x=1", "docs.example/intro?x=1"));
  clock.advance(200ms);
  web.onTab(tab("https://docs.example/intro?x=1", "Intro"));
  clock.advance(1500ms);
  web.onTab(tab("https://docs.example/intro", "Intro"));  // the same again: nothing changes
  clock.advance(10s);
  // Long after the span began a new title is new content at the same address (a web app's next view).
  web.onTab(tab("https://docs.example/intro", "Intro (2 new)"));
  clock.advance(5s);
  // Another page is never folded into the span, however soon.
  web.onTab(tab("https://docs.example/next", "Next"));
  clock.advance(100ms);
  web.onTab(tab("https://docs.example/next", "Next page"));
  clock.advance(3s);
  web.shutdown();
  auto spans = sink.spans();
  ASSERT_EQ(spans.size(), 3u);
  EXPECT_EQ(spans[0].data["title"], "Intro");
  EXPECT_EQ(spans[0].duration_ms, 11700);
  EXPECT_EQ(spans[0].revision, 3);  // opened, retitled, closed
  EXPECT_EQ(spans[1].data["title"], "Intro (2 new)");
  EXPECT_EQ(spans[1].duration_ms, 5000);
  EXPECT_EQ(spans[2].data["url"], "https://docs.example/next");
  EXPECT_EQ(spans[2].data["title"], "Next page");
  EXPECT_EQ(spans[2].duration_ms, 3100);
  for (const auto& [id, rec] : sink.latest) EXPECT_EQ(rec.data.dump().find("x=1"), std::string::npos);
}

TEST_F(WebsiteTest, IncognitoAndBrowserPagesAreNeverRecorded) {
  web.onWindow(chromium());
  auto r = web.onTab(tab("https://secret.example/private", "Private", true));
  EXPECT_FALSE(r["recording"]);
  EXPECT_EQ(r["reason"], "incognito tabs are never recorded");
  clock.advance(30s);
  EXPECT_FALSE(web.onTab(tab("chrome://settings", "Settings"))["recording"]);
  clock.advance(30s);
  web.shutdown();
  EXPECT_TRUE(sink.spans().empty());
  EXPECT_EQ(sink.puts, 0);
}

TEST_F(WebsiteTest, NothingWhileNotWorkingAndSpansFollowTheGate) {
  working = false;
  web.onWindow(chromium());
  EXPECT_FALSE(web.onTab(tab("https://example.com/"))["recording"]);
  clock.advance(30s);
  working = true;  // the timer starts
  web.refresh();
  clock.advance(40s);
  working = false;  // idle
  web.refresh();
  clock.advance(100s);
  web.shutdown();
  auto spans = sink.spans();
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(spans[0].duration_ms, 40000);
}

TEST_F(WebsiteTest, DomainOnlyKeepsNoPathAndNoTitle) {
  web.setConfig(WebsiteConfig{true, true, 10s, {}});
  web.onWindow(chromium());
  web.onTab(tab("https://mail.example.com/inbox/123", "Inbox (3) - someone@example.com"));
  clock.advance(10s);
  web.shutdown();
  auto spans = sink.spans();
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(spans[0].data, (json{{"domain", "mail.example.com"}, {"browser", "chromium"}}));
}

TEST_F(WebsiteTest, DisabledRecordsNothing) {
  web.setConfig(WebsiteConfig{false, false, 10s, {}});
  web.onWindow(chromium());
  EXPECT_EQ(web.onTab(tab("https://example.com/"))["reason"], "website tracking is off");
  clock.advance(10s);
  web.shutdown();
  EXPECT_EQ(sink.puts, 0);
}

// The rule's cases are shared with the extension (extension/test/core.test.js reads the same file).
TEST(SiteMatches, FollowsTheSharedCases) {
  std::ifstream in(std::string(WM_SOURCE_DIR_FALLBACK) + "/tests/data/excluded_sites_cases.json");
  ASSERT_TRUE(in) << "tests/data/excluded_sites_cases.json";
  const json cases = json::parse(in);
  ASSERT_GE(cases.size(), 10u);
  for (const auto& c : cases)
    EXPECT_EQ(siteMatches(c["host"].get<std::string>(), c["entry"].get<std::string>()), c["match"].get<bool>())
        << c.dump();
}

// The rule's cases are shared with the extension, which strips titles before they leave the browser.
TEST(TitleWithoutUrlQueries, FollowsTheSharedCases) {
  std::ifstream in(std::string(WM_SOURCE_DIR_FALLBACK) + "/tests/data/title_query_cases.json");
  ASSERT_TRUE(in) << "tests/data/title_query_cases.json";
  const json cases = json::parse(in);
  ASSERT_GE(cases.size(), 10u);
  for (const auto& c : cases)
    EXPECT_EQ(titleWithoutUrlQueries(c["title"].get<std::string>()), c["kept"].get<std::string>()) << c.dump();
}

TEST(SiteEntryProblem, AcceptsHostNamesOnly) {
  for (const char* ok : {"example.com", "*.example.com", "localhost", "intranet_host", "xn--bcher-kva.example"})
    EXPECT_EQ(siteEntryProblem(ok), "") << ok;
  for (const char* bad : {"", "*.", "https://example.com", "example.com/path", "example.com:443", "exa mple.com",
                          "*example.com", ".example.com", "a..b", "*.*.example.com"})
    EXPECT_NE(siteEntryProblem(bad), "") << bad;
  EXPECT_NE(siteEntryProblem(std::string(254, 'a')), "");
}

TEST_F(WebsiteTest, AnAddressAsATabTitleLosesItsQueryToo) {
  web.onWindow(chromium());
  web.onTab(tab("https://example.com/raw?token=abc", "example.com/raw?token=abc"));
  clock.advance(2s);
  web.shutdown();
  auto spans = sink.spans();
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(spans[0].data["title"], "example.com/raw");
}

TEST_F(WebsiteTest, ExcludedSitesAreNotRecordedAndTheReplySaysWhichSettingsApply) {
  web.setConfig(WebsiteConfig{true, false, 10s, {"bank.example"}});
  web.onWindow(chromium());
  json reply = web.onTab(tab("https://online.bank.example/accounts", "Balance"));
  EXPECT_FALSE(reply["recording"]);
  EXPECT_EQ(reply["reason"], "an excluded site");
  EXPECT_EQ(reply["settings"], (json{{"domain_only", false}, {"excluded_sites", {"bank.example"}}}));
  clock.advance(5s);
  reply = web.onTab(tab("https://mybank.example/", "Look-alike"));
  EXPECT_TRUE(reply["recording"]);
  clock.advance(5s);
  web.shutdown();
  auto spans = sink.spans();
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(spans[0].data["domain"], "mybank.example");
}

TEST_F(WebsiteTest, TitlesOfPrivateOrUnrecordedBrowserWindowsAreWithheld) {
  // A browser without the extension: nothing says its window is private, unless the title does.
  EXPECT_FALSE(web.withholdsTitle(chromium()));
  platform::WindowInfo firefox{"Firefox", "/usr/lib/firefox-esr/firefox-esr", 50,
                               "Inbox — Mozilla Firefox Private Browsing", "firefox-esr"};
  EXPECT_TRUE(web.withholdsTitle(firefox));
  firefox.title = "Inbox — Mozilla Firefox";
  EXPECT_FALSE(web.withholdsTitle(firefox));
  EXPECT_TRUE(titleMarksPrivateWindow("Bank and 2 more pages - [InPrivate] - Microsoft Edge"));

  web.onTab(tab("https://example.com/a", "News"));
  EXPECT_FALSE(web.withholdsTitle(chromium()));  // "News - Chromium": the tab it reported
  EXPECT_FALSE(web.withholdsTitle(terminal()));
  platform::WindowInfo loading = chromium();
  loading.title = "example.com/b?q=1 - Chromium";  // the next page loading, before the extension's report
  EXPECT_TRUE(web.withholdsTitle(loading));
  EXPECT_FALSE(web.privateWindow(loading));
  EXPECT_FALSE(web.privateWindow(chromium()));
  web.onTab(tab("", "", false));  // the extension sees no focused window: an incognito window it may not enter
  EXPECT_TRUE(web.withholdsTitle(chromium()));
  EXPECT_TRUE(web.privateWindow(chromium()));
  EXPECT_FALSE(web.withholdsTitle(terminal()));
  web.onTab(tab("", "", true));  // a private tab it may see
  EXPECT_TRUE(web.withholdsTitle(chromium()));
  web.onTab(tab("chrome://settings", "Settings"));
  EXPECT_TRUE(web.withholdsTitle(chromium()));
  web.setConfig(WebsiteConfig{true, false, 10s, {"example.com"}});
  web.onTab(tab("https://www.example.com/a", "News"));
  EXPECT_TRUE(web.withholdsTitle(chromium()));
  EXPECT_TRUE(web.privateWindow(chromium()));         // an excluded site is blacked out in screenshots too
  web.setConfig(WebsiteConfig{true, true, 10s, {}});  // domain only: no page titles anywhere
  EXPECT_TRUE(web.withholdsTitle(chromium()));
  EXPECT_FALSE(web.privateWindow(chromium()));  // ... but the page itself is not private
  web.setConfig(WebsiteConfig{});
  EXPECT_FALSE(web.withholdsTitle(chromium()));
}

}  // namespace
}  // namespace wm::agent
