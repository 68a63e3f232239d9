// The admin API of unattended enrolment (HTTP_API.md, "Unattended enrolment"): company tokens and the
// computer-account mapping. RLS decides what an admin may touch; the server also names the company.
#include <spdlog/spdlog.h>

#include "routes.h"
#include "workmonitor/server/http/crypto.h"
#include "workmonitor/server/http/enrolment.h"

namespace wm::server::http {

namespace {

// An optional positive integer field, within [1, max].
std::expected<int, ApiError> positive(const nlohmann::json& body, const char* name, int fallback, int max) {
  const auto it = body.find(name);
  if (it == body.end() || it->is_null()) return fallback;
  if (!it->is_number_integer() || it->get<long long>() < 1 || it->get<long long>() > max) {
    return std::unexpected(
        ApiError{400, "invalid_request", std::string(name) + " must be an integer in 1.." + std::to_string(max)});
  }
  return static_cast<int>(it->get<long long>());
}

}  // namespace

Reply Service::unattendedToken(const HttpRequest& req) {
  auto caller = authenticate(req);
  if (!caller) return std::unexpected(caller.error());
  if (auto e = requireAdmin(*caller)) return std::unexpected(*e);
  auto body = jsonBody(req);
  if (!body) return std::unexpected(body.error());
  const std::string* rule_text = stringField(*body, "rule", 32);
  auto rule = parseAccountRule(rule_text ? *rule_text : "");
  if (!rule) return apiFail(400, "invalid_request", "rule must be email_local_part or mapping");
  auto uses = positive(*body, "uses", 500, 1000000);
  if (!uses) return std::unexpected(uses.error());
  auto ttl = positive(*body, "ttl_hours", 720, 24 * 365);
  if (!ttl) return std::unexpected(ttl.error());
  db::Param profile;
  if (auto p = body->find("profile_id"); p != body->end() && !p->is_null()) {
    if (!p->is_string() || !isUuidText(p->get_ref<const std::string&>())) {
      return apiFail(400, "invalid_request", "profile_id must be a UUID");
    }
    profile = p->get<std::string>();
  }
  auto token = makeUnattendedToken(caller->claims.sub);
  if (!token) return apiFail(500, "internal", "internal error");
  auto lease = beginWithClaims(caller->tx());
  if (!lease) return std::unexpected(dbError(lease.error(), "unattended token"));
  auto r = (*lease)->run("wm_unattended_token", kInsertUnattendedTokenSql,
                         {caller->claims.company_id, "\\x" + hex(sha256(*token)), caller->claims.sub,
                          std::to_string(*ttl), std::to_string(*uses), profile, *rule});
  if (!r && db::sqlState(r.error()) == "42501") return apiFail(403, "forbidden", "only a company admin may do this");
  if (!r) return std::unexpected(dbError(r.error(), "unattended token"));
  if (r->rows() != 1) return apiFail(400, "invalid_request", "profile_id names no config profile of this company");
  if (auto cm = commit(**lease); !cm) return std::unexpected(dbError(cm.error(), "unattended token"));
  const std::string id(r->value(0, 0));
  spdlog::info("admin: unattended token {} ({}, {} uses) issued by {}", id, *rule, *uses, caller->claims.sub);
  return jsonResponse(201, {{"token", *token},
                            {"token_id", id},
                            {"expires_at", std::string(r->value(0, 1))},
                            {"max_uses", *uses},
                            {"rule", *rule}});
}

Reply Service::putAccountMappings(const HttpRequest& req) {
  auto caller = authenticate(req);
  if (!caller) return std::unexpected(caller.error());
  if (auto e = requireAdmin(*caller)) return std::unexpected(*e);
  auto body = jsonBody(req);
  if (!body) return std::unexpected(body.error());
  const auto list = body->find("mappings");
  if (list == body->end() || !list->is_array()) {
    return apiFail(400, "invalid_request", "mappings (an array of {os_account, email}) is required");
  }
  for (size_t i = 0; i < list->size(); ++i) {
    const auto& m = (*list)[i];
    if (!m.is_object() || !m.contains("os_account") || !m["os_account"].is_string() || !m.contains("email") ||
        !m["email"].is_string()) {
      return apiFail(400, "invalid_request", "mappings[" + std::to_string(i) + "]: needs os_account and email");
    }
  }
  auto lease = beginWithClaims(caller->tx());
  if (!lease) return std::unexpected(dbError(lease.error(), "account mappings"));
  auto& c = **lease;
  const std::string text = list->dump();
  auto bad = c.run("wm_mappings_check", kFirstBadMappingSql, {caller->claims.company_id, text});
  if (!bad) return std::unexpected(dbError(bad.error(), "account mappings"));
  if (bad->rows() == 1) {
    return apiFail(400, "invalid_request",
                   "mappings[" + std::string(bad->value(0, 0)) + "]: " + std::string(bad->value(0, 1)));
  }
  auto del = c.run("wm_mappings_delete", kDeleteMappingsSql, {caller->claims.company_id});
  if (!del) return std::unexpected(dbError(del.error(), "account mappings"));
  auto ins = c.run("wm_mappings_insert", kInsertMappingsSql, {caller->claims.company_id, text});
  if (!ins && db::sqlState(ins.error()) == "42501")
    return apiFail(403, "forbidden", "only a company admin may do this");
  if (!ins) return std::unexpected(dbError(ins.error(), "account mappings"));
  if (auto cm = commit(c); !cm) return std::unexpected(dbError(cm.error(), "account mappings"));
  return jsonResponse(200, {{"count", ins->affected()}});
}

Reply Service::getAccountMappings(const HttpRequest& req) {
  auto caller = authenticate(req);
  if (!caller) return std::unexpected(caller.error());
  if (auto e = requireAdmin(*caller)) return std::unexpected(*e);
  auto lease = beginWithClaims(caller->tx());
  if (!lease) return std::unexpected(dbError(lease.error(), "account mappings"));
  auto r =
      (*lease)->run("wm_mappings_list",
                    "select m.os_account, u.email, u.user_id from agent.account_mappings m "
                    "join public.users u on u.user_id = m.user_id where m.company_id = $1::uuid order by m.os_account",
                    {caller->claims.company_id});
  if (!r) return std::unexpected(dbError(r.error(), "account mappings"));
  if (auto cm = commit(**lease); !cm) return std::unexpected(dbError(cm.error(), "account mappings"));
  nlohmann::json list = nlohmann::json::array();
  for (int i = 0; i < r->rows(); ++i) {
    list.push_back({{"os_account", std::string(r->value(i, 0))},
                    {"email", std::string(r->value(i, 1))},
                    {"user_id", std::string(r->value(i, 2))}});
  }
  return jsonResponse(200, {{"mappings", list}});
}

}  // namespace wm::server::http
