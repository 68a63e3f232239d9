// POST /api/v1/agent/batches: one transaction per batch, a result per record (HTTP_API.md).
#include <spdlog/spdlog.h>

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
};

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

  const long long now_ms = now() * 1000;
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
      it.mapped = std::move(*m);
      it.mapped->params[1] = caller->claims.company_id;  // from the token, never from the payload
      it.mapped->params[2] = caller->claims.sub;
    }
    items.push_back(std::move(it));
  }

  // First try the whole batch straight; if the database rejects one record, redo it with a savepoint
  // around each record so only that one is rejected. The fast path is the normal case.
  for (int attempt = 0; attempt < 2; ++attempt) {
    const bool savepoints = attempt == 1;
    auto lease = beginWithClaims(TxClaims{caller->claims.sub, caller->claims_json});
    if (!lease) return std::unexpected(dbError(lease.error(), "batches"));
    auto& c = **lease;
    auto u = c.run("wm_active_user",
                   "select status = 'active' from public.users where id = $1::uuid and company_id = $2::uuid",
                   {caller->claims.sub, caller->claims.company_id});
    if (!u) return std::unexpected(dbError(u.error(), "batches"));
    if (u->rows() != 1 || u->value(0, 0) != "t") return apiFail(401, "invalid_token", "the account is disabled");
    std::optional<std::string> dev;
    if (device) {
      auto d = c.run("wm_own_device",
                     "select id from agent.devices where id = $1::uuid and user_id = $2::uuid and revoked_at is null",
                     {*device, caller->claims.sub});
      if (!d) return std::unexpected(dbError(d.error(), "batches"));
      if (d->rows() == 1) dev = device;
    }
    bool retry = false;
    if (!savepoints) {
      // The normal case: every upsert pipelined, a few round trips for the whole batch instead of one per
      // record (the per-record wait for the database dominated a batch's time).
      std::vector<db::Connection::PreparedCall> calls;
      std::vector<Item*> sent;
      for (auto& it : items) {
        if (!it.mapped) continue;
        it.mapped->params[5] = dev;
        if (auto p = c.ensurePrepared(it.mapped->statement, *it.mapped->sql); !p) {
          return std::unexpected(dbError(p.error(), "batches"));
        }
        calls.push_back(c.unnamed ? db::Connection::PreparedCall{nullptr, &it.mapped->params, *it.mapped->sql}
                                  : db::Connection::PreparedCall{&it.mapped->statement, &it.mapped->params});
        sent.push_back(&it);
      }
      auto rs = c.conn.execPreparedPipeline(calls);
      if (!rs) {
        if (!recordLevel(db::sqlState(rs.error()))) return std::unexpected(dbError(rs.error(), "batches"));
        continue;  // one record failed: redo with a savepoint per record (the lease's release rolls back)
      }
      for (size_t i = 0; i < sent.size(); ++i) sent[i]->status = (*rs)[i].asInt(0, 0) > 0 ? "stored" : "duplicate";
    }
    for (auto& it : items) {
      if (!savepoints) break;
      if (!it.mapped) continue;
      it.mapped->params[5] = dev;
      if (savepoints) {
        if (auto s = c.conn.exec("savepoint rec"); !s) return std::unexpected(dbError(s.error(), "batches"));
      }
      auto r = c.run(it.mapped->statement, *it.mapped->sql, it.mapped->params);
      if (!r) {
        if (!recordLevel(db::sqlState(r.error()))) return std::unexpected(dbError(r.error(), "batches"));
        if (!savepoints) {
          retry = true;
          break;
        }
        if (auto s = c.conn.exec("rollback to savepoint rec"); !s) {
          return std::unexpected(dbError(s.error(), "batches"));
        }
        it.status = "rejected", it.reason = dbReason(r.error());
        continue;
      }
      if (savepoints) {
        if (auto s = c.conn.exec("release savepoint rec"); !s) return std::unexpected(dbError(s.error(), "batches"));
      }
      it.status = r->asInt(0, 0) > 0 ? "stored" : "duplicate";
    }
    if (retry) continue;  // the lease's release rolls the failed transaction back
    if (auto cm = commit(c); !cm) return std::unexpected(dbError(cm.error(), "batches"));
    break;
  }

  nlohmann::json results = nlohmann::json::array();
  long long stored = 0, duplicate = 0, rejected = 0;
  for (const auto& it : items) {
    nlohmann::json r{{"id", it.id}, {"revision", it.revision}, {"status", it.status}};
    if (it.status == "rejected") r["reason"] = it.reason;
    stored += it.status == "stored";
    duplicate += it.status == "duplicate";
    rejected += it.status == "rejected";
    results.push_back(std::move(r));
  }
  metrics_.recordsStored(stored);
  metrics_.recordsDuplicate(duplicate);
  metrics_.recordsRejected(rejected);
  return jsonResponse(200, {{"results", results}});
}

}  // namespace wm::server::http
