#include "workmonitor/sync/batch.h"

#include <unordered_map>

namespace wm::sync {

using nlohmann::json;

std::vector<std::string> recordReferences(const api::Record& r) {
  std::vector<std::string> out;
  if (!r.data.is_object()) return out;
  for (const char* key : {"entry_id", "time_entry_id", "same_as"}) {
    auto it = r.data.find(key);
    if (it != r.data.end() && it->is_string() && !it->get_ref<const std::string&>().empty() &&
        it->get_ref<const std::string&>() != r.id)
      out.push_back(it->get<std::string>());
  }
  return out;
}

Batch buildBatch(const std::vector<api::Record>& pending, size_t max_records, size_t max_bytes,
                 const std::string& batch_id, const BatchHeader& header) {
  Batch b;
  b.batch_id = batch_id;
  json head{{"batch_id", batch_id},
            {"device_id", header.device_id},
            {"agent_version", header.agent_version},
            {"format_version", api::kRecordFormatVersion}};
  if (header.queue)
    head["queue"] = {{"pending", header.queue->pending},
                     {"quarantined", header.queue->quarantined},
                     {"oldest_pending_ms", header.queue->oldest_pending_ms}};
  // The envelope is written around the records by hand so each record is serialised exactly once and its
  // size known before it is taken.
  std::string prefix = head.dump();
  prefix.pop_back();  // the closing '}'
  prefix += ",\"records\":[";
  std::string records;
  for (const auto& r : pending) {
    if (b.records.size() >= max_records) break;
    // Window titles are not always valid UTF-8: replace bad bytes rather than throw.
    std::string one = api::toJson(r).dump(-1, ' ', false, json::error_handler_t::replace);
    const size_t grows = one.size() + (records.empty() ? 0 : 1);
    if (!b.records.empty() && prefix.size() + records.size() + grows + 2 > max_bytes) break;
    if (!records.empty()) records += ',';
    records += one;
    b.records.emplace_back(r.id, r.revision);
    if (r.kind == api::RecordKind::kScreenshot) b.screenshots.insert(r.id);
    for (auto& ref : recordReferences(r)) b.references.insert(std::move(ref));
  }
  b.body = prefix + records + "]}";
  return b;
}

Result<BatchOutcome> readBatchReply(const Batch& batch, const json& reply) {
  if (!reply.is_object() || !reply.contains("results") || !reply["results"].is_array())
    return fail(Errc::kInvalidInput, "the batch reply has no results array");
  std::unordered_map<std::string, int64_t> sent;
  for (const auto& [id, rev] : batch.records) sent.emplace(id, rev);
  BatchOutcome out;
  std::unordered_map<std::string, bool> answered;
  for (const auto& res : reply["results"]) {
    if (!res.is_object() || !res.contains("id") || !res["id"].is_string() || !res.contains("status") ||
        !res["status"].is_string())
      continue;
    const std::string id = res["id"].get<std::string>();
    auto it = sent.find(id);
    if (it == sent.end() || answered.contains(id)) continue;  // not ours, or already answered
    const std::string status = res["status"].get<std::string>();
    // Acknowledged with the revision WE sent: the body is what the server saw.
    if (status == "stored" || status == "duplicate") {
      out.acknowledged.emplace_back(id, it->second);
      answered[id] = true;
    } else if (status == "rejected") {
      std::string reason = res.contains("reason") && res["reason"].is_string() ? res["reason"].get<std::string>()
                                                                               : "rejected (no reason given)";
      out.rejected.push_back(QuarantineRequest{id, it->second, std::move(reason)});
      answered[id] = true;
    }
  }
  out.unanswered = batch.records.size() - answered.size();
  return out;
}

}  // namespace wm::sync
