// Reading fields of JSON that came from outside (a server reply, stored state): json::value() throws when
// the key exists but holds null or another type, so replies like {"profile_id": null} go through here.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace wm::sync::detail {

inline std::string stringField(const nlohmann::json& j, const char* key, std::string fallback = {}) {
  if (!j.is_object()) return fallback;
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : fallback;
}

}  // namespace wm::sync::detail
