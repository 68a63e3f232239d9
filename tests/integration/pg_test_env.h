// Shared by the schema tests: a fresh PostgreSQL 15 cluster per test, the migrations applied, connections.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>

#include "workmonitor/server/db/connection.h"
#include "workmonitor/server/testing/pg_cluster.h"

namespace wm::test {

std::filesystem::path sourceDir();
std::filesystem::path binaryDir();
std::filesystem::path migrationsDir();

/// A test with its own cluster and a database `wm` (empty; call applyMigrations()).
class PgTest : public ::testing::Test {
 protected:
  void SetUp() override;

  /// The report's loop: every file with `psql -v ON_ERROR_STOP=1 -f`, as superuser.
  void applyMigrations();
  /// A superuser connection to `wm`.
  server::db::Connection connect(const std::string& user = "postgres");
  /// One value of a query run as superuser.
  std::string scalar(const std::string& sql);
  /// Runs a command, returns its exit status and fills `output` with stdout+stderr.
  int runCommand(const std::string& command, std::string& output);

  std::unique_ptr<server::testing::PgCluster> cluster_;
  const std::string db_ = "wm";
};

}  // namespace wm::test
