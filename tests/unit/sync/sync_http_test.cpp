// The sync client over real HTTP: the libcurl transport and the uploader against ScriptedHttpServer, a
// scripted loopback server from tests/support that is the fault-injecting network layer for these tests
// (slow replies, dropped connections, 401 then 200, 503 with Retry-After). It is not workmonitor-server:
// the end-to-end tests against the real server live with it. Label `integration`.
#include <sys/wait.h>
#include <unistd.h>

#include <condition_variable>
#include <csignal>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <set>

#include <gtest/gtest.h>

#include "fake_transport.h"
#include "outbox_test_util.h"
#include "scripted_http_server.h"
#include "workmonitor/sync/sync_engine.h"

namespace wm::sync {
namespace {

using nlohmann::json;
using wm::testing::ReceivedRequest;
using wm::testing::ScriptedHttpServer;
using wm::testing::ScriptedReply;

TransportOptions fast() {
  TransportOptions o;
  o.connect_timeout = Millis(2000);
  o.total_timeout = Millis(3000);
  return o;
}

TEST(CurlTransport, SendsGzipBodiesAndHeadersAndReadsTheReply) {
  ScriptedHttpServer server;
  server.push(ScriptedReply::json(201, R"({"ok":true})"));
  auto t = makeCurlTransport(fast());
  HttpRequest req;
  req.method = "POST";
  req.url = server.url() + "/api/v1/agent/batches?x=1";
  req.headers = {{"Idempotency-Key", "k-1"}, {"Content-Type", "application/json"}};
  req.body = std::string(50'000, 'a');  // large enough that curl would otherwise ask for 100-continue
  req.gzip_body = true;
  auto r = t->send(req);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(r->body, R"({"ok":true})");
  EXPECT_EQ(r->header("Content-Type"), "application/json");
  auto got = server.received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].method, "POST");
  EXPECT_EQ(got[0].target, "/api/v1/agent/batches?x=1");
  EXPECT_EQ(got[0].header("content-encoding"), "gzip");
  EXPECT_EQ(got[0].header("idempotency-key"), "k-1");
  EXPECT_EQ(got[0].header("expect"), "");
  EXPECT_TRUE(got[0].header("user-agent").starts_with("workmonitor-agent/"));
  EXPECT_LT(got[0].body.size(), 1000u);  // it really was compressed
  EXPECT_EQ(got[0].decoded_body, req.body);
}

TEST(CurlTransport, KeepsTheConnectionBetweenRequests) {
  ScriptedHttpServer server;
  for (int i = 0; i < 3; ++i) server.push(ScriptedReply::json(200, "{}"));
  auto t = makeCurlTransport(fast());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(t->send(HttpRequest{"GET", server.url() + "/healthz", {}, {}, false, {}}));
  EXPECT_EQ(server.connectionsAccepted(), 1u);
}

TEST(CurlTransport, ASlowServerEndsInATimeoutNotAHang) {
  ScriptedHttpServer server;
  ScriptedReply slow = ScriptedReply::json(200, "{}");
  slow.delay = std::chrono::milliseconds(5000);
  server.push(slow);
  TransportOptions o = fast();
  o.total_timeout = Millis(500);
  auto t = makeCurlTransport(o);
  const auto t0 = std::chrono::steady_clock::now();
  auto r = t->send(HttpRequest{"GET", server.url() + "/", {}, {}, false, {}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, NetError::kTimeout);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(3000));
}

TEST(CurlTransport, DroppedConnectionsAndRefusedPortsAreErrorsNotResponses) {
  ScriptedHttpServer server;
  server.push(ScriptedReply::drop());
  ScriptedReply midway = ScriptedReply::json(200, std::string(1000, ' ') + "{}");
  midway.action = ScriptedReply::Action::kDropMidway;
  server.push(midway);
  auto t = makeCurlTransport(fast());
  auto dropped = t->send(HttpRequest{"GET", server.url() + "/", {}, {}, false, {}});
  ASSERT_FALSE(dropped);
  EXPECT_EQ(dropped.error().kind, NetError::kReceive);
  auto half = t->send(HttpRequest{"GET", server.url() + "/", {}, {}, false, {}});
  ASSERT_FALSE(half);
  EXPECT_EQ(half.error().kind, NetError::kReceive);

  int port = 0;
  {
    ScriptedHttpServer gone;
    port = gone.port();
  }
  auto refused = t->send(HttpRequest{"GET", "http://127.0.0.1:" + std::to_string(port) + "/", {}, {}, false, {}});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, NetError::kConnect);
  auto bad = t->send(HttpRequest{"GET", "ftp://127.0.0.1/", {}, {}, false, {}});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind, NetError::kInvalidUrl);
}

TEST(CurlTransport, CancelAllEndsARequestInFlight) {
  ScriptedHttpServer server;
  ScriptedReply slow = ScriptedReply::json(200, "{}");
  slow.delay = std::chrono::milliseconds(10000);
  server.push(slow);
  TransportOptions o = fast();
  o.total_timeout = Millis(20000);
  auto t = makeCurlTransport(o);
  auto f = std::async(std::launch::async, [&] {
    return t->send(HttpRequest{"GET", server.url() + "/", {}, {}, false, {}});
  });
  ASSERT_TRUE(server.waitForRequests(1, std::chrono::milliseconds(3000)));
  const auto t0 = std::chrono::steady_clock::now();
  t->cancelAll();
  auto r = f.get();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, NetError::kCancelled);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(3000));
}

// ---- the uploader over real HTTP -------------------------------------------------------------------------

class UploaderHttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    OutboxOptions o;
    o.path = dir_.path() / "outbox.db";
    outbox_ = std::move(Outbox::open(o, clock_).value());
    creds_.value = "r1";
  }
  // One batch at a time unless asked: the scripted faults below are aimed at the order of the attempts.
  std::unique_ptr<SyncEngine> engine(size_t in_flight = 1) {
    SyncOptions o;
    o.server_url = server_.url();
    o.seed = 5;
    o.batch_max_records = 3;
    o.max_in_flight = in_flight;
    return std::make_unique<SyncEngine>(o, *outbox_, *transport_, creds_, clock_, nullptr);
  }
  void put(int n) {
    for (int i = 0; i < n; ++i) {
      auto r = sync::testing::makeRecord(ids_, api::RecordKind::kTimeEntry, toUnixMs(clock_.wall()),
                                         toUnixMs(clock_.wall()) + 1000,
                                         {{"note", std::string("n").append(std::to_string(i))}});
      ASSERT_TRUE(outbox_->putSync(r));
      clock_.advance(Millis(1));
    }
  }
  static ScriptedReply results(const ReceivedRequest& r, const std::string& status) {
    json body = json::parse(r.decoded_body);
    json out = json::array();
    for (const auto& rec : body["records"])
      out.push_back({{"id", rec["id"]}, {"revision", rec["revision"]}, {"status", status}});
    return ScriptedReply::json(200, json{{"results", out}}.dump());
  }
  static ScriptedReply tokens(const std::string& access, const std::string& refresh) {
    return ScriptedReply::json(200, json{{"access_token", access},
                                         {"token_type", "bearer"},
                                         {"expires_in", 900},
                                         {"refresh_token", refresh},
                                         {"user", {{"email", "e@x"}}}}
                                        .dump());
  }

  sync::testing::TempDir dir_;
  ManualClock clock_;
  UuidV7Generator ids_{clock_};
  std::unique_ptr<Outbox> outbox_;
  ScriptedHttpServer server_;
  std::unique_ptr<HttpTransport> transport_ = makeCurlTransport(fast());
  test::MemoryCredentials creds_;
};

TEST_F(UploaderHttpTest, FaultsOnTheWireLoseNothingAndDuplicateNothing) {
  put(7);
  std::mutex mu;
  std::map<std::string, int> stored;  // record id -> times the server answered "stored"
  std::vector<std::string> keys;
  int attempt = 0;
  server_.setHandler([&](const ReceivedRequest& r) -> ScriptedReply {
    std::lock_guard lk(mu);
    if (r.target == "/auth/refresh") return tokens("a", "r2");
    if (r.target == "/api/v1/agent/profile") return ScriptedReply::json(404, "{}");
    EXPECT_EQ(r.header("authorization"), "Bearer a");
    EXPECT_EQ(r.header("content-encoding"), "gzip");
    keys.push_back(r.header("idempotency-key"));
    ++attempt;
    // Lost before the server did anything. Twice: libcurl itself resends once when a reused connection
    // dies without a reply, so the second drop is the one the uploader sees.
    if (attempt <= 2) return ScriptedReply::drop();
    if (attempt == 3) {
      ScriptedReply busy = ScriptedReply::json(503, R"({"error":{"code":"unavailable","message":"later"}})");
      busy.headers.emplace_back("Retry-After", "3");
      return busy;
    }
    // From here the server stores what it gets; a record it already has is a duplicate.
    json body = json::parse(r.decoded_body);
    json out = json::array();
    for (const auto& rec : body["records"]) {
      const bool dup = stored[rec["id"].get<std::string>()]++ > 0;
      out.push_back({{"id", rec["id"]}, {"revision", rec["revision"]}, {"status", dup ? "duplicate" : "stored"}});
    }
    // Stored, but the reply is lost on the way back: the batch must be resent and found a duplicate.
    if (attempt == 4) return ScriptedReply::drop();
    return ScriptedReply::json(200, json{{"results", out}}.dump());
  });
  auto e = engine();
  Millis wait = e->runOnce();  // dropped
  EXPECT_FALSE(e->status().online);
  EXPECT_TRUE(e->status().backing_off);
  clock_.advance(wait);
  wait = e->runOnce();  // 503 Retry-After: 3
  EXPECT_EQ(wait, Millis(3000));
  EXPECT_TRUE(e->status().online);
  for (int round = 0; round < 10 && outbox_->stats().value().pending > 0; ++round) {
    clock_.advance(wait);
    wait = e->runOnce();
  }
  EXPECT_EQ(outbox_->stats().value().pending, 0);
  ASSERT_EQ(stored.size(), 7u);
  // Every attempt at the first batch carried one Idempotency-Key; 7 records in batches of 3 are 3 keys.
  ASSERT_GE(keys.size(), 5u);
  for (int i = 1; i <= 4; ++i) EXPECT_EQ(keys[i], keys[0]);
  EXPECT_EQ(std::set<std::string>(keys.begin(), keys.end()).size(), 3u);
}

// Two batches on the wire at once over real connections, with faults on both: nothing is lost, nothing is
// stored twice, and the records end up marked sent.
TEST_F(UploaderHttpTest, TwoBatchesOnTheWireWithFaultsLoseNothingAndDuplicateNothing) {
  put(12);
  std::mutex mu;
  std::condition_variable cv;
  int active = 0, peak = 0, attempt = 0;
  std::map<std::string, int> stored;
  server_.setHandler([&](const ReceivedRequest& r) -> ScriptedReply {
    if (r.target == "/auth/refresh") return tokens("a", "r2");
    if (r.target == "/api/v1/agent/profile") return ScriptedReply::json(404, "{}");
    std::unique_lock lk(mu);
    peak = std::max(peak, ++active);
    cv.notify_all();
    cv.wait_for(lk, std::chrono::milliseconds(200), [&] { return active >= 2; });
    --active;
    const int n = ++attempt;
    if (n == 2) return ScriptedReply::drop();
    if (n == 3) return ScriptedReply::json(503, R"({"error":{"code":"unavailable","message":"later"}})");
    json body = json::parse(r.decoded_body);
    json out = json::array();
    for (const auto& rec : body["records"]) {
      const bool dup = stored[rec["id"].get<std::string>()]++ > 0;
      out.push_back({{"id", rec["id"]}, {"revision", rec["revision"]}, {"status", dup ? "duplicate" : "stored"}});
    }
    // Stored, but the reply is lost on the way back.
    if (n == 5) return ScriptedReply::drop();
    return ScriptedReply::json(200, json{{"results", out}}.dump());
  });
  auto e = engine(2);
  Millis wait{0};
  for (int round = 0; round < 20 && outbox_->stats().value().pending > 0; ++round) {
    clock_.advance(wait);
    wait = e->runOnce();
  }
  EXPECT_EQ(outbox_->stats().value().pending, 0);
  std::lock_guard lk(mu);
  EXPECT_EQ(peak, 2);
  ASSERT_EQ(stored.size(), 12u);
}

TEST_F(UploaderHttpTest, An401ThenRefreshThenRetrySucceeds) {
  put(2);
  int batches = 0;
  server_.setHandler([&](const ReceivedRequest& r) -> ScriptedReply {
    if (r.target == "/auth/refresh") {
      const std::string presented = json::parse(r.decoded_body)["refresh_token"];
      return presented == "r1" ? tokens("a1", "r2") : tokens("a2", "r3");
    }
    if (r.target == "/api/v1/agent/profile") return ScriptedReply::json(404, "{}");
    ++batches;
    if (r.header("authorization") == "Bearer a1")
      return ScriptedReply::json(401, R"({"error":{"code":"token_expired","message":"expired"}})");
    return results(r, "stored");
  });
  auto e = engine();
  e->runOnce();
  EXPECT_EQ(batches, 2);
  EXPECT_EQ(creds_.value, "r3");
  EXPECT_EQ(outbox_->stats().value().pending, 0);
}

// ---- TLS ---------------------------------------------------------------------------------------------------

// A real TLS server (openssl s_server -www) with a self-signed certificate made for this test.
class TlsServer {
 public:
  explicit TlsServer(const std::filesystem::path& dir) {
    cert_ = dir / "cert.pem";
    const std::filesystem::path key = dir / "key.pem";
    const std::string make =
        "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
        "-addext subjectAltName=IP:127.0.0.1 -keyout " +
        key.string() + " -out " + cert_.string() + " >/dev/null 2>&1";
    ok_ = std::system(make.c_str()) == 0;
    if (!ok_) return;
    {
      ScriptedHttpServer probe;  // a port that was free a moment ago
      port_ = probe.port();
    }
    pid_ = ::fork();
    if (pid_ == 0) {
      ::execlp("openssl", "openssl", "s_server", "-quiet", "-www", "-accept", std::to_string(port_).c_str(), "-cert",
               cert_.c_str(), "-key", key.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
  }
  ~TlsServer() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  bool ok() const { return ok_ && pid_ > 0; }
  int port() const { return port_; }
  const std::filesystem::path& cert() const { return cert_; }

 private:
  bool ok_ = false;
  pid_t pid_ = -1;
  int port_ = 0;
  std::filesystem::path cert_;
};

TEST(CurlTransportTls, VerificationIsOnAndACustomCaBundleIsTrusted) {
  sync::testing::TempDir dir;
  TlsServer tls(dir.path());
  ASSERT_TRUE(tls.ok()) << "openssl could not make a certificate or start s_server";
  const std::string url = "https://127.0.0.1:" + std::to_string(tls.port()) + "/";
  auto untrusted = makeCurlTransport(fast());
  HttpResult r;
  // s_server needs a moment to listen.
  for (int i = 0; i < 50; ++i) {
    r = untrusted->send(HttpRequest{"GET", url, {}, {}, false, {}});
    if (r || r.error().kind != NetError::kConnect) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_FALSE(r) << "a self-signed certificate was accepted without being trusted";
  EXPECT_EQ(r.error().kind, NetError::kTls) << r.error().message;

  TransportOptions o = fast();
  o.ca_bundle = tls.cert();
  auto trusted = makeCurlTransport(o);
  auto ok = trusted->send(HttpRequest{"GET", url, {}, {}, false, {}});
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->status, 200);
}

}  // namespace
}  // namespace wm::sync
