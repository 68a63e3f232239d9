// SecretStore for platforms without a module: reports kUnavailable (a 0600-file store comes with the sync client).
#include "unavailable.h"
#include "workmonitor/platform/secrets.h"

namespace wm::platform {
namespace {
class NoneSecretStore final : public SecretStore {
 public:
  Result<void> put(const std::string&, const std::string&) override {
    return std::unexpected(none::unavailable("secret storage"));
  }
  Result<std::optional<std::string>> get(const std::string&) override {
    return std::unexpected(none::unavailable("secret storage"));
  }
  Result<void> erase(const std::string&) override { return std::unexpected(none::unavailable("secret storage")); }
  std::string describe() const override { return "none"; }
};
}  // namespace

std::unique_ptr<SecretStore> makeSecretStore(const std::filesystem::path&) {
  return std::make_unique<NoneSecretStore>();
}

}  // namespace wm::platform
