// Injectable time: every timer, idle and span decision reads a Clock that tests can drive.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>

namespace wm {

using WallTime = std::chrono::time_point<std::chrono::system_clock, std::chrono::milliseconds>;
using MonoTime = std::chrono::time_point<std::chrono::steady_clock, std::chrono::milliseconds>;
using Millis = std::chrono::milliseconds;

/// Source of wall-clock (UTC) and monotonic time.
/// mono() stops while the machine is suspended (CLOCK_MONOTONIC); boot() keeps running through suspend
/// (CLOCK_BOOTTIME). Their difference growing is how a suspend is told apart from a wall-clock jump.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual WallTime wall() const = 0;
  virtual MonoTime mono() const = 0;
  virtual MonoTime boot() const = 0;
};

/// The real clocks of the machine.
class SystemClock final : public Clock {
 public:
  WallTime wall() const override;
  MonoTime mono() const override;
  MonoTime boot() const override;
};

/// A clock tests move by hand; wall and monotonic time can be moved apart (wall-clock jumps).
class ManualClock final : public Clock {
 public:
  explicit ManualClock(WallTime start = WallTime(Millis(1'767'225'600'000)));  // 2026-01-01T00:00Z
  WallTime wall() const override;
  MonoTime mono() const override;
  MonoTime boot() const override;
  /// Time passes: all clocks advance.
  void advance(Millis d);
  /// The wall clock is set (NTP step, user change); monotonic time does not move.
  void jumpWall(Millis d);
  /// The machine sleeps for d: wall and boot time advance, monotonic time does not.
  void suspend(Millis d);

 private:
  mutable std::mutex mu_;
  WallTime wall_;
  MonoTime mono_{Millis(1'000'000)};
  MonoTime boot_{Millis(1'000'000)};
};

/// Unix milliseconds of a wall time.
inline int64_t toUnixMs(WallTime t) { return t.time_since_epoch().count(); }
inline WallTime fromUnixMs(int64_t ms) { return WallTime(Millis(ms)); }

/// RFC 3339 UTC with milliseconds, e.g. 2026-01-01T09:30:00.000Z.
std::string formatUtc(WallTime t);

}  // namespace wm
