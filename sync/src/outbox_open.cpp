// Opening the outbox: checks that the files are sound, moves a damaged database aside (with its -wal/-shm,
// under a timestamped name, keeping the last few for forensics) and starts a fresh one, so the agent never
// crash-loops on its own storage. Only a database that cannot be created at all is an error.
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <fstream>
#include <mutex>
#include <set>

#include "outbox_sqlite.h"

namespace wm::sync {
namespace fs = std::filesystem;
using detail::Db;

namespace {

// Moved-aside databases kept beside the live one; older ones are deleted so repeated damage cannot fill
// the disk.
constexpr size_t kKeepAside = 3;
constexpr std::array<const char*, 3> kSuffixes{"", "-wal", "-shm"};
constexpr int64_t kJournalSizeLimit = 32LL * 1024 * 1024;

uint32_t be32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}
uint32_t le32(const unsigned char* p) {
  return (uint32_t{p[3]} << 24) | (uint32_t{p[2]} << 16) | (uint32_t{p[1]} << 8) | uint32_t{p[0]};
}

// SQLite silently throws away a -wal whose header it did not write (https://www.sqlite.org/fileformat2.html,
// "WAL File Format"), so damage there would go unnoticed; this checks the header the way SQLite does and
// says what is wrong, or nothing for a missing, empty or sound -wal.
std::optional<std::string> walDamage(const fs::path& wal) {
  std::error_code ec;
  const auto size = fs::file_size(wal, ec);
  if (ec || size == 0) return std::nullopt;
  if (size < 32) return "the -wal file is shorter than a WAL header";
  std::array<unsigned char, 32> h{};
  std::ifstream in(wal, std::ios::binary);
  if (!in.read(reinterpret_cast<char*>(h.data()), h.size())) return "the -wal file cannot be read";
  const uint32_t magic = be32(h.data());
  if (magic != 0x377f0682 && magic != 0x377f0683) return "the -wal file is not a SQLite WAL";
  if (be32(h.data() + 4) != 3007000) return "the -wal file has an unknown WAL format version";
  const bool big_endian = magic & 1;
  uint32_t s0 = 0, s1 = 0;
  for (size_t i = 0; i < 24; i += 8) {
    const uint32_t x0 = big_endian ? be32(h.data() + i) : le32(h.data() + i);
    const uint32_t x1 = big_endian ? be32(h.data() + i + 4) : le32(h.data() + i + 4);
    s0 += x0 + s1;
    s1 += x1 + s0;
  }
  if (s0 != be32(h.data() + 24) || s1 != be32(h.data() + 28)) return "the -wal header checksum is wrong";
  return std::nullopt;
}

// Whether another process holds a lock on the database file: every SQLite connection in WAL mode keeps one
// (ours an exclusive one) on the lock-byte region at 1 GiB. Called only before this process opens the file,
// because closing any descriptor of a file drops the process's own POSIX locks on it.
bool heldByAnotherProcess(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = 0x40000000;  // SQLite's PENDING_BYTE; RESERVED and the SHARED range follow it
  fl.l_len = 512;
  const bool held = ::fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
  ::close(fd);
  return held;
}

std::string stamp(const Clock& clock) {
  std::string s = formatUtc(clock.wall());
  std::erase_if(s, [](char c) { return c == '-' || c == ':' || c == '.'; });
  return s;
}

// Renames path{,-wal,-shm} (those that exist; the main file only when with_db) to <path>.corrupt-<stamp>{...}.
Result<fs::path> moveAside(const fs::path& path, const Clock& clock, bool with_db) {
  const std::string base = path.string() + ".corrupt-" + stamp(clock);
  fs::path target = base;
  std::error_code ec;
  for (int n = 1; fs::exists(target, ec) || fs::exists(target.string() + "-wal", ec); ++n) {
    target = base + "-" + std::to_string(n);
  }
  for (const char* suffix : kSuffixes) {
    if (!with_db && std::strlen(suffix) == 0) continue;
    const fs::path from = path.string() + suffix;
    if (!fs::exists(from, ec)) continue;
    fs::rename(from, target.string() + suffix, ec);
    if (ec) {
      return fail(Errc::kIo, "cannot move the damaged database " + from.string() + " aside: " + ec.message() +
                                 ". Move or delete it by hand.");
    }
  }
  return target;
}

// Deletes all but the newest kKeepAside moved-aside sets of `path`.
void pruneAside(const fs::path& path) {
  std::error_code ec;
  const std::string prefix = path.filename().string() + ".corrupt-";
  std::set<std::string> bases;
  for (const auto& e : fs::directory_iterator(path.parent_path().empty() ? "." : path.parent_path(), ec)) {
    std::string name = e.path().filename().string();
    if (name.rfind(prefix, 0) != 0) continue;
    for (const char* suffix : {"-wal", "-shm"}) {
      if (name.size() > 4 && name.ends_with(suffix)) name.resize(name.size() - 4);
    }
    bases.insert(name);
  }
  // Names carry a UTC stamp, so lexical order is age order.
  while (bases.size() > kKeepAside) {
    const fs::path old = path.parent_path() / *bases.begin();
    for (const char* suffix : kSuffixes) fs::remove(old.string() + suffix, ec);
    bases.erase(bases.begin());
  }
}

// Opens, switches to WAL, checks and migrates. Errc::kCorrupt means the file is damaged (move it aside);
// anything else means it could not be opened at all.
Result<Db> openChecked(const fs::path& path) {
  auto db = Db::open(path.string());
  if (!db) return db;
  // One connection, enforced: in exclusive locking mode the connection locks the file for as long as it is
  // open, so no second connection (another process, a stray tool) can run into the WAL-reset bug with it,
  // and WAL needs no shared-memory -shm file.
  if (auto r = db->exec("PRAGMA locking_mode = EXCLUSIVE"); !r) return std::unexpected(r.error());
  // Only takes effect on a new, empty file; it lets the size bound give space back (PRAGMA incremental_vacuum).
  if (auto r = db->exec("PRAGMA auto_vacuum = INCREMENTAL"); !r) return std::unexpected(r.error());
  auto mode = db->prepare("PRAGMA journal_mode = WAL");
  if (!mode) return std::unexpected(mode.error());
  const int rc = mode->step();
  if (rc != SQLITE_ROW) {
    return fail(detail::errcOf(rc), "cannot use WAL: " + db->lastError());
  }
  if (mode->text(0) != "wal") return fail(Errc::kIo, "the database refused WAL mode");
  mode = detail::Stmt();

  auto check = db->prepare("PRAGMA quick_check(5)");
  if (!check) return std::unexpected(check.error());
  std::string problems;
  int crc;
  while ((crc = check->step()) == SQLITE_ROW) {
    if (check->text(0) != "ok") problems += (problems.empty() ? "" : "; ") + std::string(check->text(0));
  }
  if (crc != SQLITE_DONE) {
    return fail(detail::errcOf(crc), "quick_check failed: " + db->lastError());
  }
  if (!problems.empty()) return fail(Errc::kCorrupt, "quick_check: " + problems);
  check = detail::Stmt();

  if (auto r = detail::migrate(*db); !r) return std::unexpected(r.error());
  // FULL: in WAL mode NORMAL survives a killed process but can lose the last commits on power loss; an
  // acknowledged record must survive both, and group commit makes the extra fsync cheap.
  // secure_delete: what a rewritten or deleted record held (a title withheld afterwards, a record uploaded
  // and dropped) is zeroed, not left in the file's free space. Debian builds SQLite with it on by default;
  // other builds (the Windows and macOS agents') may not, so it is said here.
  const std::string pragmas =
      "PRAGMA synchronous = FULL; PRAGMA foreign_keys = OFF; PRAGMA secure_delete = ON; PRAGMA journal_size_limit = " +
      std::to_string(kJournalSizeLimit) + ";";
  if (auto r = db->exec(pragmas.c_str()); !r) return std::unexpected(r.error());
  return db;
}

}  // namespace

namespace detail {

namespace {
std::mutex g_claims_mu;
std::set<std::string> g_claims;
}  // namespace

PathClaim PathClaim::take(const std::string& key) {
  std::lock_guard lk(g_claims_mu);
  PathClaim c;
  if (g_claims.insert(key).second) c.key_ = key;
  return c;
}

PathClaim& PathClaim::operator=(PathClaim&& o) noexcept {
  if (this != &o) {
    release();
    key_ = std::exchange(o.key_, {});
  }
  return *this;
}

void PathClaim::release() {
  if (key_.empty()) return;
  std::lock_guard lk(g_claims_mu);
  g_claims.erase(key_);
  key_.clear();
}

std::shared_ptr<spdlog::logger> outboxLogger() {
  static const std::shared_ptr<spdlog::logger> logger = [] {
    if (auto existing = spdlog::get("outbox")) return existing;
    auto made = spdlog::default_logger()->clone("outbox");
    try {
      spdlog::register_logger(made);
    } catch (const spdlog::spdlog_ex&) {
      // Registered by someone else meanwhile: use theirs.
      if (auto existing = spdlog::get("outbox")) return existing;
    }
    return made;
  }();
  return logger;
}

}  // namespace detail

Result<std::vector<api::Record>> Outbox::pendingExcept(size_t max, const std::unordered_set<std::string>& exclude) {
  auto all = pending(max > SIZE_MAX - exclude.size() ? SIZE_MAX : max + exclude.size());
  if (!all) return all;
  std::vector<api::Record> out;
  for (auto& r : *all) {
    if (out.size() >= max) break;
    if (!exclude.contains(r.id)) out.push_back(std::move(r));
  }
  return out;
}

Result<std::unique_ptr<Outbox>> Outbox::open(const OutboxOptions& options, const Clock& clock) {
  try {
    const fs::path& path = options.path;
    if (path.empty() || path.filename().empty())
      return fail(Errc::kInvalidInput, "the outbox needs a database file path");
    std::error_code ec;
    if (!path.parent_path().empty()) fs::create_directories(path.parent_path(), ec);
    if (ec) {
      return fail(Errc::kIo, "cannot create the directory " + path.parent_path().string() +
                                 " for the outbox: " + ec.message() + ". Choose a writable state directory.");
    }
    auto log = detail::outboxLogger();
    const std::string key = fs::weakly_canonical(path).string();
    auto claim = detail::PathClaim::take(key);
    auto busy = [&] {
      return fail(Errc::kBusy, "the outbox database " + path.string() +
                                   " is already open (another agent running for this user?). Stop it first.");
    };
    if (!claim) return busy();
    std::vector<OutboxIncident> incidents;
    if (auto damage = walDamage(path.string() + "-wal")) {
      // A live writer elsewhere may be rewriting its -wal header right now: never touch a file in use.
      if (heldByAnotherProcess(path)) return busy();
      // The main file is consistent on its own (WAL mode never writes uncommitted pages there), so only the
      // unreadable -wal (and any -shm indexing it) is moved aside; the database stays in use.
      auto moved = moveAside(path, clock, false);
      if (!moved) return std::unexpected(moved.error());
      incidents.push_back({"corrupt_wal", *damage + "; moved aside to " + moved->string() + "-wal"});
      log->error("outbox: {}", incidents.back().detail);
    }
    for (int attempt = 0;; ++attempt) {
      Error failure;
      if (auto db = openChecked(path)) {
        auto outbox =
            std::make_unique<detail::SqliteOutbox>(options, clock, std::move(claim), std::move(*db), incidents);
        auto started = outbox->start();
        if (started) {
          pruneAside(path);
          return std::unique_ptr<Outbox>(std::move(outbox));
        }
        failure = started.error();
        outbox.reset();
        claim = detail::PathClaim::take(key);
        if (!claim) return busy();
      } else {
        failure = db.error();
      }
      if (failure.code == Errc::kBusy) return busy();
      if (failure.code != Errc::kCorrupt || attempt > 0) {
        return fail(Errc::kIo, "cannot open the outbox database " + path.string() + ": " + failure.message +
                                   ". Check that its directory is writable and the disk is not full.");
      }
      auto moved = moveAside(path, clock, true);
      if (!moved) return std::unexpected(moved.error());
      incidents.push_back({"corrupt_database", failure.message + "; moved aside to " + moved->string()});
      log->error("outbox database was damaged, starting a fresh one: {}", incidents.back().detail);
    }
  } catch (const std::exception& e) {
    return fail(Errc::kInternal, std::string("opening the outbox failed: ") + e.what());
  }
}

}  // namespace wm::sync
