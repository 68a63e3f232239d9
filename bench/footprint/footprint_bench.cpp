// Footprint: the real workmonitor-agent binary, headless, on Xvfb (1920x1080) + openbox with a running timer.
// Phase "busy": a scripted user for 60 s (a window switch every 3 s, typing, mouse moves and clicks);
// phase "idle": 30 s without input (the idle threshold is longer, so the agent is still tracking and every
// collector still runs). Measured from /proc: peak RSS (VmHWM), CPU % of one core (utime+stime over wall
// time), wake-ups per second (voluntary + involuntary context switches of all the agent's threads — every
// wake-up of a sleeping thread is one switch). Two configurations in the same run: every collector on
// (screenshots at the shortest allowed interval, 60 s, activity counts, USB, websites, lock/sleep) and the
// baseline: the same agent with every collector off (timer, idle and app tracking only).
// Targets (every collector on): RSS <= 25 MB, CPU <= 0.5 %, <= 5 wake-ups/s while the user is idle.
// Also printed: the RSS at the end split into anonymous / file-backed / shared memory, and how many screenshots were
// taken (one or two: a random moment in each 60 s interval). WM_FOOTPRINT_DUMP=DIR keeps the agent's smaps.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "workmonitor/agent/control_client.h"
#include "xvfb_fixture.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

constexpr double kTargetRssMb = 25, kTargetCpuPct = 0.5, kTargetIdleWakeups = 5;

struct Sample {
  double cpu_s = 0;        // utime + stime
  long long switches = 0;  // all threads, voluntary + involuntary
  double hwm_mb = 0, rss_mb = 0;
  double anon_mb = 0, file_mb = 0, shmem_mb = 0;  // RSS split: heap/stacks/relocations, mapped files, shared memory
};

Sample sample(pid_t pid) {
  Sample s;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  // Fields after the ")" of the command name: state is field 3; utime and stime are fields 14 and 15.
  std::istringstream rest(line.substr(line.rfind(')') + 2));
  std::string field;
  unsigned long long ut = 0, st = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) ut = std::stoull(field);
    if (i == 15) st = std::stoull(field);
  }
  s.cpu_s = static_cast<double>(ut + st) / static_cast<double>(::sysconf(_SC_CLK_TCK));
  for (const auto& task : fs::directory_iterator("/proc/" + std::to_string(pid) + "/task")) {
    std::ifstream status(task.path() / "status");
    while (std::getline(status, line)) {
      if (line.starts_with("voluntary_ctxt_switches:") || line.starts_with("nonvoluntary_ctxt_switches:"))
        s.switches += std::stoll(line.substr(line.find(':') + 1));
    }
  }
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  while (std::getline(status, line)) {
    if (line.starts_with("VmHWM:")) s.hwm_mb = std::stod(line.substr(6)) / 1024.0;
    if (line.starts_with("VmRSS:")) s.rss_mb = std::stod(line.substr(6)) / 1024.0;
    if (line.starts_with("RssAnon:")) s.anon_mb = std::stod(line.substr(8)) / 1024.0;
    if (line.starts_with("RssFile:")) s.file_mb = std::stod(line.substr(8)) / 1024.0;
    if (line.starts_with("RssShmem:")) s.shmem_mb = std::stod(line.substr(9)) / 1024.0;
  }
  return s;
}

struct Figures {
  double busy_cpu_pct = 0, idle_cpu_pct = 0, busy_wakeups = 0, idle_wakeups = 0, peak_rss_mb = 0, end_rss_mb = 0;
  Sample end;  // the RSS split at the end
  long long records = 0, shots = 0;
};

/// With WM_FOOTPRINT_DUMP=DIR set, the agent's /proc smaps, smaps_rollup and status at the end of a
/// configuration are copied to DIR/<name>.* (where the remaining memory is, mapping by mapping).
void dumpProc(pid_t pid, const std::string& name) {
  const char* dir = std::getenv("WM_FOOTPRINT_DUMP");
  if (dir == nullptr || *dir == '\0') return;
  std::error_code ec;
  fs::create_directories(dir, ec);
  for (const char* what : {"smaps", "smaps_rollup", "status"}) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/" + what);
    std::ofstream(fs::path(dir) / (name + "." + what)) << in.rdbuf();
  }
}

bool waitUntil(const std::function<bool()>& f, std::chrono::milliseconds limit) {
  const auto end = SteadyClock::now() + limit;
  while (SteadyClock::now() < end) {
    if (f()) return true;
    std::this_thread::sleep_for(100ms);
  }
  return f();
}

Figures measure(wm::test::XvfbSession& x, const fs::path& dir, bool collectors, int busy_s, int idle_s) {
  fs::remove_all(dir);
  fs::create_directories(dir);
  // Pre-approved consent (the service-mode path): otherwise only the timer would run until a person agreed.
  json cfg{{"idle_threshold_s", 600}, {"heartbeat_s", 30}, {"consent_preapproved", true}};
  cfg["screenshots_enabled"] = collectors;
  cfg["screenshot_interval_s"] = 60;
  cfg["activity_counts"] = collectors;
  cfg["usb_events"] = collectors;
  cfg["website_usage"] = collectors;
  std::ofstream(dir / "agent.json") << cfg.dump();
  const fs::path sock = dir / "agent.sock";
  const pid_t agent = x.spawn({WM_AGENT_BINARY, "--state-dir", (dir / "state").string(), "--socket", sock.string(),
                               "--config", (dir / "agent.json").string(), "run", "--local-only", "--quiet"});
  if (agent <= 0 || !waitUntil([&] { return wm::agent::ControlClient::connect(sock).has_value(); }, 15s)) {
    std::fprintf(stderr, "footprint_bench: the agent did not start\n");
    std::exit(1);
  }
  auto call = [&](const std::string& cmd, const json& args = json::object()) {
    auto c = wm::agent::ControlClient::connect(sock);
    if (!c) return json();
    auto r = c->call(cmd, args);
    return r ? *r : json();
  };
  call("start", {{"project_id", "bench"}});
  auto a = x.openXterm("Footprint A");
  auto b = x.openXterm("Footprint B");
  if (!a || !b) {
    std::fprintf(stderr, "footprint_bench: xterm windows did not open\n");
    std::exit(1);
  }
  Figures f;
  const Sample s0 = sample(agent);
  const auto t0 = SteadyClock::now();
  for (int i = 0; SteadyClock::now() - t0 < std::chrono::seconds(busy_s); ++i) {
    x.activate(i % 2 ? a->second : b->second);
    x.xdotool({"type", "--delay", "40", "hello world"});
    x.xdotool({"mousemove", std::to_string(200 + 10 * (i % 40)), "300", "click", "1"});
    if (collectors && i % 4 == 0)
      call("tab", {{"browser", "xterm"}, {"url", "https://example.com/page" + std::to_string(i % 3)}, {"title", "t"}});
    std::this_thread::sleep_until(t0 + std::chrono::seconds(3 * (i + 1)));
  }
  const Sample s1 = sample(agent);
  const double busy_wall = std::chrono::duration<double>(SteadyClock::now() - t0).count();
  std::this_thread::sleep_for(3s);  // the last events settle
  const Sample s2 = sample(agent);
  const auto t2 = SteadyClock::now();
  std::this_thread::sleep_for(std::chrono::seconds(idle_s));
  const Sample s3 = sample(agent);
  const double idle_wall = std::chrono::duration<double>(SteadyClock::now() - t2).count();
  const json st = call("status");
  f.records = st.contains("outbox") ? st["outbox"].value("records", 0LL) : 0;
  f.shots = st.contains("screenshots") ? st["screenshots"].value("taken", 0LL) : 0;
  dumpProc(agent, dir.filename().string());
  f.busy_cpu_pct = 100.0 * (s1.cpu_s - s0.cpu_s) / busy_wall;
  f.idle_cpu_pct = 100.0 * (s3.cpu_s - s2.cpu_s) / idle_wall;
  f.busy_wakeups = static_cast<double>(s1.switches - s0.switches) / busy_wall;
  f.idle_wakeups = static_cast<double>(s3.switches - s2.switches) / idle_wall;
  f.peak_rss_mb = s3.hwm_mb;
  f.end_rss_mb = s3.rss_mb;
  f.end = s3;
  call("stop");
  ::kill(agent, SIGTERM);
  int status = 0;
  waitUntil([&] { return ::waitpid(agent, &status, WNOHANG) == agent; }, 10s);
  x.terminate(a->first);
  x.terminate(b->first);
  return f;
}

}  // namespace

int main() {
  const int busy_s = 60, idle_s = 30;
  wm::test::XvfbSession::Options o;
  o.screen = "1920x1080x24";
  auto x = wm::test::XvfbSession::start(o);
  if (!x) {
    std::fprintf(stderr, "footprint_bench: %s\n", x.error().message.c_str());
    return 1;
  }
  const fs::path root = fs::temp_directory_path() / ("wm-footprint-" + std::to_string(::getpid()));
  const Figures base = measure(**x, root / "baseline", false, busy_s, idle_s);
  const Figures all = measure(**x, root / "all", true, busy_s, idle_s);
  fs::remove_all(root);
  std::printf("footprint_bench: headless agent on Xvfb 1920x1080, %d s scripted user + %d s idle, timer running\n",
              busy_s, idle_s);
  std::printf("  %-28s %14s %14s %8s\n", "", "all collectors", "timer only", "ratio");
  auto row = [](const char* what, double v, double b, const char* unit) {
    std::printf("  %-28s %11.2f %-2s %11.2f %-2s %7.2fx\n", what, v, unit, b, unit, b > 0 ? v / b : 0.0);
  };
  row("peak RSS (VmHWM)", all.peak_rss_mb, base.peak_rss_mb, "MB");
  row("RSS at the end", all.end_rss_mb, base.end_rss_mb, "MB");
  row("  of which anonymous", all.end.anon_mb, base.end.anon_mb, "MB");
  row("  of which mapped files", all.end.file_mb, base.end.file_mb, "MB");
  row("  of which shared memory", all.end.shmem_mb, base.end.shmem_mb, "MB");
  row("CPU, scripted user", all.busy_cpu_pct, base.busy_cpu_pct, "%");
  row("CPU, user idle", all.idle_cpu_pct, base.idle_cpu_pct, "%");
  row("wake-ups/s, scripted user", all.busy_wakeups, base.busy_wakeups, "");
  row("wake-ups/s, user idle", all.idle_wakeups, base.idle_wakeups, "");
  std::printf("  records in the outbox: %lld (all collectors), %lld (timer only); screenshots taken: %lld\n",
              all.records, base.records, all.shots);
  const double cpu = (all.busy_cpu_pct * busy_s + all.idle_cpu_pct * idle_s) / (busy_s + idle_s);
  std::printf(
      "  average CPU over the run %.2f %% (target <= %.1f %%), peak RSS %.1f MB (target <= %.0f MB), idle "
      "wake-ups %.1f/s (target <= %.0f)\n",
      cpu, kTargetCpuPct, all.peak_rss_mb, kTargetRssMb, all.idle_wakeups, kTargetIdleWakeups);
  const bool ok = all.peak_rss_mb <= kTargetRssMb && cpu <= kTargetCpuPct && all.idle_wakeups <= kTargetIdleWakeups;
  std::printf("footprint_bench: %s\n", ok ? "within target" : "OUT OF TARGET");
  return ok ? 0 : 1;
}
