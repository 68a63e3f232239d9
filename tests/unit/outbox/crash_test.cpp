// Crash safety: a writer process is SIGKILLed at random moments, 200 times over the same database. Every
// record it acknowledged (printed after its commit) must then be there, at that revision or a newer one,
// no id may appear twice, the file must pass integrity_check, and no run may have found it damaged.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "outbox_test_util.h"

namespace wm::sync {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using testing::rawQuery;
using testing::TempDir;

struct RunResult {
  bool killed = false;
  std::string output;
};

// Starts the writer, lets it run for `life`, SIGKILLs it and returns everything it printed.
RunResult runAndKill(const fs::path& db, uint64_t seed, std::chrono::microseconds life) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return {};
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], 1);
    const std::string seed_s = std::to_string(seed);
    ::execl(WM_CRASH_WRITER, WM_CRASH_WRITER, db.c_str(), seed_s.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(fds[1]);
  RunResult res;
  const auto kill_at = std::chrono::steady_clock::now() + life;
  bool sent = false;
  char buf[65536];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(kill_at - std::chrono::steady_clock::now());
    if (!sent && left.count() <= 0) {
      ::kill(pid, SIGKILL);
      sent = true;
    }
    pollfd p{fds[0], POLLIN, 0};
    ::poll(&p, 1, sent ? 1000 : static_cast<int>(std::max<int64_t>(left.count(), 0)) + 1);
    if (p.revents & (POLLIN | POLLHUP)) {
      const ssize_t n = ::read(fds[0], buf, sizeof buf);
      if (n > 0) {
        res.output.append(buf, static_cast<size_t>(n));
      } else if (n == 0) {
        break;  // the writer is gone and everything it wrote has been read
      }
    }
  }
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  res.killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
  return res;
}

TEST(OutboxCrash, EveryAcknowledgedRecordSurvivesSigkill) {
  const int runs = std::getenv("WM_CRASH_RUNS") ? std::atoi(std::getenv("WM_CRASH_RUNS")) : 200;
  const uint64_t seed =
      std::getenv("WM_CRASH_SEED") ? std::strtoull(std::getenv("WM_CRASH_SEED"), nullptr, 10) : std::random_device{}();
  std::cout << "seed " << seed << " (WM_CRASH_SEED to repeat)\n";
  std::mt19937_64 rng(seed);
  TempDir dir;
  const fs::path db = dir.path() / "outbox.db";

  std::map<std::string, int64_t> acked;  // id -> highest acknowledged revision
  int kills = 0, updates = 0;
  std::vector<std::string> incidents;
  const auto start = std::chrono::steady_clock::now();
  for (int run = 0; run < runs; ++run) {
    // From "before the database is even open" to "well into steady writing".
    const auto life = std::chrono::microseconds(std::uniform_int_distribution<int>(0, 120'000)(rng));
    const RunResult r = runAndKill(db, rng(), life);
    ASSERT_TRUE(r.killed) << "run " << run << " ended on its own: " << r.output.substr(0, 500);
    ++kills;
    std::istringstream lines(r.output);
    std::string line;
    while (std::getline(lines, line)) {
      if (lines.eof()) break;  // an unfinished last line is not an acknowledgement
      if (line.rfind("INCIDENT", 0) == 0) {
        incidents.push_back(line);
        continue;
      }
      std::istringstream f(line);
      std::string tag, id;
      int64_t rev = 0;
      ASSERT_TRUE(f >> tag >> id >> rev && tag == "A") << line;
      auto [it, fresh] = acked.emplace(id, rev);
      if (!fresh) {
        ++updates;
        it->second = std::max(it->second, rev);
      } else if (rev > 1) {
        ++updates;
      }
    }
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << kills << " kills in " << secs << " s; " << acked.size() << " acknowledged records, " << updates
            << " acknowledged updates\n";
  EXPECT_TRUE(incidents.empty()) << "a killed writer must never leave a damaged database: " << incidents.front();
  ASSERT_GT(acked.size(), 1000u) << "too few acknowledgements for the test to mean anything";

  // Verify with a connection of the test's own (no writer is alive any more).
  EXPECT_EQ(rawQuery(db, "PRAGMA integrity_check"), "ok");
  EXPECT_EQ(rawQuery(db, "SELECT count(*) - count(DISTINCT id) FROM records NOT INDEXED"), "0");
  const std::string rows = rawQuery(db, "SELECT id || ' ' || revision FROM records NOT INDEXED");
  std::map<std::string, int64_t> stored;
  std::istringstream in(rows);
  std::string id;
  int64_t rev;
  while (in >> id >> rev) stored[id] = rev;
  size_t missing = 0, stale = 0;
  for (const auto& [aid, arev] : acked) {
    auto it = stored.find(aid);
    if (it == stored.end()) {
      ++missing;
    } else if (it->second < arev) {
      ++stale;
    }
  }
  EXPECT_EQ(missing, 0u) << "acknowledged records lost";
  EXPECT_EQ(stale, 0u) << "acknowledged revisions lost";
  std::cout << stored.size() << " records stored in all\n";
}

// While a writer process has the database open, no other process may open it, nor mistake its files for
// damage (a -wal that looks garbled from outside is in use, not corrupt).
TEST(OutboxCrash, ASecondProcessIsRefusedAndTouchesNothing) {
  TempDir dir;
  const fs::path db = dir.path() / "outbox.db";
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], 1);
    ::execl(WM_CRASH_WRITER, WM_CRASH_WRITER, db.c_str(), "1", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(fds[1]);
  char c = 0;
  ASSERT_EQ(::read(fds[0], &c, 1), 1) << "the writer acknowledged nothing";  // it is open and committing

  ManualClock clock;
  OutboxOptions o;
  o.path = db;
  auto second = Outbox::open(o, clock);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, Errc::kBusy) << second.error().message;
  {
    std::fstream wal(db.string() + "-wal", std::ios::in | std::ios::out | std::ios::binary);
    wal.write("garbage!", 8);
  }
  second = Outbox::open(o, clock);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, Errc::kBusy) << second.error().message;
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  ::close(fds[0]);
  for (const auto& e : fs::directory_iterator(dir.path())) {
    EXPECT_EQ(e.path().filename().string().find(".corrupt-"), std::string::npos) << e.path();
  }
}

}  // namespace
}  // namespace wm::sync
