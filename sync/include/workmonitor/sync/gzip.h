// gzip for request bodies (the client) and for checking what was sent (the tests' loopback server).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "workmonitor/common/result.h"

namespace wm::sync {

Result<std::string> gzipCompress(std::string_view data, int level = 6);
/// Refuses output beyond max_out bytes (a gzip bomb is an error, not an allocation).
Result<std::string> gzipDecompress(std::string_view data, size_t max_out = 64 * 1024 * 1024);

}  // namespace wm::sync
