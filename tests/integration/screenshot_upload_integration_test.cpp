// Screenshots end to end against the REAL workmonitor-server (in-process, as the runtime role) on a real
// PostgreSQL 15: the agent's ScreenshotTaker (real on-device pipeline) spools an image and writes its metadata
// record to a real outbox; the real uploader (libcurl) signs in, sends the batch, then PUTs the image. The image
// must land content-addressed in the server's screenshot directory with the sha256 the agent computed, the
// row must carry the record's fields, and the local file must be gone. Only the screen is a fake (no display
// here; the X11 capturer is tested under Xvfb in tests/platform).
#include <openssl/evp.h>

#include <deque>
#include <fstream>
#include <future>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "server_test_env.h"
#include "workmonitor/agent/screenshots.h"
#include "workmonitor/sync/outbox.h"
#include "workmonitor/sync/sync_engine.h"

namespace wm::test {
namespace {

using nlohmann::json;
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

std::string readFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A FAKE screen (there is no display in this test): one 1024x768 monitor showing a checkerboard.
class FakeScreen final : public platform::ScreenCapturer {
 public:
  FakeScreen() : pixels_(std::make_shared<std::vector<uint8_t>>(1024 * 768 * 4)) {
    for (int y = 0; y < 768; ++y)
      for (int x = 0; x < 1024; ++x) {
        const bool on = ((x / 128) + (y / 96)) % 2 == 0;
        uint8_t* p = pixels_->data() + (static_cast<size_t>(y) * 1024 + x) * 4;
        p[0] = on ? 240 : 10;
        p[1] = on ? 200 : 60;
        p[2] = on ? 160 : 110;
        p[3] = 0;
      }
  }
  void captureAll(Done done) override {
    platform::MonitorImage m;
    m.monitor_name = "eDP-1";
    m.geometry = {0, 0, 1024, 768};
    m.stride = 1024 * 4;
    m.pixels = pixels_->data();
    m.owner = pixels_;
    done(std::vector<platform::MonitorImage>{m});
  }
  Result<std::vector<platform::WindowRect>> visibleWindows() override { return std::vector<platform::WindowRect>{}; }

 private:
  std::shared_ptr<std::vector<uint8_t>> pixels_;
};

class OutboxRecordSink final : public agent::RecordSink {
 public:
  explicit OutboxRecordSink(sync::Outbox& o) : outbox_(o) {}
  void put(const api::Record& r) override { EXPECT_TRUE(outbox_.putSync(r)); }
  void setState(const std::string&, const std::string&) override {}

 private:
  sync::Outbox& outbox_;
};

class MemoryCredentials final : public sync::CredentialStore {
 public:
  Result<std::optional<std::string>> load() override { return value; }
  Result<void> save(const std::string& t) override {
    value = t;
    return {};
  }
  Result<void> erase() override {
    value.reset();
    return {};
  }
  std::optional<std::string> value;
};

class ScreenshotUploadIntegrationTest : public ServerTest {};

TEST_F(ScreenshotUploadIntegrationTest, TheImageLandsContentAddressedAndTheLocalCopyIsGone) {
  const fs::path state = cluster_->socketDir() / "agent-state";
  const fs::path spool = state / "screenshots";
  SystemClock clock;
  UuidV7Generator ids(clock);
  sync::OutboxOptions oo;
  oo.path = state / "outbox.db";
  fs::create_directories(state);
  auto outbox = sync::Outbox::open(oo, clock);
  ASSERT_TRUE(outbox) << outbox.error().message;

  // The time entry the screenshots belong to goes up in the same batch.
  api::Record entry;
  entry.id = ids.next();
  entry.kind = api::RecordKind::kTimeEntry;
  entry.start_ms = toUnixMs(clock.wall()) - 60'000;
  entry.data = {{"source", "manual"}};
  ASSERT_TRUE((*outbox)->putSync(entry));

  // Two moments on an unchanged screen: one image, and a record saying the second is the same.
  FakeScreen screen;
  OutboxRecordSink sink(**outbox);
  agent::ScreenshotConfig sc;
  sc.interval = Millis(100);
  sc.max_width = 800;
  std::mutex mu;
  std::deque<std::function<void()>> posted;
  agent::ScreenshotTaker::Hooks hooks;
  hooks.gate = [] { return true; };
  hooks.entry_id = [&] { return std::optional<std::string>(entry.id); };
  hooks.post = [&](std::function<void()> fn) {
    std::lock_guard lk(mu);
    posted.push_back(std::move(fn));
  };
  agent::ScreenshotTaker taker(clock, ids, sink, screen, spool, sc, hooks, 3);
  sync::RecordQuery q;
  q.kinds = {api::RecordKind::kScreenshot};
  for (int i = 0; i < 20 && (*outbox)->query(q).value().size() < 2; ++i) {
    std::this_thread::sleep_until(taker.nextDeadline() + Millis(1));
    taker.tick();
    ASSERT_TRUE(taker.waitIdle(Millis(20'000)));
    std::lock_guard lk(mu);
    for (auto& f : posted) f();
    posted.clear();
  }
  taker.stop();
  auto recorded = (*outbox)->query(q);
  ASSERT_TRUE(recorded);
  ASSERT_EQ(recorded->size(), 2u);
  const api::Record& shot = (*recorded)[0];
  const api::Record& same = (*recorded)[1];
  ASSERT_FALSE(shot.data.contains("unchanged"));
  ASSERT_EQ(same.data.value("unchanged", false), true);
  ASSERT_EQ(same.data.value("same_as", ""), shot.id);
  const fs::path local = spool / (shot.id + ".jpg");
  ASSERT_TRUE(fs::exists(local));
  ASSERT_FALSE(fs::exists(spool / (same.id + ".jpg")));
  const std::string image = readFile(local);
  const std::string sha = shot.data.value("sha256", "");
  ASSERT_EQ(sha, sha256Hex(image));

  // The real uploader against the real server.
  MemoryCredentials creds;
  auto transport = sync::makeCurlTransport(sync::TransportOptions{});
  sync::SyncOptions so;
  so.server_url = "http://127.0.0.1:" + std::to_string(server_->port());
  so.screenshot_dir = spool;
  sync::SyncEngine engine(so, **outbox, *transport, creds, clock, nullptr);
  std::promise<Result<json>> signed_in;
  engine.login("alice@a.test", kPassword, [&](Result<json> r) { signed_in.set_value(std::move(r)); });
  engine.runOnce();
  auto login = signed_in.get_future().get();
  ASSERT_TRUE(login) << login.error().message;
  engine.runOnce();

  EXPECT_EQ((*outbox)->stats().value().pending, 0);
  EXPECT_EQ(engine.status().screenshots_uploaded, 1);
  EXPECT_EQ(engine.status().screenshots_pending, 0);
  EXPECT_FALSE(fs::exists(local)) << "the local copy must be deleted once the server has it";
  EXPECT_FALSE(fs::exists(spool / "rejected"));
  const fs::path stored = shots_ / "sha256" / sha.substr(0, 2) / sha;
  ASSERT_TRUE(fs::exists(stored));
  EXPECT_EQ(readFile(stored), image);
  EXPECT_EQ(sha256Hex(readFile(stored)), sha);

  // The rows: the image's key on both (the unchanged screen shares the first's image; a row's key is the
  // file's key, '#', its id), the record's fields on both, linked to the time entry.
  const std::string key = "sha256/" + sha.substr(0, 2) + "/" + sha;
  EXPECT_EQ(scalar("select storage_key from public.screenshots where id = '" + shot.id + "'"), key + "#" + shot.id);
  EXPECT_EQ(scalar("select storage_key from public.screenshots where id = '" + same.id + "'"), key + "#" + same.id);
  EXPECT_EQ(
      scalar("select width || 'x' || height || ' ' || blurred from public.screenshots where id = '" + shot.id + "'"),
      std::to_string(shot.data.at("width").get<int>()) + "x" + std::to_string(shot.data.at("height").get<int>()) +
          " false");
  EXPECT_EQ(shot.data.at("width").get<int>(), 800);
  EXPECT_EQ(scalar("select count(*) from public.screenshots where time_entry_id = '" + entry.id + "' and user_id = '" +
                   user_a_ + "'"),
            "2");
  EXPECT_EQ(scalar("select count(*) from public.screenshots"), "2");
}

}  // namespace
}  // namespace wm::test
