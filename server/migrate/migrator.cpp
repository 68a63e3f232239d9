#include "workmonitor/server/migrate/migrator.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <thread>

namespace wm::server::migrate {
namespace {

// Same DDL as migration 01 writes, so `migrate` can record migration 01 itself.
constexpr const char* kBootstrapSql = R"sql(
set client_min_messages = warning;
create schema if not exists meta;
create table if not exists meta.schema_migrations (
  version text primary key,
  name text not null,
  checksum text not null,
  applied_at timestamptz not null default now(),
  applied_by text not null default current_user,
  execution_ms integer not null default 0
);
alter table meta.schema_migrations enable row level security;
alter table meta.schema_migrations force row level security;
reset client_min_messages;
)sql";

struct Recorded {
  std::string name;
  std::string checksum;
  std::string applied_at;
};

Result<std::map<std::string, Recorded>> recorded(db::Connection& conn) {
  auto exists = conn.query("select to_regclass('meta.schema_migrations') is not null");
  if (!exists) return std::unexpected(exists.error());
  std::map<std::string, Recorded> out;
  if (exists->value(0, 0) != "t") return out;
  auto rows = conn.query(
      "select version, name, checksum, to_char(applied_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS') "
      "from meta.schema_migrations order by version");
  if (!rows) return std::unexpected(rows.error());
  for (int i = 0; i < rows->rows(); ++i) {
    out[std::string(rows->value(i, 0))] = {std::string(rows->value(i, 1)), std::string(rows->value(i, 2)),
                                           std::string(rows->value(i, 3))};
  }
  return out;
}

// Holds the session advisory lock and releases it on every way out.
class LockGuard {
 public:
  explicit LockGuard(db::Connection& conn) : conn_(conn) {}
  ~LockGuard() {
    if (held_) (void)conn_.query("select pg_advisory_unlock($1)", {std::to_string(kMigrationLockKey)});
  }
  Result<void> acquire(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    bool told = false;
    for (;;) {
      auto r = conn_.query("select pg_try_advisory_lock($1)", {std::to_string(kMigrationLockKey)});
      if (!r) return std::unexpected(r.error());
      if (r->value(0, 0) == "t") {
        held_ = true;
        return {};
      }
      if (std::chrono::steady_clock::now() >= deadline) {
        return fail(Errc::kBusy, "another migration run holds the migration lock; try again when it has finished");
      }
      if (!told) spdlog::info("waiting for another migration run to finish");
      told = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }

 private:
  db::Connection& conn_;
  bool held_ = false;
};

}  // namespace

const char* stateName(MigrationState state) {
  switch (state) {
    case MigrationState::kApplied:
      return "applied";
    case MigrationState::kPending:
      return "pending";
    case MigrationState::kChanged:
      return "CHANGED";
    case MigrationState::kMissingFile:
      return "missing-file";
  }
  return "?";
}

Result<std::vector<MigrationFile>> loadMigrations(const std::filesystem::path& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    return fail(Errc::kNotFound, "migrations directory " + dir.string() + " not found (pass --dir)");
  }
  static const std::regex kName(R"(^([0-9]{14})_([a-z0-9_]+)\.sql$)");
  std::vector<MigrationFile> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string base = entry.path().filename().string();
    std::smatch m;
    if (!entry.is_regular_file() || !std::regex_match(base, m, kName)) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    if (!in && !in.eof()) return fail(Errc::kIo, "cannot read " + entry.path().string());
    files.push_back({m[1].str(), m[2].str(), entry.path(), text.str()});
  }
  if (ec) return fail(Errc::kIo, "cannot list " + dir.string() + ": " + ec.message());
  std::sort(files.begin(), files.end(), [](const auto& a, const auto& b) { return a.version < b.version; });
  for (size_t i = 1; i < files.size(); ++i) {
    if (files[i].version == files[i - 1].version) {
      return fail(Errc::kInvalidInput, "two migrations share version " + files[i].version);
    }
  }
  return files;
}

Result<std::string> Migrator::checksum(const MigrationFile& file) {
  // PostgreSQL's sha256() keeps the runner free of a crypto dependency; the text is passed as UTF-8.
  auto r = conn_.query("select encode(sha256(convert_to($1, 'UTF8')), 'hex')", {file.sql});
  if (!r) return std::unexpected(r.error());
  return std::string(r->value(0, 0));
}

Result<void> Migrator::bootstrap() {
  auto r = conn_.exec(kBootstrapSql);
  if (!r) return std::unexpected(r.error());
  return {};
}

Result<std::vector<StatusLine>> Migrator::status() {
  auto rec = recorded(conn_);
  if (!rec) return std::unexpected(rec.error());
  std::map<std::string, StatusLine> lines;
  for (const auto& f : files_) {
    StatusLine line{f.version, f.name, MigrationState::kPending, ""};
    if (auto it = rec->find(f.version); it != rec->end()) {
      auto sum = checksum(f);
      if (!sum) return std::unexpected(sum.error());
      line.state = *sum == it->second.checksum ? MigrationState::kApplied : MigrationState::kChanged;
      line.applied_at = it->second.applied_at;
    }
    lines[f.version] = line;
  }
  for (const auto& [version, r] : *rec) {
    if (!lines.contains(version)) lines[version] = {version, r.name, MigrationState::kMissingFile, r.applied_at};
  }
  std::vector<StatusLine> out;
  for (auto& [_, line] : lines) out.push_back(std::move(line));
  return out;
}

Result<std::vector<std::string>> Migrator::apply(const ApplyOptions& options) {
  LockGuard lock(conn_);
  if (auto r = lock.acquire(options.lock_timeout); !r) return std::unexpected(r.error());
  if (auto r = bootstrap(); !r) return std::unexpected(r.error());

  auto lines = status();
  if (!lines) return std::unexpected(lines.error());
  std::string changed;
  for (const auto& l : *lines) {
    if (l.state == MigrationState::kChanged) changed += " " + l.version + "_" + l.name;
    if (l.state == MigrationState::kMissingFile) {
      spdlog::warn("migration {}_{} is recorded as applied but its file is gone", l.version, l.name);
    }
  }
  if (!changed.empty()) {
    return fail(Errc::kCorrupt, "refusing to migrate: applied migration(s) changed since they ran:" + changed +
                                    ". Restore the original file(s) and put the change in a new migration.");
  }

  std::vector<std::string> applied;
  for (const auto& f : files_) {
    const auto it = std::find_if(lines->begin(), lines->end(), [&](const auto& l) { return l.version == f.version; });
    if (it == lines->end() || it->state != MigrationState::kPending) continue;
    auto sum = checksum(f);
    if (!sum) return std::unexpected(sum.error());
    const auto started = std::chrono::steady_clock::now();
    auto tx = conn_.begin();
    if (!tx) return std::unexpected(tx.error());
    if (auto r = conn_.exec(f.sql); !r) {
      return fail(Errc::kIo,
                  "migration " + f.version + "_" + f.name + " failed and was rolled back: " + r.error().message);
    }
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
    auto rec = conn_.query(
        "insert into meta.schema_migrations (version, name, checksum, execution_ms) values ($1, $2, $3, $4)",
        {f.version, f.name, *sum, std::to_string(ms)});
    if (!rec) return std::unexpected(rec.error());
    if (auto r = tx->commit(); !r) return std::unexpected(r.error());
    spdlog::info("applied {}_{} ({} ms)", f.version, f.name, ms);
    applied.push_back(f.version);
  }
  return applied;
}

}  // namespace wm::server::migrate
