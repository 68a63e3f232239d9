#include "workmonitor/server/http/metrics_access.h"

#include <boost/asio/ip/address.hpp>

#include <cctype>
#include <string>

#include "workmonitor/server/http/crypto.h"

namespace wm::server::http {

bool isLoopbackAddress(std::string_view peer) {
  boost::system::error_code ec;
  const auto a = boost::asio::ip::make_address(std::string(peer), ec);
  if (ec) return false;
  if (a.is_v4()) return a.to_v4().is_loopback();
  const auto v6 = a.to_v6();
  if (v6.is_v4_mapped()) return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, v6).is_loopback();
  return v6.is_loopback();
}

MetricsAccess metricsAccess(std::string_view token, bool loopback_is_local, const MetricsRequest& request) {
  if (token.empty()) {
    const bool local = loopback_is_local && !request.forwarded && isLoopbackAddress(request.peer);
    return local ? MetricsAccess::kAllowed : MetricsAccess::kForbidden;
  }
  if (!request.authorization) return MetricsAccess::kForbidden;
  std::string_view h = *request.authorization;
  constexpr std::string_view kScheme = "bearer ";
  bool bearer = h.size() > kScheme.size();
  for (size_t i = 0; bearer && i < kScheme.size(); ++i) {
    bearer = std::tolower(static_cast<unsigned char>(h[i])) == kScheme[i];
  }
  if (!bearer) return MetricsAccess::kWrongToken;
  // Hashed first so the comparison takes the same time whatever the presented token's length.
  return constantTimeEqual(sha256(h.substr(kScheme.size())), sha256(token)) ? MetricsAccess::kAllowed
                                                                            : MetricsAccess::kWrongToken;
}

}  // namespace wm::server::http
