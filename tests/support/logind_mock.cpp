#include "logind_mock.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>

extern char** environ;

namespace wm::test {
namespace {

constexpr const char* kLogind = "org.freedesktop.login1";
constexpr const char* kManagerPath = "/org/freedesktop/login1";
constexpr const char* kManagerIface = "org.freedesktop.login1.Manager";
constexpr const char* kSessionIface = "org.freedesktop.login1.Session";
constexpr const char* kMockIface = "org.freedesktop.DBus.Mock";

// Starts argv with extra environment entries; stdout to out_fd (or the log file), stderr to the log file.
pid_t spawn(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env, int out_fd,
            const std::string& log) {
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
  for (const auto& x : extra_env) env_strings.push_back(x);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = argv;
  std::vector<char*> cargv;
  for (auto& a : args) cargv.push_back(a.data());
  cargv.push_back(nullptr);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  if (out_fd >= 0)
    posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
  else
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  posix_spawn_file_actions_addopen(&fa, 2, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, cargv[0], &fa, nullptr, cargv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  return rc == 0 ? pid : -1;
}

void killAndReap(pid_t pid) {
  if (pid <= 0) return;
  ::kill(pid, SIGTERM);
  for (int i = 0; i < 100; ++i) {
    if (::waitpid(pid, nullptr, WNOHANG) == pid) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
}

std::string errorText(int r, const sd_bus_error& e) {
  if (sd_bus_error_is_set(&e)) return std::string(e.name) + ": " + (e.message != nullptr ? e.message : "");
  return std::strerror(-r);
}

}  // namespace

Result<std::unique_ptr<LogindMock>> LogindMock::start(Options options) {
  std::unique_ptr<LogindMock> m(new LogindMock());
  char tmpl[] = "/tmp/wm-logind-mock-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) return fail(Errc::kIo, "cannot make a temp dir for the logind mock");
  m->log_dir_ = tmpl;
  const std::string log = m->log_dir_ + "/mock.log";

  // The bus: a private dbus-daemon that prints its address on stdout.
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return fail(Errc::kIo, "pipe failed");
  m->bus_pid_ = spawn({"dbus-daemon", "--session", "--nofork", "--nopidfile", "--print-address=1"}, {}, pipefd[1], log);
  ::close(pipefd[1]);
  if (m->bus_pid_ < 0) {
    ::close(pipefd[0]);
    return fail(Errc::kUnavailable, "cannot run dbus-daemon (install dbus)");
  }
  std::string line;
  const auto deadline = std::chrono::steady_clock::now() + options.ready_timeout;
  while (line.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    pollfd p{pipefd[0], POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    char buf[512];
    const ssize_t n = ::read(pipefd[0], buf, sizeof buf);
    if (n <= 0) break;
    line.append(buf, static_cast<size_t>(n));
  }
  ::close(pipefd[0]);
  if (line.find('\n') == std::string::npos) return fail(Errc::kUnavailable, "dbus-daemon printed no address");
  m->address_ = line.substr(0, line.find('\n'));

  int r = sd_bus_new(&m->bus_);
  if (r >= 0) r = sd_bus_set_address(m->bus_, m->address_.c_str());
  if (r >= 0) r = sd_bus_set_bus_client(m->bus_, 1);
  if (r >= 0) r = sd_bus_start(m->bus_);
  if (r < 0) return fail(Errc::kUnavailable, "cannot connect to the private bus: " + std::string(std::strerror(-r)));

  if (const char* old = std::getenv("DBUS_SYSTEM_BUS_ADDRESS")) m->old_address_ = old;
  ::setenv("DBUS_SYSTEM_BUS_ADDRESS", m->address_.c_str(), 1);
  if (!options.logind) return m;

  m->mock_pid_ = spawn({"/usr/bin/python3", "-m", "dbusmock", "--session", "--template", "logind"},
                       {"DBUS_SESSION_BUS_ADDRESS=" + m->address_}, -1, log);
  if (m->mock_pid_ < 0) return fail(Errc::kUnavailable, "cannot run /usr/bin/python3 -m dbusmock");
  while (std::chrono::steady_clock::now() < deadline) {
    sd_bus_error err = SD_BUS_ERROR_NULL;
    sd_bus_message* reply = nullptr;
    int has = 0;
    r = sd_bus_call_method(m->bus_, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                           "NameHasOwner", &err, &reply, "s", kLogind);
    if (r >= 0) sd_bus_message_read(reply, "b", &has);
    sd_bus_message_unref(reply);
    sd_bus_error_free(&err);
    if (has) return m;
    if (::waitpid(m->mock_pid_, nullptr, WNOHANG) == m->mock_pid_) {
      m->mock_pid_ = -1;
      return fail(Errc::kUnavailable, "dbusmock's logind template exited (install python3-dbusmock); see " + log);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return fail(Errc::kUnavailable, "dbusmock's logind did not appear on the bus in time; see " + log);
}

LogindMock::~LogindMock() {
  if (bus_ != nullptr) sd_bus_flush_close_unref(bus_);
  killAndReap(mock_pid_);
  killAndReap(bus_pid_);
  if (old_address_)
    ::setenv("DBUS_SYSTEM_BUS_ADDRESS", old_address_->c_str(), 1);
  else
    ::unsetenv("DBUS_SYSTEM_BUS_ADDRESS");
  std::error_code ec;
  std::filesystem::remove_all(log_dir_, ec);
}

Result<void> LogindMock::call(const char* path, const char* iface, const char* method, const char* types, ...) {
  std::lock_guard lock(mu_);
  sd_bus_error err = SD_BUS_ERROR_NULL;
  sd_bus_message* reply = nullptr;
  va_list ap;
  va_start(ap, types);
  const int r = sd_bus_call_methodv(bus_, kLogind, path, iface, method, &err, &reply, types, ap);
  va_end(ap);
  std::string text = r < 0 ? errorText(r, err) : "";
  sd_bus_message_unref(reply);
  sd_bus_error_free(&err);
  if (r < 0) return fail(Errc::kIo, std::string(method) + " failed: " + text);
  return {};
}

Result<std::string> LogindMock::addSession(const std::string& id, uint32_t uid, const std::string& user, bool active) {
  if (auto ok = call(kManagerPath, kMockIface, "AddSession", "ssusb", id.c_str(), "seat0", uid, user.c_str(),
                     static_cast<int>(active));
      !ok)
    return std::unexpected(ok.error());
  return "/org/freedesktop/login1/session/" + id;
}

Result<void> LogindMock::addGetSessionByPid(const std::string& session_path) {
  const std::string code = "ret = '" + session_path + "'";
  return call(kManagerPath, kMockIface, "AddMethod", "sssss", kManagerIface, "GetSessionByPID", "u", "o", code.c_str());
}

Result<void> LogindMock::setUserDisplay(uint32_t uid, const std::string& session_id, const std::string& session_path) {
  const std::string user_path = "/org/freedesktop/login1/user/" + std::to_string(uid);
  // The template's GetUser concatenates its uint32 argument to a string and fails: replace it.
  if (auto ok = call(kManagerPath, kMockIface, "AddMethod", "sssss", kManagerIface, "GetUser", "u", "o",
                     "ret = '/org/freedesktop/login1/user/%d' % args[0]");
      !ok)
    return ok;
  // Properties.Set, not the mock's UpdateProperties: dbusmock cannot wrap a struct value into its signal.
  return call(user_path.c_str(), "org.freedesktop.DBus.Properties", "Set", "ssv", "org.freedesktop.login1.User",
              "Display", "(so)", session_id.c_str(), session_path.c_str());
}

Result<void> LogindMock::prepareForSleep(bool start) {
  return call(kManagerPath, kMockIface, "EmitSignal", "sssav", kManagerIface, "PrepareForSleep", "b", 1, "b",
              static_cast<int>(start));
}

Result<void> LogindMock::lock(const std::string& session_path) {
  return call(session_path.c_str(), kSessionIface, "Lock", "");
}

Result<void> LogindMock::unlock(const std::string& session_path) {
  return call(session_path.c_str(), kSessionIface, "Unlock", "");
}

Result<void> LogindMock::setLockedHint(const std::string& session_path, bool locked) {
  return call(session_path.c_str(), kSessionIface, "SetLockedHint", "b", static_cast<int>(locked));
}

Result<std::vector<Inhibitor>> LogindMock::inhibitors() {
  std::lock_guard lock(mu_);
  sd_bus_error err = SD_BUS_ERROR_NULL;
  sd_bus_message* reply = nullptr;
  int r = sd_bus_call_method(bus_, kLogind, kManagerPath, kManagerIface, "ListInhibitors", &err, &reply, "");
  std::vector<Inhibitor> out;
  std::string text = r < 0 ? errorText(r, err) : "";
  if (r >= 0) r = sd_bus_message_enter_container(reply, 'a', "(ssssuu)");
  while (r > 0) {
    const char *what = nullptr, *who = nullptr, *why = nullptr, *mode = nullptr;
    uint32_t uid = 0, pid = 0;
    r = sd_bus_message_read(reply, "(ssssuu)", &what, &who, &why, &mode, &uid, &pid);
    if (r > 0) out.push_back({what, who, why, mode});
  }
  if (r < 0 && text.empty()) text = std::strerror(-r);
  sd_bus_message_unref(reply);
  sd_bus_error_free(&err);
  if (r < 0) return fail(Errc::kIo, "ListInhibitors failed: " + text);
  return out;
}

void LogindMock::killLogind() {
  killAndReap(mock_pid_);
  mock_pid_ = -1;
}

void LogindMock::killBus() {
  killAndReap(bus_pid_);
  bus_pid_ = -1;
}

}  // namespace wm::test
