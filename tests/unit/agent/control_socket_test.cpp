// The control socket over a real Unix socket: replies, pushed events, malformed and oversized input.
#include <sys/stat.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <filesystem>
#include <thread>

#include <gtest/gtest.h>

#include "workmonitor/agent/control_client.h"
#include "workmonitor/agent/control_server.h"

namespace wm::agent {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

class ControlSocketTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("wm-ctl-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    socket_ = dir_ / "run" / "agent.sock";
    server_ = std::make_unique<ControlServer>(io_, socket_, [](const protocol::Request& r) -> Result<json> {
      if (r.cmd == "echo") return r.args;
      if (r.cmd == "boom") throw std::runtime_error("handler bug");
      return fail(Errc::kInvalidInput, "unknown command '" + r.cmd + "'");
    });
    ASSERT_TRUE(server_->start());
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    boost::asio::post(io_, [this] { server_->stop(); });
    io_.stop();
    thread_.join();
    server_.reset();
    fs::remove_all(dir_);
  }
  ControlClient client() {
    auto c = ControlClient::connect(socket_, Millis(3000));
    EXPECT_TRUE(c) << (c ? "" : c.error().message);
    return std::move(*c);
  }

  fs::path dir_, socket_;
  boost::asio::io_context io_;
  std::unique_ptr<ControlServer> server_;
  std::thread thread_;
};

TEST_F(ControlSocketTest, SocketAndDirectoryArePrivate) {
  struct stat st {};
  ASSERT_EQ(::stat(socket_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(socket_.parent_path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
}

TEST_F(ControlSocketTest, RequestGetsItsReply) {
  auto c = client();
  auto r = c.call("echo", json{{"x", 1}});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ((*r)["x"], 1);
  auto e = c.call("nope");
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().message.find("unknown command"), std::string::npos);
}

TEST_F(ControlSocketTest, MalformedInputGetsErrorRepliesAndTheConnectionLives) {
  auto c = client();
  for (const std::string& bad :
       std::vector<std::string>{"garbage\n", "{\"v\":1}\n", "{\"v\":42,\"id\":1,\"cmd\":\"echo\"}\n", "[]\n",
                                std::string("\x00\x01\x02\n", 4)}) {
    auto line = c.rawExchange(bad);
    ASSERT_TRUE(line) << line.error().message;
    auto j = json::parse(*line);
    EXPECT_FALSE(j["ok"]) << bad;
    EXPECT_TRUE(j["error"]["message"].is_string());
  }
  EXPECT_TRUE(c.call("echo", json{{"still", "alive"}}));
}

TEST_F(ControlSocketTest, OversizedMessageIsRefusedWithoutCrashing) {
  auto c = client();
  auto line = c.rawExchange(std::string(protocol::kMaxLineBytes * 3, 'a') + "\n");
  ASSERT_TRUE(line);
  EXPECT_NE(json::parse(*line)["error"]["message"].get<std::string>().find("longer"), std::string::npos);
  EXPECT_TRUE(c.call("echo"));
}

TEST_F(ControlSocketTest, HandlerExceptionBecomesAnErrorReply) {
  auto c = client();
  auto r = c.call("boom");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("internal error"), std::string::npos);
  EXPECT_TRUE(c.call("echo"));
}

TEST_F(ControlSocketTest, SubscribersGetPushedEventsOthersDoNot) {
  auto sub = client();
  auto plain = client();
  ASSERT_TRUE(sub.call("subscribe"));
  ASSERT_TRUE(plain.call("echo"));
  boost::asio::post(io_, [this] { server_->broadcast("state", json{{"state", "tracking"}}); });
  auto ev = sub.nextEvent(Millis(3000));
  ASSERT_TRUE(ev);
  ASSERT_TRUE(*ev);
  EXPECT_EQ((**ev)["event"], "state");
  EXPECT_EQ((**ev)["data"]["state"], "tracking");
  auto none = plain.nextEvent(Millis(200));
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
}

TEST_F(ControlSocketTest, ClientsThatHangUpMidMessageAreForgotten) {
  for (int i = 0; i < 20; ++i) {
    auto c = ControlClient::connect(socket_, Millis(250));
    ASSERT_TRUE(c);
    ASSERT_TRUE(c->call("echo"));
    (void)c->rawExchange("{\"v\":1,");  // half a message (no reply comes), then the client goes away
  }
  auto c = client();
  EXPECT_TRUE(c.call("echo"));
}

TEST(ControlClient, NoAgentIsAClearError) {
  auto c = ControlClient::connect("/nonexistent/agent.sock");
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, Errc::kUnavailable);
  EXPECT_NE(c.error().message.find("not running"), std::string::npos);
}

}  // namespace
}  // namespace wm::agent
