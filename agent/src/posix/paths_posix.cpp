// POSIX locations (XDG base directories) and flock(2)-based instance lock.
#include <fcntl.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "workmonitor/agent/paths.h"

namespace wm::agent {

namespace fs = std::filesystem;

namespace {

std::optional<fs::path> env(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return std::nullopt;
  return fs::path(v);
}

fs::path home() {
  if (auto h = env("HOME")) return *h;
  return fs::path("/tmp");
}

}  // namespace

fs::path selfExecutable() {
  std::error_code ec;
  fs::path p = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::path() : p;
}

fs::path userHome() {
  if (auto h = env("HOME")) return *h;
  if (const struct passwd* pw = ::getpwuid(::getuid()); pw && pw->pw_dir) return fs::path(pw->pw_dir);
  return {};
}

fs::path userConfigHome() {
  if (auto x = env("XDG_CONFIG_HOME"); x && x->is_absolute()) return *x;
  const fs::path h = userHome();
  return h.empty() ? fs::path() : h / ".config";
}

AgentPaths resolvePaths(const std::optional<fs::path>& state_dir, const std::optional<fs::path>& socket,
                        const std::optional<fs::path>& config) {
  AgentPaths p;
  if (state_dir)
    p.state_dir = *state_dir;
  else if (auto e = env("WORKMONITOR_STATE_DIR"))
    p.state_dir = *e;
  else if (auto x = env("XDG_STATE_HOME"))
    p.state_dir = *x / "workmonitor";
  else
    p.state_dir = home() / ".local/state/workmonitor";

  if (socket)
    p.socket = *socket;
  else if (auto e = env("WORKMONITOR_SOCKET"))
    p.socket = *e;
  else if (auto r = env("XDG_RUNTIME_DIR"))
    p.socket = *r / "workmonitor/agent.sock";
  else
    p.socket = p.state_dir / "agent.sock";

  if (config)
    p.config = *config;
  else if (auto e = env("WORKMONITOR_CONFIG"))
    p.config = *e;
  else if (auto x = env("XDG_CONFIG_HOME"))
    p.config = *x / "workmonitor/agent.json";
  else
    p.config = home() / ".config/workmonitor/agent.json";
  return p;
}

Result<void> ensurePrivateDir(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return fail(Errc::kIo, "cannot create " + dir.string() + ": " + ec.message());
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0)
    return fail(Errc::kIo, "cannot stat " + dir.string() + ": " + std::strerror(errno));
  if (!S_ISDIR(st.st_mode)) return fail(Errc::kIo, dir.string() + " is not a directory");
  if (st.st_uid != ::geteuid())
    return fail(Errc::kIo, dir.string() + " belongs to another user; choose another directory with --state-dir");
  if ((st.st_mode & 0077) != 0 && ::chmod(dir.c_str(), 0700) != 0)
    return fail(Errc::kIo, "cannot make " + dir.string() + " private: " + std::strerror(errno));
  return {};
}

Result<InstanceLock> InstanceLock::acquire(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return fail(Errc::kIo, "cannot open lock file " + path.string() + ": " + std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    char buf[32] = {};
    const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
    ::close(fd);
    std::string holder = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "unknown";
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
    return fail(Errc::kBusy, "another workmonitor-agent is already running for this user (pid " + holder + ")");
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
    // The lock itself holds; the pid is only a courtesy for the message above.
  }
  return InstanceLock(fd);
}

InstanceLock::InstanceLock(InstanceLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }

InstanceLock::~InstanceLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace wm::agent
