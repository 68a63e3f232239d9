// Enrolment, profile, projects, screenshot upload and readiness (HTTP_API.md).
#include <spdlog/spdlog.h>

#include <fstream>
#include <functional>
#include <system_error>

#include "routes.h"
#include "workmonitor/server/http/crypto.h"
#include "workmonitor/server/http/enrolment.h"

namespace wm::server::http {

namespace {

// Who an unattended token enrols: the active user the token's rule picks for the computer account.
std::expected<nlohmann::json, ApiError> matchAccount(PooledConnection& c, const std::string& company,
                                                     const std::string& rule, const std::string& account,
                                                     const std::function<ApiError(const Error&)>& db_error) {
  const bool by_mapping = rule == "mapping";
  auto u = by_mapping ? c.run("wm_enrol_by_mapping",
                              std::string("select ") + kUserColumns +
                                  " from agent.account_mappings m join public.users u on u.user_id = m.user_id "
                                  "and u.company_id = m.company_id where m.company_id = $1::uuid "
                                  "and m.os_account = lower($2) and u.status = 'active'",
                              {company, account})
                      : c.run("wm_enrol_by_local_part",
                              std::string("select ") + kUserColumns +
                                  " from public.users u where u.company_id = $1::uuid and u.status = 'active' "
                                  "and lower(split_part(u.email, '@', 1)) = lower($2) limit 2",
                              {company, account});
  if (!u) return std::unexpected(db_error(u.error()));
  if (u->rows() == 1) return userJson(*u, 0);
  const char* rule_text = by_mapping ? "mapping" : "email local part";
  if (u->rows() > 1) {
    return apiFail(403, "no_account_match",
                   "more than one active user of this company matches the computer account '" + account +
                       "' (rule: " + rule_text + "), so none is chosen; ask your administrator to map this account");
  }
  return apiFail(403, "no_account_match",
                 "no active user of this company matches the computer account '" + account + "' (rule: " + rule_text +
                     "); ask your administrator to add this account");
}

}  // namespace

Reply Service::enroll(const HttpRequest& req) {
  auto body = jsonBody(req);
  if (!body) return std::unexpected(body.error());
  const std::string* token = stringField(*body, "enrollment_token", 512);
  auto dev = body->find("device");
  if (token == nullptr || dev == body->end() || !dev->is_object()) {
    return apiFail(400, "invalid_request", "enrollment_token and device are required");
  }
  // A wme1 token names its user; a wmu1 (unattended, company-level) token leaves the choice to its rule and
  // the computer account the agent runs as.
  const bool unattended = token->starts_with("wmu1.");
  std::string admin_id;
  std::optional<std::string> named_user;
  std::string os_account;
  if (unattended) {
    auto admin = parseUnattendedToken(*token);
    if (!admin) return apiFail(401, "invalid_token", "the enrolment token is not valid");
    const auto acc = body->find("os_account");
    if (acc == body->end() || !acc->is_string() || !validOsAccount(acc->get_ref<const std::string&>())) {
      return apiFail(400, "invalid_request",
                     "os_account (the computer account, 1..256 characters, no control characters) is required with "
                     "an unattended enrolment token");
    }
    os_account = acc->get<std::string>();
    admin_id = *admin;
  } else {
    auto parsed = parseEnrolmentToken(*token);
    if (!parsed) return apiFail(401, "invalid_token", "the enrolment token is not valid");
    admin_id = parsed->admin_id;
    named_user = parsed->user_id;
  }
  const std::string* hostname = stringField(*dev, "hostname", 255);
  const std::string* os = stringField(*dev, "os", 64);
  const std::string* agent_version = stringField(*dev, "agent_version", 64);
  std::string platform = os ? *os : "";
  for (char& ch : platform) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (platform == "darwin" || platform == "mac") platform = "macos";
  if (platform != "linux" && platform != "windows" && platform != "macos") {
    return apiFail(400, "invalid_request", "device.os must be linux, windows or macos");
  }

  // The token names the admin who issued it; the lookup runs with that admin's claim (the table is
  // admin-only under RLS) and finds a row only when the secret's hash matches one of their company's tokens.
  auto lease = beginWithClaims(TxClaims{admin_id, nlohmann::json{{"sub", admin_id}}.dump()});
  if (!lease) return std::unexpected(dbError(lease.error(), "enroll"));
  auto& c = **lease;
  // Locked, not yet spent: a use is spent only once the account matched (a refused account costs nothing).
  auto t = c.run("wm_enrol_token",
                 "select id, company_id, profile_id, account_rule from agent.enrolment_tokens "
                 "where token_hash = $1::bytea and company_id = (select auth.admin_company_id()) "
                 "and revoked_at is null and expires_at > now() and use_count < max_uses "
                 "and (account_rule is not null) = $2::boolean for update",
                 {"\\x" + hex(sha256(*token)), unattended ? "true" : "false"});
  if (!t) return std::unexpected(dbError(t.error(), "enroll"));
  if (t->rows() != 1) return apiFail(401, "invalid_token", "the enrolment token is unknown, used up or expired");
  const std::string token_id(t->value(0, 0));
  const std::string company(t->value(0, 1));
  const auto profile = t->optional(0, 2);
  nlohmann::json user;
  if (unattended) {
    auto m = matchAccount(c, company, std::string(t->value(0, 3)), os_account,
                          [&](const Error& e) { return dbError(e, "enroll"); });
    if (!m) {
      spdlog::info("enroll: unattended token {} matched no user ({})", token_id, m.error().message);
      return std::unexpected(m.error());
    }
    user = std::move(*m);
  } else {
    auto u =
        c.run("wm_enrol_user",
              std::string("select ") + kUserColumns +
                  " from public.users u where u.user_id = $1::uuid and u.company_id = $2::uuid and u.status = 'active'",
              {*named_user, company});
    if (!u) return std::unexpected(dbError(u.error(), "enroll"));
    if (u->rows() != 1) return apiFail(401, "invalid_token", "the enrolment token's user is not active");
    user = userJson(*u, 0);
  }
  auto spend = c.run("wm_enrol_spend",
                     "update agent.enrolment_tokens set use_count = use_count + 1 where id = $1::uuid", {token_id});
  if (!spend) return std::unexpected(dbError(spend.error(), "enroll"));
  const std::string user_id = user.at("user_id").get<std::string>();
  // The rest happens as the enrolled user: their device, their refresh token.
  if (auto s = setClaims(c, userClaims(user)); !s) return std::unexpected(dbError(s.error(), "enroll"));
  auto d = c.run("wm_enrol_device",
                 "insert into agent.devices (company_id, user_id, name, platform, hostname, agent_version, profile_id) "
                 "values ($1::uuid, $2::uuid, $3, $4, $3, $5, $6::uuid) returning id",
                 {company, user_id, hostname ? *hostname : std::string("device"), platform,
                  agent_version ? db::Param(*agent_version) : db::Param(), profile});
  if (!d) return std::unexpected(dbError(d.error(), "enroll"));
  const std::string device_id(d->value(0, 0));
  auto tokens = issueTokens(c, user, "", device_id);
  if (!tokens) return std::unexpected(tokens.error());
  if (auto cm = commit(c); !cm) return std::unexpected(dbError(cm.error(), "enroll"));
  tokens->erase("_refresh_id");
  (*tokens)["device_id"] = device_id;
  spdlog::info("enroll: device {} enrolled for user {}{}", device_id, user_id, unattended ? " (unattended)" : "");
  return jsonResponse(200, *tokens);
}

Reply Service::profile(const HttpRequest& req) {
  auto caller = authenticate(req);
  if (!caller) return std::unexpected(caller.error());
  std::optional<std::string> device;
  if (auto h = req.find("X-Device-Id");
      h != req.end() && isUuidText(std::string_view(h->value().data(), h->value().size()))) {
    device = std::string(h->value());
  }
  auto lease = beginWithClaims(caller->tx());
  if (!lease) return std::unexpected(dbError(lease.error(), "profile"));
  // The device's own profile when it has one, else the company's default.
  auto p =
      (*lease)->run("wm_profile",
                    "select p.id, p.version, p.body::text from agent.config_profiles p where p.company_id = $1::uuid "
                    "and (p.is_default or p.id = (select d.profile_id from agent.devices d where d.id = $2::uuid "
                    "and d.user_id = $3::uuid)) order by (p.id = (select d.profile_id from agent.devices d "
                    "where d.id = $2::uuid and d.user_id = $3::uuid)) desc nulls last limit 1",
                    {caller->claims.company_id, device, caller->claims.sub});
  if (!p) return std::unexpected(dbError(p.error(), "profile"));
  if (auto cm = commit(**lease); !cm) return std::unexpected(dbError(cm.error(), "profile"));
  nlohmann::json out{{"profile_id", nullptr}, {"version", 0}, {"settings", nlohmann::json::object()}};
  if (p->rows() == 1) {
    auto settings = nlohmann::json::parse(p->value(0, 2), nullptr, false);
    out = {{"profile_id", std::string(p->value(0, 0))},
           {"version", p->asInt(0, 1)},
           {"settings", settings.is_object() ? settings : nlohmann::json::object()}};
  }
  // The tag follows the content, so it changes whenever the settings do, whatever the version says.
  const std::string etag = "\"" + hex(sha256(out.dump())).substr(0, 32) + "\"";
  // max-age tells the agent when to ask again: how soon an admin's edit reaches it (private: one person's).
  const std::string cache = "private, max-age=" + std::to_string(config_.profile_refresh.count());
  if (auto inm = req.find(bhttp::field::if_none_match); inm != req.end() && inm->value() == etag) {
    HttpResponse res{bhttp::status::not_modified, 11};
    res.set(bhttp::field::etag, etag);
    res.set(bhttp::field::cache_control, cache);
    return res;
  }
  HttpResponse res = jsonResponse(200, out);
  res.set(bhttp::field::etag, etag);
  res.set(bhttp::field::cache_control, cache);
  return res;
}

Reply Service::projects(const HttpRequest& req) {
  auto caller = authenticate(req);
  if (!caller) return std::unexpected(caller.error());
  auto lease = beginWithClaims(caller->tx());
  if (!lease) return std::unexpected(dbError(lease.error(), "projects"));
  auto r = (*lease)->run(
      "wm_projects",
      "select p.id, p.name, t.id, t.title from public.projects p left join public.tasks t on t.project_id = p.id "
      "and t.company_id = $1::uuid and t.status in ('todo', 'in_progress') "
      "where p.company_id = $1::uuid and p.status = 'active' order by p.name, p.id, t.title, t.id",
      {caller->claims.company_id});
  if (!r) return std::unexpected(dbError(r.error(), "projects"));
  if (auto cm = commit(**lease); !cm) return std::unexpected(dbError(cm.error(), "projects"));
  nlohmann::json list = nlohmann::json::array();
  for (int i = 0; i < r->rows(); ++i) {
    const std::string pid(r->value(i, 0));
    if (list.empty() || list.back()["project_id"] != pid) {
      list.push_back({{"project_id", pid}, {"name", std::string(r->value(i, 1))}, {"tasks", nlohmann::json::array()}});
    }
    if (!r->isNull(i, 2)) {
      list.back()["tasks"].push_back({{"task_id", std::string(r->value(i, 2))}, {"name", std::string(r->value(i, 3))}});
    }
  }
  return jsonResponse(200, {{"projects", list}});
}

Reply Service::screenshot(const HttpRequest& req, const std::string& id) {
  auto caller = authenticate(req);
  if (!caller) return std::unexpected(caller.error());
  auto ct = req.find(bhttp::field::content_type);
  const std::string type = ct == req.end() ? "" : std::string(ct->value());
  if (type != "image/jpeg" && type != "image/webp") {
    return apiFail(415, "unsupported_media_type", "Content-Type must be image/jpeg or image/webp");
  }
  auto sh = req.find("X-Content-SHA256");
  std::string claimed = sh == req.end() ? "" : std::string(sh->value());
  for (char& ch : claimed) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (claimed.size() != 64) return apiFail(400, "invalid_request", "X-Content-SHA256 (64 hex digits) is required");
  if (req.body().empty()) return apiFail(400, "invalid_request", "the image is empty");
  const std::string digest = hex(sha256(req.body()));
  if (!constantTimeEqual(digest, claimed)) {
    return apiFail(400, "checksum_mismatch", "the image's sha256 does not match X-Content-SHA256");
  }
  auto lease = beginWithClaims(caller->tx());
  if (!lease) return std::unexpected(dbError(lease.error(), "screenshot"));
  auto m =
      (*lease)->run("wm_shot_exists", "select 1 from public.screenshots where id = $1::uuid and user_id = $2::uuid",
                    {id, caller->claims.sub});
  if (!m) return std::unexpected(dbError(m.error(), "screenshot"));
  if (m->rows() != 1) return apiFail(409, "metadata_missing", "upload the screenshot's metadata record first");
  // Content-addressed: the same image twice is one file; write to a temp name, then rename (atomic).
  const std::string key = "sha256/" + digest.substr(0, 2) + "/" + digest;
  const auto path = config_.screenshot_dir / key;
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  if (!std::filesystem::exists(path, ec)) {
    const auto tmp = path.string() + ".tmp" + hex(randomBytes(6).value_or("xxxxxx"));
    {
      std::ofstream out(tmp, std::ios::binary);
      out.write(req.body().data(), static_cast<std::streamsize>(req.body().size()));
      if (!out.flush()) {
        spdlog::error("screenshot: cannot write under {}", config_.screenshot_dir.string());
        std::filesystem::remove(tmp, ec);
        return apiFail(503, "unavailable", "cannot store the image now", 30);
      }
    }
    std::filesystem::rename(tmp, path, ec);
    if (ec) return apiFail(503, "unavailable", "cannot store the image now", 30);
  }
  // storage_key is unique per row while the file is shared by identical images: a row's key is the file's
  // key, '#', the row's id. Later shots of an unchanged screen that arrived before this image point at it
  // as "same/<id>" and get the same file.
  auto u = (*lease)->run("wm_shot_key",
                         "update public.screenshots set storage_key = $3 || '#' || id::text where user_id = $2::uuid "
                         "and (id = $1::uuid or storage_key = 'same/' || $1)",
                         {id, caller->claims.sub, key});
  if (!u) return std::unexpected(dbError(u.error(), "screenshot"));
  if (auto cm = commit(**lease); !cm) return std::unexpected(dbError(cm.error(), "screenshot"));
  return jsonResponse(200, {{"id", id}, {"sha256", digest}, {"stored", true}});
}

Reply Service::ready() {
  auto lease = beginWithClaims(TxClaims{"", ""});
  if (!lease) return apiFail(503, "not_ready", "the database is unavailable", 5);
  // The runtime role cannot read meta.schema_migrations; auth.schema_version() tells it the newest version.
  auto v = (*lease)->run("wm_ready_version", "select auth.schema_version()", {});
  if (!v) return apiFail(503, "not_ready", "the database is unavailable or not migrated", 5);
  (void)commit(**lease);
  const std::string applied(v->value(0, 0));
  const std::string latest = latestMigrationVersion(config_.migrations_dir);
  nlohmann::json out{{"database", "ok"}, {"schema_version", applied}};
  if (latest.empty()) {
    out["migrations"] = "unchecked";  // no migration files where the server was told to look
  } else if (applied.empty()) {
    // An empty ledger: the schema was applied with psql (the report's §6 way), not `workmonitor-server migrate`.
    out["migrations"] = "unrecorded";
  } else if (applied < latest) {
    return apiFail(503, "not_ready", "migrations pending: database at " + applied + ", files at " + latest, 5);
  } else {
    // Newer than the files is fine: a server older than the database (rolling upgrade) still serves.
    out["migrations"] = "current";
  }
  return jsonResponse(200, out);
}

}  // namespace wm::server::http
