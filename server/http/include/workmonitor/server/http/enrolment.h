// Enrolment tokens: "wme1.<admin id>.<user id>.<secret>". The ids route the lookup (the admin's claim
// reads the admin-only table) and name the user being enrolled; only the SHA-256 of the whole token is
// stored, so neither id can be changed without the hash failing to match.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "workmonitor/common/result.h"

namespace wm::server::http {

struct EnrolmentToken {
  std::string admin_id;
  std::string user_id;
};

Result<EnrolmentToken> parseEnrolmentToken(std::string_view token);
Result<std::string> makeEnrolmentToken(const std::string& admin_id, const std::string& user_id);
/// The version prefix of the newest migration file in `dir` ("" when none can be read).
std::string latestMigrationVersion(const std::filesystem::path& dir);

}  // namespace wm::server::http
