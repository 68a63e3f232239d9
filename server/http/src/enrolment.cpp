#include "workmonitor/server/http/enrolment.h"

#include "routes.h"
#include "workmonitor/server/http/crypto.h"

namespace wm::server::http {

Result<EnrolmentToken> parseEnrolmentToken(std::string_view token) {
  constexpr std::string_view kPrefix = "wme1.";
  if (!token.starts_with(kPrefix) || token.size() != kPrefix.size() + 36 + 1 + 36 + 1 + 43) {
    return fail(Errc::kInvalidInput, "not an enrolment token");
  }
  token.remove_prefix(kPrefix.size());
  EnrolmentToken t{std::string(token.substr(0, 36)), std::string(token.substr(37, 36))};
  if (token[36] != '.' || token[73] != '.' || !isUuidText(t.admin_id) || !isUuidText(t.user_id)) {
    return fail(Errc::kInvalidInput, "not an enrolment token");
  }
  return t;
}

Result<std::string> makeEnrolmentToken(const std::string& admin_id, const std::string& user_id) {
  auto secret = newOpaqueToken();
  if (!secret) return std::unexpected(secret.error());
  return "wme1." + admin_id + "." + user_id + "." + *secret;
}

Result<std::string> parseUnattendedToken(std::string_view token) {
  constexpr std::string_view kPrefix = "wmu1.";
  if (!token.starts_with(kPrefix) || token.size() != kPrefix.size() + 36 + 1 + 43) {
    return fail(Errc::kInvalidInput, "not an unattended enrolment token");
  }
  token.remove_prefix(kPrefix.size());
  std::string admin(token.substr(0, 36));
  if (token[36] != '.' || !isUuidText(admin)) return fail(Errc::kInvalidInput, "not an unattended enrolment token");
  return admin;
}

Result<std::string> makeUnattendedToken(const std::string& admin_id) {
  auto secret = newOpaqueToken();
  if (!secret) return std::unexpected(secret.error());
  return "wmu1." + admin_id + "." + *secret;
}

Result<std::string> parseAccountRule(std::string_view text) {
  if (text == "email-local-part" || text == "email_local_part") return std::string("email_local_part");
  if (text == "mapping") return std::string("mapping");
  return fail(Errc::kInvalidInput, "the rule must be email-local-part or mapping");
}

bool validOsAccount(std::string_view account) {
  if (account.empty() || account.size() > 256) return false;
  for (unsigned char ch : account) {
    if (ch < 0x20 || ch == 0x7f) return false;
  }
  return true;
}

std::string latestMigrationVersion(const std::filesystem::path& dir) {
  std::error_code ec;
  std::string latest;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (e.path().extension() != ".sql") continue;
    const std::string version = name.substr(0, name.find('_'));
    if (version > latest) latest = version;
  }
  return latest;
}

}  // namespace wm::server::http
