#include "workmonitor/server/db/connection.h"

#include <libpq-fe.h>

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

namespace wm::server::db {
namespace {

std::string trimmed(const char* text) {
  std::string s = text ? text : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

void QueryResult::Clear::operator()(pg_result* r) const { PQclear(r); }

QueryResult::QueryResult(pg_result* res) : res_(res) {}

int QueryResult::rows() const { return res_ ? PQntuples(res_.get()) : 0; }
int QueryResult::columns() const { return res_ ? PQnfields(res_.get()) : 0; }
bool QueryResult::isNull(int row, int col) const { return PQgetisnull(res_.get(), row, col) != 0; }

std::string_view QueryResult::value(int row, int col) const {
  return {PQgetvalue(res_.get(), row, col), static_cast<size_t>(PQgetlength(res_.get(), row, col))};
}

std::optional<std::string> QueryResult::optional(int row, int col) const {
  if (isNull(row, col)) return std::nullopt;
  return std::string(value(row, col));
}

long long QueryResult::asInt(int row, int col) const {
  return std::strtoll(PQgetvalue(res_.get(), row, col), nullptr, 10);
}

long long QueryResult::affected() const {
  const char* n = res_ ? PQcmdTuples(res_.get()) : "";
  return *n ? std::strtoll(n, nullptr, 10) : 0;
}

std::string_view QueryResult::commandTag() const { return res_ ? PQcmdStatus(res_.get()) : ""; }

void Connection::Finish::operator()(pg_conn* c) const { PQfinish(c); }

Connection::Connection(pg_conn* conn) : conn_(conn) {}

Result<Connection> Connection::open(const std::string& conninfo) {
  pg_conn* raw = PQconnectdb(conninfo.c_str());
  Connection conn(raw);
  if (raw == nullptr) return fail(Errc::kUnavailable, "out of memory opening a database connection");
  if (PQstatus(raw) != CONNECTION_OK) {
    return fail(Errc::kUnavailable, "cannot connect to PostgreSQL: " + trimmed(PQerrorMessage(raw)) +
                                        " (check --db / WM_DATABASE_URL and that the server runs)");
  }
  // Notices (e.g. "relation already exists, skipping") are expected in idempotent SQL; keep them off stderr.
  PQsetNoticeProcessor(
      raw, [](void*, const char*) {}, nullptr);
  return conn;
}

Result<QueryResult> Connection::check(pg_result* res, std::string_view what) {
  QueryResult owned(res);
  if (res == nullptr) return fail(Errc::kIo, std::string(what) + ": " + trimmed(PQerrorMessage(conn_.get())));
  const auto status = PQresultStatus(res);
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_EMPTY_QUERY) return owned;
  const char* state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
  return fail(Errc::kIo, std::string(state ? state : "?????") + ": " + trimmed(PQresultErrorMessage(res)));
}

Result<QueryResult> Connection::exec(std::string_view sql) {
  return check(PQexec(conn_.get(), std::string(sql).c_str()), "exec");
}

namespace {

struct ParamArrays {
  std::vector<const char*> values;
  explicit ParamArrays(const std::vector<Param>& params) {
    values.reserve(params.size());
    for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  }
};

}  // namespace

Result<QueryResult> Connection::query(std::string_view sql, const std::vector<Param>& params) {
  ParamArrays a(params);
  return check(PQexecParams(conn_.get(), std::string(sql).c_str(), static_cast<int>(params.size()), nullptr,
                            a.values.data(), nullptr, nullptr, 0),
               "query");
}

Result<void> Connection::prepare(const std::string& name, std::string_view sql) {
  auto r = check(PQprepare(conn_.get(), name.c_str(), std::string(sql).c_str(), 0, nullptr), "prepare");
  if (!r) return std::unexpected(r.error());
  return {};
}

Result<QueryResult> Connection::execPrepared(const std::string& name, const std::vector<Param>& params) {
  ParamArrays a(params);
  return check(
      PQexecPrepared(conn_.get(), name.c_str(), static_cast<int>(params.size()), a.values.data(), nullptr, nullptr, 0),
      "execute");
}

Result<std::vector<QueryResult>> Connection::execPreparedPipeline(const std::vector<PreparedCall>& calls) {
  // Statements go in chunks, each read back before the next is sent: a bounded amount is in flight, so
  // neither side can block writing while the other is blocked writing too (libpq's pipeline caveat).
  constexpr size_t kChunk = 128;
  pg_conn* c = conn_.get();
  std::vector<QueryResult> out;
  out.reserve(calls.size());
  std::optional<Error> first;
  if (PQenterPipelineMode(c) != 1) return fail(Errc::kIo, "pipeline: " + trimmed(PQerrorMessage(c)));
  for (size_t from = 0; from < calls.size() && !first; from += kChunk) {
    const size_t to = std::min(calls.size(), from + kChunk);
    size_t sent = from;
    for (; sent < to; ++sent) {
      ParamArrays a(*calls[sent].params);
      const int ok = calls[sent].name != nullptr
                         ? PQsendQueryPrepared(c, calls[sent].name->c_str(), static_cast<int>(a.values.size()),
                                               a.values.data(), nullptr, nullptr, 0)
                         : PQsendQueryParams(c, std::string(calls[sent].sql).c_str(), static_cast<int>(a.values.size()),
                                             nullptr, a.values.data(), nullptr, nullptr, 0);
      if (ok != 1) {
        first = Error{Errc::kIo, "pipeline send: " + trimmed(PQerrorMessage(c))};
        break;
      }
    }
    const bool synced = PQpipelineSync(c) == 1;
    if (!synced && !first) first = Error{Errc::kIo, "pipeline sync: " + trimmed(PQerrorMessage(c))};
    // Every statement sent has one result then a null; the sync point ends the chunk.
    for (size_t i = from; i < sent; ++i) {
      auto r = check(PQgetResult(c), "pipeline");
      while (pg_result* extra = PQgetResult(c)) PQclear(extra);
      if (r) {
        out.push_back(std::move(*r));
      } else if (!first) {
        first = r.error();
      }
    }
    while (synced) {
      pg_result* res = PQgetResult(c);
      if (res == nullptr) break;  // nothing more will come (a broken connection)
      const bool sync = PQresultStatus(res) == PGRES_PIPELINE_SYNC;
      PQclear(res);
      if (sync) break;
    }
  }
  if (PQexitPipelineMode(c) != 1) {
    if (!first) first = Error{Errc::kIo, "pipeline exit: " + trimmed(PQerrorMessage(c))};
    // A connection left in pipeline mode must not be reused: dropping it makes the pool open a fresh one.
    conn_.reset();
  }
  if (first) return std::unexpected(*first);
  return out;
}

Result<Transaction> Connection::begin() {
  auto r = exec("begin");
  if (!r) return std::unexpected(r.error());
  return Transaction(*this);
}

Transaction::~Transaction() {
  if (conn_ != nullptr) (void)conn_->exec("rollback");
}

Result<void> Transaction::commit() {
  Connection* c = conn_;
  conn_ = nullptr;
  auto r = c->exec("commit");
  if (!r) return std::unexpected(r.error());
  // COMMIT of an aborted transaction succeeds as a statement but rolls back; the tag says which.
  if (r->commandTag() == "ROLLBACK") return fail(Errc::kIo, "the transaction had failed and was rolled back");
  return {};
}

Result<void> Transaction::rollback() {
  Connection* c = conn_;
  conn_ = nullptr;
  auto r = c->exec("rollback");
  if (!r) return std::unexpected(r.error());
  return {};
}

std::string_view sqlState(const Error& error) {
  std::string_view m = error.message;
  if (m.size() >= 7 && m[5] == ':') return m.substr(0, 5);
  return {};
}

}  // namespace wm::server::db
