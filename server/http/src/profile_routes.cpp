// The admin API of configuration profiles (HTTP_API.md, "Configuration profiles"): list and create, each
// profile's settings checked by the agent's own validator (wm_agent_settings: profileSettingsProblems), so
// the server stores nothing an agent would refuse. RLS (config_profiles_admin_all) decides what an admin may
// touch; a profile of another company is invisible.
#include <spdlog/spdlog.h>

#include "routes.h"
#include "workmonitor/agent/config.h"

namespace wm::server::http {

namespace {

constexpr size_t kMaxNameBytes = 200;

const char* kindName(agent::SettingProblem::Kind k) {
  switch (k) {
    case agent::SettingProblem::Kind::kBadValue:
      return "bad_value";
    case agent::SettingProblem::Kind::kUnknown:
      return "unknown_setting";
    case agent::SettingProblem::Kind::kLocalOnly:
      return "local_only";
  }
  return "bad_value";
}

// 400 with one entry per refused field: what the console shows next to each.
HttpResponse invalidProfile(const std::vector<agent::SettingProblem>& problems) {
  nlohmann::json fields = nlohmann::json::array();
  std::string summary;
  for (const auto& p : problems) {
    fields.push_back({{"key", p.key}, {"message", p.message}, {"kind", kindName(p.kind)}});
    summary += (summary.empty() ? "" : "; ") + (p.key.empty() ? std::string("settings") : p.key) + ": " + p.message;
  }
  return jsonResponse(400, {{"error", {{"code", "invalid_profile"}, {"message", summary}, {"fields", fields}}}});
}

nlohmann::json profileJson(const db::QueryResult& r, int i) {
  auto settings = nlohmann::json::parse(r.value(i, 2), nullptr, false);
  return {{"id", std::string(r.value(i, 0))},
          {"name", std::string(r.value(i, 1))},
          {"settings", settings.is_object() ? settings : nlohmann::json::object()},
          {"version", r.asInt(i, 3)},
          {"is_default", r.value(i, 4) == "t"},
          {"updated_at", std::string(r.value(i, 5))}};
}

constexpr const char* kProfileColumns = "id, name, body::text, version, is_default, updated_at";

}  // namespace

Reply Service::createProfile(const HttpRequest& req) {
  auto caller = authenticate(req);
  if (!caller) return std::unexpected(caller.error());
  if (auto e = requireAdmin(*caller)) return std::unexpected(*e);
  auto body = jsonBody(req);
  if (!body) return std::unexpected(body.error());
  for (const auto& [key, value] : body->items())
    if (key != "name" && key != "settings" && key != "is_default")
      return apiFail(400, "invalid_request", "unknown field '" + key + "' (a profile has name, settings, is_default)");
  const std::string* name = stringField(*body, "name", kMaxNameBytes);
  if (!name || name->empty()) return apiFail(400, "invalid_request", "name (1 to 200 bytes of text) is required");
  const auto settings = body->find("settings");
  if (settings == body->end()) return apiFail(400, "invalid_request", "settings (an object) is required");
  if (auto problems = agent::profileSettingsProblems(*settings); !problems.empty()) return invalidProfile(problems);
  bool is_default = false;
  if (auto d = body->find("is_default"); d != body->end()) {
    if (!d->is_boolean()) return apiFail(400, "invalid_request", "is_default must be true or false");
    is_default = d->get<bool>();
  }
  auto lease = beginWithClaims(caller->tx());
  if (!lease) return std::unexpected(dbError(lease.error(), "profile"));
  auto& c = **lease;
  if (is_default) {
    // One default per company (a unique index): the old one stops being it in the same transaction.
    auto clear = c.run("wm_profile_undefault",
                       "update agent.config_profiles set is_default = false, updated_at = now() "
                       "where company_id = $1::uuid and is_default",
                       {caller->claims.company_id});
    if (!clear) return std::unexpected(dbError(clear.error(), "profile"));
  }
  auto r =
      c.run("wm_profile_insert",
            std::string("insert into agent.config_profiles (company_id, name, body, is_default, updated_by) "
                        "values ($1::uuid, $2, $3::jsonb, $4::boolean, $5::uuid) returning ") +
                kProfileColumns,
            {caller->claims.company_id, *name, settings->dump(), is_default ? "true" : "false", caller->claims.sub});
  if (!r && db::sqlState(r.error()) == "23505")
    return apiFail(409, "name_taken", "this company already has a profile named '" + *name + "'");
  if (!r && db::sqlState(r.error()) == "42501") return apiFail(403, "forbidden", "only a company admin may do this");
  if (!r) return std::unexpected(dbError(r.error(), "profile"));
  if (auto cm = commit(c); !cm) return std::unexpected(dbError(cm.error(), "profile"));
  spdlog::info("admin: profile {} created by {}", std::string(r->value(0, 0)), caller->claims.sub);
  return jsonResponse(201, profileJson(*r, 0));
}

Reply Service::listProfiles(const HttpRequest& req) {
  auto caller = authenticate(req);
  if (!caller) return std::unexpected(caller.error());
  if (auto e = requireAdmin(*caller)) return std::unexpected(*e);
  auto lease = beginWithClaims(caller->tx());
  if (!lease) return std::unexpected(dbError(lease.error(), "profiles"));
  auto r = (*lease)->run("wm_profile_list",
                         std::string("select ") + kProfileColumns +
                             " from agent.config_profiles where company_id = $1::uuid order by name",
                         {caller->claims.company_id});
  if (!r) return std::unexpected(dbError(r.error(), "profiles"));
  if (auto cm = commit(**lease); !cm) return std::unexpected(dbError(cm.error(), "profiles"));
  nlohmann::json list = nlohmann::json::array();
  for (int i = 0; i < r->rows(); ++i) list.push_back(profileJson(*r, i));
  return jsonResponse(200, {{"profiles", list}});
}

}  // namespace wm::server::http
