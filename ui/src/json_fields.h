// Reading the agent's JSON without exceptions: a missing or mistyped field reads as empty/false/0.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace wm::tray::jf {

inline const nlohmann::json& field(const nlohmann::json& j, const char* key) {
  static const nlohmann::json kNull;
  if (!j.is_object()) return kNull;
  auto it = j.find(key);
  return it != j.end() ? *it : kNull;
}
inline std::string str(const nlohmann::json& j, const char* key) {
  const auto& f = field(j, key);
  return f.is_string() ? f.get<std::string>() : std::string();
}
inline int64_t num(const nlohmann::json& j, const char* key) {
  const auto& f = field(j, key);
  return f.is_number() ? f.get<int64_t>() : 0;
}
inline bool flag(const nlohmann::json& j, const char* key) {
  const auto& f = field(j, key);
  return f.is_boolean() && f.get<bool>();
}

}  // namespace wm::tray::jf
