// `workmonitor-server setup`: one command that readies a fresh PostgreSQL 15 for the server — the roles, the
// runtime role's password, the database, the migrations and the schema check — and says what to put in the
// server's environment file. Run as a superuser; running it again changes nothing and says so.
#pragma once

#include <string>

namespace wm::server::app {

struct SetupOptions {
  std::string db;              // superuser conninfo/URI naming the target database
  std::string password_file;   // the runtime role's password (first line); "" or "-" = stdin
  std::string migrations_dir;  // the migration files
  std::string app_host;        // host the server connects to ("" = --db's host; localhost for a socket)
};

int runSetup(const SetupOptions& options);

/// True when `password` is the one a PostgreSQL SCRAM-SHA-256 verifier (pg_authid.rolpassword) was made from.
bool scramVerifierMatches(const std::string& verifier, const std::string& password);

}  // namespace wm::server::app
