// Shared by the server tests: a PostgreSQL 15 cluster with the migrations, two companies with users,
// workmonitor-server's HTTP API running in-process as the runtime role, and a small HTTP client.
#pragma once

#include <map>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "pg_test_env.h"
#include "workmonitor/server/http/server.h"

namespace wm::test {

struct HttpReply {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  nlohmann::json json() const { return nlohmann::json::parse(body, nullptr, false); }
  std::string errorCode() const {
    auto j = json();
    return j.is_object() && j.contains("error") ? j["error"].value("code", "") : "";
  }
};

/// One request on a fresh connection to 127.0.0.1:port.
HttpReply httpRequest(unsigned short port, const std::string& method, const std::string& target,
                      const std::string& body = "", const std::map<std::string, std::string>& headers = {});

inline constexpr const char* kTestSecret = "test-secret-0123456789-abcdefghijklmnopqrstuvwxyz";
inline constexpr const char* kPassword = "correct horse battery";

class ServerTest : public PgTest {
 protected:
  void SetUp() override;
  void TearDown() override;

  /// Inserts a user (bcrypt cost 4) as superuser; returns the id. `consented`: with a grant of every consent
  /// category dated 2000-01-01 (grantConsent), so the monitoring records a test posts are stored; the
  /// server rejects them without one (issue 15).
  std::string addUser(const std::string& company, const std::string& email, const std::string& role,
                      bool consented = true);
  /// A consent_audit_log row of `user` (as superuser), as an agent's consent_event would leave it.
  void recordConsent(const std::string& user, const std::string& category, bool granted, long long at_ms);
  /// Grants every category a record kind can need (app_usage, website_usage, screenshots, activity, usb).
  void grantConsent(const std::string& user, long long at_ms = 946771200000LL /* 2000-01-02 */);
  std::string addCompany(const std::string& name);
  server::http::ServerConfig config();
  void startServer(server::http::ServerConfig config);

  HttpReply call(const std::string& method, const std::string& target, const std::string& body = "",
                 const std::map<std::string, std::string>& headers = {}) {
    return httpRequest(server_->port(), method, target, body, headers);
  }
  HttpReply login(const std::string& email, const std::string& password = kPassword);
  /// The access token of a fresh login.
  std::string token(const std::string& email);
  std::map<std::string, std::string> bearer(const std::string& token) { return {{"Authorization", "Bearer " + token}}; }
  /// POSTs a batch (gzip) of records.
  HttpReply postBatch(const std::string& token, const nlohmann::json& records);

  std::string company_a_, company_b_, user_a_, admin_a_, admin_b_;
  std::filesystem::path shots_;
  std::unique_ptr<server::http::HttpServer> server_;
};

/// A record in the wire format (records.h) with a fresh UUIDv7 id.
nlohmann::json makeRecord(const std::string& kind, long long start_ms, long long end_ms, nlohmann::json data,
                          long long revision = 1);
long long nowMs();
/// A consent_event record as the agent sends it (agent/src/consent.cpp).
nlohmann::json consentEvent(const std::string& category, bool granted, long long at_ms,
                            const std::string& source = "agent");

}  // namespace wm::test
