// A throwaway PostgreSQL 15 cluster for tests and benchmarks: initdb in a temp dir, a private unix socket,
// no TCP, stopped and deleted on destruction. Runs the server as `nobody` when the caller is root.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "workmonitor/common/result.h"

namespace wm::server::testing {

class PgCluster {
 public:
  /// Starts a fresh cluster. The binaries come from $WM_PG_BINDIR or /usr/lib/postgresql/15/bin.
  [[nodiscard]] static Result<std::unique_ptr<PgCluster>> start();
  ~PgCluster();
  PgCluster(const PgCluster&) = delete;
  PgCluster& operator=(const PgCluster&) = delete;

  /// libpq conninfo for a database, as the superuser `postgres` unless another user is named.
  std::string conninfo(std::string_view database, std::string_view user = "postgres") const;
  /// CREATE DATABASE, optionally from a template.
  [[nodiscard]] Result<void> createDatabase(std::string_view name, std::string_view from_template = "");
  /// Applies every *.sql file of a directory in name order with `psql -v ON_ERROR_STOP=1 -f` (the report's
  /// loop), as the superuser.
  [[nodiscard]] Result<void> applyWithPsql(std::string_view database, const std::filesystem::path& dir) const;

  const std::filesystem::path& socketDir() const { return dir_; }
  const std::filesystem::path& binDir() const { return bin_; }
  int port() const { return kPort; }

 private:
  PgCluster(std::filesystem::path dir, std::filesystem::path bin) : dir_(std::move(dir)), bin_(std::move(bin)) {}
  // The socket lives in a private directory, so the port only names the socket file.
  static constexpr int kPort = 5432;
  std::filesystem::path dir_;
  std::filesystem::path bin_;
  bool running_ = false;
};

}  // namespace wm::server::testing
