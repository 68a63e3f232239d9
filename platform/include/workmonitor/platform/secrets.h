// Secret storage for tokens: the OS keychain (libsecret, Credential Manager/DPAPI, Keychain), else a 0600 file.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "workmonitor/common/result.h"

namespace wm::platform {

class SecretStore {
 public:
  virtual ~SecretStore() = default;
  virtual Result<void> put(const std::string& key, const std::string& secret) = 0;
  /// nullopt when no secret is stored under key.
  virtual Result<std::optional<std::string>> get(const std::string& key) = 0;
  virtual Result<void> erase(const std::string& key) = 0;
  /// Where secrets live, for `doctor` (e.g. "libsecret" or the file path).
  virtual std::string describe() const = 0;
};

/// The OS store where available, else a 0600 file under fallback_dir.
std::unique_ptr<SecretStore> makeSecretStore(const std::filesystem::path& fallback_dir);

}  // namespace wm::platform
