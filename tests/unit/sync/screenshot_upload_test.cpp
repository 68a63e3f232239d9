// The uploader's screenshot images (issue 6): the spool directory is the queue; an image goes up (PUT) only
// after the batch holding its metadata record was acknowledged, is deleted after a 200, stays after a 409
// metadata_missing or a network failure, and is moved to rejected/ when the server will never take it.
// Real outbox (SQLite), real libcurl transport; the server is ScriptedHttpServer, the scripted loopback
// server of tests/support (a test tool that replies what each test says), because these tests need the
// server to misbehave on cue. The real workmonitor-server takes the same images in
// tests/integration/screenshot_upload_integration_test.cpp.
#include <openssl/evp.h>

#include <atomic>
#include <fstream>
#include <mutex>

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
namespace fs = std::filesystem;

std::string sha256Hex(const std::string& bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(bytes.data(), bytes.size(), md, &n, EVP_sha256(), nullptr);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < n; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

class ScreenshotUploadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    OutboxOptions o;
    o.path = dir_.path() / "outbox.db";
    outbox_ = std::move(Outbox::open(o, clock_).value());
    creds_.value = "r1";
    spool_ = dir_.path() / "screenshots";
    fs::create_directories(spool_);
  }

  std::unique_ptr<SyncEngine> engine(int per_round = 8) {
    TransportOptions t;
    t.connect_timeout = Millis(2000);
    t.total_timeout = Millis(3000);
    transport_ = makeCurlTransport(t);
    SyncOptions o;
    o.server_url = server_.url();
    o.seed = 7;
    o.screenshot_dir = spool_;
    o.screenshots_per_round = per_round;
    return std::make_unique<SyncEngine>(o, *outbox_, *transport_, creds_, clock_, nullptr);
  }

  // A screenshot as the agent spools it: the metadata record in the outbox, the image beside it.
  struct Shot {
    std::string id;
    std::string bytes;
    std::string sha;
    fs::path file;
  };
  Shot addShot(const std::string& bytes, const std::string& ext = "jpg", bool write_record = true) {
    Shot s;
    s.bytes = bytes;
    s.sha = sha256Hex(bytes);
    const int64_t now = toUnixMs(clock_.wall());
    api::Record r = sync::testing::makeRecord(ids_, api::RecordKind::kScreenshot, now, now,
                                              {{"monitor", "HDMI-1"},
                                               {"width", 640},
                                               {"height", 360},
                                               {"format", ext == "jpg" ? "jpeg" : "webp"},
                                               {"sha256", s.sha},
                                               {"bytes", bytes.size()}});
    s.id = r.id;
    if (write_record) {
      EXPECT_TRUE(outbox_->putSync(r));
    }
    s.file = spool_ / (s.id + "." + ext);
    std::ofstream(s.file, std::ios::binary) << bytes;
    clock_.advance(Millis(5));
    return s;
  }

  static ScriptedReply tokens() {
    return ScriptedReply::json(200, json{{"access_token", "a"},
                                         {"token_type", "bearer"},
                                         {"expires_in", 900},
                                         {"refresh_token", "r2"},
                                         {"user", {{"email", "e@x"}}}}
                                        .dump());
  }
  static ScriptedReply results(const ReceivedRequest& r) {
    const json body = json::parse(r.decoded_body);
    json out = json::array();
    for (const auto& rec : body["records"])
      out.push_back({{"id", rec["id"]}, {"revision", rec["revision"]}, {"status", "stored"}});
    return ScriptedReply::json(200, json{{"results", out}}.dump());
  }
  static ScriptedReply apiError(int status, const std::string& code) {
    return ScriptedReply::json(status, json{{"error", {{"code", code}, {"message", code}}}}.dump());
  }

  // The script: sign-in, no profile, batches per `batch` (default: all stored), images per `image`.
  void serve(std::function<ScriptedReply(const ReceivedRequest&)> image,
             std::function<ScriptedReply(const ReceivedRequest&)> batch = results) {
    server_.setHandler([this, image, batch](const ReceivedRequest& r) -> ScriptedReply {
      if (r.target == "/auth/refresh") return tokens();
      if (r.target == "/api/v1/agent/profile") return ScriptedReply::json(404, "{}");
      std::lock_guard lk(mu_);
      if (r.target == "/api/v1/agent/batches") {
        events_.push_back("batch");
        return batch(r);
      }
      if (r.target.starts_with("/api/v1/agent/screenshots/")) {
        events_.push_back("put " + r.target.substr(std::string("/api/v1/agent/screenshots/").size()));
        puts_.push_back(r);
        return image(r);
      }
      return ScriptedReply::json(404, "{}");
    });
  }
  std::vector<std::string> events() {
    std::lock_guard lk(mu_);
    return events_;
  }
  size_t putCount() {
    std::lock_guard lk(mu_);
    return puts_.size();
  }

  sync::testing::TempDir dir_;
  ManualClock clock_;
  UuidV7Generator ids_{clock_};
  std::unique_ptr<Outbox> outbox_;
  ScriptedHttpServer server_;
  std::unique_ptr<HttpTransport> transport_;
  test::MemoryCredentials creds_;
  fs::path spool_;
  std::mutex mu_;
  std::vector<std::string> events_;
  std::vector<ReceivedRequest> puts_;
};

TEST_F(ScreenshotUploadTest, MetadataMissingIsRetriedLaterThenTheFileIsDeletedAfter200) {
  Shot shot = addShot(std::string("\xff\xd8\xff\xe0 jpeg bytes \x00\x01\x02", 19));
  int answered = 0;
  serve([&](const ReceivedRequest&) {
    return ++answered == 1 ? apiError(409, "metadata_missing")
                           : ScriptedReply::json(200, json{{"id", shot.id}, {"stored", true}}.dump());
  });
  auto e = engine();
  e->runOnce();
  // The record went first, then the image, which the server did not take yet: the file stays.
  ASSERT_EQ(events(), (std::vector<std::string>{"batch", "put " + shot.id}));
  EXPECT_TRUE(fs::exists(shot.file));
  EXPECT_EQ(e->status().screenshots_pending, 1);
  {
    std::lock_guard lk(mu_);
    const ReceivedRequest& put = puts_.at(0);
    EXPECT_EQ(put.method, "PUT");
    EXPECT_EQ(put.header("content-type"), "image/jpeg");
    EXPECT_EQ(put.header("x-content-sha256"), shot.sha);
    EXPECT_EQ(put.header("authorization"), "Bearer a");
    EXPECT_EQ(put.header("content-encoding"), "");  // images are compressed already
    EXPECT_EQ(put.body, shot.bytes);
  }
  // Not asked again before the retry delay ...
  clock_.advance(Millis(10'000));
  e->runOnce();
  EXPECT_EQ(putCount(), 1u);
  // ... then stored, and the local copy is gone.
  clock_.advance(Millis(60'000));
  e->runOnce();
  EXPECT_EQ(putCount(), 2u);
  EXPECT_FALSE(fs::exists(shot.file));
  EXPECT_EQ(e->status().screenshots_pending, 0);
  EXPECT_EQ(e->status().screenshots_uploaded, 1);
  EXPECT_FALSE(fs::exists(spool_ / "rejected"));
}

TEST_F(ScreenshotUploadTest, ChecksumMismatchMovesTheImageToRejectedAndItIsNeverSentAgain) {
  Shot shot = addShot("webp image bytes", "webp");
  serve([&](const ReceivedRequest&) { return apiError(400, "checksum_mismatch"); });
  auto e = engine();
  e->runOnce();
  ASSERT_EQ(putCount(), 1u);
  {
    std::lock_guard lk(mu_);
    EXPECT_EQ(puts_[0].header("content-type"), "image/webp");
  }
  EXPECT_FALSE(fs::exists(shot.file));
  EXPECT_TRUE(fs::exists(spool_ / "rejected" / (shot.id + ".webp")));
  EXPECT_EQ(e->status().screenshots_rejected, 1);
  EXPECT_EQ(e->status().screenshots_pending, 0);
  for (int i = 0; i < 3; ++i) {
    clock_.advance(Millis(120'000));
    e->runOnce();
  }
  EXPECT_EQ(putCount(), 1u);
}

TEST_F(ScreenshotUploadTest, AnImageWaitsUntilTheBatchWithItsMetadataIsAcknowledged) {
  Shot shot = addShot("image one");
  bool batches_fail = true;
  serve([&](const ReceivedRequest&) { return ScriptedReply::json(200, R"({"stored":true})"); },
        [&](const ReceivedRequest& r) { return batches_fail ? apiError(503, "unavailable") : results(r); });
  auto e = engine();
  Millis wait = e->runOnce();
  EXPECT_EQ(events(), (std::vector<std::string>{"batch"}));  // no image without its metadata
  EXPECT_TRUE(fs::exists(shot.file));
  batches_fail = false;
  clock_.advance(wait);
  e->runOnce();
  EXPECT_EQ(events(), (std::vector<std::string>{"batch", "batch", "put " + shot.id}));
  EXPECT_FALSE(fs::exists(shot.file));
}

TEST_F(ScreenshotUploadTest, AfterARestartImagesOfAcknowledgedRecordsAreUploaded) {
  // A previous run got the records acknowledged but stopped before the images went up.
  Shot a = addShot("first image");
  Shot b = addShot("second image");
  ASSERT_TRUE(outbox_->markSent({{a.id, 1}, {b.id, 1}}));
  serve([&](const ReceivedRequest&) { return ScriptedReply::json(200, R"({"stored":true})"); });
  auto e = engine();
  e->runOnce();
  EXPECT_EQ(events(), (std::vector<std::string>{"put " + a.id, "put " + b.id}));  // oldest first
  EXPECT_FALSE(fs::exists(a.file));
  EXPECT_FALSE(fs::exists(b.file));
}

TEST_F(ScreenshotUploadTest, ImagesPerRoundAreBoundedAndTheRestFollowAtOnce) {
  std::vector<Shot> shots;
  for (int i = 0; i < 5; ++i) shots.push_back(addShot("image " + std::to_string(i)));
  serve([&](const ReceivedRequest&) { return ScriptedReply::json(200, R"({"stored":true})"); });
  auto e = engine(2);
  EXPECT_EQ(e->runOnce(), Millis(0));  // more to do: the next round comes at once
  EXPECT_EQ(putCount(), 2u);
  EXPECT_EQ(e->status().screenshots_pending, 3);
  e->runOnce();
  EXPECT_EQ(putCount(), 4u);
  EXPECT_GT(e->runOnce(), Millis(0));
  EXPECT_EQ(putCount(), 5u);
  for (const auto& s : shots) EXPECT_FALSE(fs::exists(s.file));
}

TEST_F(ScreenshotUploadTest, ANetworkFailureKeepsTheFileForTheNextRound) {
  Shot a = addShot("image a");
  Shot b = addShot("image b");
  std::atomic<bool> network_down{true};
  serve([&](const ReceivedRequest&) {
    return network_down ? ScriptedReply::drop() : ScriptedReply::json(200, R"({"stored":true})");
  });
  auto e = engine();
  e->runOnce();
  EXPECT_TRUE(fs::exists(a.file));
  EXPECT_TRUE(fs::exists(b.file));
  // The round's images stop at the first failure: b was not even tried (libcurl may resend a once itself).
  for (const auto& ev : events()) EXPECT_NE(ev, "put " + b.id);
  EXPECT_EQ(e->status().screenshots_pending, 2);
  network_down = false;
  clock_.advance(Millis(15'000));
  e->runOnce();
  EXPECT_FALSE(fs::exists(a.file));
  EXPECT_FALSE(fs::exists(b.file));
}

TEST_F(ScreenshotUploadTest, AnImageWithoutAMetadataRecordIsSetAsideOnceItIsOld) {
  Shot orphan = addShot("nobody's image", "jpg", /*write_record=*/false);
  std::ofstream(spool_ / "not-a-screenshot.txt") << "left alone";
  std::ofstream(spool_ / (orphan.id + ".jpg.tmp")) << "being written";
  serve([&](const ReceivedRequest&) { return ScriptedReply::json(200, R"({"stored":true})"); });
  auto e = engine();
  e->runOnce();
  EXPECT_TRUE(fs::exists(orphan.file));  // young: its record may still be on the way
  clock_.advance(Millis(11 * 60'000));
  e->runOnce();
  EXPECT_EQ(putCount(), 0u);
  EXPECT_FALSE(fs::exists(orphan.file));
  EXPECT_TRUE(fs::exists(spool_ / "rejected" / orphan.file.filename()));
  EXPECT_TRUE(fs::exists(spool_ / "not-a-screenshot.txt"));
  EXPECT_TRUE(fs::exists(spool_ / (orphan.id + ".jpg.tmp")));
}

TEST_F(ScreenshotUploadTest, AnImageWhoseRecordWasQuarantinedIsSetAside) {
  Shot shot = addShot("image of a rejected record");
  serve([&](const ReceivedRequest&) { return apiError(409, "metadata_missing"); },
        [&](const ReceivedRequest& r) {
          const json body = json::parse(r.decoded_body);
          json out = json::array();
          for (const auto& rec : body["records"])
            out.push_back(
                {{"id", rec["id"]}, {"revision", rec["revision"]}, {"status", "rejected"}, {"reason", "bad width"}});
          return ScriptedReply::json(200, json{{"results", out}}.dump());
        });
  auto e = engine();
  e->runOnce();  // quarantined: not acknowledged, but the queue is empty after it
  clock_.advance(Millis(15'000));
  e->runOnce();
  EXPECT_EQ(putCount(), 1u);
  EXPECT_FALSE(fs::exists(shot.file));
  EXPECT_TRUE(fs::exists(spool_ / "rejected" / shot.file.filename()));
}

}  // namespace
}  // namespace wm::sync
