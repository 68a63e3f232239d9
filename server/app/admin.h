// `workmonitor-server admin ...`: bootstrap a self-hosted install (companies, users, enrolment tokens).
// Runs as the database owner (or a superuser), not as the runtime role: the runtime role may not create
// companies or credentials by design.
#pragma once

#include <string>

namespace wm::server::app {

int adminCreateCompany(const std::string& db, const std::string& name);
struct NewUser {
  std::string company, email, role = "employee", full_name, employment_type = "fulltime";
  bool password_stdin = false;
  int bcrypt_cost = 12;
};
int adminCreateUser(const std::string& db, const NewUser& user);
int adminEnrollmentToken(const std::string& db, const std::string& company, const std::string& user, int uses,
                         int ttl_hours);
struct UnattendedTokenRequest {
  std::string company, rule, profile;
  int uses = 500;
  int ttl_hours = 720;
};
/// A company-level "wmu1." token (unattended enrolment); prints it, its id and expiry on stderr.
int adminUnattendedToken(const std::string& db, const UnattendedTokenRequest& req);
/// Replaces the company's agent.account_mappings with a CSV file of "os_account,email" lines, all or nothing.
int adminAccountMap(const std::string& db, const std::string& company, const std::string& file);
int adminRevokeToken(const std::string& db, const std::string& company, const std::string& token_id);

}  // namespace wm::server::app
