// Helpers shared by the route files (not part of the library's interface).
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "workmonitor/server/http/service.h"

namespace wm::server::http {

bool isUuidText(std::string_view s);
/// 403 forbidden unless the caller is a company admin (RLS still decides which rows an admin may touch).
std::optional<ApiError> requireAdmin(const Caller& caller);
/// A string field of a JSON body: nullptr when absent, not a string, or longer than `max`.
const std::string* stringField(const nlohmann::json& j, const char* name, size_t max);
/// The columns id, email, full_name, role, company_id, employment_type (in that order, from `col`) as `user`.
nlohmann::json userJson(const db::QueryResult& r, int row, int col = 0);
/// The claims a request acting as `user` sets (same shape as an access token's).
TxClaims userClaims(const nlohmann::json& user);
/// Ends the request's transaction.
Result<void> commit(PooledConnection& c);
/// One admin action for public.audit_logs.
struct AuditEntry {
  std::string action;       // e.g. "profile.update"
  std::string entity_type;  // e.g. "config_profile"
  db::Param entity_id;      // a uuid, or none
  nlohmann::json old_values = nullptr, new_values = nullptr;
  std::string peer;  // the client's address ("unknown" or anything not an address: stored as none)
};
/// Writes `e` in `c`'s transaction as the caller (its company, its id); the user agent comes from `req`.
Result<void> audit(PooledConnection& c, const Caller& caller, const HttpRequest& req, const AuditEntry& e);
/// Columns of public.users in the order userJson reads them.
inline constexpr const char* kUserColumns = "u.user_id, u.email, u.full_name, u.role, u.company_id, u.employment_type";

}  // namespace wm::server::http
