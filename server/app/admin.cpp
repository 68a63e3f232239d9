#include "admin.h"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <vector>

#include <nlohmann/json.hpp>

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
      "values ($1::uuid, lower($2), $3, $4, $5) returning user_id",
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
      "select a.user_id from public.users a where a.company_id = $1::uuid and a.role = 'admin' and a.status = 'active' "
      "and exists (select 1 from public.users u where u.user_id = $2::uuid and u.company_id = $1::uuid) "
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
  auto r =
      conn->query(http::kInsertEnrolmentTokenSql, {company, "\\x" + http::hex(http::sha256(*token)), admin_id,
                                                   std::to_string(ttl_hours), std::to_string(uses), db::Param(), user});
  if (!r) return failWith(r.error());
  if (r->rows() != 1) return failWith({Errc::kNotFound, "the user is not an active member of the company"});
  std::printf("%s\n", token->c_str());
  return 0;
}

int adminUnattendedToken(const std::string& dbinfo, const UnattendedTokenRequest& req) {
  auto rule = http::parseAccountRule(req.rule);
  if (!rule) return failWith(rule.error());
  if (req.uses < 1 || req.ttl_hours < 1) return failWith({Errc::kInvalidInput, "--uses and --ttl-hours must be >= 1"});
  auto conn = Connection::open(dbinfo);
  if (!conn) return failWith(conn.error());
  auto admin = conn->query(
      "select a.user_id from public.users a where a.company_id = $1::uuid and a.role = 'admin' and a.status = 'active' "
      "order by a.created_at limit 1",
      {req.company});
  if (!admin) return failWith(admin.error());
  if (admin->rows() != 1) {
    return failWith({Errc::kNotFound, "the company needs an active admin (admin create-user --role admin)"});
  }
  const std::string admin_id(admin->value(0, 0));
  auto token = http::makeUnattendedToken(admin_id);
  if (!token) return failWith(token.error());
  auto r = conn->query(http::kInsertUnattendedTokenSql,
                       {req.company, "\\x" + http::hex(http::sha256(*token)), admin_id, std::to_string(req.ttl_hours),
                        std::to_string(req.uses), req.profile.empty() ? db::Param() : db::Param(req.profile), *rule});
  if (!r) return failWith(r.error());
  if (r->rows() != 1) return failWith({Errc::kNotFound, "--profile names no config profile of this company"});
  std::printf("%s\n", token->c_str());
  std::fprintf(stderr, "token id %s, rule %s, %d uses, expires %s\n", std::string(r->value(0, 0)).c_str(),
               rule->c_str(), req.uses, std::string(r->value(0, 1)).c_str());
  return 0;
}

int adminAccountMap(const std::string& dbinfo, const std::string& company, const std::string& file) {
  std::ifstream in(file);
  if (!in) return failWith({Errc::kNotFound, "cannot read " + file});
  // Lines "os_account,email"; blank lines, '#' comments and a header line are skipped. The line numbers are
  // kept so an error names the line the admin has to fix.
  nlohmann::json entries = nlohmann::json::array();
  std::vector<int> line_of;
  std::string line;
  auto trim = [](std::string t) {
    const auto b = t.find_first_not_of(" \t\r");
    if (b == std::string::npos) return std::string();
    return t.substr(b, t.find_last_not_of(" \t\r") - b + 1);
  };
  for (int n = 1; std::getline(in, line); ++n) {
    line = trim(line);
    if (line.empty() || line.front() == '#' || line == "os_account,email") continue;
    const auto comma = line.rfind(',');
    if (comma == std::string::npos) {
      return failWith({Errc::kInvalidInput, file + ":" + std::to_string(n) + ": expected os_account,email"});
    }
    entries.push_back({{"os_account", trim(line.substr(0, comma))}, {"email", trim(line.substr(comma + 1))}});
    line_of.push_back(n);
  }
  auto conn = Connection::open(dbinfo);
  if (!conn) return failWith(conn.error());
  auto known = conn->query("select 1 from public.companies where id = $1::uuid", {company});
  if (!known) return failWith(known.error());
  if (known->rows() != 1) return failWith({Errc::kNotFound, "no company " + company});
  auto tx = conn->begin();
  if (!tx) return failWith(tx.error());
  const std::string list = entries.dump();
  auto bad = conn->query(http::kFirstBadMappingSql, {company, list});
  if (!bad) return failWith(bad.error());
  if (bad->rows() == 1) {
    const auto i = static_cast<size_t>(bad->asInt(0, 0));
    return failWith({Errc::kInvalidInput, file + ":" + std::to_string(line_of.at(i)) + ": " +
                                              std::string(bad->value(0, 1)) + "; nothing was changed"});
  }
  auto del = conn->query(http::kDeleteMappingsSql, {company});
  if (!del) return failWith(del.error());
  auto ins = conn->query(http::kInsertMappingsSql, {company, list});
  if (!ins) return failWith(ins.error());
  if (auto cm = tx->commit(); !cm) return failWith(cm.error());
  std::printf("%lld mapping(s) stored (replacing %lld)\n", ins->affected(), del->affected());
  return 0;
}

int adminRevokeToken(const std::string& dbinfo, const std::string& company, const std::string& token_id) {
  auto conn = Connection::open(dbinfo);
  if (!conn) return failWith(conn.error());
  auto r = conn->query(
      "update agent.enrolment_tokens set revoked_at = now() where id = $1::uuid and company_id = $2::uuid "
      "and revoked_at is null",
      {token_id, company});
  if (!r) return failWith(r.error());
  if (r->affected() != 1) return failWith({Errc::kNotFound, "no unrevoked token " + token_id + " in this company"});
  std::printf("revoked %s\n", token_id.c_str());
  return 0;
}

}  // namespace wm::server::app
