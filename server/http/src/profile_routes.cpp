// The admin API of configuration profiles (HTTP_API.md, "Configuration profiles"): list, read, create, edit,
// delete and assign, each profile's settings checked by the agent's own validator (wm_agent_settings:
// profileSettingsProblems), so the server stores nothing an agent would refuse. RLS (config_profiles_admin_all,
// devices_owner_admin_all) decides what an admin may touch; a profile of another company is invisible. Every
// change writes its public.audit_logs row in the same transaction.
#include <charconv>
#include <set>

#include <spdlog/spdlog.h>

#include "routes.h"
#include "workmonitor/agent/config.h"

namespace wm::server::http {

namespace {

constexpr size_t kMaxNameBytes = 200;
constexpr size_t kMaxAssignIds = 1000;

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

// The columns profileJson reads; `p` is agent.config_profiles. `devices`: the live devices assigned to it.
constexpr const char* kProfileColumns =
    "p.id, p.name, p.body::text, p.version, p.is_default, p.updated_at, (select count(*) from agent.devices d "
    "where d.profile_id = p.id and d.revoked_at is null)";

nlohmann::json profileJson(const db::QueryResult& r, int i) {
  auto settings = nlohmann::json::parse(r.value(i, 2), nullptr, false);
  return {{"id", std::string(r.value(i, 0))},
          {"name", std::string(r.value(i, 1))},
          {"settings", settings.is_object() ? settings : nlohmann::json::object()},
          {"version", r.asInt(i, 3)},
          {"is_default", r.value(i, 4) == "t"},
          {"updated_at", std::string(r.value(i, 5))},
          {"devices", r.asInt(i, 6)}};
}

// What an admin's edit shows in the audit log (the settings in full: a profile holds no secrets).
nlohmann::json auditValues(const nlohmann::json& profile) {
  return {{"name", profile["name"]},
          {"settings", profile["settings"]},
          {"is_default", profile["is_default"]},
          {"version", profile["version"]}};
}

// The company's profile `id`, locked for the rest of the transaction; nullopt when it has none by that id.
Result<std::optional<nlohmann::json>> lockedProfile(PooledConnection& c, const std::string& id,
                                                    const std::string& company) {
  auto r = c.run("wm_profile_lock",
                 std::string("select ") + kProfileColumns +
                     " from agent.config_profiles p where p.id = $1::uuid and p.company_id = $2::uuid for update",
                 {id, company});
  if (!r) return std::unexpected(r.error());
  if (r->rows() == 0) return std::optional<nlohmann::json>();
  return std::optional<nlohmann::json>(profileJson(*r, 0));
}

std::string etagOf(int version) { return "\"v" + std::to_string(version) + "\""; }

// The fields of a create (all of name and settings required) or an edit (any, at least one).
struct ProfileFields {
  std::optional<std::string> name;
  std::optional<nlohmann::json> settings;
  std::optional<bool> is_default;
};

std::expected<ProfileFields, HttpResponse> profileFields(const nlohmann::json& body, bool create) {
  auto bad = [](const std::string& why) {
    return std::unexpected(errorResponse(ApiError{400, "invalid_request", why}));
  };
  for (const auto& [key, value] : body.items())
    if (key != "name" && key != "settings" && key != "is_default")
      return bad("unknown field '" + key + "' (a profile has name, settings, is_default)");
  ProfileFields f;
  if (body.contains("name")) {
    const std::string* name = stringField(body, "name", kMaxNameBytes);
    if (!name || name->empty()) return bad("name must be 1 to 200 bytes of text");
    f.name = *name;
  } else if (create) {
    return bad("name (1 to 200 bytes of text) is required");
  }
  if (auto s = body.find("settings"); s != body.end()) {
    if (auto problems = agent::profileSettingsProblems(*s); !problems.empty())
      return std::unexpected(invalidProfile(problems));
    f.settings = *s;
  } else if (create) {
    return bad("settings (an object) is required");
  }
  if (auto d = body.find("is_default"); d != body.end()) {
    if (!d->is_boolean()) return bad("is_default must be true or false");
    f.is_default = d->get<bool>();
  }
  if (!create && !f.name && !f.settings && !f.is_default)
    return bad("nothing to change: give name, settings or is_default");
  return f;
}

// One default per company (a unique index): the old one stops being it in the same transaction.
Result<void> clearDefault(PooledConnection& c, const std::string& company, const db::Param& except) {
  auto r = c.run("wm_profile_undefault",
                 "update agent.config_profiles set is_default = false, updated_at = now() "
                 "where company_id = $1::uuid and is_default and id is distinct from $2::uuid",
                 {company, except});
  if (!r) return std::unexpected(r.error());
  return {};
}

// A JSON array of UUID text, each once (sorted), at most kMaxAssignIds; nullopt with `why` otherwise.
std::optional<std::set<std::string>> uuidList(const nlohmann::json& body, const char* name, std::string& why) {
  std::set<std::string> out;
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return out;
  if (!it->is_array() || it->size() > kMaxAssignIds) {
    why = std::string(name) + " must be an array of at most " + std::to_string(kMaxAssignIds) + " ids";
    return std::nullopt;
  }
  for (const auto& v : *it) {
    if (!v.is_string() || !isUuidText(v.get<std::string>())) {
      why = std::string(name) + " must hold ids (lower-case UUIDs)";
      return std::nullopt;
    }
    out.insert(v.get<std::string>());
  }
  return out;
}

// {a,b} for a $n::uuid[] parameter: every element was checked by isUuidText.
std::string pgArray(const std::set<std::string>& ids) {
  std::string out = "{";
  for (const auto& id : ids) out += (out.size() > 1 ? "," : "") + id;
  return out + "}";
}

// The ids of `wanted` that `found` (column 0 of r) lacks.
nlohmann::json missingIds(const std::set<std::string>& wanted, const db::QueryResult& found) {
  std::set<std::string> have;
  for (int i = 0; i < found.rows(); ++i) have.insert(std::string(found.value(i, 0)));
  nlohmann::json missing = nlohmann::json::array();
  for (const auto& id : wanted)
    if (!have.contains(id)) missing.push_back(id);
  return missing;
}

HttpResponse unknownIds(const char* code, const std::string& what, const nlohmann::json& ids) {
  return jsonResponse(
      400, {{"error",
             {{"code", code},
              {"message", "no " + what + " of this company has the id " + ids[0].get<std::string>() +
                              (ids.size() > 1 ? " (and " + std::to_string(ids.size() - 1) + " more)" : std::string())},
              {"ids", ids}}}});
}

}  // namespace

Reply Service::createProfile(const HttpRequest& req, const std::string& peer) {
  auto caller = authenticate(req);
  if (!caller) return std::unexpected(caller.error());
  if (auto e = requireAdmin(*caller)) return std::unexpected(*e);
  auto body = jsonBody(req);
  if (!body) return std::unexpected(body.error());
  auto f = profileFields(*body, true);
  if (!f) return std::move(f.error());
  const bool is_default = f->is_default.value_or(false);
  auto lease = beginWithClaims(caller->tx());
  if (!lease) return std::unexpected(dbError(lease.error(), "profile"));
  auto& c = **lease;
  if (is_default) {
    if (auto cl = clearDefault(c, caller->claims.company_id, std::nullopt); !cl)
      return std::unexpected(dbError(cl.error(), "profile"));
  }
  auto r = c.run(
      "wm_profile_insert",
      std::string("insert into agent.config_profiles as p (company_id, name, body, is_default, updated_by) "
                  "values ($1::uuid, $2, $3::jsonb, $4::boolean, $5::uuid) returning ") +
          kProfileColumns,
      {caller->claims.company_id, *f->name, f->settings->dump(), is_default ? "true" : "false", caller->claims.sub});
  if (!r && db::sqlState(r.error()) == "23505")
    return apiFail(409, "name_taken", "this company already has a profile named '" + *f->name + "'");
  if (!r && db::sqlState(r.error()) == "42501") return apiFail(403, "forbidden", "only a company admin may do this");
  if (!r) return std::unexpected(dbError(r.error(), "profile"));
  const nlohmann::json created = profileJson(*r, 0);
  if (auto a = audit(
          c, *caller, req,
          {"profile.create", "config_profile", created["id"].get<std::string>(), nullptr, auditValues(created), peer});
      !a) {
    return std::unexpected(dbError(a.error(), "profile"));
  }
  if (auto cm = commit(c); !cm) return std::unexpected(dbError(cm.error(), "profile"));
  spdlog::info("admin: profile {} created by {}", created["id"].get<std::string>(), caller->claims.sub);
  HttpResponse res = jsonResponse(201, created);
  res.set(bhttp::field::etag, etagOf(created["version"].get<int>()));
  return res;
}

Reply Service::listProfiles(const HttpRequest& req) {
  auto caller = authenticate(req);
  if (!caller) return std::unexpected(caller.error());
  if (auto e = requireAdmin(*caller)) return std::unexpected(*e);
  auto lease = beginWithClaims(caller->tx());
  if (!lease) return std::unexpected(dbError(lease.error(), "profiles"));
  auto r = (*lease)->run("wm_profile_list",
                         std::string("select ") + kProfileColumns +
                             " from agent.config_profiles p where p.company_id = $1::uuid order by p.name",
                         {caller->claims.company_id});
  if (!r) return std::unexpected(dbError(r.error(), "profiles"));
  if (auto cm = commit(**lease); !cm) return std::unexpected(dbError(cm.error(), "profiles"));
  nlohmann::json list = nlohmann::json::array();
  for (int i = 0; i < r->rows(); ++i) list.push_back(profileJson(*r, i));
  return jsonResponse(200, {{"profiles", list}});
}

Reply Service::getProfile(const HttpRequest& req, const std::string& id) {
  auto caller = authenticate(req);
  if (!caller) return std::unexpected(caller.error());
  if (auto e = requireAdmin(*caller)) return std::unexpected(*e);
  auto lease = beginWithClaims(caller->tx());
  if (!lease) return std::unexpected(dbError(lease.error(), "profile"));
  auto r = (*lease)->run("wm_profile_get",
                         std::string("select ") + kProfileColumns +
                             " from agent.config_profiles p where p.id = $1::uuid and p.company_id = $2::uuid",
                         {id, caller->claims.company_id});
  if (!r) return std::unexpected(dbError(r.error(), "profile"));
  if (auto cm = commit(**lease); !cm) return std::unexpected(dbError(cm.error(), "profile"));
  if (r->rows() == 0) return apiFail(404, "not_found", "no profile of this company has that id");
  const nlohmann::json p = profileJson(*r, 0);
  HttpResponse res = jsonResponse(200, p);
  res.set(bhttp::field::etag, etagOf(p["version"].get<int>()));
  return res;
}

Reply Service::updateProfile(const HttpRequest& req, const std::string& peer, const std::string& id) {
  auto caller = authenticate(req);
  if (!caller) return std::unexpected(caller.error());
  if (auto e = requireAdmin(*caller)) return std::unexpected(*e);
  // If-Match "vN" (the ETag of GET): the edit applies only to that version, so two admins editing at once
  // do not silently overwrite each other. Without it the edit applies to whatever is there.
  std::optional<int> expected;
  if (auto im = req.find(bhttp::field::if_match); im != req.end() && im->value() != "*") {
    const std::string v(im->value());
    int n = 0;
    const bool ok = v.size() > 3 && v.starts_with("\"v") && v.ends_with('"') &&
                    std::from_chars(v.data() + 2, v.data() + v.size() - 1, n).ptr == v.data() + v.size() - 1;
    if (!ok) return apiFail(400, "invalid_request", "If-Match must be the profile's ETag (\"vN\") or *");
    expected = n;
  }
  auto body = jsonBody(req);
  if (!body) return std::unexpected(body.error());
  auto f = profileFields(*body, false);
  if (!f) return std::move(f.error());
  auto lease = beginWithClaims(caller->tx());
  if (!lease) return std::unexpected(dbError(lease.error(), "profile"));
  auto& c = **lease;
  auto old = lockedProfile(c, id, caller->claims.company_id);
  if (!old) return std::unexpected(dbError(old.error(), "profile"));
  if (!*old) return apiFail(404, "not_found", "no profile of this company has that id");
  const nlohmann::json before = **old;
  if (expected && *expected != before["version"].get<int>()) {
    return apiFail(412, "version_conflict",
                   "the profile is at version " + std::to_string(before["version"].get<int>()) +
                       " (it was changed since version " + std::to_string(*expected) + "); reload it and edit again");
  }
  if (f->is_default.value_or(false)) {
    if (auto cl = clearDefault(c, caller->claims.company_id, id); !cl)
      return std::unexpected(dbError(cl.error(), "profile"));
  }
  auto r = c.run("wm_profile_update",
                 std::string("update agent.config_profiles p set name = coalesce($3, p.name), "
                             "body = coalesce($4::jsonb, p.body), is_default = coalesce($5::boolean, p.is_default), "
                             "version = p.version + 1, updated_at = now(), updated_by = $6::uuid "
                             "where p.id = $1::uuid and p.company_id = $2::uuid returning ") +
                     kProfileColumns,
                 {id, caller->claims.company_id, f->name, f->settings ? db::Param(f->settings->dump()) : db::Param(),
                  f->is_default ? db::Param(*f->is_default ? "true" : "false") : db::Param(), caller->claims.sub});
  if (!r && db::sqlState(r.error()) == "23505")
    return apiFail(409, "name_taken", "this company already has a profile named '" + f->name.value_or("") + "'");
  if (!r) return std::unexpected(dbError(r.error(), "profile"));
  const nlohmann::json after = profileJson(*r, 0);
  if (auto a = audit(c, *caller, req,
                     {"profile.update", "config_profile", id, auditValues(before), auditValues(after), peer});
      !a) {
    return std::unexpected(dbError(a.error(), "profile"));
  }
  if (auto cm = commit(c); !cm) return std::unexpected(dbError(cm.error(), "profile"));
  spdlog::info("admin: profile {} edited by {} (now version {})", id, caller->claims.sub, after["version"].get<int>());
  HttpResponse res = jsonResponse(200, after);
  res.set(bhttp::field::etag, etagOf(after["version"].get<int>()));
  return res;
}

Reply Service::deleteProfile(const HttpRequest& req, const std::string& peer, const std::string& id) {
  auto caller = authenticate(req);
  if (!caller) return std::unexpected(caller.error());
  if (auto e = requireAdmin(*caller)) return std::unexpected(*e);
  auto lease = beginWithClaims(caller->tx());
  if (!lease) return std::unexpected(dbError(lease.error(), "profile"));
  auto& c = **lease;
  auto old = lockedProfile(c, id, caller->claims.company_id);
  if (!old) return std::unexpected(dbError(old.error(), "profile"));
  if (!*old) return apiFail(404, "not_found", "no profile of this company has that id");
  const nlohmann::json before = **old;
  // Devices and enrolment tokens that named it fall back to the default (the foreign keys set null).
  auto tokens = c.run("wm_profile_tokens",
                      "select count(*) from agent.enrolment_tokens where profile_id = $1::uuid and revoked_at is null "
                      "and expires_at > now()",
                      {id});
  if (!tokens) return std::unexpected(dbError(tokens.error(), "profile"));
  auto r = c.run("wm_profile_delete", "delete from agent.config_profiles where id = $1::uuid and company_id = $2::uuid",
                 {id, caller->claims.company_id});
  if (!r) return std::unexpected(dbError(r.error(), "profile"));
  if (auto a = audit(c, *caller, req, {"profile.delete", "config_profile", id, auditValues(before), nullptr, peer});
      !a) {
    return std::unexpected(dbError(a.error(), "profile"));
  }
  if (auto cm = commit(c); !cm) return std::unexpected(dbError(cm.error(), "profile"));
  spdlog::info("admin: profile {} deleted by {}", id, caller->claims.sub);
  return jsonResponse(200, {{"id", id},
                            {"was_default", before["is_default"]},
                            {"devices_now_on_default", before["devices"]},
                            {"enrolment_tokens_now_on_default", tokens->asInt(0, 0)}});
}

Reply Service::assignProfile(const HttpRequest& req, const std::string& peer) {
  auto caller = authenticate(req);
  if (!caller) return std::unexpected(caller.error());
  if (auto e = requireAdmin(*caller)) return std::unexpected(*e);
  auto body = jsonBody(req);
  if (!body) return std::unexpected(body.error());
  if (!body->is_object()) return apiFail(400, "invalid_request", "the body must be a JSON object");
  for (const auto& [key, value] : body->items())
    if (key != "profile_id" && key != "device_ids" && key != "user_ids")
      return apiFail(400, "invalid_request",
                     "unknown field '" + key + "' (an assignment has profile_id, device_ids, user_ids)");
  auto pid = body->find("profile_id");
  if (pid == body->end() || !(pid->is_null() || (pid->is_string() && isUuidText(pid->get<std::string>()))))
    return apiFail(400, "invalid_request", "profile_id (an id, or null for the company's default) is required");
  const db::Param profile = pid->is_null() ? db::Param() : db::Param(pid->get<std::string>());
  std::string why;
  auto devices = uuidList(*body, "device_ids", why);
  if (!devices) return apiFail(400, "invalid_request", why);
  auto users = uuidList(*body, "user_ids", why);
  if (!users) return apiFail(400, "invalid_request", why);
  if (devices->empty() && users->empty()) return apiFail(400, "invalid_request", "give device_ids or user_ids");

  auto lease = beginWithClaims(caller->tx());
  if (!lease) return std::unexpected(dbError(lease.error(), "assignment"));
  auto& c = **lease;
  const std::string& company = caller->claims.company_id;
  if (profile) {
    auto p =
        c.run("wm_assign_profile", "select id from agent.config_profiles where id = $1::uuid and company_id = $2::uuid",
              {profile, company});
    if (!p) return std::unexpected(dbError(p.error(), "assignment"));
    if (p->rows() == 0) return unknownIds("unknown_profile", "profile", nlohmann::json::array({*profile}));
  }
  if (!devices->empty()) {
    auto d = c.run("wm_assign_devices",
                   "select id::text from agent.devices where company_id = $1::uuid and id = any($2::uuid[])",
                   {company, pgArray(*devices)});
    if (!d) return std::unexpected(dbError(d.error(), "assignment"));
    if (auto missing = missingIds(*devices, *d); !missing.empty())
      return unknownIds("unknown_device", "device", missing);
  }
  if (!users->empty()) {
    auto u = c.run("wm_assign_users",
                   "select user_id::text from public.users where company_id = $1::uuid and user_id = any($2::uuid[])",
                   {company, pgArray(*users)});
    if (!u) return std::unexpected(dbError(u.error(), "assignment"));
    if (auto missing = missingIds(*users, *u); !missing.empty()) return unknownIds("unknown_user", "user", missing);
  }
  // The named devices, and every device of the named people still enrolled.
  auto r = c.run("wm_assign",
                 "update agent.devices set profile_id = $1::uuid where company_id = $2::uuid and "
                 "(id = any($3::uuid[]) or (user_id = any($4::uuid[]) and revoked_at is null)) returning id::text",
                 {profile, company, pgArray(*devices), pgArray(*users)});
  if (!r) return std::unexpected(dbError(r.error(), "assignment"));
  std::set<std::string> changed;
  for (int i = 0; i < r->rows(); ++i) changed.insert(std::string(r->value(i, 0)));
  const nlohmann::json changed_json(changed);
  if (auto a = audit(c, *caller, req,
                     {"profile.assign",
                      "config_profile",
                      profile,
                      nullptr,
                      {{"profile_id", profile ? nlohmann::json(*profile) : nlohmann::json()},
                       {"device_ids", changed_json},
                       {"user_ids", nlohmann::json(*users)}},
                      peer});
      !a) {
    return std::unexpected(dbError(a.error(), "assignment"));
  }
  if (auto cm = commit(c); !cm) return std::unexpected(dbError(cm.error(), "assignment"));
  spdlog::info("admin: {} device(s) set to profile {} by {}", changed.size(), profile.value_or("(default)"),
               caller->claims.sub);
  return jsonResponse(
      200, {{"profile_id", profile ? nlohmann::json(*profile) : nlohmann::json()}, {"devices", changed_json}});
}

}  // namespace wm::server::http
