#include <set>
#include <string>

#include <gtest/gtest.h>

#include "workmonitor/common/clock.h"
#include "workmonitor/common/uuid.h"

namespace wm {
namespace {

TEST(UuidV7, FormatAndVersion) {
  ManualClock clock;
  UuidV7Generator gen(clock);
  const std::string id = gen.next();
  EXPECT_TRUE(isUuidV7(id)) << id;
  EXPECT_EQ(id[14], '7');
  EXPECT_FALSE(isUuidV7("0189d5c2-1c9e-4b6e-8e9b-3a4b5c6d7e8f"));  // v4
  EXPECT_FALSE(isUuidV7("not-a-uuid"));
}

TEST(UuidV7, IncreasingWithinOneMillisecondAndAcrossBackwardWallJump) {
  ManualClock clock;
  UuidV7Generator gen(clock);
  std::string prev = gen.next();
  std::set<std::string> seen{prev};
  for (int i = 0; i < 10000; ++i) {
    if (i == 5000) clock.jumpWall(Millis(-60'000));  // NTP steps the clock back a minute
    std::string id = gen.next();
    ASSERT_GT(id, prev) << "ids must sort by creation";
    ASSERT_TRUE(seen.insert(id).second);
    prev = id;
  }
}

TEST(UuidV7, TimestampIsTheWallClock) {
  ManualClock clock(fromUnixMs(0x0123456789ab));
  UuidV7Generator gen(clock);
  EXPECT_EQ(gen.next().substr(0, 13), "01234567-89ab");
}

TEST(ManualClock, WallJumpLeavesMonotonicAlone) {
  ManualClock clock;
  const auto m0 = clock.mono();
  const auto w0 = clock.wall();
  clock.advance(Millis(1500));
  clock.jumpWall(Millis(-3'600'000));
  EXPECT_EQ(clock.mono() - m0, Millis(1500));
  EXPECT_EQ(clock.wall() - w0, Millis(1500 - 3'600'000));
}

TEST(FormatUtc, Rfc3339WithMillis) {
  EXPECT_EQ(formatUtc(fromUnixMs(1767259800123)), "2026-01-01T09:30:00.123Z");
  EXPECT_EQ(formatUtc(fromUnixMs(0)), "1970-01-01T00:00:00.000Z");
}

}  // namespace
}  // namespace wm
