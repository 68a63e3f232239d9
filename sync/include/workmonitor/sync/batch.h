// Batches for POST /api/v1/agent/batches (HTTP_API.md): building one from pending records within the
// count and size limits, and turning the per-record reply into acknowledgements and quarantine entries.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "workmonitor/api/records.h"
#include "workmonitor/common/result.h"
#include "workmonitor/sync/outbox.h"

namespace wm::sync {

struct Batch {
  std::string batch_id;  // also the Idempotency-Key; a resend of the same batch reuses it
  std::vector<std::pair<std::string, int64_t>> records;  // (id, revision) in body order
  std::string body;                                      // JSON, uncompressed
  std::string gzipped;                                   // body gzip-compressed, when made ahead (else empty)
  std::unordered_set<std::string> screenshots;           // ids of its screenshot records
  /// Ids of other records its records refer to (an idle period's entry_id, a screenshot's time_entry_id or
  /// same_as): the server resolves such a reference only if the other record arrived first.
  std::unordered_set<std::string> references;
};

/// The ids `r` refers to among the agent's own records (see Batch::references).
std::vector<std::string> recordReferences(const api::Record& r);

/// The agent's queue as the round of uploads began, sent with each batch for the admin's device list.
struct QueueHealth {
  int64_t pending = 0;
  int64_t quarantined = 0;
  int64_t oldest_pending_ms = 0;  // 0: nothing pending
};

struct BatchHeader {
  std::string device_id;
  std::string agent_version;
  std::optional<QueueHealth> queue{};  // none when the outbox could not say
};

/// Takes records from the front of `pending` while at most max_records and max_bytes (uncompressed JSON);
/// the first record is always taken, however large, so an oversized one reaches the server and is
/// answered (413, then quarantined) instead of blocking the queue.
Batch buildBatch(const std::vector<api::Record>& pending, size_t max_records, size_t max_bytes,
                 const std::string& batch_id, const BatchHeader& header);

struct BatchOutcome {
  std::vector<std::pair<std::string, int64_t>> acknowledged;  // stored or duplicate
  std::vector<QuarantineRequest> rejected;
  size_t unanswered = 0;  // records of the batch the reply did not mention (stay pending)
};

/// Reads a 200 reply's `results`. Only ids that were in the batch count, with the revision that was sent.
Result<BatchOutcome> readBatchReply(const Batch& batch, const nlohmann::json& reply);

}  // namespace wm::sync
