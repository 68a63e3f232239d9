// Sign-in state of the sync client: the access token in memory only, the refresh credential in a
// CredentialStore (the platform's secret store). Used from the uploader's thread only.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "workmonitor/common/result.h"
#include "workmonitor/sync/api_client.h"

namespace wm::sync {

/// Where the refresh credential lives between runs (the agent adapts platform::SecretStore to it).
class CredentialStore {
 public:
  virtual ~CredentialStore() = default;
  virtual Result<std::optional<std::string>> load() = 0;
  virtual Result<void> save(const std::string& refresh_token) = 0;
  virtual Result<void> erase() = 0;
};

enum class AuthState {
  kSignedOut,     // no credential: never signed in, or logged out
  kSignedIn,      // a refresh credential is held (the access token may be refreshed at any time)
  kSignInNeeded,  // the server refused the credential (revoked family, expired device): a person must act
};
const char* authStateName(AuthState s);

class AuthSession {
 public:
  AuthSession(std::string base_url, HttpTransport& transport, CredentialStore& store, const Clock& clock);

  /// Reads the stored credential: signed in when one exists (its validity is learnt at the first refresh).
  void load();

  /// POST /auth/login. On success the refresh credential is stored and the user object returned.
  ApiResult<nlohmann::json> login(const std::string& email, const std::string& password, const std::string& device_id);
  /// POST /api/v1/agent/enroll. Returns the whole reply without its tokens (device_id, user). `os_account`
  /// (the computer's account name) is sent when not empty: an unattended token (wmu1) maps it to a user.
  ApiResult<nlohmann::json> enroll(const std::string& enrollment_token, const nlohmann::json& device,
                                   const std::string& os_account = {});
  /// POST /auth/logout (best effort) and forget both tokens locally, whatever the server says.
  void logout();

  /// A usable access token: refreshed first when it is missing or expires within the refresh margin.
  ApiResult<std::string> accessToken();
  /// An API call got 401 with our token: forget it and refresh now (the caller retries once).
  ApiResult<std::string> refreshAfterUnauthorized();

  /// The server ended this sign-in for good (e.g. an administrator revoked the device): the stored credential
  /// is erased and a person must sign in again; `why` is what `status` shows.
  void endSignIn(const std::string& why);

  AuthState state() const { return state_; }
  /// Why sign-in is needed (the server's message), for `status`.
  const std::string& problem() const { return problem_; }

  /// Refresh this long before the access token expires: a fifth of its lifetime, between 10 s and 5 min.
  static Millis refreshMargin(Millis lifetime);

 private:
  ApiResult<nlohmann::json> takeTokens(const ApiResult<ApiReply>& reply);
  ApiResult<std::string> refresh();
  void needSignIn(const std::string& why);

  std::string base_url_;
  HttpTransport& transport_;
  CredentialStore& store_;
  const Clock& clock_;
  AuthState state_ = AuthState::kSignedOut;
  std::string problem_;
  std::string access_token_;  // memory only
  MonoTime access_expires_{};
  MonoTime refresh_at_{};
  std::optional<std::string> refresh_token_;  // cached copy of the stored one
};

}  // namespace wm::sync
