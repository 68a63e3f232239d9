// POST /api/v1/agent/batches: one transaction per batch, a result per record (HTTP_API.md).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <unordered_map>
#include <unordered_set>

#include "consent_gate.h"
#include "record_mapping.h"
#include "routes.h"
#include "workmonitor/api/records.h"

namespace wm::server::http {
namespace {

struct Item {
  std::string id;
  long long revision = 0;
  std::string status;  // stored, duplicate, rejected
  std::string reason;
  std::optional<MappedRecord> mapped;
  std::optional<std::string> consent;  // the consent_type this record needs (consent_gate.h)
  long long start_ms = 0;
  bool is_consent_event = false;  // stored before the records its grant may allow
};

// Consent events are stored first, so a grant sent in the same batch as the first records it allows is in
// the log when those records are checked.
enum class Phase { kConsentEvents, kRecords };
bool inPhase(const Item& it, Phase phase) { return it.is_consent_event == (phase == Phase::kConsentEvents); }

// Per-record problems the database may still find (a constraint, a row of another account): these reject
// the record, not the batch.
bool recordLevel(std::string_view state) {
  return state.starts_with("22") || state.starts_with("23") || state == "42501";
}

std::string dbReason(const Error& e) {
  const std::string_view state = db::sqlState(e);
  if (state == "42501") return "the id belongs to another account";
  std::string msg = e.message;
  if (const size_t nl = msg.find('\n'); nl != std::string::npos) msg.resize(nl);
  return "rejected by the database: " + msg.substr(0, 200);
}

std::string lowered(std::string s) {
  for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

// Upserts every mapped record with one statement per kind, pipelined; sets each item's status. Within a batch
// an id is sent once (ON CONFLICT cannot touch a row twice in one statement): its highest revision, the
// others answered as duplicates (the server holds a newer revision of them once this commits).
Result<void> upsertSets(PooledConnection& c, std::vector<Item>& items, Phase phase, const std::string& company,
                        const std::string& user, const std::optional<std::string>& device) {
  std::unordered_map<std::string, Item*> newest;
  for (auto& it : items) {
    if (!it.mapped || !inPhase(it, phase)) continue;
    auto [pos, fresh] = newest.try_emplace(lowered(*it.mapped->params[0]), &it);
    if (fresh) continue;
    Item*& kept = pos->second;
    if (it.revision > kept->revision) {
      kept->status = "duplicate";
      kept = &it;
    } else {
      it.status = "duplicate";
    }
  }
  struct Group {
    const KindSql* kind;
    std::vector<const MappedRecord*> records;
    std::vector<db::Param> params;
  };
  std::vector<Group> groups;
  for (auto& it : items) {
    if (!it.mapped || !it.status.empty() || !inPhase(it, phase)) continue;
    const KindSql* kind = it.mapped->kind;
    auto g = std::find_if(groups.begin(), groups.end(), [&](const Group& x) { return x.kind == kind; });
    if (g == groups.end()) {
      groups.push_back(Group{kind, {}, {std::nullopt, company, user, device, it.mapped->params[3]}});
      g = groups.end() - 1;
    }
    g->records.push_back(&*it.mapped);
  }
  // Time entries before the kinds that refer to them (KindSql::rank); otherwise in the batch's order.
  std::stable_sort(groups.begin(), groups.end(),
                   [](const Group& a, const Group& b) { return a.kind->rank < b.kind->rank; });
  if (groups.empty()) return {};
  std::vector<db::Connection::PreparedCall> calls;
  for (auto& g : groups) {
    g.params[0] = setRows(*g.kind, g.records);
    if (auto p = c.ensurePrepared(g.kind->set_name, g.kind->set_sql); !p) return std::unexpected(p.error());
    calls.push_back(c.unnamed ? db::Connection::PreparedCall{nullptr, &g.params, g.kind->set_sql}
                              : db::Connection::PreparedCall{&g.kind->set_name, &g.params});
  }
  auto rs = c.conn.execPreparedPipeline(calls);
  if (!rs) return std::unexpected(rs.error());
  std::unordered_set<std::string> stored;
  for (const auto& r : *rs) {
    for (int i = 0; i < r.rows(); ++i) stored.emplace(r.value(i, 0));
  }
  for (auto& it : items) {
    if (!it.mapped || !it.status.empty() || !inPhase(it, phase)) continue;
    it.status = stored.contains(lowered(*it.mapped->params[0])) ? "stored" : "duplicate";
  }
  return {};
}

// A record the ledger did not take is a duplicate only if the ledger holds that id as the same kind: an id
// reused for another kind (a client bug) would otherwise be acknowledged and its data silently lost.
Result<void> rejectReusedIds(PooledConnection& c, std::vector<Item>& items) {
  std::string ids;
  for (const auto& it : items) {
    if (it.mapped && it.status == "duplicate") ids += (ids.empty() ? "{" : ",") + *it.mapped->params[0];
  }
  if (ids.empty()) return {};
  auto r =
      c.run("wm_ledger_kinds",
            "select record_id::text, kind from agent.record_revisions where record_id = any($1::uuid[])", {ids + "}"});
  if (!r) return std::unexpected(r.error());
  std::unordered_map<std::string, std::string> kinds;
  for (int i = 0; i < r->rows(); ++i) kinds.emplace(r->value(i, 0), r->value(i, 1));
  for (auto& it : items) {
    if (!it.mapped || it.status != "duplicate") continue;
    auto k = kinds.find(lowered(*it.mapped->params[0]));
    if (k != kinds.end() && k->second != *it.mapped->params[3]) {
      it.status = "rejected";
      it.reason = "id_conflict: this id already names a " + k->second + " record";
    }
  }
  return {};
}

// Rejects each record whose category the person had not granted at its time (consent_gate.h). Runs after
// the batch's consent events are in the log (same transaction): one query for the whole batch.
Result<void> enforceConsent(PooledConnection& c, std::vector<Item>& items, const std::string& user) {
  std::vector<std::string> categories;
  for (const auto& it : items) {
    if (it.mapped && it.consent && std::find(categories.begin(), categories.end(), *it.consent) == categories.end())
      categories.push_back(*it.consent);
  }
  if (categories.empty()) return {};
  auto consent = loadConsent(c, user, categories);
  if (!consent) return std::unexpected(consent.error());
  size_t refused = 0;
  for (auto& it : items) {
    if (!it.mapped || !it.consent || consent->allows(*it.consent, it.start_ms)) continue;
    it.status = "rejected", it.reason = noConsentReason(*it.consent);
    it.mapped.reset();  // never stored, in this attempt or a retry
    ++refused;
  }
  // A correct agent records only after consent: this is a modified agent, or a person's decline on another
  // computer (consent is per person).
  if (refused > 0) spdlog::warn("batch of user {}: {} records rejected for want of consent", user, refused);
  return {};
}

// A batch's `queue` (HTTP_API.md): the agent's outbox as its upload round began.
struct QueueReport {
  long long pending = 0, quarantined = 0, oldest_pending_ms = 0;
};

// The batch's queue report when it is well formed, else none: a diagnostic never costs the batch its records.
std::optional<QueueReport> queueReport(const nlohmann::json& body, long long now_ms) {
  const auto q = body.find("queue");
  if (q == body.end() || !q->is_object()) return std::nullopt;
  constexpr long long kMaxCount = 1'000'000'000'000LL;
  auto count = [&](const char* key, long long lo, long long hi) -> std::optional<long long> {
    const auto f = q->find(key);
    if (f == q->end() || !f->is_number_integer()) return std::nullopt;
    const long long v = f->get<long long>();
    if (v < lo || v > hi) return std::nullopt;
    return v;
  };
  const auto pending = count("pending", 0, kMaxCount), quarantined = count("quarantined", 0, kMaxCount);
  const auto oldest = count("oldest_pending_ms", 0, now_ms + 86'400'000LL);
  if (!pending || !quarantined || !oldest || (*oldest != 0 && *oldest < 946'684'800'000LL /* 2000-01-01 */)) {
    spdlog::debug("batch: its queue report is malformed and ignored: {}", q->dump());
    return std::nullopt;
  }
  return QueueReport{*pending, *quarantined, *oldest};
}

}  // namespace

Reply Service::batches(const HttpRequest& req) {
  auto caller = authenticate(req);
  if (!caller) return std::unexpected(caller.error());
  auto body = jsonBody(req);
  if (!body) return std::unexpected(body.error());
  auto records = body->find("records");
  if (records == body->end() || !records->is_array()) {
    return apiFail(400, "invalid_request", "a batch needs a records array");
  }
  if (auto fv = body->find("format_version"); fv != body->end() && !(fv->is_number_integer() && *fv == 1)) {
    return apiFail(400, "invalid_request", "unsupported format_version (this server takes 1)");
  }
  if (records->size() > config_.max_records) {
    return apiFail(413, "too_large", "more than " + std::to_string(config_.max_records) + " records in one batch");
  }
  std::optional<std::string> device;
  if (auto h = req.find("X-Device-Id"); h != req.end()) device = std::string(h->value());
  if (!device) {
    if (const std::string* d = stringField(*body, "device_id", 64)) device = *d;
  }
  if (device && !isUuidText(*device)) device.reset();
  std::optional<std::string> agent_version;
  if (const std::string* v = stringField(*body, "agent_version", 64); v && !v->empty()) agent_version = *v;
  const long long now_ms = now() * 1000;
  const std::optional<QueueReport> queue = queueReport(*body, now_ms);

  std::vector<Item> items;
  items.reserve(records->size());
  for (const auto& rj : *records) {
    Item it;
    if (rj.is_object()) {
      if (auto f = rj.find("id"); f != rj.end() && f->is_string()) it.id = f->get<std::string>().substr(0, 64);
      if (auto f = rj.find("revision"); f != rj.end() && f->is_number_integer()) it.revision = f->get<long long>();
    }
    auto rec = api::recordFromJson(rj);
    if (!rec) {
      it.status = "rejected", it.reason = rec.error().message;
    } else if (auto m = mapRecord(*rec, now_ms); !m) {
      it.status = "rejected", it.reason = m.error().message;
    } else {
      it.mapped = std::move(*m);  // company and user come from the token, never from the payload
      it.consent = consentCategory(rec->kind);
      it.start_ms = rec->start_ms;
      it.is_consent_event = rec->kind == api::RecordKind::kConsentEvent;
    }
    items.push_back(std::move(it));
  }

  // First try the whole batch straight; if the database rejects one record, redo it with a savepoint
  // around each record so only that one is rejected. The fast path is the normal case.
  for (int attempt = 0; attempt < 2; ++attempt) {
    const bool savepoints = attempt == 1;
    auto lease = beginWithClaims(caller->tx());
    if (!lease) return std::unexpected(dbError(lease.error(), "batches"));
    auto& c = **lease;
    auto u = c.run("wm_active_user",
                   "select status = 'active' from public.users where user_id = $1::uuid and company_id = $2::uuid",
                   {caller->claims.sub, caller->claims.company_id});
    if (!u) return std::unexpected(dbError(u.error(), "batches"));
    if (u->rows() != 1 || u->value(0, 0) != "t") return apiFail(401, "invalid_token", "the account is disabled");
    std::optional<std::string> dev;
    if (device) {
      // The device's last contact, agent version and queue for the admin's device list, written when the
      // version or the queue's counts change, else at most every 30 s per device (a drain's batches, which
      // carry one round's queue, cost one row update per round); a revoked device uploads nothing.
      auto num = [&](long long QueueReport::*field) {
        return queue ? db::Param(std::to_string((*queue).*field)) : db::Param();
      };
      auto d =
          c.run("wm_batch_device",
                "with d as (select id, revoked_at is null as live from agent.devices where id = $1::uuid and "
                "user_id = $2::uuid), seen as (update agent.devices set last_seen_at = now(), agent_version = "
                "coalesce($3, agent_version), queue_pending = coalesce($4::bigint, queue_pending), queue_quarantined = "
                "coalesce($5::bigint, queue_quarantined), queue_oldest_at = case when $4::bigint is null then "
                "queue_oldest_at when $6::bigint = 0 then null else to_timestamp($6::bigint / 1000.0) end, "
                "queue_reported_at = case when $4::bigint is null then queue_reported_at else now() end "
                "where id = (select id from d where live) and (last_seen_at is null or last_seen_at < now() - interval "
                "'30 seconds' or agent_version is distinct from coalesce($3, agent_version) or ($4::bigint is not null "
                "and (queue_pending is distinct from $4::bigint or queue_quarantined is distinct from $5::bigint))) "
                "returning 1) select live from d",
                {*device, caller->claims.sub, agent_version ? db::Param(*agent_version) : db::Param(),
                 num(&QueueReport::pending), num(&QueueReport::quarantined), num(&QueueReport::oldest_pending_ms)});
      if (!d) return std::unexpected(dbError(d.error(), "batches"));
      if (d->rows() == 1 && d->value(0, 0) != "t")
        return apiFail(401, "device_revoked", "this device was revoked by an administrator; sign in again");
      if (d->rows() == 1) dev = device;
    }
    if (!savepoints) {
      // The normal case: one set-based upsert per kind for the whole batch (all pipelined), so the cost per
      // record is the database's row work, not a statement's round trip, parse and plan.
      // Consent events first (usually none: one statement more only when there are), then the consent check
      // (one query), then everything else.
      auto r = upsertSets(c, items, Phase::kConsentEvents, caller->claims.company_id, caller->claims.sub, dev);
      if (r) {
        if (auto e = enforceConsent(c, items, caller->claims.sub); !e) {
          return std::unexpected(dbError(e.error(), "batches"));
        }
        r = upsertSets(c, items, Phase::kRecords, caller->claims.company_id, caller->claims.sub, dev);
      }
      if (!r) {
        if (!recordLevel(db::sqlState(r.error()))) return std::unexpected(dbError(r.error(), "batches"));
        continue;  // one record failed: redo with a savepoint per record (the lease's release rolls back)
      }
    } else {
      // The database rejected something: each record on its own behind a savepoint, in batch order (consent
      // events, then time entries, as above), so only the offending records are rejected. The consent check
      // runs again once the consent events are in (this attempt's transaction started afresh).
      std::vector<Item*> order;
      for (auto& it : items)
        if (it.mapped) order.push_back(&it);
      std::stable_sort(order.begin(), order.end(), [](const Item* a, const Item* b) {
        if (a->is_consent_event != b->is_consent_event) return a->is_consent_event;
        return a->mapped->kind->rank < b->mapped->kind->rank;
      });
      bool checked = false;
      for (Item* item : order) {
        Item& it = *item;
        if (!checked && !it.is_consent_event) {
          if (auto e = enforceConsent(c, items, caller->claims.sub); !e) {
            return std::unexpected(dbError(e.error(), "batches"));
          }
          checked = true;
        }
        if (!it.mapped) continue;  // rejected for want of consent
        auto& p = it.mapped->params;
        p[1] = caller->claims.company_id, p[2] = caller->claims.sub, p[5] = dev;
        if (auto s = c.conn.exec("savepoint rec"); !s) return std::unexpected(dbError(s.error(), "batches"));
        auto r = c.run(it.mapped->kind->one_name, it.mapped->kind->one_sql, p);
        if (!r) {
          if (!recordLevel(db::sqlState(r.error()))) return std::unexpected(dbError(r.error(), "batches"));
          if (auto s = c.conn.exec("rollback to savepoint rec"); !s) {
            return std::unexpected(dbError(s.error(), "batches"));
          }
          it.status = "rejected", it.reason = dbReason(r.error());
          continue;
        }
        if (auto s = c.conn.exec("release savepoint rec"); !s) return std::unexpected(dbError(s.error(), "batches"));
        it.status = r->asInt(0, 0) > 0 ? "stored" : "duplicate";
      }
    }
    if (auto k = rejectReusedIds(c, items); !k) return std::unexpected(dbError(k.error(), "batches"));
    if (auto cm = commit(c); !cm) return std::unexpected(dbError(cm.error(), "batches"));
    break;
  }

  // {"results": [{"id", "revision", "status", "reason"?}, ...]}, written directly: a json value per record
  // costs more than the rest of the reply.
  std::string text;
  text.reserve(32 + items.size() * 80);
  text += "{\"results\":[";
  long long stored = 0, duplicate = 0, rejected = 0;
  for (const auto& it : items) {
    if (&it != &items.front()) text += ',';
    text += "{\"id\":";
    appendJsonString(text, it.id);
    text += ",\"revision\":";
    text += std::to_string(it.revision);
    text += ",\"status\":";
    appendJsonString(text, it.status);
    if (it.status == "rejected") {
      text += ",\"reason\":";
      appendJsonString(text, it.reason);
    }
    text += '}';
    stored += it.status == "stored";
    duplicate += it.status == "duplicate";
    rejected += it.status == "rejected";
  }
  text += "]}";
  metrics_.recordsStored(stored);
  metrics_.recordsDuplicate(duplicate);
  metrics_.recordsRejected(rejected);
  HttpResponse res{bhttp::status::ok, 11};
  res.set(bhttp::field::content_type, "application/json");
  res.set(bhttp::field::cache_control, "no-store");
  res.body() = std::move(text);
  res.prepare_payload();
  return res;
}

}  // namespace wm::server::http
