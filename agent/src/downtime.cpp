#include "workmonitor/agent/downtime.h"

#include <cstdlib>

namespace wm::agent {

using nlohmann::json;

namespace {

api::Record closedDowntime(int64_t start_ms, int64_t end_ms, json data, UuidV7Generator& ids) {
  api::Record r;
  r.id = ids.next();
  r.kind = api::RecordKind::kDowntime;
  r.revision = 1;
  r.start_ms = start_ms;
  r.end_ms = end_ms;
  r.duration_ms = end_ms - start_ms;
  r.data = std::move(data);
  return r;
}

}  // namespace

const char* downtimeReasonName(DowntimeReason r) {
  switch (r) {
    case DowntimeReason::kShutdown:
      return "shutdown";
    case DowntimeReason::kCrash:
      return "crash";
    case DowntimeReason::kComputerOff:
      return "computer_off";
    case DowntimeReason::kSuspend:
      return "suspend";
  }
  return "crash";
}

int64_t bootedAtMs(const Clock& clock) { return toUnixMs(clock.wall()) - clock.boot().time_since_epoch().count(); }

std::optional<api::Record> downtimeSincePreviousRun(const LastSignOfLife& last, int64_t now_ms, int64_t booted_at_ms,
                                                    UuidV7Generator& ids) {
  if (last.at_ms <= 0 || now_ms <= last.at_ms) return std::nullopt;
  // A boot after the last sign of life means the computer went off in between, whether or not the agent had
  // time to stop (a power cut leaves no clean shutdown). Without the previous boot moment (a state written by
  // an older agent) only a boot after the gap began can tell: this boot started after the last heartbeat.
  const bool rebooted = last.booted_at_ms ? std::llabs(*last.booted_at_ms - booted_at_ms) > kBootTolerance.count()
                                          : booted_at_ms > last.at_ms;
  const DowntimeReason reason = rebooted     ? DowntimeReason::kComputerOff
                                : last.clean ? DowntimeReason::kShutdown
                                             : DowntimeReason::kCrash;
  return closedDowntime(last.at_ms, now_ms,
                        json{{"reason", downtimeReasonName(reason)},
                             {"clean", last.clean},
                             {"since", last.clean ? "shutdown" : "last_heartbeat"}},
                        ids);
}

api::Record suspendDowntime(int64_t resumed_ms, Millis slept, UuidV7Generator& ids) {
  return closedDowntime(resumed_ms - slept.count(), resumed_ms,
                        json{{"reason", downtimeReasonName(DowntimeReason::kSuspend)}, {"clean", true}}, ids);
}

}  // namespace wm::agent
