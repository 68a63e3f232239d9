// The agent's own absences as records (issue 14): so that a day has no unexplained holes, the time the agent
// was not there to watch is recorded too, with why — stopped, crashed, computer off, or the computer asleep.
#pragma once

#include <cstdint>
#include <optional>

#include <nlohmann/json.hpp>

#include "workmonitor/api/records.h"
#include "workmonitor/common/clock.h"
#include "workmonitor/common/uuid.h"

namespace wm::agent {

enum class DowntimeReason {
  kShutdown,     // the agent was stopped (quit, log-out, service stop) and started again on the same boot
  kCrash,        // the agent ended without shutting down (killed, crashed) and the computer kept running
  kComputerOff,  // the computer was shut down or restarted (cleanly or not) between two runs
  kSuspend,      // the computer slept while the agent ran
};

const char* downtimeReasonName(DowntimeReason r);

/// What a run leaves behind in the tracker's state for the next one to judge its absence by.
struct LastSignOfLife {
  int64_t at_ms = 0;                    // the last heartbeat, or the moment of the clean shutdown
  bool clean = false;                   // the run ended with a clean shutdown
  std::optional<int64_t> booted_at_ms;  // when the computer had booted, as that run saw it
};

/// The computer's boot moment as the clock sees it: wall time minus the time since boot (which runs on
/// through a suspend). Two runs on one boot agree on it within a clock adjustment.
int64_t bootedAtMs(const Clock& clock);

/// Two boot moments further apart than this are different boots (NTP steps after boot are smaller).
inline constexpr Millis kBootTolerance{std::chrono::minutes(2)};

/// The record of the time between the previous run's last sign of life and this run's start (now_ms, on the
/// boot that began at booted_at_ms): kind downtime, closed, data {reason, clean, since}. nullopt when no
/// previous run is known (at_ms 0) or the gap is not positive.
std::optional<api::Record> downtimeSincePreviousRun(const LastSignOfLife& last, int64_t now_ms, int64_t booted_at_ms,
                                                    UuidV7Generator& ids);

/// A sleep seen while the agent ran: [resumed_ms - slept, resumed_ms), reason suspend.
api::Record suspendDowntime(int64_t resumed_ms, Millis slept, UuidV7Generator& ids);

}  // namespace wm::agent
