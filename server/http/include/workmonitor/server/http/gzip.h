// gzip request bodies, inflated with a hard output limit (a small body must not expand into gigabytes).
#pragma once

#include <string>
#include <string_view>

#include "workmonitor/common/result.h"

namespace wm::server::http {

/// kInvalidInput for a corrupt stream, kBusy (mapped to 413) when the output would exceed `limit`.
Result<std::string> gunzip(std::string_view in, size_t limit);
/// For tests and clients.
Result<std::string> gzip(std::string_view in);

}  // namespace wm::server::http
