#include "pg_test_env.h"

#include <cstdio>
#include <cstdlib>

namespace wm::test {

std::filesystem::path sourceDir() {
  const char* s = std::getenv("WM_SOURCE_DIR");
  return s ? s : WM_SOURCE_DIR_FALLBACK;
}

std::filesystem::path binaryDir() { return WM_BINARY_DIR_FALLBACK; }

std::filesystem::path migrationsDir() { return sourceDir() / "migrations"; }

void PgTest::SetUp() {
  auto c = server::testing::PgCluster::start();
  ASSERT_TRUE(c) << c.error().message;
  cluster_ = std::move(*c);
  auto r = cluster_->createDatabase(db_);
  ASSERT_TRUE(r) << r.error().message;
}

void PgTest::applyMigrations() {
  auto r = cluster_->applyWithPsql(db_, migrationsDir());
  ASSERT_TRUE(r) << r.error().message;
}

server::db::Connection PgTest::connect(const std::string& user) {
  auto c = server::db::Connection::open(cluster_->conninfo(db_, user));
  if (!c) throw std::runtime_error(c.error().message);
  return std::move(*c);
}

std::string PgTest::scalar(const std::string& sql) {
  auto conn = connect();
  auto r = conn.query(sql);
  if (!r) throw std::runtime_error(sql + ": " + r.error().message);
  return r->rows() ? std::string(r->value(0, 0)) : std::string();
}

int PgTest::runCommand(const std::string& command, std::string& output) {
  output.clear();
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) return -1;
  char buf[4096];
  size_t n = 0;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) output.append(buf, n);
  const int status = pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace wm::test
