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
