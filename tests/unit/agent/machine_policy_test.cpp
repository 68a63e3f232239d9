// Machine policy files: what is read, what is refused and why, and that the policy wins over everything.
#include "workmonitor/agent/machine_policy.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <tuple>

#include <gtest/gtest.h>

namespace wm::agent {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

class MachinePolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("wm-policy-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path write(const std::string& text, fs::perms perms = fs::perms::owner_read | fs::perms::owner_write |
                                                            fs::perms::group_read | fs::perms::others_read) {
    const fs::path p = dir_ / "policy.json";
    std::ofstream(p) << text;
    fs::permissions(p, perms);
    return p;
  }
  fs::path dir_;
};

TEST_F(MachinePolicyTest, MissingFileIsNoPolicyAndNoProblem) {
  const MachinePolicy p = loadMachinePolicy(dir_ / "none.json");
  EXPECT_TRUE(p.empty());
  EXPECT_TRUE(p.source.empty());
  EXPECT_TRUE(p.problems.empty());
}

TEST_F(MachinePolicyTest, ValidKeysApplyAndBadOnesAreSkippedWithTheirReason) {
  const MachinePolicy p = loadMachinePolicy(write(R"({"settings": {"screenshot_interval_s": 900,
    "screenshot_blur": "yes", "allow_quit": false, "consent_preapproved": true, "colour": "blue"}})"));
  EXPECT_EQ(p.settings, json::parse(R"({"screenshot_interval_s": 900, "allow_quit": false,
    "consent_preapproved": true})"));
  ASSERT_EQ(p.problems.size(), 2u);  // in key order
  EXPECT_NE(p.problems[0].find("colour: unknown setting; skipped"), std::string::npos) << p.problems[0];
  EXPECT_NE(p.problems[1].find("screenshot_blur: must be true or false; skipped"), std::string::npos) << p.problems[1];
}

TEST_F(MachinePolicyTest, MalformedFilesAreRefusedWhole) {
  for (const char* text : {"not json", "[1, 2]", R"({"screenshot_interval_s": 900})", R"({"settings": 3})"}) {
    const MachinePolicy p = loadMachinePolicy(write(text));
    EXPECT_TRUE(p.empty()) << text;
    ASSERT_EQ(p.problems.size(), 1u) << text;
    EXPECT_NE(p.problems[0].find("\"settings\" object"), std::string::npos) << p.problems[0];
  }
}

TEST_F(MachinePolicyTest, AFileOthersCanWriteIsRefused) {
  const MachinePolicy p =
      loadMachinePolicy(write(R"({"settings": {"allow_quit": false}})", fs::perms::owner_all | fs::perms::group_all));
  EXPECT_TRUE(p.empty());
  ASSERT_EQ(p.problems.size(), 1u);
  EXPECT_NE(p.problems[0].find("writable by other accounts"), std::string::npos);
  const MachinePolicy dir = loadMachinePolicy(dir_);
  EXPECT_TRUE(dir.empty());
  EXPECT_NE(dir.problems.at(0).find("not a regular file"), std::string::npos);
}

TEST_F(MachinePolicyTest, PolicyWinsOverWhateverItIsAppliedTo) {
  AgentConfig merged;  // stands for defaults → agent.json → company profile
  merged.screenshots.interval = std::chrono::minutes(5);
  merged.allow_quit = true;
  merged.tracker.idle_threshold = std::chrono::minutes(3);
  MachinePolicy p;
  p.settings = {{"screenshot_interval_s", 1200}, {"allow_quit", false}};
  const AgentConfig out = applyMachinePolicy(merged, p);
  EXPECT_EQ(out.screenshots.interval, std::chrono::minutes(20));
  EXPECT_FALSE(out.allow_quit);
  EXPECT_EQ(out.tracker.idle_threshold, std::chrono::minutes(3)) << "keys the policy does not set stay";
  const AgentConfig none = applyMachinePolicy(merged, MachinePolicy{});
  EXPECT_EQ(configToJson(none), configToJson(merged));
}

TEST_F(MachinePolicyTest, AnInstalledPolicyCannotBeSidesteppedByTheEnvironment) {
  ::setenv("WORKMONITOR_POLICY", (dir_ / "mine.json").c_str(), 1);
  const fs::path chosen = machinePolicyPath();
  ::unsetenv("WORKMONITOR_POLICY");
  if (fs::exists("/etc/workmonitor/policy.json"))
    EXPECT_EQ(chosen, "/etc/workmonitor/policy.json");
  else
    EXPECT_EQ(chosen, dir_ / "mine.json");
  EXPECT_EQ(machinePolicyPath(), "/etc/workmonitor/policy.json") << "without the variable";
}

constexpr const char* kUnattended =
    "wmu1.0190a5c4-1111-7000-8000-000000000001.abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ";

TEST_F(MachinePolicyTest, ServerBlockIsReadWithItsCaBundleAndToken) {
  const fs::path ca = dir_ / "ca.pem";
  std::ofstream(ca) << "-----BEGIN CERTIFICATE-----\n";
  const MachinePolicy p = loadMachinePolicy(write(json{
      {"server", {{"url", "https://wm.example.com"}, {"ca_bundle", ca.string()}, {"enrollment_token", kUnattended}}},
      {"settings", {{"consent_preapproved", true}}}}.dump()));
  EXPECT_TRUE(p.problems.empty()) << p.problems.front();
  ASSERT_TRUE(p.server.has_value());
  EXPECT_EQ(p.server->url, "https://wm.example.com");
  EXPECT_EQ(p.server->ca_bundle, ca);
  EXPECT_EQ(p.server->enrollment_token, kUnattended);
  EXPECT_EQ(p.settings, json::parse(R"({"consent_preapproved": true})"));
  EXPECT_FALSE(p.empty());
}

TEST_F(MachinePolicyTest, AServerBlockAloneIsAPolicy) {
  const MachinePolicy p = loadMachinePolicy(write(R"({"server": {"url": "http://127.0.0.1:8080"}})"));
  EXPECT_TRUE(p.problems.empty());
  ASSERT_TRUE(p.server.has_value());
  EXPECT_FALSE(p.server->ca_bundle.has_value());
  EXPECT_TRUE(p.server->enrollment_token.empty());
  EXPECT_TRUE(p.settings.empty());
}

TEST_F(MachinePolicyTest, AnUnencryptedUrlToAnotherHostDropsTheServerBlock) {
  for (const char* url :
       {"http://wm.example.com", "http://127.0.0.1.evil.com/", "ftp://x", "https://", "wm.example.com"}) {
    const MachinePolicy p =
        loadMachinePolicy(write(json{{"server", {{"url", url}}}, {"settings", {{"allow_quit", false}}}}.dump()));
    EXPECT_FALSE(p.server.has_value()) << url;
    ASSERT_EQ(p.problems.size(), 1u) << url;
    EXPECT_NE(p.problems[0].find("server.url must be an https:// URL"), std::string::npos) << p.problems[0];
    EXPECT_EQ(p.settings, json::parse(R"({"allow_quit": false})")) << "the settings still apply";
  }
  EXPECT_TRUE(secureServerUrl("http://localhost:9000/x"));
  EXPECT_TRUE(secureServerUrl("http://[::1]:9000"));
  EXPECT_FALSE(secureServerUrl("http://[::1]evil"));
  EXPECT_FALSE(secureServerUrl("http://localhost.evil.com"));
}

TEST_F(MachinePolicyTest, BadServerKeysAreSkippedWithAMessageNamingThem) {
  const MachinePolicy p = loadMachinePolicy(write(json{
      {"server",
       {{"url", "https://wm.example.com"},
        {"ca_bundle", "relative/ca.pem"},
        {"enrollment_token", "wmu1.secret-with-typo"},
        {"proxy", "http://proxy"}}},
      {"colour", "blue"}}.dump()));
  ASSERT_TRUE(p.server.has_value()) << "a good url keeps the block";
  EXPECT_FALSE(p.server->ca_bundle.has_value());
  EXPECT_TRUE(p.server->enrollment_token.empty());
  ASSERT_EQ(p.problems.size(), 4u);
  std::string all;
  for (const auto& s : p.problems) all += s + "\n";
  EXPECT_NE(all.find("colour: unknown top-level key"), std::string::npos) << all;
  EXPECT_NE(all.find("server.ca_bundle must be an absolute path"), std::string::npos) << all;
  EXPECT_NE(all.find("server.enrollment_token is not an enrolment token"), std::string::npos) << all;
  EXPECT_EQ(all.find("secret-with-typo"), std::string::npos) << "a token is never repeated: " << all;
  EXPECT_NE(all.find("server.proxy: unknown key; skipped"), std::string::npos) << all;

  const MachinePolicy missing = loadMachinePolicy(
      write(json{{"server", {{"url", "https://wm.example.com"}, {"ca_bundle", (dir_ / "no.pem").string()}}}}.dump()));
  ASSERT_EQ(missing.problems.size(), 1u);
  EXPECT_NE(missing.problems[0].find("is not a readable file"), std::string::npos) << missing.problems[0];
}

TEST_F(MachinePolicyTest, TokenShapes) {
  EXPECT_TRUE(enrollmentTokenShape(kUnattended));
  EXPECT_TRUE(
      enrollmentTokenShape("wme1.0190a5c4-1111-7000-8000-000000000001.0190a5c4-1111-7000-8000-000000000002."
                           "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ"));
  EXPECT_FALSE(enrollmentTokenShape("wme1.0190a5c4-1111-7000-8000-000000000001.abcdefghijklmnopqrstuvwxyzABCDEFGHIJK"))
      << "a user-named token has three parts";
  EXPECT_FALSE(enrollmentTokenShape("wmu1.admin.short"));
  EXPECT_FALSE(enrollmentTokenShape("wmx1.a.abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ"));
  EXPECT_FALSE(enrollmentTokenShape("wmu1.a b.abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ"));
}

TEST_F(MachinePolicyTest, ANonObjectServerOrSettingsIsReported) {
  const MachinePolicy p = loadMachinePolicy(write(R"({"server": "https://wm.example.com", "settings": [1]})"));
  EXPECT_TRUE(p.empty());
  ASSERT_EQ(p.problems.size(), 2u);
  EXPECT_NE(p.problems[0].find("server must be an object"), std::string::npos) << p.problems[0];
  EXPECT_NE(p.problems[1].find("settings must be an object"), std::string::npos) << p.problems[1];
}

TEST_F(MachinePolicyTest, ARefusedPolicyGivesWayToTheLastGoodCopyAndARemovedOneTakesItAway) {
  const fs::path copy = dir_ / "last-good.json";
  // No copy yet: a refused file means no policy at all.
  MachinePolicy p = withLastGoodCopy(loadMachinePolicy(write("{\"settings\": ")), copy);
  EXPECT_TRUE(p.refused);
  EXPECT_TRUE(p.empty());
  EXPECT_FALSE(fs::exists(copy));

  const std::string good = R"({"settings": {"screenshot_interval_s": 900, "allow_quit": false}})";
  p = withLastGoodCopy(loadMachinePolicy(write(good)), copy);
  EXPECT_FALSE(p.refused);
  EXPECT_FALSE(p.from_last_good);
  ASSERT_TRUE(fs::exists(copy));
  EXPECT_EQ(fs::status(copy).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);

  // A typo, then a file others could write: each time the copy's settings apply, the refusal comes first.
  for (const auto& [text, perms, says] :
       {std::tuple{std::string("{\"settings\": {\"allow_quit\": fals"), fs::perms::owner_read | fs::perms::owner_write,
                   std::string("not valid JSON; it must be a JSON object with a \"settings\" object and/or a "
                               "\"server\" object; its last good copy applies")},
        std::tuple{good, fs::perms::owner_all | fs::perms::others_write,
                   std::string("writable by other accounts, so anyone could have changed it; its last good copy")}}) {
    p = withLastGoodCopy(loadMachinePolicy(write(text, perms)), copy);
    EXPECT_FALSE(p.refused);
    EXPECT_TRUE(p.from_last_good);
    EXPECT_EQ(p.settings, json::parse(good)["settings"]);
    ASSERT_FALSE(p.problems.empty());
    EXPECT_NE(p.problems[0].find(says), std::string::npos) << p.problems[0];
    EXPECT_EQ(p.source, (dir_ / "policy.json").string());
  }
  // A corrupt copy is no copy.
  std::ofstream(copy) << "[1, 2";
  p = withLastGoodCopy(loadMachinePolicy(write("nonsense")), copy);
  EXPECT_TRUE(p.empty());
  EXPECT_FALSE(p.from_last_good);

  // Back to a good file; then the administrator removes it: the copy goes, no policy applies.
  (void)withLastGoodCopy(loadMachinePolicy(write(good)), copy);
  ASSERT_TRUE(fs::exists(copy));
  fs::remove(dir_ / "policy.json");
  p = withLastGoodCopy(loadMachinePolicy(dir_ / "policy.json"), copy);
  EXPECT_TRUE(p.empty());
  EXPECT_TRUE(p.problems.empty());
  EXPECT_FALSE(fs::exists(copy));
}

}  // namespace
}  // namespace wm::agent
