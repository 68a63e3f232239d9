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

}  // namespace wm::server::app
