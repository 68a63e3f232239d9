// Enrolment tokens: "wme1.<admin id>.<user id>.<secret>". The ids route the lookup (the admin's claim
// reads the admin-only table) and name the user being enrolled; only the SHA-256 of the whole token is
// stored, so neither id can be changed without the hash failing to match.
// Unattended company tokens: "wmu1.<admin id>.<secret>"; the user comes from the computer account by the
// token's rule (agent.enrolment_tokens.account_rule) — see unattended-contract.md and HTTP_API.md.
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

/// The admin id of a "wmu1." token (its only routing part).
Result<std::string> parseUnattendedToken(std::string_view token);
Result<std::string> makeUnattendedToken(const std::string& admin_id);
/// The stored rule for "email-local-part"/"email_local_part" or "mapping"; an error for anything else.
Result<std::string> parseAccountRule(std::string_view text);
/// A computer account name as the agent sends it: 1..256 bytes, no control characters.
bool validOsAccount(std::string_view account);

/// Replacing a company's account mappings, shared by `admin account-map` and the admin API. Both take
/// $1 = company id, $2 = a JSON array of {"os_account", "email"}.
/// One row (index, reason) for the first entry that is malformed, names no active user of the company or
/// repeats an earlier account (case-insensitively); no row when all are good. Index is 0-based.
inline constexpr const char* kFirstBadMappingSql =
    "with e as (select (o - 1)::int as i, v->>'os_account' as a, v->>'email' as m "
    "from jsonb_array_elements($2::jsonb) with ordinality as t(v, o)) "
    "select e.i, case when e.a is null or e.m is null or length(e.a) not between 1 and 256 "
    "or e.a ~ '[[:cntrl:]]' then 'needs os_account (1..256 characters, no control characters) and email' "
    "when not exists (select 1 from public.users u where u.company_id = $1::uuid and u.status = 'active' "
    "and lower(u.email) = lower(e.m)) then 'no active user of this company has the email ' || e.m "
    "else 'the account ' || e.a || ' appears twice' end "
    "from e where e.a is null or e.m is null or length(e.a) not between 1 and 256 or e.a ~ '[[:cntrl:]]' "
    "or not exists (select 1 from public.users u where u.company_id = $1::uuid and u.status = 'active' "
    "and lower(u.email) = lower(e.m)) "
    "or exists (select 1 from e p where p.i < e.i and lower(p.a) = lower(e.a)) order by e.i limit 1";
/// Stores an unattended token: $1 company, $2 token hash (bytea text), $3 issuing admin, $4 ttl hours, $5 uses,
/// $6 profile id or NULL, $7 rule. No row when the profile is not the company's. Returns id, expires_at.
inline constexpr const char* kInsertUnattendedTokenSql =
    "insert into agent.enrolment_tokens (company_id, token_hash, created_by, expires_at, max_uses, profile_id, "
    "account_rule) select $1::uuid, $2::bytea, $3::uuid, now() + make_interval(hours => $4::integer), $5::integer, "
    "$6::uuid, $7 where $6::uuid is null or exists (select 1 from agent.config_profiles p where p.id = $6::uuid "
    "and p.company_id = $1::uuid) returning id, to_char(expires_at at time zone 'UTC', "
    "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')";
/// Stores a person's token (wme1): $1 company, $2 token hash (bytea text), $3 issuing admin, $4 ttl hours,
/// $5 uses, $6 profile id or NULL, $7 the person. No row when the profile is not the company's or the person is
/// not an active member of it. Returns id, expires_at.
inline constexpr const char* kInsertEnrolmentTokenSql =
    "insert into agent.enrolment_tokens (company_id, token_hash, created_by, expires_at, max_uses, profile_id, "
    "user_id) select $1::uuid, $2::bytea, $3::uuid, now() + make_interval(hours => $4::integer), $5::integer, "
    "$6::uuid, $7::uuid where ($6::uuid is null or exists (select 1 from agent.config_profiles p where p.id = "
    "$6::uuid and p.company_id = $1::uuid)) and exists (select 1 from public.users u where u.user_id = $7::uuid "
    "and u.company_id = $1::uuid and u.status = 'active') returning id, to_char(expires_at at time zone 'UTC', "
    "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')";
inline constexpr const char* kDeleteMappingsSql = "delete from agent.account_mappings where company_id = $1::uuid";
inline constexpr const char* kInsertMappingsSql =
    "insert into agent.account_mappings (company_id, os_account, user_id) "
    "select $1::uuid, lower(v->>'os_account'), u.user_id from jsonb_array_elements($2::jsonb) as t(v) "
    "join public.users u on u.company_id = $1::uuid and u.status = 'active' and lower(u.email) = lower(v->>'email')";
/// The version prefix of the newest migration file in `dir` ("" when none can be read).
std::string latestMigrationVersion(const std::filesystem::path& dir);

}  // namespace wm::server::http
