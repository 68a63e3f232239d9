// `browser-host install|uninstall|status` (issue 16): the manifests each browser reads, written, checked and
// removed under a temporary home and a staging root; bad options and damaged manifests are errors, not crashes.
#include "workmonitor/agent/browser_host.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

namespace wm::agent {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class BrowserHostTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("wm-bhost-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "home");
    host_ = dir_ / "workmonitor-nmhost";
    std::ofstream(host_) << "#!/bin/sh\n";
    fs::permissions(host_, fs::perms::owner_all);
    o_.scope.home = dir_ / "home";
    o_.scope.config_home = dir_ / "home" / ".config";
    o_.host_path = host_;
  }
  void TearDown() override { fs::remove_all(dir_); }
  json read(const fs::path& p) {
    std::ifstream in(p);
    return json::parse(in);
  }
  // The entry of `browser` (a copy; {"missing": true} if absent, so a wrong list fails instead of crashing).
  json find(const json& r, const std::string& browser) {
    for (const auto& b : r["browsers"])
      if (b["browser"] == browser) return b;
    ADD_FAILURE() << browser << " not in " << r.dump();
    return json{{"missing", true}, {"installed", false}, {"action", ""}, {"problem", ""}};
  }
  fs::path dir_, host_;
  BrowserHostOptions o_;
};

TEST_F(BrowserHostTest, InstallWritesEachFamilysManifestStatusSeesItUninstallRemovesIt) {
  o_.browsers = {"chromium", "firefox"};
  auto r = installBrowserHosts(o_);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE((*r)["ok"]);
  const fs::path chromium = dir_ / "home/.config/chromium/NativeMessagingHosts/com.workmonitor.host.json";
  const fs::path firefox = dir_ / "home/.mozilla/native-messaging-hosts/com.workmonitor.host.json";
  EXPECT_EQ(read(chromium), (json{{"name", "com.workmonitor.host"},
                                  {"description", "WorkMonitor: the browser extension's link to the WorkMonitor agent"},
                                  {"path", host_.string()},
                                  {"type", "stdio"},
                                  {"allowed_origins", {"chrome-extension://epdgaaidonekigjopbgbfadelgffdhhi/"}}}));
  const json ff = read(firefox);
  EXPECT_EQ(ff["allowed_extensions"], (json{"{264bb1e1-b599-403d-b96e-a62784f75fd3}"}));
  EXPECT_FALSE(ff.contains("allowed_origins"));
  struct stat st {};
  ASSERT_EQ(::stat(chromium.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);

  BrowserHostOptions every = o_;
  every.browsers.clear();
  json s = browserHostStatus(every);
  EXPECT_EQ(find(s, "chromium")["installed"], true);
  EXPECT_EQ(find(s, "firefox")["installed"], true);
  EXPECT_EQ(find(s, "chrome")["installed"], false);

  auto u = uninstallBrowserHosts(o_);
  ASSERT_TRUE(u);
  EXPECT_EQ(find(*u, "chromium")["action"], "removed");
  EXPECT_FALSE(fs::exists(chromium));
  EXPECT_FALSE(fs::exists(firefox));
  EXPECT_EQ(find(browserHostStatus(o_), "chromium")["installed"], false);
}

TEST_F(BrowserHostTest, WithoutNamesOnlyTheBrowsersFoundAreWritten) {
  fs::create_directories(dir_ / "home/.config/BraveSoftware/Brave-Browser");  // Brave ran for this user
  auto r = installBrowserHosts(o_);
  ASSERT_TRUE(r);
  const json brave = find(*r, "brave");
  EXPECT_EQ(brave["action"], "written");
  EXPECT_EQ(brave["verified"], false);  // said plainly: not seen working here
  for (const auto& b : (*r)["browsers"]) EXPECT_TRUE(b["found"]) << b.dump();
}

TEST_F(BrowserHostTest, ASystemInstallUnderAStagingRootWritesEveryKnownBrowser) {
  o_.scope = platform::BrowserHostScope{true, {}, {}, dir_ / "stage"};
  o_.all = true;
  o_.host_path = "/usr/lib/workmonitor/workmonitor-nmhost";
  EXPECT_FALSE(installBrowserHosts(o_)) << "the host is not staged yet";
  fs::create_directories(dir_ / "stage/usr/lib/workmonitor");
  fs::copy_file(host_, dir_ / "stage/usr/lib/workmonitor/workmonitor-nmhost");
  auto r = installBrowserHosts(o_);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ((*r)["browsers"].size(), 5u);
  const json m = read(dir_ / "stage/etc/chromium/native-messaging-hosts/com.workmonitor.host.json");
  EXPECT_EQ(m["path"], "/usr/lib/workmonitor/workmonitor-nmhost");
  EXPECT_TRUE(fs::exists(dir_ / "stage/usr/lib/mozilla/native-messaging-hosts/com.workmonitor.host.json"));
  EXPECT_TRUE(fs::exists(dir_ / "stage/etc/opt/chrome/native-messaging-hosts/com.workmonitor.host.json"));
}

TEST_F(BrowserHostTest, BadOptionsAreErrorsThatSayWhy) {
  BrowserHostOptions o = o_;
  o.host_path = "relative/nmhost";
  EXPECT_NE(installBrowserHosts(o).error().message.find("absolute"), std::string::npos);
  o = o_;
  o.host_path = dir_ / "missing";
  EXPECT_FALSE(installBrowserHosts(o));
  o = o_;
  o.extension_ids = {"not-an-id"};
  EXPECT_NE(installBrowserHosts(o).error().message.find("32 letters"), std::string::npos);
  o = o_;
  o.firefox_ids = {"no id"};
  EXPECT_FALSE(installBrowserHosts(o));
  o = o_;
  o.browsers = {"netscape"};
  EXPECT_NE(installBrowserHosts(o).error().message.find("known: chromium"), std::string::npos);
  EXPECT_EQ(chromiumIdProblem("epdgaaidonekigjopbgbfadelgffdhhi"), "");
  EXPECT_NE(chromiumIdProblem("epdgaaidonekigjopbgbfadelgffdhhz"), "");
  EXPECT_EQ(firefoxIdProblem("{264bb1e1-b599-403d-b96e-a62784f75fd3}"), "");
  EXPECT_EQ(firefoxIdProblem("monitor@example.com"), "");
  EXPECT_NE(firefoxIdProblem("@x"), "");
}

TEST_F(BrowserHostTest, ADamagedOrForeignManifestIsNotInstalledAndSaysWhy) {
  const fs::path dirp = dir_ / "home/.config/chromium/NativeMessagingHosts";
  fs::create_directories(dirp);
  const fs::path file = dirp / "com.workmonitor.host.json";
  const std::pair<std::string, std::string> cases[] = {
      {"not json", "not a WorkMonitor host manifest"},
      {R"({"name": 3, "path": 4})", "not a WorkMonitor host manifest"},
      {R"({"name": "com.workmonitor.host", "path": 4})", "is not an executable"},
      {R"({"name": "com.workmonitor.host", "path": "/nonexistent/host"})", "is not an executable"},
      {R"({"name": "com.workmonitor.host", "path": ")" + host_.string() + R"(", "allowed_origins": "x"})",
       "does not allow"},
      {R"({"name": "com.workmonitor.host", "path": ")" + host_.string() +
           R"(", "allowed_origins": ["chrome-extension://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/"]})",
       "does not allow"},
  };
  for (const auto& [text, why] : cases) {
    std::ofstream(file, std::ios::trunc) << text;
    const json status = browserHostStatus(o_);
    const json c = find(status, "chromium");
    EXPECT_EQ(c["installed"], false) << text;
    EXPECT_NE(c["problem"].get<std::string>().find(why), std::string::npos) << text << " -> " << c.dump();
  }
  // install replaces it.
  o_.browsers = {"chromium"};
  ASSERT_TRUE(installBrowserHosts(o_));
  EXPECT_EQ(find(browserHostStatus(o_), "chromium")["installed"], true);
}

TEST_F(BrowserHostTest, TheDefaultHostIsTheOneBesideTheAgent) {
  fs::create_directories(dir_ / "bin");
  fs::create_directories(dir_ / "lib/workmonitor");
  EXPECT_EQ(defaultHostPath(dir_ / "bin/workmonitor-agent"), fs::path());
  fs::copy_file(host_, dir_ / "lib/workmonitor/workmonitor-nmhost");
  EXPECT_EQ(defaultHostPath(dir_ / "bin/workmonitor-agent"), dir_ / "lib/workmonitor/workmonitor-nmhost");
}

}  // namespace
}  // namespace wm::agent
