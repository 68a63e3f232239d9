// workmonitor-server: the self-hosted backend's command line: `serve` (the HTTP API), `migrate`,
// `verify-schema` and `admin` (bootstrap companies, users, enrolment tokens), over the same wm_server_db library.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <tuple>

#include "admin.h"
#include "setup.h"
#include "workmonitor/server/db/connection.h"
#include "workmonitor/server/http/config.h"
#include "workmonitor/server/http/server.h"
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

/// serve's --rate-limit-* flags (ACCOUNT,ADDRESS/WINDOW_SECONDS); empty = the environment's or the default.
struct LimitFlags {
  std::string refresh, batches, screenshots, password_reset;
};

int runServe(const std::string& db, const std::string& listen, const std::string& shots, const std::string& dir,
             int threads, const std::string& signup, const LimitFlags& limits) {
  auto config = wm::server::http::configFromEnv([](const char* n) { return std::getenv(n); });
  if (!config) return report(config.error());
  if (!signup.empty()) {
    auto mode = wm::server::http::parseSignup(signup);
    if (!mode) return report(mode.error());
    config->signup = *mode;
  }
  const std::tuple<const char*, const std::string*, wm::server::http::RateLimitSpec*> flags[] = {
      {"--rate-limit-refresh", &limits.refresh, &config->refresh_limit},
      {"--rate-limit-batches", &limits.batches, &config->batches_limit},
      {"--rate-limit-screenshots", &limits.screenshots, &config->screenshots_limit},
      {"--rate-limit-password-reset", &limits.password_reset, &config->password_reset_limit}};
  for (const auto& [name, text, spec] : flags) {
    if (text->empty()) continue;
    auto parsed = wm::server::http::parseRateLimit(name, *text);
    if (!parsed) return report(parsed.error());
    *spec = *parsed;
  }
  if (config->database.empty()) config->database = db;
  if (auto l = wm::server::http::parseListen(listen, *config); !l) return report(l.error());
  config->screenshot_dir = shots;
  config->migrations_dir = dir;
  config->threads = threads;
  auto server = wm::server::http::HttpServer::start(*config);
  if (!server) {
    spdlog::error("not starting: {}", server.error().message);
    return 2;
  }
  spdlog::info("listening on http://{}:{} ({} threads, {} database connections)", config->listen_host,
               (*server)->port(), threads, config->pool_size);
  (*server)->wait(true);
  spdlog::info("stopped");
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
  // From a checkout: ./migrations; from the package: the installed copy (installer/install.cmake sets it).
  std::string dir = envOr("WM_MIGRATIONS_DIR",
                          std::filesystem::is_directory("migrations") ? "migrations" : WM_INSTALLED_MIGRATIONS_DIR);
  bool status = false;
  double lock_timeout = 60;
  mig->add_option("--dir", dir, "Directory with the migration files (default: $WM_MIGRATIONS_DIR or ./migrations)");
  mig->add_flag("--status", status, "List applied and pending migrations; apply nothing");
  mig->add_option("--lock-timeout", lock_timeout, "Seconds to wait for another running migration (default 60)");

  auto* verify =
      app.add_subcommand("verify-schema", "Compare the schema with the report's checks (exit 1 on a difference)");

  auto* serve = app.add_subcommand("serve", "Serve the agent/auth HTTP API (config: DATABASE_URL, JWT_SECRET, ...)");
  std::string listen = "127.0.0.1:8001";
  std::string shots = envOr("WM_SCREENSHOT_DIR", "screenshots");
  int threads = 4;
  serve->add_option("--listen", listen, "HOST:PORT to listen on (default 127.0.0.1:8001; port 0 picks one)");
  serve->add_option("--screenshot-dir", shots, "Directory of the content-addressed screenshot store");
  serve->add_option("--migrations-dir", dir,
                    "Migration files, for /readyz (default: $WM_MIGRATIONS_DIR or ./migrations)");
  serve->add_option("--threads", threads, "I/O and request threads (default 4)")->check(CLI::Range(1, 64));
  std::string signup;
  serve
      ->add_option("--signup", signup,
                   "POST /auth/signup: disabled (default), first (only while there is no company yet) or open "
                   "(anyone may create a company); overrides $SIGNUP")
      ->check(CLI::IsMember({"disabled", "first", "open"}));
  // GET /metrics' token is METRICS_TOKEN only: a flag would show it to every account through `ps`.
  LimitFlags limits;
  const std::tuple<const char*, std::string*, const char*> limit_flags[] = {
      {"--rate-limit-refresh", &limits.refresh,
       "POST /auth/refresh (default 30,3000/300); overrides $RATE_LIMIT_REFRESH"},
      {"--rate-limit-batches", &limits.batches,
       "POST /api/v1/agent/batches (default 600,12000/60); overrides $RATE_LIMIT_BATCHES"},
      {"--rate-limit-screenshots", &limits.screenshots,
       "PUT /api/v1/agent/screenshots/{id} (default 600,6000/60); overrides $RATE_LIMIT_SCREENSHOTS"},
      {"--rate-limit-password-reset", &limits.password_reset,
       "password reset (default 5,20/3600); overrides $RATE_LIMIT_PASSWORD_RESET"}};
  for (const auto& [name, text, what] : limit_flags) {
    serve->add_option(name, *text,
                      std::string("ACCOUNT,ADDRESS/WINDOW_SECONDS per account and per client address (0 = "
                                  "no limit on that side) for ") +
                          what);
  }

  auto* setup = app.add_subcommand(
      "setup",
      "Ready a fresh PostgreSQL 15 (run as a superuser): roles, the runtime role's password, the database, "
      "migrate, verify-schema; prints the DATABASE_URL for the server. Running it again changes nothing");
  wm::server::app::SetupOptions setup_options;
  setup->add_option("--app-password-file", setup_options.password_file,
                    "File whose first line is workmonitor_app's password (default: read it from stdin)");
  setup->add_option("--dir", dir, "Directory with the migration files (default: $WM_MIGRATIONS_DIR or ./migrations)");
  setup->add_option("--app-host", setup_options.app_host,
                    "Host the server connects to (default: --db's host; localhost when that is a local socket)");

  auto* admin = app.add_subcommand("admin", "Bootstrap a self-hosted install (run as the database owner)");
  admin->require_subcommand(1);
  auto* company = admin->add_subcommand("create-company", "Create a company; prints its id");
  std::string company_name;
  company->add_option("name", company_name, "Company name")->required();
  auto* user = admin->add_subcommand("create-user", "Create a user with a password; prints the id");
  wm::server::app::NewUser new_user;
  user->add_option("--company", new_user.company, "Company id")->required();
  user->add_option("--email", new_user.email, "Email (the sign-in name)")->required();
  user->add_option("--role", new_user.role, "admin, manager or employee")
      ->check(CLI::IsMember({"admin", "manager", "employee"}));
  user->add_option("--full-name", new_user.full_name, "Full name (default: the email)");
  user->add_option("--employment-type", new_user.employment_type, "fulltime, parttime, freelancer or contractor")
      ->check(CLI::IsMember({"fulltime", "parttime", "freelancer", "contractor"}));
  user->add_flag("--password-stdin", new_user.password_stdin, "Read the password from stdin (else one is generated)");
  user->add_option("--bcrypt-cost", new_user.bcrypt_cost, "bcrypt cost (default 12; lower only for tests)")
      ->check(CLI::Range(4, 15));
  auto* enrol = admin->add_subcommand("enrollment-token", "Issue an enrolment token for a user's device; prints it");
  std::string enrol_company, enrol_user;
  int uses = 1, ttl_hours = 72;
  enrol->add_option("--company", enrol_company, "Company id")->required();
  enrol->add_option("--user", enrol_user, "User id the device will sign in as")->required();
  enrol->add_option("--uses", uses, "How many devices may use it (default 1)");
  enrol->add_option("--ttl-hours", ttl_hours, "Hours until it expires (default 72)");
  auto* unattended = admin->add_subcommand(
      "unattended-token", "Issue a company-level token that enrols any computer account its rule maps; prints it");
  wm::server::app::UnattendedTokenRequest unattended_req;
  unattended->add_option("--company", unattended_req.company, "Company id")->required();
  unattended
      ->add_option("--rule", unattended_req.rule,
                   "email-local-part (account = the part of the email before '@') or mapping (admin account-map)")
      ->required()
      ->check(CLI::IsMember({"email-local-part", "mapping"}));
  unattended->add_option("--uses", unattended_req.uses, "How many devices may use it (default 500)");
  unattended->add_option("--ttl-hours", unattended_req.ttl_hours, "Hours until it expires (default 720)");
  unattended->add_option("--profile", unattended_req.profile, "Config profile id for the devices it enrols");
  auto* account_map =
      admin->add_subcommand("account-map", "Replace the company's computer-account mapping with a CSV file");
  std::string map_company, map_file;
  account_map->add_option("--company", map_company, "Company id")->required();
  account_map->add_option("--file", map_file, "CSV with lines os_account,email")->required();
  auto* revoke = admin->add_subcommand("revoke-token", "Revoke an enrolment token (either kind)");
  std::string revoke_company, revoke_id;
  revoke->add_option("--company", revoke_company, "Company id")->required();
  revoke->add_option("--token-id", revoke_id, "Token id (printed when it was issued)")->required();

  CLI11_PARSE(app, argc, argv);
  if (unattended->parsed()) return wm::server::app::adminUnattendedToken(db, unattended_req);
  if (account_map->parsed()) return wm::server::app::adminAccountMap(db, map_company, map_file);
  if (revoke->parsed()) return wm::server::app::adminRevokeToken(db, revoke_company, revoke_id);
  if (setup->parsed()) {
    setup_options.db = db;
    setup_options.migrations_dir = dir;
    return wm::server::app::runSetup(setup_options);
  }
  if (serve->parsed()) return runServe(db, listen, shots, dir, threads, signup, limits);
  if (company->parsed()) return wm::server::app::adminCreateCompany(db, company_name);
  if (user->parsed()) return wm::server::app::adminCreateUser(db, new_user);
  if (enrol->parsed()) return wm::server::app::adminEnrollmentToken(db, enrol_company, enrol_user, uses, ttl_hours);
  if (mig->parsed()) return runMigrate(db, dir, status, lock_timeout);
  if (verify->parsed()) return runVerify(db);
  return 2;
}
