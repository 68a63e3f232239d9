// public.audit_logs rows for what an admin does (HTTP_API.md, "Audit"): written in the request's own
// transaction under the caller's claims, so the audit row and the change commit or roll back together and
// RLS (audit_logs_actor_system_insert) checks the actor and the company.
#include <boost/asio/ip/address.hpp>

#include "routes.h"

namespace wm::server::http {

Result<void> audit(PooledConnection& c, const Caller& caller, const HttpRequest& req, const AuditEntry& e) {
  db::Param address;
  boost::system::error_code ec;
  if (auto a = boost::asio::ip::make_address(e.peer, ec); !ec) address = a.to_string();
  db::Param agent;
  if (auto ua = req.find(bhttp::field::user_agent); ua != req.end()) agent = std::string(ua->value().substr(0, 300));
  auto json = [](const nlohmann::json& j) -> db::Param {
    if (j.is_null()) return std::nullopt;
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  };
  auto r = c.run("wm_audit_insert",
                 "insert into public.audit_logs (company_id, actor_id, action, entity_type, entity_id, old_values, "
                 "new_values, ip_address, user_agent) values ($1::uuid, $2::uuid, $3, $4, $5::uuid, $6::jsonb, "
                 "$7::jsonb, $8::inet, $9)",
                 {caller.claims.company_id, caller.claims.sub, e.action, e.entity_type, e.entity_id, json(e.old_values),
                  json(e.new_values), address, agent});
  if (!r) return std::unexpected(r.error());
  return {};
}

}  // namespace wm::server::http
