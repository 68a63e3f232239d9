// Tray RSS: after start (the icon only, no window shown yet), then each minute of scripted use for an hour —
// the timer, breaks, the mouse moving, screenshot notices every minute, an idle-return window every 10
// minutes — driven through the real agent. Targets: ≤ 60 MB RSS, and ≤ 5 MB growth over the hour, read two
// ways, both required: from the after-start sample to the last minute (so the one-time cost of the first
// windows counts), and the slope after the warm-up (end of minute 2 to the last minute, per hour: a leak).
// WM_TRAY_BENCH_MINUTES shortens the run for a quick look: the slope is then extrapolated to an hour, the
// growth from the start covers only the minutes run, and the output says so.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "xvfb_fixture.h"

namespace {

using nlohmann::json;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

// WM_TRAY_BENCH_SMAPS=DIR keeps copies of the tray's /proc/PID/smaps at each sample (start.smaps, minute-N.smaps)
// for a per-mapping diff of what stays resident.
void keepSmaps(pid_t pid, const std::string& name) {
  const char* dir = std::getenv("WM_TRAY_BENCH_SMAPS");
  if (dir == nullptr || *dir == '\0') return;
  std::error_code ec;
  fs::create_directories(dir, ec);
  std::ifstream in("/proc/" + std::to_string(pid) + "/smaps");  // size 0 in stat: read it, don't copy_file it
  std::ofstream(fs::path(dir) / (name + ".smaps")) << in.rdbuf();
}

long rssKb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  return -1;
}

bool call(const fs::path& socket, const std::string& cmd, const json& args = json::object(), json* out = nullptr) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", socket.c_str());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return false;
  }
  const std::string line = json{{"v", 1}, {"id", 1}, {"cmd", cmd}, {"args", args}}.dump() + "\n";
  bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  std::string reply;
  char buf[8192];
  ssize_t n = 0;
  while (ok && reply.find('\n') == std::string::npos && (n = ::read(fd, buf, sizeof(buf))) > 0) reply.append(buf, n);
  ::close(fd);
  json j = json::parse(reply.substr(0, reply.find('\n')), nullptr, false);
  if (out != nullptr && j.is_object()) *out = j.value("result", json());
  return j.is_object() && j.value("ok", false);
}

}  // namespace

int main() {
  const char* m = std::getenv("WM_TRAY_BENCH_MINUTES");
  const int minutes = std::clamp(m != nullptr ? std::atoi(m) : 60, 1, 60);
  auto x = wm::test::XvfbSession::start();
  if (!x) {
    std::fprintf(stderr, "tray_bench: %s\n", x.error().message.c_str());
    return 1;
  }
  const fs::path dir = fs::temp_directory_path() / ("wm-tray-bench-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "run");
  fs::create_directories(dir / "xdg");
  ::setenv("XDG_CONFIG_HOME", (dir / "xdg").c_str(), 1);
  // Screenshots every minute (the shortest interval allowed) so their notices come often; idle after 60 s.
  std::ofstream(dir / "agent.json") << json{
      {"consent_preapproved", true},
      {"screenshot_interval_s", 60},
      {"idle_threshold_s", 60}}.dump();
  const fs::path socket = dir / "run" / "agent.sock";
  (*x)->spawn({"trayer", "--edge", "top", "--align", "right", "--height", "24", "--widthtype", "request"});
  const std::string cmd = std::string("exec ") + WM_TRAY_BINARY + " --no-autostart --socket " + socket.string() +
                          " --state-dir " + (dir / "state").string() + " --config " + (dir / "agent.json").string() +
                          " --agent-binary " + WM_AGENT_BINARY + " > " + (dir / "tray.log").string() + " 2>&1";
  const pid_t tray = (*x)->spawn({"/bin/sh", "-c", cmd});
  if (!wm::test::waitUntil([&] { return call(socket, "status"); }, 30s, 200ms)) {
    std::fprintf(stderr, "tray_bench: the tray did not start an agent\n");
    return 1;
  }
  json st;
  call(socket, "status", json::object(), &st);
  const int64_t agent_pid = st["agent"].value("pid", 0);
  std::this_thread::sleep_for(3s);  // settled: connected, first status, projects
  const long start_kb = rssKb(tray);
  keepSmaps(tray, "start");
  std::printf("tray RSS after start: %.1f MB\n", start_kb / 1024.0);

  // Each minute of use: the timer starts, runs ~40 s (the mouse moves every second, so the person is there
  // and the agent takes its screenshot, whose notice the tray shows), a break with rapid state changes,
  // then the timer stops. Every 10th minute (1, 11, 21, ...) the person leaves instead: no input past the
  // 60 s idle threshold, then back; the tray opens the idle-return window and the answer comes from the
  // socket (keep), which closes it.
  const auto move = [&](int i) { (*x)->xdotool({"mousemove", std::to_string(200 + i % 40), "300"}); };
  const auto idleEpisode = [&] {
    call(socket, "start", json{{"project_id", "bench"}});
    std::this_thread::sleep_for(63s);
    move(1);
    move(2);
    json status;
    const bool asked = wm::test::waitUntil(
        [&] { return call(socket, "status", json::object(), &status) && status["idle_pending"].is_object(); }, 10s,
        200ms);
    std::this_thread::sleep_for(2s);  // the window is up
    if (asked)
      call(socket, "idle_decision", json{{"decision", "keep"}, {"idle_id", status["idle_pending"]["idle_id"]}});
    else
      std::fprintf(stderr, "tray_bench: no idle-return question this time\n");
    call(socket, "stop");
    return asked;
  };
  const auto minuteOfUse = [&] {
    for (int s = 0; s < 60; ++s) {
      if (s == 0) call(socket, "start", json{{"project_id", "bench"}});
      if (s >= 40 && s < 46) call(socket, s % 2 == 0 ? "break_start" : "break_end");
      if (s == 58) call(socket, "stop");
      move(s);
      std::this_thread::sleep_for(1s);
    }
  };
  // The first two minutes open each kind of window once (an idle return, screenshot notices): Qt loads its
  // image plugins and fonts then. The slope is measured from the end of minute 2; the growth from the start
  // includes that warm-up.
  long last_kb = start_kb, warm_kb = start_kb, peak_kb = start_kb;
  int idle_asked = 0, idle_episodes = 0;
  for (int minute = 1; minute <= minutes; ++minute) {
    if (minute % 10 == 1) {
      ++idle_episodes;
      idle_asked += idleEpisode() ? 1 : 0;
    } else {
      minuteOfUse();
    }
    last_kb = rssKb(tray);
    keepSmaps(tray, "minute-" + std::to_string(minute));
    peak_kb = std::max(peak_kb, last_kb);
    if (minute == 2) warm_kb = last_kb;
    std::printf("minute %d: tray RSS %.1f MB\n", minute, last_kb / 1024.0);
    std::fflush(stdout);
  }
  json final_status;
  call(socket, "status", json::object(), &final_status);
  std::printf("idle-return windows: %d of %d episodes; screenshots taken by the agent: %s\n", idle_asked, idle_episodes,
              final_status.value("screenshots", json()).dump().c_str());
  // The slope needs at least one minute beyond the first two.
  if (minutes < 3) std::printf("tray_bench: %d min is too short to measure growth after the warm-up\n", minutes);
  const double growth_per_hour_mb = minutes > 2 ? (last_kb - warm_kb) / 1024.0 * 60.0 / (minutes - 2) : 0.0;
  const double growth_from_start_mb = (last_kb - start_kb) / 1024.0;
  const bool peak_ok = peak_kb / 1024.0 <= 60.0;
  const bool from_start_ok = growth_from_start_mb <= 5.0;
  const bool slope_ok = minutes > 2 && growth_per_hour_mb <= 5.0;
  const char* shorter = minutes < 60 ? " — a shorter run than the hour" : "";
  std::printf(
      "tray RSS %.1f MB after start, %.1f MB after %d min of use, highest sample %.1f MB (target ≤ 60 MB): %s\n",
      start_kb / 1024.0, last_kb / 1024.0, minutes, peak_kb / 1024.0, peak_ok ? "ok" : "OVER");
  std::printf("growth from the after-start sample to minute %d: %.2f MB (target ≤ 5 MB over the hour%s): %s\n", minutes,
              growth_from_start_mb, shorter, from_start_ok ? "ok" : "OVER");
  const char* slope_verdict = minutes < 3 ? "not measured" : slope_ok ? "ok" : "OVER";
  std::printf("growth after the warm-up (minute 2 to %d): %.2f MB/h%s (target ≤ 5 MB/h): %s\n", minutes,
              growth_per_hour_mb, minutes < 60 ? ", EXTRAPOLATED from a shorter run" : "", slope_verdict);
  (*x)->terminate(tray);
  if (agent_pid > 0) ::kill(static_cast<pid_t>(agent_pid), SIGKILL);
  x->reset();
  fs::remove_all(dir);
  const bool ok = last_kb > 0 && peak_ok && from_start_ok && slope_ok;
  return ok ? 0 : 1;
}
