#include "server_test_env.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <chrono>

#include "workmonitor/common/clock.h"
#include "workmonitor/common/uuid.h"
#include "workmonitor/server/http/crypto.h"
#include "workmonitor/server/http/gzip.h"

namespace wm::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;

HttpReply httpRequest(unsigned short port, const std::string& method, const std::string& target,
                      const std::string& body, const std::map<std::string, std::string>& headers) {
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.expires_after(std::chrono::seconds(30));
  stream.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(method), target, 11};
  req.set(bhttp::field::host, "127.0.0.1");
  for (const auto& [k, v] : headers) req.set(k, v);
  if (!req.count(bhttp::field::content_type) && !body.empty()) req.set(bhttp::field::content_type, "application/json");
  req.body() = body;
  req.prepare_payload();
  beast::error_code ec;
  // A server that refuses an oversized body replies and closes before it has read it all: keep the reply.
  bhttp::write(stream, req, ec);
  beast::flat_buffer buf;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(64 << 20);
  bhttp::read(stream, buf, parser, ec);
  HttpReply out;
  if (ec) {
    out.status = -1;
    out.body = ec.message();
    return out;
  }
  const auto& res = parser.get();
  out.status = res.result_int();
  for (const auto& f : res) {
    std::string name(f.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.headers[name] = std::string(f.value());
  }
  out.body = res.body();
  return out;
}

long long nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

nlohmann::json makeRecord(const std::string& kind, long long start_ms, long long end_ms, nlohmann::json data,
                          long long revision) {
  static SystemClock clock;
  static UuidV7Generator gen(clock);
  return {{"id", gen.next()},       {"kind", kind},     {"revision", revision},
          {"start_ms", start_ms},   {"end_ms", end_ms}, {"duration_ms", end_ms - start_ms},
          {"data", std::move(data)}};
}

nlohmann::json consentEvent(const std::string& category, bool granted, long long at_ms, const std::string& source) {
  return makeRecord("consent_event", at_ms, at_ms,
                    {{"consent_type", category},
                     {"action", granted ? "granted" : "revoked"},
                     {"policy_version", "0123456789abcdef"},
                     {"source", source}});
}

void ServerTest::SetUp() {
  PgTest::SetUp();
  if (HasFatalFailure()) return;
  applyMigrations();
  if (HasFatalFailure()) return;
  company_a_ = addCompany("Company A");
  company_b_ = addCompany("Company B");
  user_a_ = addUser(company_a_, "alice@a.test", "employee");
  admin_a_ = addUser(company_a_, "admin@a.test", "admin");
  admin_b_ = addUser(company_b_, "admin@b.test", "admin");
  shots_ = cluster_->socketDir() / "shots";
  startServer(config());
}

void ServerTest::TearDown() {
  server_.reset();
  PgTest::TearDown();
}

server::http::ServerConfig ServerTest::config() {
  server::http::ServerConfig c;
  c.database = cluster_->conninfo(db_, "workmonitor_app");
  c.pool_size = 4;
  c.jwt_secret = kTestSecret;
  c.listen_port = 0;
  c.threads = 2;
  c.screenshot_dir = shots_;
  c.migrations_dir = migrationsDir();
  return c;
}

void ServerTest::startServer(server::http::ServerConfig c) {
  server_.reset();
  auto s = server::http::HttpServer::start(c);
  ASSERT_TRUE(s) << s.error().message;
  server_ = std::move(*s);
}

std::string ServerTest::addCompany(const std::string& name) {
  return scalar("insert into public.companies (name) values ('" + name + "') returning id");
}

std::string ServerTest::addUser(const std::string& company, const std::string& email, const std::string& role,
                                bool consented) {
  auto hash = server::http::bcryptHash(kPassword, 4);
  EXPECT_TRUE(hash);
  const std::string id = scalar("insert into public.users (company_id, email, full_name, role) values ('" + company +
                                "', '" + email + "', 'Test " + role + "', '" + role + "') returning user_id");
  scalar("insert into auth.credentials (user_id, password_hash) values ('" + id + "', '" + *hash + "')");
  if (consented) grantConsent(id);
  return id;
}

void ServerTest::recordConsent(const std::string& user, const std::string& category, bool granted, long long at_ms) {
  scalar(
      "insert into public.consent_audit_log (company_id, user_id, consent_type, action, created_at) "
      "select company_id, user_id, '" +
      category + "', '" + (granted ? "granted" : "revoked") + "', 'epoch'::timestamptz + " + std::to_string(at_ms) +
      " * interval '1 millisecond' from public.users where user_id = '" + user + "' returning id");
}

void ServerTest::grantConsent(const std::string& user, long long at_ms) {
  for (const char* c : {"app_usage", "website_usage", "screenshots", "activity", "usb"})
    recordConsent(user, c, true, at_ms);
}

HttpReply ServerTest::login(const std::string& email, const std::string& password) {
  return call("POST", "/auth/login", nlohmann::json{{"email", email}, {"password", password}}.dump());
}

std::string ServerTest::token(const std::string& email) {
  auto r = login(email);
  EXPECT_EQ(r.status, 200) << r.body;
  return r.json().value("access_token", "");
}

HttpReply ServerTest::postBatch(const std::string& tok, const nlohmann::json& records) {
  nlohmann::json batch{
      {"batch_id", "b"}, {"device_id", ""}, {"agent_version", "0.1.0"}, {"format_version", 1}, {"records", records}};
  auto gz = server::http::gzip(batch.dump());
  EXPECT_TRUE(gz);
  auto h = bearer(tok);
  h["Content-Encoding"] = "gzip";
  h["Idempotency-Key"] = "k";
  return call("POST", "/api/v1/agent/batches", *gz, h);
}

}  // namespace wm::test
