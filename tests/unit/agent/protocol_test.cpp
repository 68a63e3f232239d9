#include <gtest/gtest.h>

#include "workmonitor/agent/protocol.h"

namespace wm::agent::protocol {
namespace {

using nlohmann::json;

TEST(Protocol, ParsesAWellFormedRequest) {
  auto r = parseRequest(R"({"v":1,"id":7,"cmd":"start","args":{"project_id":"p1"}})");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->id, 7);
  EXPECT_EQ(r->cmd, "start");
  EXPECT_EQ(r->args["project_id"], "p1");
}

TEST(Protocol, RejectsMalformedRequestsWithReasons) {
  json id;
  EXPECT_FALSE(parseRequest("{not json", &id));
  EXPECT_FALSE(parseRequest("[1,2]"));
  EXPECT_FALSE(parseRequest(R"({"id":1,"cmd":"status"})"));        // no version
  EXPECT_FALSE(parseRequest(R"({"v":2,"id":1,"cmd":"status"})"));  // future version
  EXPECT_FALSE(parseRequest(R"({"v":"1","id":1,"cmd":"status"})"));
  EXPECT_FALSE(parseRequest(R"({"v":1,"id":1})"));  // no cmd
  EXPECT_FALSE(parseRequest(R"({"v":1,"id":1,"cmd":""})"));
  EXPECT_FALSE(parseRequest(R"({"v":1,"id":1,"cmd":"start","args":[1]})"));
  EXPECT_FALSE(parseRequest(R"({"v":1,"id":{"x":1},"cmd":"status"})"));
  auto bad = parseRequest(R"({"v":9,"id":"abc","cmd":"status"})", &id);
  ASSERT_FALSE(bad);
  EXPECT_EQ(id, "abc") << "the id is still echoed in the error reply";
  EXPECT_NE(bad.error().message.find("version"), std::string::npos);
}

TEST(Protocol, RepliesAndEventsAreSingleLines) {
  const std::string ok = makeReply(3, json{{"a", "line\nbreak"}});
  EXPECT_EQ(ok.find('\n'), ok.size() - 1);
  auto j = json::parse(ok);
  EXPECT_EQ(j["v"], kVersion);
  EXPECT_TRUE(j["ok"]);
  const std::string err = makeErrorReply(nullptr, Error{Errc::kInvalidInput, "bad"});
  EXPECT_EQ(json::parse(err)["error"]["code"], "invalid_input");
  EXPECT_EQ(json::parse(makeEvent("state", json{{"s", 1}}))["event"], "state");
  // Invalid UTF-8 in a window title must not make the agent throw while replying.
  EXPECT_NO_THROW(makeReply(1, json{{"title", std::string("\xff\xfe bad")}}));
}

TEST(LineReader, SplitsAcrossChunksAndSkipsOversizedLines) {
  LineReader reader(16);
  std::vector<std::string> lines;
  int oversize = 0;
  auto feed = [&](std::string_view s) {
    reader.feed(
        s, [&](std::string_view l) { lines.emplace_back(l); }, [&] { ++oversize; });
  };
  feed("abc");
  feed("def\nxy");
  feed("z\r\n\n");
  EXPECT_EQ(lines, (std::vector<std::string>{"abcdef", "xyz"}));
  feed(std::string(40, 'q'));  // longer than 16 without a newline
  feed(std::string(40, 'q'));
  feed("tail\nok\n");
  EXPECT_EQ(oversize, 1);
  EXPECT_EQ(lines.back(), "ok");
  EXPECT_EQ(lines.size(), 3u);
}

}  // namespace
}  // namespace wm::agent::protocol
