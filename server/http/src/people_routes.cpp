// The admin API of people and devices (HTTP_API.md, "People and devices"): list a company's people, change a
// person's name, role, employment type or access (disable: every session of theirs ends, auth.end_sessions: the
// refresh tokens are revoked and each access token fails at its next request), list devices
// with what their agents last told the server, revoke a device (its uploads and its refresh are refused from
// then on). RLS (users_member_read_self_admin_write, devices_owner_admin_all) confines an admin to their
// company; each change writes its public.audit_logs row in the same transaction.
#include <spdlog/spdlog.h>

#include "routes.h"

namespace wm::server::http {

namespace {

constexpr size_t kMaxFullNameBytes = 200;

// Every column userListJson reads; `u` is public.users.
constexpr const char* kPersonColumns =
    "u.user_id, u.email, u.full_name, u.role, u.employment_type, u.status, u.timezone, u.last_seen_at, "
    "u.created_at, (select count(*) from agent.devices d where d.user_id = u.user_id and d.revoked_at is null)";

nlohmann::json personJson(const db::QueryResult& r, int i) {
  auto text = [&](int col) -> nlohmann::json {
    auto v = r.optional(i, col);
    return v ? nlohmann::json(*v) : nlohmann::json();
  };
  return {{"user_id", text(0)},         {"email", text(1)},        {"full_name", text(2)}, {"role", text(3)},
          {"employment_type", text(4)}, {"status", text(5)},       {"timezone", text(6)},  {"last_seen_at", text(7)},
          {"created_at", text(8)},      {"devices", r.asInt(i, 9)}};
}

bool oneOf(const std::string& v, std::initializer_list<const char*> allowed) {
  for (const char* a : allowed)
    if (v == a) return true;
  return false;
}

// The fields of a person's edit, checked; a field not given is not changed.
struct PersonFields {
  std::optional<std::string> full_name, role, employment_type, status;
};

std::expected<PersonFields, ApiError> personFields(const nlohmann::json& body) {
  auto bad = [](const std::string& why) { return std::unexpected(ApiError{400, "invalid_request", why}); };
  for (const auto& [key, value] : body.items())
    if (key != "full_name" && key != "role" && key != "employment_type" && key != "status")
      return bad("unknown field '" + key + "' (a person has full_name, role, employment_type, status)");
  PersonFields f;
  auto text = [&](const char* name, size_t max, std::optional<std::string>& out) -> bool {
    if (!body.contains(name)) return true;
    const std::string* v = stringField(body, name, max);
    if (!v || v->empty()) return false;
    out = *v;
    return true;
  };
  if (!text("full_name", kMaxFullNameBytes, f.full_name)) return bad("full_name must be 1 to 200 bytes of text");
  if (!text("role", 16, f.role) || (f.role && !oneOf(*f.role, {"employee", "manager", "admin"})))
    return bad("role must be employee, manager or admin");
  if (!text("employment_type", 16, f.employment_type) ||
      (f.employment_type && !oneOf(*f.employment_type, {"fulltime", "parttime", "freelancer", "contractor"})))
    return bad("employment_type must be fulltime, parttime, freelancer or contractor");
  if (!text("status", 16, f.status) || (f.status && !oneOf(*f.status, {"active", "disabled"})))
    return bad("status must be active or disabled");
  if (!f.full_name && !f.role && !f.employment_type && !f.status)
    return bad("nothing to change: give full_name, role, employment_type or status");
  return f;
}

// Every column deviceJson reads; `d` is agent.devices, `u` its person. The agent's own absences of the last
// 7 days come from agent.downtime (its `downtime` records): crashes are what an admin looks into.
constexpr const char* kDeviceColumns =
    "d.id, d.user_id, u.email, u.full_name, d.name, d.platform, d.hostname, d.agent_version, d.profile_id, "
    "d.enrolled_at, d.last_seen_at, d.revoked_at, d.queue_pending, d.queue_quarantined, d.queue_oldest_at, "
    "d.queue_reported_at, (select count(*) from agent.downtime t where t.device_id = d.id and t.reason = 'crash' "
    "and t.started_at > now() - interval '7 days')";

nlohmann::json deviceJson(const db::QueryResult& r, int i) {
  auto text = [&](int col) -> nlohmann::json {
    auto v = r.optional(i, col);
    return v ? nlohmann::json(*v) : nlohmann::json();
  };
  nlohmann::json queue;  // null until the device's agent reports one
  if (r.optional(i, 12))
    queue = {{"pending", r.asInt(i, 12)},
             {"quarantined", r.asInt(i, 13)},
             {"oldest_pending_at", text(14)},
             {"reported_at", text(15)}};
  return {
      {"id", text(0)},         {"user_id", text(1)},          {"user_email", text(2)},    {"user_name", text(3)},
      {"name", text(4)},       {"platform", text(5)},         {"hostname", text(6)},      {"agent_version", text(7)},
      {"profile_id", text(8)}, {"enrolled_at", text(9)},      {"last_seen_at", text(10)}, {"revoked_at", text(11)},
      {"queue", queue},        {"crashes_7d", r.asInt(i, 16)}};
}

// The value of `name` in the request target's query string ("" when absent); only ids are looked up this way.
std::string queryParam(const HttpRequest& req, std::string_view name) {
  std::string_view t(req.target().data(), req.target().size());
  const size_t q = t.find('?');
  if (q == std::string_view::npos) return "";
  std::string_view rest = t.substr(q + 1);
  while (!rest.empty()) {
    const size_t amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    const size_t eq = pair.find('=');
    if (pair.substr(0, eq) == name) return std::string(eq == std::string_view::npos ? "" : pair.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    rest = rest.substr(amp + 1);
  }
  return "";
}

}  // namespace

Reply Service::listPeople(const HttpRequest& req) {
  auto caller = authenticate(req);
  if (!caller) return std::unexpected(caller.error());
  if (auto e = requireAdmin(*caller)) return std::unexpected(*e);
  auto lease = beginWithClaims(caller->tx());
  if (!lease) return std::unexpected(dbError(lease.error(), "people"));
  auto r = (*lease)->run("wm_people",
                         std::string("select ") + kPersonColumns +
                             " from public.users u where u.company_id = $1::uuid order by lower(u.full_name), u.email",
                         {caller->claims.company_id});
  if (!r) return std::unexpected(dbError(r.error(), "people"));
  if (auto cm = commit(**lease); !cm) return std::unexpected(dbError(cm.error(), "people"));
  nlohmann::json list = nlohmann::json::array();
  for (int i = 0; i < r->rows(); ++i) list.push_back(personJson(*r, i));
  return jsonResponse(200, {{"users", list}});
}

Reply Service::updatePerson(const HttpRequest& req, const std::string& peer, const std::string& id) {
  auto caller = authenticate(req);
  if (!caller) return std::unexpected(caller.error());
  if (auto e = requireAdmin(*caller)) return std::unexpected(*e);
  auto body = jsonBody(req);
  if (!body) return std::unexpected(body.error());
  auto f = personFields(*body);
  if (!f) return std::unexpected(f.error());
  // Another admin can; the caller cannot lock themself out (and so a company always keeps an admin).
  if (id == caller->claims.sub && ((f->role && *f->role != "admin") || (f->status && *f->status != "active")))
    return apiFail(409, "own_account", "an admin cannot demote or disable their own account; another admin can");

  auto lease = beginWithClaims(caller->tx());
  if (!lease) return std::unexpected(dbError(lease.error(), "people"));
  auto& c = **lease;
  const std::string& company = caller->claims.company_id;
  auto old = c.run("wm_person_lock",
                   std::string("select ") + kPersonColumns +
                       " from public.users u where u.user_id = $1::uuid and u.company_id = $2::uuid for update",
                   {id, company});
  if (!old) return std::unexpected(dbError(old.error(), "people"));
  if (old->rows() == 0) return apiFail(404, "not_found", "no person of this company has that id");
  const nlohmann::json before = personJson(*old, 0);
  if (f->status && before["status"] == "invited")
    return apiFail(409, "invited", "this person has not accepted the invitation yet; there is no access to change");
  auto param = [](const std::optional<std::string>& v) { return v ? db::Param(*v) : db::Param(); };
  auto r = c.run("wm_person_update",
                 "update public.users set full_name = coalesce($3, full_name), role = coalesce($4, role), "
                 "employment_type = coalesce($5, employment_type), status = coalesce($6, status), updated_at = now() "
                 "where user_id = $1::uuid and company_id = $2::uuid returning 1",
                 {id, company, param(f->full_name), param(f->role), param(f->employment_type), param(f->status)});
  if (!r) return std::unexpected(dbError(r.error(), "people"));
  // RLS let the caller read the person but not write them: not (or no longer) an admin of this company.
  if (r->rows() != 1) return apiFail(403, "forbidden", "only an administrator of this company can change a person");
  auto now_row =
      c.run("wm_person_read",
            std::string("select ") + kPersonColumns + " from public.users u where u.user_id = $1::uuid", {id});
  if (!now_row) return std::unexpected(dbError(now_row.error(), "people"));
  if (now_row->rows() != 1) return apiFail(500, "internal", "the person could not be read back");
  nlohmann::json after = personJson(*now_row, 0);
  // Disabling ends every session of the person at once and for good: their refresh tokens are revoked and
  // their access tokens fail from the next request on (auth.access_token_current), even after re-enabling.
  if (before["status"] == "active" && after["status"] == "disabled") {
    auto ended = c.run("wm_person_end_sessions", "select auth.end_sessions($1::uuid)", {id});
    if (!ended) return std::unexpected(dbError(ended.error(), "people"));
    after["sessions_ended"] = ended->asInt(0, 0);
  }
  nlohmann::json old_values = nlohmann::json::object(), new_values = nlohmann::json::object();
  for (const char* k : {"full_name", "role", "employment_type", "status"}) {
    if (before[k] == after[k]) continue;
    old_values[k] = before[k];
    new_values[k] = after[k];
  }
  if (!new_values.empty()) {
    if (auto a = audit(c, *caller, req, {"user.update", "user", id, old_values, new_values, peer}); !a)
      return std::unexpected(dbError(a.error(), "people"));
  }
  if (auto cm = commit(c); !cm) return std::unexpected(dbError(cm.error(), "people"));
  spdlog::info("admin: user {} changed by {}: {}", id, caller->claims.sub, new_values.dump());
  return jsonResponse(200, after);
}

Reply Service::listDevices(const HttpRequest& req) {
  auto caller = authenticate(req);
  if (!caller) return std::unexpected(caller.error());
  if (auto e = requireAdmin(*caller)) return std::unexpected(*e);
  const std::string user = queryParam(req, "user_id");
  if (!user.empty() && !isUuidText(user)) return apiFail(400, "invalid_request", "user_id must be an id");
  auto lease = beginWithClaims(caller->tx());
  if (!lease) return std::unexpected(dbError(lease.error(), "devices"));
  auto r = (*lease)->run("wm_devices",
                         std::string("select ") + kDeviceColumns +
                             " from agent.devices d join public.users u on u.user_id = d.user_id where d.company_id = "
                             "$1::uuid and ($2::uuid is null or d.user_id = $2::uuid) "
                             "order by d.revoked_at is not null, lower(u.full_name), d.enrolled_at",
                         {caller->claims.company_id, user.empty() ? db::Param() : db::Param(user)});
  if (!r) return std::unexpected(dbError(r.error(), "devices"));
  if (auto cm = commit(**lease); !cm) return std::unexpected(dbError(cm.error(), "devices"));
  nlohmann::json list = nlohmann::json::array();
  for (int i = 0; i < r->rows(); ++i) list.push_back(deviceJson(*r, i));
  return jsonResponse(200, {{"devices", list}});
}

Reply Service::revokeDevice(const HttpRequest& req, const std::string& peer, const std::string& id) {
  auto caller = authenticate(req);
  if (!caller) return std::unexpected(caller.error());
  if (auto e = requireAdmin(*caller)) return std::unexpected(*e);
  auto lease = beginWithClaims(caller->tx());
  if (!lease) return std::unexpected(dbError(lease.error(), "devices"));
  auto& c = **lease;
  // Revoking twice keeps the first time (and writes no second audit row).
  auto r = c.run("wm_device_revoke",
                 "with d as (select id, revoked_at from agent.devices where id = $1::uuid and company_id = $2::uuid "
                 "for update), u as (update agent.devices set revoked_at = now() where id = (select id from d where "
                 "revoked_at is null) returning revoked_at) select (select revoked_at from d), (select revoked_at from "
                 "u), (select count(*) from d)",
                 {id, caller->claims.company_id});
  if (!r) return std::unexpected(dbError(r.error(), "devices"));
  if (r->asInt(0, 2) == 0) return apiFail(404, "not_found", "no device of this company has that id");
  const auto earlier = r->optional(0, 0), now_revoked = r->optional(0, 1);
  if (now_revoked) {
    if (auto a =
            audit(c, *caller, req,
                  {"device.revoke", "device", id, {{"revoked_at", nullptr}}, {{"revoked_at", *now_revoked}}, peer});
        !a) {
      return std::unexpected(dbError(a.error(), "devices"));
    }
  }
  if (auto cm = commit(c); !cm) return std::unexpected(dbError(cm.error(), "devices"));
  if (now_revoked) spdlog::info("admin: device {} revoked by {}", id, caller->claims.sub);
  return jsonResponse(200, {{"id", id}, {"revoked_at", now_revoked ? *now_revoked : earlier.value_or("")}});
}

}  // namespace wm::server::http
