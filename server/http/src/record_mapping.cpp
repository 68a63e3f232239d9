#include "record_mapping.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <regex>

namespace wm::server::http {
namespace {

using nlohmann::json;

constexpr long long kMinMs = 946684800000LL;             // 2000-01-01: older is a broken clock
constexpr long long kFutureSkewMs = 24LL * 3600 * 1000;  // a device clock a day fast is still accepted
constexpr long long kMaxSpanMs = 31LL * 24 * 3600 * 1000;
constexpr size_t kMaxDataBytes = 16 * 1024;

// A report table by its name alone (public); the system's own tables with their schema (agent.downtime).
std::string qualified(const std::string& table) {
  return table.find('.') == std::string::npos ? "public." + table : table;
}

// The ledger first; the kind's row only when the ledger took this revision (so a resend changes nothing).
std::string upsertOne(const std::string& table, const std::string& cols, const std::string& exprs,
                      const std::string& on_conflict) {
  return "with r as (insert into agent.record_revisions (record_id, company_id, user_id, kind, revision, "
         "device_id) "
         "values ($1::uuid, $2::uuid, $3::uuid, $4, $5::bigint, $6::uuid) "
         "on conflict (record_id) do update set revision = excluded.revision, device_id = excluded.device_id, "
         "received_at = now() where record_revisions.revision < excluded.revision "
         "and record_revisions.kind = excluded.kind and record_revisions.user_id = excluded.user_id "
         "returning 1), k as (insert into " +
         qualified(table) + " (id, company_id, user_id, " + cols + ") select $1::uuid, $2::uuid, $3::uuid, " + exprs +
         " where exists (select 1 from r) " + on_conflict +
         " returning 1) select (select count(*) from r), (select count(*) from k)";
}

// The same upsert for all of a batch's records of one kind in one statement: $1 is a JSON array of objects
// {"p1": id, "p5": revision, "p7": ..., "pN": ...} (the single-record statement's parameters by number),
// $2 company, $3 user, $4 device, $5 kind. Returns the ids the ledger took (stored); the others were
// duplicates. The caller sends each id at most once (ON CONFLICT cannot touch a row twice).
std::string upsertSet(const std::string& table, const std::string& cols, const std::string& exprs,
                      const std::string& on_conflict, int params) {
  // A parameter used only as `$N::uuid` is read from the JSON as a uuid. That is not only the cast done once:
  // a reference looked up under RLS (`where t.id = $7::uuid`, the idle period's time entry) can use the
  // primary key only if its condition is leakproof, and a cast from text (uuid_in) is not, so with a text
  // column every lookup was a sequential scan of the user's rows behind the policy filter.
  std::string rowtype = "p1 text, p5 text";
  static const std::regex kUse(R"(\$([0-9]+)(::[a-z]+)?)");
  for (int i = 7; i <= params; ++i) {
    bool uuid_only = false, other = false;
    for (std::sregex_iterator m(exprs.begin(), exprs.end(), kUse), end; m != end; ++m) {
      if (std::stoi((*m)[1].str()) != i) continue;
      ((*m)[2].str() == "::uuid" ? uuid_only : other) = true;
    }
    rowtype += ", p" + std::to_string(i) + (uuid_only && !other ? " uuid" : " text");
  }
  // Renumber the single-record expressions: per-record parameters become inp.pN, shared ones stay $N.
  std::string mapped;
  static const std::regex kParam(R"(\$([0-9]+))");
  auto last = exprs.cbegin();
  for (std::sregex_iterator m(exprs.begin(), exprs.end(), kParam), end; m != end; ++m) {
    mapped.append(last, exprs.cbegin() + m->position());
    const int n = std::stoi((*m)[1].str());
    mapped += n == 2 || n == 3 ? "$" + std::to_string(n)
              : n == 4         ? std::string("$5")
              : n == 6         ? std::string("$4")
                               : "inp.p" + std::to_string(n);
    last = exprs.cbegin() + m->position() + m->length();
  }
  mapped.append(last, exprs.cend());
  return "with inp as materialized (select * from json_to_recordset($1::json) as inp(" + rowtype +
         ")), "
         "r as (insert into agent.record_revisions (record_id, company_id, user_id, kind, revision, device_id) "
         "select inp.p1::uuid, $2::uuid, $3::uuid, $5, inp.p5::bigint, $4::uuid from inp "
         "on conflict (record_id) do update set revision = excluded.revision, device_id = excluded.device_id, "
         "received_at = now() where record_revisions.revision < excluded.revision "
         "and record_revisions.kind = excluded.kind and record_revisions.user_id = excluded.user_id "
         "returning record_id), k as (insert into " +
         qualified(table) + " (id, company_id, user_id, " + cols + ") select inp.p1::uuid, $2::uuid, $3::uuid, " +
         mapped + " from inp join r on r.record_id = inp.p1::uuid " + on_conflict + ") select record_id::text from r";
}

KindSql upsert(const char* table, const char* cols, const char* exprs, const char* on_conflict, int rank = 1) {
  std::string kind = table;
  std::replace(kind.begin(), kind.end(), '.', '_');  // a statement name: agent.downtime → agent_downtime
  int params = 6;
  static const std::regex kParam(R"(\$([0-9]+))");
  const std::string e = exprs;
  for (std::sregex_iterator m(e.begin(), e.end(), kParam), end; m != end; ++m) {
    params = std::max(params, std::stoi((*m)[1].str()));
  }
  return KindSql{"wm_up_" + kind,  upsertOne(table, cols, exprs, on_conflict),
                 "wm_set_" + kind, upsertSet(table, cols, exprs, on_conflict, params),
                 params,           rank};
}

#define WM_TS(n) "'epoch'::timestamptz + $" #n "::bigint * interval '1 millisecond'"
#define WM_TS_OPT(n) "case when $" #n "::bigint is null then null else " WM_TS(n) " end"

const KindSql kTimeEntry =
    upsert("time_entries", "project_id, task_id, start_time, end_time, duration_ms, source, note",
           "(select p.id from public.projects p where p.id = $7::uuid and p.company_id = $2::uuid), "
           "(select t.id from public.tasks t where t.id = $8::uuid and t.company_id = $2::uuid), " WM_TS(
               9) ", " WM_TS_OPT(10) ", $11::bigint, $12, $13",
           "on conflict (id) do update set project_id = excluded.project_id, task_id = excluded.task_id, "
           "start_time = excluded.start_time, end_time = excluded.end_time, duration_ms = excluded.duration_ms, "
           "source = excluded.source, note = excluded.note, updated_at = now()",
           0);  // idle periods and screenshots refer to time entries
const KindSql kIdle = upsert(
    "idle_periods", "time_entry_id, started_at, ended_at, duration_ms, decision, decided_at",
    "(select t.id from public.time_entries t where t.id = $7::uuid and t.user_id = $3::uuid), " WM_TS(8) ", " WM_TS_OPT(
        9) ", $10::bigint, $11, case when $11 = 'pending' then null else now() end",
    "on conflict (id) do update set time_entry_id = coalesce(excluded.time_entry_id, idle_periods.time_entry_id), "
    "started_at = excluded.started_at, ended_at = excluded.ended_at, duration_ms = excluded.duration_ms, "
    "decision = excluded.decision, decided_at = coalesce(idle_periods.decided_at, excluded.decided_at), "
    "updated_at = now()");
const KindSql kBreak = upsert(
    "breaks", "started_at, ended_at, duration_ms, break_type, note",
    WM_TS(7) ", " WM_TS_OPT(8) ", $9::bigint, $10, $11",
    "on conflict (id) do update set started_at = excluded.started_at, ended_at = excluded.ended_at, "
    "duration_ms = excluded.duration_ms, break_type = excluded.break_type, note = excluded.note, updated_at = now()");
const KindSql kApp =
    upsert("app_usage", "started_at, ended_at, duration_ms, app_name, exe_path, window_title, details",
           WM_TS(7) ", " WM_TS_OPT(8) ", $9::bigint, $10, $11, $12, $13::jsonb",
           "on conflict (id) do update set started_at = excluded.started_at, ended_at = excluded.ended_at, "
           "duration_ms = excluded.duration_ms, app_name = excluded.app_name, exe_path = excluded.exe_path, "
           "window_title = excluded.window_title, details = excluded.details");
const KindSql kWeb =
    upsert("website_usage", "started_at, ended_at, duration_ms, domain, url, title, browser, details",
           WM_TS(7) ", " WM_TS_OPT(8) ", $9::bigint, $10, $11, $12, $13, $14::jsonb",
           "on conflict (id) do update set started_at = excluded.started_at, ended_at = excluded.ended_at, "
           "duration_ms = excluded.duration_ms, domain = excluded.domain, url = excluded.url, title = excluded.title, "
           "browser = excluded.browser, details = excluded.details");
const KindSql kActivity =
    upsert("activity_logs", "started_at, ended_at, keystrokes, mouse_events, active_ms",
           WM_TS(7) ", " WM_TS(8) ", $9::integer, $10::integer, $11::bigint",
           "on conflict (id) do update set started_at = excluded.started_at, ended_at = excluded.ended_at, "
           "keystrokes = excluded.keystrokes, mouse_events = excluded.mouse_events, active_ms = excluded.active_ms");
const KindSql kScreenshot = upsert(
    "screenshots", "taken_at, storage_key, width, height, blurred, time_entry_id",
    WM_TS(7) ", "
             // An unchanged screen (same_as, $13) shares the earlier shot's image: its key when that image is
             // here already, else "same/<id>", which the earlier shot's upload resolves (agent_routes.cpp).
             "coalesce((select split_part(s.storage_key, '#', 1) || '#' || $1 from public.screenshots s where s.id "
             "= $13::uuid and s.user_id = $3::uuid and s.storage_key like 'sha256/%'), $8), $9::integer, "
             "$10::integer, $11::boolean, "
             "(select t.id from public.time_entries t where t.id = $12::uuid and t.user_id = $3::uuid)",
    // The image's key is the server's (set by the upload); metadata revisions never overwrite it.
    "on conflict (id) do update set taken_at = excluded.taken_at, width = excluded.width, height = excluded.height, "
    "blurred = excluded.blurred, time_entry_id = coalesce(excluded.time_entry_id, screenshots.time_entry_id)");
const KindSql kUsb = upsert("usb_events", "occurred_at, action, vendor_id, product_id, serial, device_name, is_storage",
                            WM_TS(7) ", $8, $9, $10, $11, $12, $13::boolean", "on conflict (id) do nothing");
const KindSql kConsent = upsert(
    "consent_audit_log", "created_at, consent_type, action, policy_version, source, agreement_id",
    WM_TS(7) ", $8, $9, $10, $11, "
             "(select w.id from public.work_agreements w where w.id = $12::uuid and w.company_id = $2::uuid)",
    "on conflict (id) do nothing");
const KindSql kIncident = upsert("dlp_incidents", "detected_at, kind, severity, resource, action_taken, details",
                                 WM_TS(7) ", $8, $9, $10, $11, $12::jsonb", "on conflict (id) do nothing");
// The agent's own absences (issue 14), with the device they happened on.
const KindSql kDowntime = upsert("agent.downtime", "device_id, started_at, ended_at, duration_ms, reason, clean",
                                 "$6::uuid, " WM_TS(7) ", " WM_TS(8) ", $9::bigint, $10, $11::boolean",
                                 "on conflict (id) do update set started_at = excluded.started_at, "
                                 "ended_at = excluded.ended_at, duration_ms = excluded.duration_ms, "
                                 "reason = excluded.reason, clean = excluded.clean");

// --- field readers: absent → fallback; present with the wrong type or too long → a rejection reason ---
struct Reader {
  const json& data;
  std::string error;

  std::optional<std::string> str(const char* key, size_t max, std::optional<std::string> fallback = std::nullopt) {
    auto it = data.find(key);
    if (it == data.end() || it->is_null()) return fallback;
    if (!it->is_string()) {
      fail(std::string(key) + " must be a string");
      return fallback;
    }
    const auto& s = it->get_ref<const std::string&>();
    if (s.size() > max) {
      fail(std::string(key) + " is longer than " + std::to_string(max) + " bytes");
      return fallback;
    }
    return s;
  }
  std::optional<std::string> uuid(const char* key) {
    auto s = str(key, 64);
    if (!s || s->empty()) return std::nullopt;
    static const std::regex kUuid("^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$");
    if (!std::regex_match(*s, kUuid)) {
      fail(std::string(key) + " must be a UUID");
      return std::nullopt;
    }
    return s;
  }
  std::string oneOf(const char* key, std::initializer_list<const char*> allowed, const char* fallback) {
    auto s = str(key, 64);
    if (!s) return fallback;
    for (const char* a : allowed) {
      if (*s == a) return *s;
    }
    fail(std::string(key) + " has an unknown value");
    return fallback;
  }
  long long integer(const char* key, long long min, long long max, long long fallback) {
    auto it = data.find(key);
    if (it == data.end() || it->is_null()) return fallback;
    if (!it->is_number_integer() || it->get<long long>() < min || it->get<long long>() > max) {
      fail(std::string(key) + " must be an integer in " + std::to_string(min) + ".." + std::to_string(max));
      return fallback;
    }
    return it->get<long long>();
  }
  std::string boolean(const char* key, bool fallback) {
    auto it = data.find(key);
    if (it == data.end() || it->is_null()) return fallback ? "true" : "false";
    if (!it->is_boolean()) fail(std::string(key) + " must be true or false");
    return it->is_boolean() && it->get<bool>() ? "true" : "false";
  }
  /// The data object without the keys that have their own columns: what dump() of a copy without them
  /// writes, without the copy.
  std::string details(std::initializer_list<const char*> columns) {
    std::string out = "{";
    for (auto it = data.begin(); it != data.end(); ++it) {
      if (std::find_if(columns.begin(), columns.end(), [&](const char* c) { return it.key() == c; }) != columns.end())
        continue;
      if (out.size() > 1) out += ',';
      appendJsonString(out, it.key());
      out += ':';
      out += it.value().dump(-1, ' ', false, json::error_handler_t::replace);
    }
    out += '}';
    return out;
  }
  void fail(std::string message) {
    if (error.empty()) error = "data." + std::move(message);
  }
};

db::Param opt(const std::optional<long long>& v) { return v ? db::Param(std::to_string(*v)) : db::Param(); }

// At least data.dump().size(), without serialising: a string's byte takes at most 6 characters (\u00XX), a
// number at most 26. Most records are far below the limit, so the exact size is rarely needed.
size_t dumpBound(const json& j) {
  switch (j.type()) {
    case json::value_t::object: {
      size_t n = 2;
      for (auto it = j.begin(); it != j.end(); ++it) n += 6 * it.key().size() + 4 + dumpBound(it.value());
      return n;
    }
    case json::value_t::array: {
      size_t n = 2;
      for (const auto& v : j) n += dumpBound(v) + 1;
      return n;
    }
    case json::value_t::string:
      return 6 * j.get_ref<const std::string&>().size() + 2;
    case json::value_t::binary:
      return SIZE_MAX / 2;  // never the case for parsed JSON: measured exactly
    default:
      return 32;  // null, booleans, numbers
  }
}

// The length of a valid UTF-8 sequence starting at s[i], or 0.
size_t utf8Length(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  const size_t left = s.size() - i;
  auto cont = [&](size_t k) { return k < s.size() && (b(k) & 0xC0) == 0x80; };
  if (c >= 0xC2 && c <= 0xDF) return left >= 2 && cont(i + 1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (left < 3 || !cont(i + 1) || !cont(i + 2)) return 0;
    if (c == 0xE0 && b(i + 1) < 0xA0) return 0;  // overlong
    if (c == 0xED && b(i + 1) > 0x9F) return 0;  // surrogates
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (left < 4 || !cont(i + 1) || !cont(i + 2) || !cont(i + 3)) return 0;
    if (c == 0xF0 && b(i + 1) < 0x90) return 0;  // overlong
    if (c == 0xF4 && b(i + 1) > 0x8F) return 0;  // beyond U+10FFFF
    return 4;
  }
  return 0;
}

}  // namespace

void appendJsonString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      const size_t n = utf8Length(s, i);
      if (n == 0) {
        out += "\xef\xbf\xbd";  // U+FFFD, as nlohmann's replace handler writes it (unescaped)
        ++i;
      } else {
        out.append(s.substr(i, n));
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 0xF];
        } else {
          out += static_cast<char>(c);
        }
    }
    ++i;
  }
  out += '"';
}

std::string setRows(const KindSql& kind, const std::vector<const MappedRecord*>& records) {
  // Written directly (no json value per record): this runs for every record of every batch.
  std::string out;
  out.reserve(records.size() * 320);
  out += '[';
  for (const MappedRecord* m : records) {
    const auto& p = m->params;
    if (out.size() > 1) out += ',';
    out += "{\"p1\":";
    appendJsonString(out, p[0] ? *p[0] : std::string());
    out += ",\"p5\":";
    appendJsonString(out, p[4] ? *p[4] : std::string("0"));
    for (int n = 7; n <= kind.params && n <= static_cast<int>(p.size()); ++n) {
      out += ",\"p";
      out += std::to_string(n);
      out += "\":";
      if (p[n - 1]) {
        appendJsonString(out, *p[n - 1]);
      } else {
        out += "null";
      }
    }
    out += '}';
  }
  out += ']';
  return out;
}

Result<MappedRecord> mapRecord(const api::Record& r, long long now_ms) {
  if (r.start_ms < kMinMs) return fail(Errc::kInvalidInput, "start_ms is before 2000-01-01");
  if (r.start_ms > now_ms + kFutureSkewMs) return fail(Errc::kInvalidInput, "start_ms is in the future");
  if (r.end_ms && *r.end_ms > now_ms + kFutureSkewMs) return fail(Errc::kInvalidInput, "end_ms is in the future");
  if (r.end_ms && *r.end_ms - r.start_ms > kMaxSpanMs) return fail(Errc::kInvalidInput, "span longer than 31 days");
  if (r.duration_ms > kMaxSpanMs) return fail(Errc::kInvalidInput, "duration_ms longer than 31 days");
  if (r.revision > (1LL << 53)) return fail(Errc::kInvalidInput, "revision out of range");
  if (dumpBound(r.data) > kMaxDataBytes &&
      r.data.dump(-1, ' ', false, json::error_handler_t::replace).size() > kMaxDataBytes)
    return fail(Errc::kInvalidInput, "data larger than 16 KiB");

  MappedRecord m;
  m.params = {r.id,        std::nullopt, std::nullopt, std::string(api::kindName(r.kind)), std::to_string(r.revision),
              std::nullopt};
  Reader d{r.data, {}};
  auto& p = m.params;
  const std::string start = std::to_string(r.start_ms);
  const db::Param end = opt(r.end_ms);
  const std::string dur = std::to_string(r.duration_ms);
  switch (r.kind) {
    case api::RecordKind::kTimeEntry: {
      m.kind = &kTimeEntry;
      auto source = d.str("source", 64, "agent");
      // The agent's sources (after_idle, after_break, ...) are all "agent" in the table's vocabulary.
      const char* kSources[] = {"agent", "manual", "timer", "import"};
      std::string src = "agent";
      for (const char* s : kSources) {
        if (source && *source == s) src = s;
      }
      p.insert(p.end(), {d.uuid("project_id"), d.uuid("task_id"), start, end, dur, src, d.str("note", 4096)});
      break;
    }
    case api::RecordKind::kIdlePeriod: {
      m.kind = &kIdle;
      // The agent's decisions → the table's (migrations/README.md).
      static const std::map<std::string, std::string> kDecisions{
          {"pending", "pending"},   {"keep", "kept"},           {"kept", "kept"},
          {"discard", "discarded"}, {"discarded", "discarded"}, {"discard_continue", "discarded"},
          {"break", "break"}};
      const std::string given = d.str("decision", 64, "pending").value_or("pending");
      auto it = kDecisions.find(given);
      if (it == kDecisions.end()) d.fail("decision has an unknown value");
      p.insert(p.end(), {d.uuid("entry_id"), start, end, dur, it == kDecisions.end() ? "pending" : it->second});
      break;
    }
    case api::RecordKind::kBreak:
      m.kind = &kBreak;
      p.insert(p.end(), {start, end, dur, d.oneOf("break_type", {"rest", "meal", "other"}, "rest"),
                         d.str("note", 4096, d.str("reason", 64))});
      break;
    case api::RecordKind::kAppUsage:
      m.kind = &kApp;
      p.insert(p.end(), {start, end, dur, d.str("app", 512, "").value_or(""), d.str("exe_path", 4096),
                         d.str("title", 4096), d.details({"app", "exe_path", "title"})});
      break;
    case api::RecordKind::kWebsiteUsage: {
      m.kind = &kWeb;
      auto domain = d.str("domain", 253);
      if (!domain || domain->empty()) d.fail("domain is required");
      p.insert(p.end(), {start, end, dur, domain.value_or(""), d.str("url", 8192), d.str("title", 4096),
                         d.str("browser", 64), d.details({"domain", "url", "title", "browser"})});
      break;
    }
    case api::RecordKind::kActivity:
      m.kind = &kActivity;
      if (!r.end_ms) return fail(Errc::kInvalidInput, "an activity record must be closed (end_ms)");
      p.insert(p.end(), {start, end, std::to_string(d.integer("keystrokes", 0, 1 << 30, 0)),
                         std::to_string(d.integer("mouse_events", 0, 1 << 30, 0)),
                         std::to_string(d.integer("active_ms", 0, kMaxSpanMs, r.duration_ms))});
      break;
    case api::RecordKind::kScreenshot:
      m.kind = &kScreenshot;
      {
        auto same_as = d.uuid("same_as");
        const bool unchanged = d.boolean("unchanged", false) == "true" && same_as && *same_as != r.id;
        p.insert(p.end(), {start, unchanged ? "same/" + *same_as : "pending/" + r.id,
                           opt(d.integer("width", 1, 100000, -1)), opt(d.integer("height", 1, 100000, -1)),
                           d.boolean("blurred", false), d.uuid("time_entry_id"), unchanged ? same_as : std::nullopt});
      }
      if (p[8] == db::Param("-1")) p[8] = std::nullopt;
      if (p[9] == db::Param("-1")) p[9] = std::nullopt;
      break;
    case api::RecordKind::kUsbEvent:
      m.kind = &kUsb;
      p.insert(p.end(), {start, d.oneOf("action", {"connected", "disconnected", "blocked"}, "connected"),
                         d.str("vendor_id", 64), d.str("product_id", 64), d.str("serial", 256),
                         d.str("device_name", 512), d.boolean("is_storage", false)});
      break;
    case api::RecordKind::kConsentEvent:
      m.kind = &kConsent;
      p.insert(p.end(), {start,
                         d.oneOf("consent_type",
                                 {"auto_tracking", "screenshots", "screen_recording", "activity", "app_usage",
                                  "website_usage", "gps", "usb"},
                                 "auto_tracking"),
                         d.oneOf("action", {"granted", "revoked"}, "granted"), d.str("policy_version", 64, "1"),
                         d.oneOf("source", {"agent", "web", "admin_import"}, "agent"), d.uuid("agreement_id")});
      break;
    case api::RecordKind::kIncident:
      m.kind = &kIncident;
      p.insert(p.end(),
               {start,
                d.oneOf("kind", {"usb_copy", "upload", "clipboard", "print", "blocked_app", "blocked_site", "other"},
                        "other"),
                d.oneOf("severity", {"low", "medium", "high", "critical"}, "medium"), d.str("resource", 4096),
                d.oneOf("action_taken", {"logged", "warned", "blocked"}, "logged"),
                d.details({"kind", "severity", "resource", "action_taken"})});
      break;
    case api::RecordKind::kDowntime:
      m.kind = &kDowntime;
      if (!r.end_ms) return fail(Errc::kInvalidInput, "a downtime record must be closed (end_ms)");
      p.insert(p.end(), {start, end, dur, d.oneOf("reason", {"shutdown", "crash", "computer_off", "suspend"}, "crash"),
                         d.boolean("clean", false)});
      break;
  }
  if (!d.error.empty()) return fail(Errc::kInvalidInput, d.error);
  return m;
}

}  // namespace wm::server::http
