// workmonitor-server: the self-hosted backend's command line. `migrate` and `verify-schema` today; the HTTP
// `serve` command joins them as another subcommand over the same wm_server_db library.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "workmonitor/server/db/connection.h"
#include "workmonitor/server/migrate/migrator.h"
#include "workmonitor/server/migrate/schema_check.h"

namespace {

using wm::server::db::Connection;
namespace migrate = wm::server::migrate;

std::string envOr(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : fallback;
}

int report(const wm::Error& e) {
  spdlog::error("{}", e.message);
  return e.code == wm::Errc::kBusy ? 3 : 1;
}

int runMigrate(const std::string& db, const std::string& dir, bool status_only, double lock_timeout_s) {
  auto files = migrate::loadMigrations(dir);
  if (!files) return report(files.error());
  auto conn = Connection::open(db);
  if (!conn) return report(conn.error());
  migrate::Migrator migrator(*conn, std::move(*files));
  if (status_only) {
    auto lines = migrator.status();
    if (!lines) return report(lines.error());
    int pending = 0;
    bool changed = false;
    for (const auto& l : *lines) {
      std::printf("%-8s %s_%s%s%s\n", migrate::stateName(l.state), l.version.c_str(), l.name.c_str(),
                  l.applied_at.empty() ? "" : "  at ", l.applied_at.c_str());
      pending += l.state == migrate::MigrationState::kPending;
      changed |= l.state == migrate::MigrationState::kChanged;
    }
    std::printf("%zu migrations, %d pending%s\n", lines->size(), pending, changed ? ", some CHANGED" : "");
    return changed ? 1 : 0;
  }
  migrate::ApplyOptions options;
  options.lock_timeout = std::chrono::milliseconds(static_cast<long long>(lock_timeout_s * 1000));
  auto applied = migrator.apply(options);
  if (!applied) return report(applied.error());
  std::printf("applied %zu migration(s)\n", applied->size());
  return 0;
}

int runVerify(const std::string& db) {
  auto conn = Connection::open(db);
  if (!conn) return report(conn.error());
  auto checks = migrate::checkSchema(*conn);
  if (!checks) return report(checks.error());
  std::fputs(migrate::formatChecks(*checks).c_str(), stdout);
  for (const auto& c : *checks) {
    if (!c.ok) return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_default_logger(spdlog::stderr_color_mt("server"));
  spdlog::set_pattern("%^%l%$ %v");

  CLI::App app{"WorkMonitor self-hosted server"};
  app.require_subcommand(1);
  app.fallthrough();  // --db may come before or after the subcommand
  std::string db = envOr("WM_DATABASE_URL", "");
  app.add_option("--db", db, "libpq connection string or URI (default: $WM_DATABASE_URL, then PG* variables)");

  auto* mig = app.add_subcommand("migrate", "Apply pending migrations (each in its own transaction)");
  std::string dir = envOr("WM_MIGRATIONS_DIR", "migrations");
  bool status = false;
  double lock_timeout = 60;
  mig->add_option("--dir", dir, "Directory with the migration files (default: $WM_MIGRATIONS_DIR or ./migrations)");
  mig->add_flag("--status", status, "List applied and pending migrations; apply nothing");
  mig->add_option("--lock-timeout", lock_timeout, "Seconds to wait for another running migration (default 60)");

  auto* verify =
      app.add_subcommand("verify-schema", "Compare the schema with the report's checks (exit 1 on a difference)");

  CLI11_PARSE(app, argc, argv);
  if (mig->parsed()) return runMigrate(db, dir, status, lock_timeout);
  if (verify->parsed()) return runVerify(db);
  return 2;
}
