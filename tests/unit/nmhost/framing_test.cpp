// The frame decoder and encoder at their edges: empty and maximal messages, one over, lengths no browser
// sends, input split anywhere or packed together, input that ends inside a frame, bodies that are not UTF-8,
// not JSON or not an object.
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "workmonitor/nmhost/framing.h"

namespace wm::nmhost {
namespace {

std::string header(uint32_t n) {
  std::string h(4, '\0');
  std::memcpy(h.data(), &n, 4);
  return h;
}
std::string frame(const std::string& body) { return header(static_cast<uint32_t>(body.size())) + body; }

std::vector<Frame> decodeAll(FrameDecoder& d, const std::string& bytes) {
  std::vector<Frame> out;
  d.feed(bytes, out);
  return out;
}

TEST(NmhostFraming, ZeroByteMessageIsAFrameThatIsNotJson) {
  FrameDecoder d;
  auto out = decodeAll(d, header(0));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].error, FrameError::kNone);
  EXPECT_TRUE(out[0].body.empty());
  EXPECT_EQ(parseMessage(out[0].body).error, FrameError::kNotJson);
  EXPECT_FALSE(d.finish().has_value());
}

TEST(NmhostFraming, ExactlyOneMiBIsAccepted) {
  // A JSON object of exactly 1 MiB: {"p":"xxx...x"}.
  std::string body = R"({"p":")" + std::string(kMaxIncomingBytes - 8, 'x') + R"("})";
  ASSERT_EQ(body.size(), kMaxIncomingBytes);
  FrameDecoder d;
  auto out = decodeAll(d, frame(body) + frame(R"({"type":"tab"})"));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].error, FrameError::kNone);
  EXPECT_EQ(out[0].body.size(), kMaxIncomingBytes);
  EXPECT_EQ(parseMessage(out[0].body).error, FrameError::kNone);
  EXPECT_EQ(out[1].body, R"({"type":"tab"})");
}

TEST(NmhostFraming, OneMiBPlusOneIsRejectedAndSkippedWithoutBuffering) {
  FrameDecoder d;
  std::vector<Frame> out;
  d.feed(header(kMaxIncomingBytes + 1), out);
  ASSERT_EQ(out.size(), 1u);  // reported as soon as the header is read, before any of the body
  EXPECT_EQ(out[0].error, FrameError::kTooLarge);
  EXPECT_EQ(out[0].declared_length, kMaxIncomingBytes + 1);
  const std::string body(kMaxIncomingBytes + 1, '{');
  for (size_t off = 0; off < body.size(); off += 4096) {
    d.feed(std::string_view(body).substr(off, 4096), out);
    EXPECT_EQ(d.buffered(), 0u);
  }
  // The stream is still in step: the next frame comes through.
  d.feed(frame(R"({"type":"hello"})"), out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].error, FrameError::kNone);
  EXPECT_EQ(out[1].body, R"({"type":"hello"})");
}

TEST(NmhostFraming, LengthFFFFFFFFStopsTheDecoder) {
  FrameDecoder d;
  auto out = decodeAll(d, header(0xFFFFFFFFu) + frame("{}"));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].error, FrameError::kCorrupt);
  EXPECT_EQ(out[0].declared_length, 0xFFFFFFFFu);
  EXPECT_TRUE(d.failed());
  EXPECT_TRUE(decodeAll(d, frame("{}")).empty());
  EXPECT_FALSE(d.finish().has_value());
}

TEST(NmhostFraming, SplitByteByByte) {
  const std::string bytes = frame(R"({"type":"tab","url":"https://a.example/"})") + frame("{}");
  FrameDecoder d;
  std::vector<Frame> out;
  for (char c : bytes) d.feed(std::string_view(&c, 1), out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].body, R"({"type":"tab","url":"https://a.example/"})");
  EXPECT_EQ(out[1].body, "{}");
  EXPECT_FALSE(d.finish().has_value());
}

TEST(NmhostFraming, TwoFramesInOneRead) {
  FrameDecoder d;
  auto out = decodeAll(d, frame(R"({"a":1})") + frame(R"({"b":2})"));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].body, R"({"a":1})");
  EXPECT_EQ(out[1].body, R"({"b":2})");
}

TEST(NmhostFraming, EofMidHeaderAndMidBodyAreTruncated) {
  {
    FrameDecoder d;
    EXPECT_TRUE(decodeAll(d, header(10).substr(0, 3)).empty());
    auto last = d.finish();
    ASSERT_TRUE(last);
    EXPECT_EQ(last->error, FrameError::kTruncated);
  }
  {
    FrameDecoder d;
    EXPECT_TRUE(decodeAll(d, header(10) + "{\"a\"").empty());
    auto last = d.finish();
    ASSERT_TRUE(last);
    EXPECT_EQ(last->error, FrameError::kTruncated);
    EXPECT_EQ(last->declared_length, 10u);
  }
  {  // inside a skipped oversized body
    FrameDecoder d;
    EXPECT_EQ(decodeAll(d, header(kMaxIncomingBytes + 10) + "xx").size(), 1u);
    auto last = d.finish();
    ASSERT_TRUE(last);
    EXPECT_EQ(last->error, FrameError::kTruncated);
  }
}

TEST(NmhostFraming, InvalidUtf8NotJsonAndNotObject) {
  EXPECT_EQ(parseMessage("{\"t\":\"\xC3\x28\"}").error, FrameError::kInvalidUtf8);          // bad continuation
  EXPECT_EQ(parseMessage("{\"t\":\"\xC0\xAF\"}").error, FrameError::kInvalidUtf8);          // overlong '/'
  EXPECT_EQ(parseMessage("{\"t\":\"\xED\xA0\x80\"}").error, FrameError::kInvalidUtf8);      // a surrogate
  EXPECT_EQ(parseMessage("{\"t\":\"\xF4\x90\x80\x80\"}").error, FrameError::kInvalidUtf8);  // above U+10FFFF
  EXPECT_EQ(parseMessage("{\"t\":\"\xE2\x82\"}").error, FrameError::kInvalidUtf8);          // cut short
  EXPECT_EQ(parseMessage("{\"t\":\"caf\xC3\xA9 \xF0\x9F\x98\x80\"}").error, FrameError::kNone);
  EXPECT_EQ(parseMessage("{\"type\":").error, FrameError::kNotJson);
  EXPECT_EQ(parseMessage("[1,2]").error, FrameError::kNotObject);
  EXPECT_EQ(parseMessage("\"tab\"").error, FrameError::kNotObject);
}

TEST(NmhostFraming, EncoderWritesNativeLengthAndRefusesOverOneMB) {
  auto f = encodeFrame(nlohmann::json{{"type", "ack"}});
  ASSERT_TRUE(f);
  uint32_t n = 0;
  std::memcpy(&n, f->data(), 4);
  EXPECT_EQ(n, f->size() - 4);
  EXPECT_EQ(f->substr(4), R"({"type":"ack"})");
  // {"p":"..."} is 8 bytes plus the string.
  EXPECT_TRUE(encodeFrame(nlohmann::json{{"p", std::string(kMaxOutgoingBytes - 8, 'x')}}));
  EXPECT_FALSE(encodeFrame(nlohmann::json{{"p", std::string(kMaxOutgoingBytes - 7, 'x')}}));
  // Round trip through the decoder.
  FrameDecoder d;
  auto out = decodeAll(d, *f);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(parseMessage(out[0].body).json["type"], "ack");
}

}  // namespace
}  // namespace wm::nmhost
