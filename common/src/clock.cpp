#include "workmonitor/common/clock.h"

#include <time.h>
#include <cstdio>
#include <ctime>
#include <string>

namespace wm {

WallTime SystemClock::wall() const { return std::chrono::time_point_cast<Millis>(std::chrono::system_clock::now()); }

MonoTime SystemClock::mono() const { return std::chrono::time_point_cast<Millis>(std::chrono::steady_clock::now()); }

MonoTime SystemClock::boot() const {
#ifdef CLOCK_BOOTTIME
  timespec ts{};
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return MonoTime(Millis(static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000));
#else
  // Where no suspend-inclusive clock exists, suspends are reported by the platform's session events instead.
  return mono();
#endif
}

ManualClock::ManualClock(WallTime start) : wall_(start) {}

WallTime ManualClock::wall() const {
  std::lock_guard lock(mu_);
  return wall_;
}

MonoTime ManualClock::mono() const {
  std::lock_guard lock(mu_);
  return mono_;
}

MonoTime ManualClock::boot() const {
  std::lock_guard lock(mu_);
  return boot_;
}

void ManualClock::advance(Millis d) {
  std::lock_guard lock(mu_);
  wall_ += d;
  mono_ += d;
  boot_ += d;
}

void ManualClock::suspend(Millis d) {
  std::lock_guard lock(mu_);
  wall_ += d;
  boot_ += d;
}

void ManualClock::jumpWall(Millis d) {
  std::lock_guard lock(mu_);
  wall_ += d;
}

std::string formatUtc(WallTime t) {
  const int64_t ms = toUnixMs(t);
  std::time_t secs = static_cast<std::time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  const int frac = static_cast<int>(ms - static_cast<int64_t>(secs) * 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
  return buf;
}

}  // namespace wm
