// The admin API of enrolment tokens (HTTP_API.md, "Enrolment tokens"): issue a person's token (wme1), list the
// company's tokens of both kinds with what is left of them, revoke one. Only the tokens' hashes are stored; the
// token itself is in the issuing reply and nowhere else (not in the log, not in the audit row).
#include <spdlog/spdlog.h>

#include "routes.h"
#include "workmonitor/server/http/crypto.h"
#include "workmonitor/server/http/enrolment.h"

namespace wm::server::http {

namespace {

// An optional integer field within [1, max]; `fallback` when absent.
std::expected<int, ApiError> bounded(const nlohmann::json& body, const char* name, int fallback, int max) {
  const auto it = body.find(name);
  if (it == body.end() || it->is_null()) return fallback;
  if (!it->is_number_integer() || it->get<long long>() < 1 || it->get<long long>() > max) {
    return std::unexpected(
        ApiError{400, "invalid_request", std::string(name) + " must be an integer in 1.." + std::to_string(max)});
  }
  return static_cast<int>(it->get<long long>());
}

constexpr const char* kUtc = "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'";

std::string utc(const std::string& column) { return "to_char(" + column + " at time zone 'UTC', " + kUtc + ")"; }

}  // namespace

Reply Service::issueEnrolmentToken(const HttpRequest& req, const std::string& peer) {
  auto caller = authenticate(req);
  if (!caller) return std::unexpected(caller.error());
  if (auto e = requireAdmin(*caller)) return std::unexpected(*e);
  auto body = jsonBody(req);
  if (!body) return std::unexpected(body.error());
  for (const auto& [key, value] : body->items())
    if (key != "user_id" && key != "uses" && key != "ttl_hours" && key != "profile_id")
      return apiFail(400, "invalid_request", "unknown field '" + key + "' (user_id, uses, ttl_hours, profile_id)");
  const std::string* user = stringField(*body, "user_id", 36);
  if (user == nullptr || !isUuidText(*user))
    return apiFail(400, "invalid_request", "user_id (a person's id) is required");
  // One computer by default, valid three days: long enough to reach the person, short enough to go stale.
  auto uses = bounded(*body, "uses", 1, 1000);
  if (!uses) return std::unexpected(uses.error());
  auto ttl = bounded(*body, "ttl_hours", 72, 24 * 365);
  if (!ttl) return std::unexpected(ttl.error());
  db::Param profile;
  if (auto p = body->find("profile_id"); p != body->end() && !p->is_null()) {
    if (!p->is_string() || !isUuidText(p->get_ref<const std::string&>()))
      return apiFail(400, "invalid_request", "profile_id must be a UUID");
    profile = p->get<std::string>();
  }
  auto token = makeEnrolmentToken(caller->claims.sub, *user);
  if (!token) return apiFail(500, "internal", "internal error");

  auto lease = beginWithClaims(caller->tx());
  if (!lease) return std::unexpected(dbError(lease.error(), "enrolment token"));
  auto& c = **lease;
  auto r = c.run("wm_enrolment_token", kInsertEnrolmentTokenSql,
                 {caller->claims.company_id, "\\x" + hex(sha256(*token)), caller->claims.sub, std::to_string(*ttl),
                  std::to_string(*uses), profile, *user});
  if (!r && db::sqlState(r.error()) == "42501") return apiFail(403, "forbidden", "only a company admin may do this");
  if (!r) return std::unexpected(dbError(r.error(), "enrolment token"));
  if (r->rows() != 1)
    return apiFail(400, "invalid_request",
                   "user_id names no active person of this company, or profile_id no profile of it");
  const std::string id(r->value(0, 0)), expires(r->value(0, 1));
  const nlohmann::json issued{{"user_id", *user},
                              {"max_uses", *uses},
                              {"expires_at", expires},
                              {"profile_id", profile ? nlohmann::json(*profile) : nlohmann::json()}};
  if (auto a = audit(c, *caller, req, {"enrolment_token.issue", "enrolment_token", id, nullptr, issued, peer}); !a)
    return std::unexpected(dbError(a.error(), "enrolment token"));
  if (auto cm = commit(c); !cm) return std::unexpected(dbError(cm.error(), "enrolment token"));
  spdlog::info("admin: enrolment token {} for user {} ({} uses) issued by {}", id, *user, *uses, caller->claims.sub);
  nlohmann::json reply = issued;
  reply["token"] = *token;
  reply["token_id"] = id;
  return jsonResponse(201, reply);
}

Reply Service::listEnrolmentTokens(const HttpRequest& req) {
  auto caller = authenticate(req);
  if (!caller) return std::unexpected(caller.error());
  if (auto e = requireAdmin(*caller)) return std::unexpected(*e);
  auto lease = beginWithClaims(caller->tx());
  if (!lease) return std::unexpected(dbError(lease.error(), "enrolment tokens"));
  auto r = (*lease)->run(
      "wm_enrolment_tokens",
      "select t.id, case when t.account_rule is null then 'user' else 'unattended' end, t.user_id, u.email, "
      "t.account_rule, t.profile_id, t.max_uses, t.use_count, " +
          utc("t.expires_at") + ", " + utc("t.revoked_at") + ", " + utc("t.created_at") +
          ", t.created_by, case when t.revoked_at is not null then 'revoked' when t.use_count >= t.max_uses then "
          "'used_up' when t.expires_at <= now() then 'expired' else 'active' end "
          "from agent.enrolment_tokens t left join public.users u on u.user_id = t.user_id "
          "where t.company_id = $1::uuid order by t.created_at desc, t.id",
      {caller->claims.company_id});
  if (!r) return std::unexpected(dbError(r.error(), "enrolment tokens"));
  if (auto cm = commit(**lease); !cm) return std::unexpected(dbError(cm.error(), "enrolment tokens"));
  nlohmann::json list = nlohmann::json::array();
  for (int i = 0; i < r->rows(); ++i) {
    auto text = [&](int col) -> nlohmann::json {
      auto v = r->optional(i, col);
      return v ? nlohmann::json(*v) : nlohmann::json();
    };
    list.push_back({{"id", text(0)},
                    {"kind", text(1)},
                    {"user_id", text(2)},
                    {"user_email", text(3)},
                    {"rule", text(4)},
                    {"profile_id", text(5)},
                    {"max_uses", r->asInt(i, 6)},
                    {"use_count", r->asInt(i, 7)},
                    {"expires_at", text(8)},
                    {"revoked_at", text(9)},
                    {"created_at", text(10)},
                    {"created_by", text(11)},
                    {"state", text(12)}});
  }
  return jsonResponse(200, {{"tokens", list}});
}

Reply Service::revokeEnrolmentToken(const HttpRequest& req, const std::string& peer, const std::string& id) {
  auto caller = authenticate(req);
  if (!caller) return std::unexpected(caller.error());
  if (auto e = requireAdmin(*caller)) return std::unexpected(*e);
  auto lease = beginWithClaims(caller->tx());
  if (!lease) return std::unexpected(dbError(lease.error(), "enrolment tokens"));
  auto& c = **lease;
  // Revoking twice keeps the first time and writes one audit row. Devices it enrolled stay enrolled: revoke
  // those on their own (POST /api/v1/admin/devices/{id}/revoke).
  auto r = c.run("wm_enrolment_token_revoke",
                 "with t as (select id, revoked_at from agent.enrolment_tokens where id = $1::uuid and company_id = "
                 "$2::uuid for update), u as (update agent.enrolment_tokens set revoked_at = now() where id = (select "
                 "id from t where revoked_at is null) returning revoked_at) select " +
                     utc("(select revoked_at from t)") + ", " + utc("(select revoked_at from u)") +
                     ", (select count(*) from t)",
                 {id, caller->claims.company_id});
  if (!r) return std::unexpected(dbError(r.error(), "enrolment tokens"));
  if (r->asInt(0, 2) == 0) return apiFail(404, "not_found", "no enrolment token of this company has that id");
  const auto earlier = r->optional(0, 0), now_revoked = r->optional(0, 1);
  if (now_revoked) {
    if (auto a = audit(c, *caller, req,
                       {"enrolment_token.revoke",
                        "enrolment_token",
                        id,
                        {{"revoked_at", nullptr}},
                        {{"revoked_at", *now_revoked}},
                        peer});
        !a) {
      return std::unexpected(dbError(a.error(), "enrolment tokens"));
    }
  }
  if (auto cm = commit(c); !cm) return std::unexpected(dbError(cm.error(), "enrolment tokens"));
  if (now_revoked) spdlog::info("admin: enrolment token {} revoked by {}", id, caller->claims.sub);
  return jsonResponse(200, {{"id", id}, {"revoked_at", now_revoked ? *now_revoked : earlier.value_or("")}});
}

}  // namespace wm::server::http
