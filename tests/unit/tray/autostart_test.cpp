// XDG autostart (platform/linux/autostart_linux.cpp) with a private XDG_CONFIG_HOME, and the tray's
// first-run rule on top of it.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "tray_app.h"
#include "workmonitor/platform/autostart.h"

namespace wm {
namespace {

namespace fs = std::filesystem;

class AutostartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("wm-autostart-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    if (const char* old = std::getenv("XDG_CONFIG_HOME")) old_ = old;
    ::setenv("XDG_CONFIG_HOME", dir_.c_str(), 1);
  }
  void TearDown() override {
    if (old_)
      ::setenv("XDG_CONFIG_HOME", old_->c_str(), 1);
    else
      ::unsetenv("XDG_CONFIG_HOME");
    fs::remove_all(dir_);
  }
  std::string entry() const {
    std::ifstream in(dir_ / "autostart" / "workmonitor-tray.desktop");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  fs::path dir_;
  std::optional<std::string> old_;
};

TEST_F(AutostartTest, WritesAnXdgEntryAndRemovesIt) {
  auto a = platform::makeAutostart();
  EXPECT_EQ(a->isEnabled(), false);
  ASSERT_TRUE(a->enable("/opt/work monitor/workmonitor-tray", "--socket /run/x.sock"));
  const std::string e = entry();
  EXPECT_NE(e.find("[Desktop Entry]\n"), std::string::npos);
  EXPECT_NE(e.find("Type=Application\n"), std::string::npos);
  EXPECT_NE(e.find("Exec=\"/opt/work monitor/workmonitor-tray\" --socket /run/x.sock\n"), std::string::npos) << e;
  EXPECT_EQ(a->isEnabled(), true);
  ASSERT_TRUE(a->disable());
  EXPECT_FALSE(fs::exists(dir_ / "autostart" / "workmonitor-tray.desktop"));
  EXPECT_EQ(a->isEnabled(), false);
  EXPECT_TRUE(a->disable()) << "disabling twice is fine";
}

TEST_F(AutostartTest, ARelativeProgramIsRefusedAndUserDisablingIsRespected) {
  auto a = platform::makeAutostart();
  EXPECT_FALSE(a->enable("workmonitor-tray", ""));
  ASSERT_TRUE(a->enable("/usr/bin/workmonitor-tray", ""));
  std::ofstream(dir_ / "autostart" / "workmonitor-tray.desktop", std::ios::app) << "Hidden=true\n";
  EXPECT_EQ(a->isEnabled(), false);
}

TEST_F(AutostartTest, TheTrayEnablesItOnTheFirstRunOnly) {
  auto a = platform::makeAutostart();
  const QString marker = QString::fromStdString((dir_ / "workmonitor" / "tray.ini").string());
  EXPECT_TRUE(tray::enableAutostartOnFirstRun(*a, marker, "/usr/bin/workmonitor-tray", "").contains("enabled"));
  EXPECT_EQ(a->isEnabled(), true);
  ASSERT_TRUE(a->disable());  // the person turned it off
  EXPECT_FALSE(tray::enableAutostartOnFirstRun(*a, marker, "/usr/bin/workmonitor-tray", "").contains("enabled"));
  EXPECT_EQ(a->isEnabled(), false);
}

}  // namespace
}  // namespace wm
