#include "workmonitor/server/testing/pg_cluster.h"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

#include "workmonitor/server/db/connection.h"

namespace wm::server::testing {
namespace {

// PostgreSQL refuses to run as root; CI runs tests as root, so the server runs as `nobody` then.
std::string asServerUser() { return geteuid() == 0 ? "runuser -u nobody -- " : ""; }

std::string tail(const std::filesystem::path& log) {
  std::ifstream in(log);
  std::stringstream s;
  s << in.rdbuf();
  std::string text = s.str();
  return text.size() > 2000 ? text.substr(text.size() - 2000) : text;
}

int run(const std::string& command) { return std::system(command.c_str()); }

}  // namespace

Result<std::unique_ptr<PgCluster>> PgCluster::start() {
  const char* env = std::getenv("WM_PG_BINDIR");
  std::filesystem::path bin = env && *env ? env : "/usr/lib/postgresql/15/bin";
  if (!std::filesystem::exists(bin / "initdb")) {
    return fail(Errc::kUnavailable, "no PostgreSQL 15 at " + bin.string() + " (apt-get install postgresql-15)");
  }
  std::string tmpl = (std::filesystem::temp_directory_path() / "wm-pg-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) return fail(Errc::kIo, "cannot create a temp dir for PostgreSQL");
  std::unique_ptr<PgCluster> c(new PgCluster(tmpl, bin));
  if (geteuid() == 0) {
    const passwd* pw = getpwnam("nobody");
    if (pw == nullptr || chown(tmpl.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      return fail(Errc::kIo, "cannot hand " + tmpl + " to user nobody");
    }
  }
  const auto data = c->dir_ / "data";
  const auto log = c->dir_ / "server.log";
  if (run(asServerUser() + (bin / "initdb").string() + " -D " + data.string() +
          " -U postgres -A trust --no-sync -E UTF8 --locale=C.UTF-8 > " + (c->dir_ / "initdb.log").string() +
          " 2>&1") != 0) {
    return fail(Errc::kUnavailable, "initdb failed: " + tail(c->dir_ / "initdb.log"));
  }
  // Durability is irrelevant for a throwaway cluster; fsync off keeps DDL-heavy tests fast.
  const std::string options = "-k " + c->dir_.string() + " -p " + std::to_string(kPort) +
                              " -c listen_addresses='' -c fsync=off -c synchronous_commit=off"
                              " -c full_page_writes=off -c max_connections=40 -c shared_buffers=128MB";
  if (run(asServerUser() + (bin / "pg_ctl").string() + " -D " + data.string() + " -o \"" + options + "\" -l " +
          log.string() + " -w -t 60 start > /dev/null 2>&1") != 0) {
    return fail(Errc::kUnavailable, "PostgreSQL did not start: " + tail(log));
  }
  c->running_ = true;
  return c;
}

PgCluster::~PgCluster() {
  if (running_) {
    run(asServerUser() + (bin_ / "pg_ctl").string() + " -D " + (dir_ / "data").string() +
        " -m immediate -w stop > /dev/null 2>&1");
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string PgCluster::conninfo(std::string_view database, std::string_view user) const {
  return "host=" + dir_.string() + " port=" + std::to_string(kPort) + " dbname=" + std::string(database) +
         " user=" + std::string(user);
}

Result<void> PgCluster::createDatabase(std::string_view name, std::string_view from_template) {
  auto conn = db::Connection::open(conninfo("postgres"));
  if (!conn) return std::unexpected(conn.error());
  std::string sql = "create database \"" + std::string(name) + "\"";
  if (!from_template.empty()) sql += " template \"" + std::string(from_template) + "\"";
  auto r = conn->exec(sql);
  if (!r) return std::unexpected(r.error());
  return {};
}

Result<void> PgCluster::applyWithPsql(std::string_view database, const std::filesystem::path& dir) const {
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (e.path().extension() == ".sql") files.push_back(e.path());
  }
  if (ec) return fail(Errc::kNotFound, "cannot list " + dir.string() + ": " + ec.message());
  std::sort(files.begin(), files.end());
  const auto out = dir_ / "psql.log";
  for (const auto& f : files) {
    const std::string cmd = (bin_ / "psql").string() + " -X -q -h " + dir_.string() + " -p " + std::to_string(kPort) +
                            " -U postgres -d " + std::string(database) + " -v ON_ERROR_STOP=1 -f " + f.string() +
                            " > " + out.string() + " 2>&1";
    if (run(cmd) != 0) return fail(Errc::kIo, "psql failed on " + f.filename().string() + ": " + tail(out));
  }
  return {};
}

}  // namespace wm::server::testing
