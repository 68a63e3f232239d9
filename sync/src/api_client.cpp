#include "workmonitor/sync/api_client.h"

#include "workmonitor/sync/backoff.h"

namespace wm::sync {

const char* apiErrcName(ApiErrc e) {
  switch (e) {
    case ApiErrc::kOffline:
      return "offline";
    case ApiErrc::kUnauthorized:
      return "unauthorized";
    case ApiErrc::kSignInNeeded:
      return "sign_in_needed";
    case ApiErrc::kRetryLater:
      return "retry_later";
    case ApiErrc::kTooLarge:
      return "too_large";
    case ApiErrc::kRejected:
      return "rejected";
    case ApiErrc::kProtocol:
      return "protocol";
  }
  return "protocol";
}

std::string joinUrl(const std::string& base, const std::string& path) {
  std::string b = base;
  while (!b.empty() && b.back() == '/') b.pop_back();
  return path.starts_with('/') ? b + path : b + "/" + path;
}

ApiResult<ApiReply> interpret(const HttpResult& result, WallTime now) {
  if (!result) {
    return std::unexpected(
        ApiError{ApiErrc::kOffline, 0, netErrorName(result.error().kind), result.error().message, std::nullopt});
  }
  const HttpResponse& r = *result;
  ApiReply reply;
  reply.status = r.status;
  reply.raw = r;
  if (!r.body.empty()) {
    reply.body = nlohmann::json::parse(r.body, nullptr, false);
    // A 2xx body that is not JSON is a protocol error; an error body that is not JSON still has a status.
    if (reply.body.is_discarded()) reply.body = nullptr;
  }
  if ((r.status >= 200 && r.status < 300) || r.status == 304) {
    if (!r.body.empty() && reply.body.is_null() && r.status != 204)
      return std::unexpected(ApiError{ApiErrc::kProtocol, r.status, "bad_reply", "the server's reply is not JSON", {}});
    return reply;
  }
  ApiError e;
  e.status = r.status;
  e.code = "http_" + std::to_string(r.status);
  e.message = "the server replied " + std::to_string(r.status);
  if (reply.body.is_object() && reply.body.contains("error") && reply.body["error"].is_object()) {
    const auto& err = reply.body["error"];
    if (err.contains("code") && err["code"].is_string()) e.code = err["code"].get<std::string>();
    if (err.contains("message") && err["message"].is_string())
      e.message = std::to_string(r.status) + " " + err["message"].get<std::string>();
  }
  if (auto ra = r.header("retry-after")) e.retry_after = parseRetryAfter(*ra, now);
  if (r.status == 401) {
    e.kind = ApiErrc::kUnauthorized;
  } else if (r.status == 413) {
    e.kind = ApiErrc::kTooLarge;
  } else if (r.status == 408 || r.status == 429 || r.status >= 500) {
    e.kind = ApiErrc::kRetryLater;
  } else {
    e.kind = ApiErrc::kRejected;
  }
  return std::unexpected(e);
}

}  // namespace wm::sync
