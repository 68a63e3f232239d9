#include "admin.h"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <iostream>

#include "workmonitor/server/db/connection.h"
#include "workmonitor/server/http/crypto.h"
#include "workmonitor/server/http/enrolment.h"

namespace wm::server::app {
namespace {

using db::Connection;
namespace http = wm::server::http;

int failWith(const Error& e) {
  spdlog::error("{}", e.message);
  return 1;
}

}  // namespace

int adminCreateCompany(const std::string& dbinfo, const std::string& name) {
  if (name.empty() || name.size() > 200)
    return failWith({Errc::kInvalidInput, "the company name must be 1..200 chars"});
  auto conn = Connection::open(dbinfo);
  if (!conn) return failWith(conn.error());
  auto r = conn->query("insert into public.companies (name) values ($1) returning id", {name});
  if (!r) return failWith(r.error());
  std::printf("%s\n", std::string(r->value(0, 0)).c_str());
  return 0;
}

int adminCreateUser(const std::string& dbinfo, const NewUser& u) {
  std::string password;
  if (u.password_stdin) {
    if (!std::getline(std::cin, password) || password.empty()) {
      return failWith({Errc::kInvalidInput, "no password on stdin"});
    }
    if (!password.empty() && password.back() == '\r') password.pop_back();
  } else {
    auto p = http::newOpaqueToken();
    if (!p) return failWith(p.error());
    password = p->substr(0, 20);
  }
  if (password.size() < 8) return failWith({Errc::kInvalidInput, "the password must have at least 8 characters"});
  auto hash = http::bcryptHash(password, u.bcrypt_cost);
  if (!hash) return failWith(hash.error());
  auto conn = Connection::open(dbinfo);
  if (!conn) return failWith(conn.error());
  auto tx = conn->begin();
  if (!tx) return failWith(tx.error());
  auto r = conn->query(
      "insert into public.users (company_id, email, full_name, role, employment_type) "
      "values ($1::uuid, lower($2), $3, $4, $5) returning id",
      {u.company, u.email, u.full_name.empty() ? u.email : u.full_name, u.role, u.employment_type});
  if (!r) return failWith(r.error());
  const std::string id(r->value(0, 0));
  auto c = conn->query("insert into auth.credentials (user_id, password_hash) values ($1::uuid, $2)", {id, *hash});
  if (!c) return failWith(c.error());
  if (auto cm = tx->commit(); !cm) return failWith(cm.error());
  std::printf("%s\n", id.c_str());
  // Only a generated password is shown (once); one given on stdin is the caller's already.
  if (!u.password_stdin) std::fprintf(stderr, "password: %s\n", password.c_str());
  return 0;
}

int adminEnrollmentToken(const std::string& dbinfo, const std::string& company, const std::string& user, int uses,
                         int ttl_hours) {
  if (uses < 1 || ttl_hours < 1) return failWith({Errc::kInvalidInput, "--uses and --ttl-hours must be >= 1"});
  auto conn = Connection::open(dbinfo);
  if (!conn) return failWith(conn.error());
  auto admin = conn->query(
      "select a.id from public.users a where a.company_id = $1::uuid and a.role = 'admin' and a.status = 'active' "
      "and exists (select 1 from public.users u where u.id = $2::uuid and u.company_id = $1::uuid) "
      "order by a.created_at limit 1",
      {company, user});
  if (!admin) return failWith(admin.error());
  if (admin->rows() != 1) {
    return failWith({Errc::kNotFound,
                     "the company needs an active admin (admin create-user --role admin), and the "
                     "user must belong to the company"});
  }
  const std::string admin_id(admin->value(0, 0));
  auto token = http::makeEnrolmentToken(admin_id, user);
  if (!token) return failWith(token.error());
  auto r = conn->query(
      "insert into agent.enrolment_tokens (company_id, token_hash, created_by, expires_at, max_uses) "
      "values ($1::uuid, $2::bytea, $3::uuid, now() + make_interval(hours => $4::integer), $5::integer)",
      {company, "\\x" + http::hex(http::sha256(*token)), admin_id, std::to_string(ttl_hours), std::to_string(uses)});
  if (!r) return failWith(r.error());
  std::printf("%s\n", token->c_str());
  return 0;
}

}  // namespace wm::server::app
