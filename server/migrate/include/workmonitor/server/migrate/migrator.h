// Applies the SQL migrations in migrations/ in order, each in its own transaction, under an advisory lock,
// and records version and checksum in meta.schema_migrations.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "workmonitor/common/result.h"
#include "workmonitor/server/db/connection.h"

namespace wm::server::migrate {

/// One file named <14-digit version>_<name>.sql.
struct MigrationFile {
  std::string version;
  std::string name;
  std::filesystem::path path;
  std::string sql;
};

/// Reads every <version>_<name>.sql of a directory, sorted by version. Rejects duplicate versions.
[[nodiscard]] Result<std::vector<MigrationFile>> loadMigrations(const std::filesystem::path& dir);

enum class MigrationState {
  kApplied,      // recorded, and the file still has the recorded checksum
  kPending,      // file present, not recorded
  kChanged,      // recorded, but the file's checksum differs: the runner refuses to run
  kMissingFile,  // recorded, no file any more
};
const char* stateName(MigrationState state);

struct StatusLine {
  std::string version;
  std::string name;
  MigrationState state = MigrationState::kPending;
  std::string applied_at;  // empty unless recorded
};

struct ApplyOptions {
  /// How long to wait for another runner's advisory lock before giving up.
  std::chrono::milliseconds lock_timeout{std::chrono::seconds(60)};
};

/// Key of the session advisory lock every runner takes ("WMMIGRAT").
inline constexpr long long kMigrationLockKey = 0x574D4D4947524154LL;

class Migrator {
 public:
  Migrator(db::Connection& conn, std::vector<MigrationFile> files) : conn_(conn), files_(std::move(files)) {}

  /// Every file and every recorded version, in version order.
  [[nodiscard]] Result<std::vector<StatusLine>> status();
  /// Applies the pending files; returns the versions applied. Refuses (kCorrupt) before applying anything
  /// when an applied file changed, and (kBusy) when another runner holds the lock past the timeout.
  [[nodiscard]] Result<std::vector<std::string>> apply(const ApplyOptions& options = {});

 private:
  Result<void> bootstrap();
  Result<std::string> checksum(const MigrationFile& file);

  db::Connection& conn_;
  std::vector<MigrationFile> files_;
};

}  // namespace wm::server::migrate
