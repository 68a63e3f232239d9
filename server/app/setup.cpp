#include "setup.h"

#include <libpq-fe.h>
#include <openssl/evp.h>
#include <spdlog/spdlog.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <vector>

#include "workmonitor/server/db/connection.h"
#include "workmonitor/server/http/config.h"
#include "workmonitor/server/http/crypto.h"
#include "workmonitor/server/migrate/migrator.h"
#include "workmonitor/server/migrate/schema_check.h"

namespace wm::server::app {
namespace {

using db::Connection;
namespace http = wm::server::http;

constexpr const char* kOwner = "workmonitor_owner";
constexpr const char* kApp = "workmonitor_app";
constexpr size_t kMinPassword = 12;

int failWith(const std::string& message) {
  spdlog::error("setup: {}", message);
  return 1;
}

std::string base64Decode(const std::string& text) {
  if (text.empty() || text.size() % 4 != 0) return {};
  std::string out(text.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (n < 0) return {};
  size_t pad = 0;
  while (pad < 2 && text[text.size() - 1 - pad] == '=') ++pad;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

// "%2F"-style escaping of everything but unreserved characters, for the parts of a libpq URI.
std::string percentEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

Result<std::string> readPassword(const std::string& file) {
  std::string line;
  if (file.empty() || file == "-") {
    if (!std::getline(std::cin, line)) return fail(Errc::kInvalidInput, "no password on stdin");
  } else {
    std::ifstream in(file);
    if (!in) return fail(Errc::kNotFound, "cannot read " + file);
    std::getline(in, line);
  }
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.pop_back();
  if (line.size() < kMinPassword) {
    return fail(Errc::kInvalidInput, "the password of " + std::string(kApp) + " must have at least " +
                                         std::to_string(kMinPassword) + " characters (e.g. openssl rand -base64 32)");
  }
  return line;
}

// The same connection parameters with another database (for CREATE DATABASE from the maintenance database).
Result<std::string> withDatabase(const std::string& conninfo, const std::string& dbname, std::string& target) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(conninfo.c_str(), &err);
  if (opts == nullptr) {
    std::string m = err ? err : "cannot parse --db";
    PQfreemem(err);
    return fail(Errc::kInvalidInput, m);
  }
  std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)> guard(opts, PQconninfoFree);
  std::string out;
  for (auto* o = opts; o->keyword != nullptr; ++o) {
    if (o->val == nullptr || *o->val == '\0') continue;
    if (std::string_view(o->keyword) == "dbname") {
      target = o->val;
      continue;
    }
    out += std::string(o->keyword) + "=" + http::conninfoQuoted(o->val) + " ";
  }
  if (target.empty()) {
    if (const char* env = std::getenv("PGDATABASE")) target = env;
  }
  if (target.empty()) return fail(Errc::kInvalidInput, "name the database in --db (e.g. \"dbname=workmonitor\")");
  return out + "dbname=" + http::conninfoQuoted(dbname);
}

struct Changes {
  std::vector<std::string> done;
  void note(const std::string& what) {
    done.push_back(what);
    std::fprintf(stderr, "  changed: %s\n", what.c_str());
  }
};

void same(const std::string& what) { std::fprintf(stderr, "  ok: %s\n", what.c_str()); }

// Connects to the target database, creating it when it does not exist yet.
Result<Connection> openOrCreate(const std::string& conninfo, Changes& changes) {
  auto conn = Connection::open(conninfo);
  if (conn) return conn;
  if (conn.error().message.find("does not exist") == std::string::npos) return std::unexpected(conn.error());
  std::string target;
  auto maintenance = withDatabase(conninfo, "postgres", target);
  if (!maintenance) return std::unexpected(maintenance.error());
  auto m = Connection::open(*maintenance);
  if (!m) return std::unexpected(m.error());
  char* ident = PQescapeIdentifier(m->native(), target.c_str(), target.size());
  if (ident == nullptr) return fail(Errc::kInvalidInput, "bad database name");
  const std::string sql = std::string("create database ") + ident + " encoding 'UTF8' template template0";
  PQfreemem(ident);
  if (auto r = m->exec(sql); !r) return std::unexpected(r.error());
  changes.note("created database " + target);
  return Connection::open(conninfo);
}

Result<void> ensureRoles(Connection& c, Changes& changes) {
  const std::pair<const char*, const char*> roles[] = {{kOwner, "login bypassrls"},
                                                       {kApp, "login nobypassrls noinherit"}};
  for (const auto& [name, attributes] : roles) {
    auto r = c.query("select 1 from pg_roles where rolname = $1", {std::string(name)});
    if (!r) return std::unexpected(r.error());
    if (r->rows() == 1) {
      same("role " + std::string(name) + " exists");
      continue;
    }
    // The same attributes as migration 01 gives them, which would create them too.
    if (auto e = c.exec(std::string("create role ") + name + " " + attributes); !e) return std::unexpected(e.error());
    changes.note("created role " + std::string(name));
  }
  return {};
}

Result<void> ensurePassword(Connection& c, const std::string& password, Changes& changes) {
  auto r = c.query("select coalesce(rolpassword, '') from pg_authid where rolname = $1", {std::string(kApp)});
  if (!r) return std::unexpected(r.error());
  if (r->rows() == 1 && scramVerifierMatches(std::string(r->value(0, 0)), password)) {
    same("password of " + std::string(kApp) + " is the one given");
    return {};
  }
  // The verifier is computed here, so the password itself never reaches the server's statement log.
  char* verifier = PQencryptPasswordConn(c.native(), password.c_str(), kApp, "scram-sha-256");
  if (verifier == nullptr)
    return fail(Errc::kInternal, std::string("cannot hash the password: ") + PQerrorMessage(c.native()));
  char* literal = PQescapeLiteral(c.native(), verifier, std::strlen(verifier));
  PQfreemem(verifier);
  if (literal == nullptr) return fail(Errc::kInternal, "cannot quote the password verifier");
  const std::string sql = std::string("alter role ") + kApp + " password " + literal;
  PQfreemem(literal);
  if (auto e = c.exec(sql); !e) return std::unexpected(e.error());
  changes.note("set the password of " + std::string(kApp));
  return {};
}

}  // namespace

bool scramVerifierMatches(const std::string& verifier, const std::string& password) {
  // SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey> (RFC 5802/7677; all base64).
  constexpr std::string_view kPrefix = "SCRAM-SHA-256$";
  if (!verifier.starts_with(kPrefix)) return false;
  const std::string rest = verifier.substr(kPrefix.size());
  const size_t colon1 = rest.find(':'), dollar = rest.find('$'), colon2 = rest.rfind(':');
  if (colon1 == std::string::npos || dollar == std::string::npos || colon2 == std::string::npos || colon1 > dollar ||
      colon2 < dollar) {
    return false;
  }
  const int iterations = std::atoi(rest.substr(0, colon1).c_str());
  const std::string salt = base64Decode(rest.substr(colon1 + 1, dollar - colon1 - 1));
  const std::string stored = base64Decode(rest.substr(dollar + 1, colon2 - dollar - 1));
  const std::string server = base64Decode(rest.substr(colon2 + 1));
  if (iterations < 1 || salt.empty() || stored.size() != 32 || server.size() != 32) return false;
  std::string salted(32, '\0');
  if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                        reinterpret_cast<const unsigned char*>(salt.data()), static_cast<int>(salt.size()), iterations,
                        EVP_sha256(), 32, reinterpret_cast<unsigned char*>(salted.data())) != 1) {
    return false;
  }
  // PostgreSQL SASLpreps the password first; for ASCII that is the identity. A non-ASCII password that
  // normalisation would change is simply set again on every run (harmless, only not "unchanged").
  return http::constantTimeEqual(http::sha256(http::hmacSha256(salted, "Client Key")), stored) &&
         http::constantTimeEqual(http::hmacSha256(salted, "Server Key"), server);
}

int runSetup(const SetupOptions& o) {
  auto password = readPassword(o.password_file);
  if (!password) return failWith(password.error().message);
  auto files = migrate::loadMigrations(o.migrations_dir);
  if (!files) return failWith(files.error().message);
  Changes changes;
  std::fprintf(stderr, "workmonitor-server setup:\n");
  auto conn = openOrCreate(o.db, changes);
  if (!conn) return failWith(conn.error().message);
  auto su = conn->query("select rolsuper from pg_roles where rolname = current_user");
  if (!su) return failWith(su.error().message);
  if (su->value(0, 0) != "t") {
    return failWith(
        "connect as a superuser (e.g. sudo -u postgres workmonitor-server --db dbname=workmonitor setup ...)");
  }
  if (auto r = ensureRoles(*conn, changes); !r) return failWith(r.error().message);
  if (auto r = ensurePassword(*conn, *password, changes); !r) return failWith(r.error().message);

  const size_t count = files->size();
  migrate::Migrator migrator(*conn, std::move(*files));
  auto applied = migrator.apply({});
  if (!applied) return failWith("migrate: " + applied.error().message);
  if (applied->empty()) {
    same("all " + std::to_string(count) + " migrations applied");
  } else {
    changes.note("applied " + std::to_string(applied->size()) + " migration(s)");
  }
  auto checks = migrate::checkSchema(*conn);
  if (!checks) return failWith("verify-schema: " + checks.error().message);
  bool ok = true;
  for (const auto& c : *checks) ok = ok && c.ok;
  if (!ok) {
    std::fputs(migrate::formatChecks(*checks).c_str(), stderr);
    return failWith("the schema does not pass verify-schema (above)");
  }
  same("verify-schema: all " + std::to_string(checks->size()) + " checks pass");

  // Where the server will connect: the same server as --db, but over TCP when --db used a local socket,
  // because Debian's pg_hba.conf has peer authentication there (the OS user would have to be workmonitor_app).
  std::string host = o.app_host;
  const std::string db_host = PQhost(conn->native()) ? PQhost(conn->native()) : "";
  if (host.empty()) host = db_host.empty() || db_host.front() == '/' ? "localhost" : db_host;
  const std::string port = PQport(conn->native()) ? PQport(conn->native()) : "5432";
  const std::string dbname = PQdb(conn->native());
  std::printf("DATABASE_URL=postgresql://%s:%s@%s:%s/%s\n", kApp, percentEncode(*password).c_str(),
              percentEncode(host).c_str(), port.c_str(), percentEncode(dbname).c_str());
  std::fflush(stdout);
  if (changes.done.empty()) {
    std::fprintf(stderr, "Nothing changed: the database was already set up.\n");
  } else {
    std::fprintf(stderr, "Done (%zu change(s)).\n", changes.done.size());
  }
  std::fprintf(stderr,
               "Next: put the DATABASE_URL line above (printed on stdout; it holds the password) into the server's\n"
               "environment file /etc/workmonitor/server.env (mode 0640, root:workmonitor-server) beside a JWT_SECRET\n"
               "of at least 32 bytes (openssl rand -base64 48), then\n"
               "    systemctl enable --now workmonitor-server\n");
  return 0;
}

}  // namespace wm::server::app
