#include <gtest/gtest.h>

#include "workmonitor/agent/heartbeat.h"

namespace wm::agent {
namespace {

const nlohmann::json kEditor{{"app", "code"}, {"title", "main.cpp"}};
const nlohmann::json kBrowser{{"app", "firefox"}, {"title", "Docs"}};

TEST(Heartbeat, IdenticalDataWithinPulseExtends) {
  auto m = mergeHeartbeat({0, 1000, kEditor}, {1500, 1500, kEditor}, Millis(1000));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->start_ms, 0);
  EXPECT_EQ(m->end_ms, 1500);
}

TEST(Heartbeat, ExactlyAtPulseBoundaryStillMerges) {
  EXPECT_TRUE(mergeHeartbeat({0, 1000, kEditor}, {2000, 2100, kEditor}, Millis(1000)));
  EXPECT_FALSE(mergeHeartbeat({0, 1000, kEditor}, {2001, 2100, kEditor}, Millis(1000)));
}

TEST(Heartbeat, DifferentDataNeverMerges) {
  EXPECT_FALSE(mergeHeartbeat({0, 1000, kEditor}, {1000, 1200, kBrowser}, Millis(60000)));
}

TEST(Heartbeat, OverlapKeepsTheLaterEnd) {
  auto m = mergeHeartbeat({0, 5000, kEditor}, {1000, 2000, kEditor}, Millis(0));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->end_ms, 5000);
}

TEST(Heartbeat, OutOfOrderHeartbeatDoesNotMergeBackwards) {
  EXPECT_FALSE(mergeHeartbeat({1000, 2000, kEditor}, {500, 600, kEditor}, Millis(60000)));
}

}  // namespace
}  // namespace wm::agent
