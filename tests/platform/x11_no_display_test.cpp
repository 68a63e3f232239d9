// Without an X display every X11 capability says so as a kUnavailable value; nothing crashes or hangs.
#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <string>

#include "workmonitor/platform/foreground.h"
#include "workmonitor/platform/idle.h"

namespace wm::platform {
namespace {

/// Sets or unsets DISPLAY for one test and puts the old value back.
class DisplayEnv {
 public:
  explicit DisplayEnv(const char* value) {
    if (const char* old = std::getenv("DISPLAY")) old_ = old;
    if (value == nullptr) {
      unsetenv("DISPLAY");
    } else {
      setenv("DISPLAY", value, 1);
    }
  }
  ~DisplayEnv() {
    if (old_) {
      setenv("DISPLAY", old_->c_str(), 1);
    } else {
      unsetenv("DISPLAY");
    }
  }

 private:
  std::optional<std::string> old_;
};

void expectUnavailable(const Error& e, const std::string& detail) {
  EXPECT_EQ(e.code, Errc::kUnavailable) << e.message;
  EXPECT_NE(e.message.find("no X display"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find(detail), std::string::npos) << e.message;
}

void expectAllUnavailable(const std::string& detail) {
  auto idle = makeIdleWatcher();
  auto started = idle->start(Millis(1000), [](const IdleEvent&) { FAIL() << "no event without a display"; });
  ASSERT_FALSE(started);
  expectUnavailable(started.error(), detail);
  auto idle_now = idle->idleTime();
  ASSERT_FALSE(idle_now);
  expectUnavailable(idle_now.error(), detail);
  idle->stop();  // harmless when not started

  auto fg = makeForegroundWatcher();
  auto fg_started = fg->start([](const WindowInfo&) { FAIL() << "no event without a display"; });
  ASSERT_FALSE(fg_started);
  expectUnavailable(fg_started.error(), detail);
  auto now = fg->current();
  ASSERT_FALSE(now);
  expectUnavailable(now.error(), detail);
  fg->stop();
}

TEST(X11NoDisplay, UnsetDisplayIsUnavailable) {
  DisplayEnv env(nullptr);
  expectAllUnavailable("DISPLAY is not set");
}

TEST(X11NoDisplay, UnreachableDisplayIsUnavailable) {
  DisplayEnv env(":4093");  // no server there (the fixture's Xvfb picks free numbers from 0 up)
  expectAllUnavailable("DISPLAY=\":4093\"");
}

TEST(X11NoDisplay, MalformedDisplayIsUnavailable) {
  DisplayEnv env("not a display");
  expectAllUnavailable("not a display");
}

}  // namespace
}  // namespace wm::platform
