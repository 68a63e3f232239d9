// Backoff bounds and Retry-After parsing, with an injected clock.
#include <gtest/gtest.h>

#include "workmonitor/sync/api_client.h"
#include "workmonitor/sync/backoff.h"

namespace wm::sync {
namespace {

TEST(Backoff, FullJitterStaysWithinTheDoublingCeilingAndTheCap) {
  Backoff b(Millis(100), Millis(5000), 42);
  const int64_t expected_ceilings[] = {100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000};
  for (int64_t ceiling : expected_ceilings) {
    EXPECT_EQ(b.ceiling().count(), ceiling);
    const Millis d = b.next();
    EXPECT_GE(d.count(), 0);
    EXPECT_LE(d.count(), ceiling);
  }
  EXPECT_EQ(b.failures(), 9);
  b.reset();
  EXPECT_EQ(b.ceiling().count(), 100);
}

TEST(Backoff, ALowerCapForOneDrawStillCountsTheFailure) {
  Backoff b(Millis(1000), Millis(300000), 3);
  for (int i = 0; i < 20; ++i) {
    const Millis d = b.next(Millis(60000));
    ASSERT_LE(d.count(), std::min<int64_t>(60000, 1000LL << std::min(i, 20)));
  }
  EXPECT_EQ(b.failures(), 20);
  EXPECT_EQ(b.ceiling().count(), 300000);  // the own cap is unchanged for replies that ask for time
  EXPECT_EQ(b.next(Millis(0)).count(), 0);
}

TEST(Backoff, ManyFailuresNeverOverflow) {
  Backoff b(Millis(1000), Millis(300000), 1);
  for (int i = 0; i < 1000; ++i) {
    const Millis d = b.next();
    ASSERT_GE(d.count(), 0);
    ASSERT_LE(d.count(), 300000);
  }
  EXPECT_EQ(b.ceiling().count(), 300000);
}

TEST(Backoff, OneSeedGivesOneSequenceAndTheDrawsSpreadOverTheRange) {
  Backoff a(Millis(1000), Millis(1000), 7), b(Millis(1000), Millis(1000), 7);
  int64_t lo = 1000, hi = 0;
  for (int i = 0; i < 2000; ++i) {
    const auto x = a.next().count();
    EXPECT_EQ(x, b.next().count());
    lo = std::min(lo, x);
    hi = std::max(hi, x);
  }
  // Full jitter: uniform in [0, ceiling], not "ceiling plus a little".
  EXPECT_LT(lo, 50);
  EXPECT_GT(hi, 950);
}

TEST(RetryAfter, DelaySeconds) {
  const WallTime now = fromUnixMs(1'767'225'600'000);
  EXPECT_EQ(parseRetryAfter("120", now), Millis(120'000));
  EXPECT_EQ(parseRetryAfter(" 0 ", now), Millis(0));
  EXPECT_EQ(parseRetryAfter("-5", now), std::nullopt);
  EXPECT_EQ(parseRetryAfter("1.5", now), std::nullopt);
  EXPECT_EQ(parseRetryAfter("", now), std::nullopt);
  EXPECT_EQ(parseRetryAfter("soon", now), std::nullopt);
  EXPECT_GT(parseRetryAfter("99999999999999999999999", now).value(), Millis(1'000'000'000));
}

TEST(RetryAfter, HttpDateRelativeToTheInjectedClock) {
  ManualClock clock(fromUnixMs(1'767'225'600'000));  // Thu, 01 Jan 2026 00:00:00 GMT
  EXPECT_EQ(parseRetryAfter("Thu, 01 Jan 2026 00:01:30 GMT", clock.wall()), Millis(90'000));
  clock.advance(Millis(60'000));
  EXPECT_EQ(parseRetryAfter("Thu, 01 Jan 2026 00:01:30 GMT", clock.wall()), Millis(30'000));
  // In the past: no wait, not a negative one.
  EXPECT_EQ(parseRetryAfter("Wed, 31 Dec 2025 23:00:00 GMT", clock.wall()), Millis(0));
  EXPECT_EQ(parseRetryAfter("Thu, 01 Jan 2026 00:01:30", clock.wall()), std::nullopt);
  EXPECT_EQ(parseRetryAfter("Thu, 01 Jan 2026 00:01:30 GMT trailing", clock.wall()), std::nullopt);
}

TEST(Interpret, ClassifiesStatusesAndReadsTheServersErrorAndRetryAfter) {
  const WallTime now = fromUnixMs(1'767'225'600'000);
  HttpResponse r;
  r.status = 429;
  r.headers = {{"retry-after", "7"}, {"content-type", "application/json"}};
  r.body = R"({"error":{"code":"rate_limited","message":"slow down"}})";
  auto e = interpret(HttpResult(r), now);
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().kind, ApiErrc::kRetryLater);
  EXPECT_EQ(e.error().code, "rate_limited");
  EXPECT_EQ(e.error().retry_after, Millis(7000));

  r = HttpResponse{401, {}, R"({"error":{"code":"token_expired","message":"x"}})"};
  EXPECT_EQ(interpret(HttpResult(r), now).error().kind, ApiErrc::kUnauthorized);
  r = HttpResponse{413, {}, "not json"};
  EXPECT_EQ(interpret(HttpResult(r), now).error().kind, ApiErrc::kTooLarge);
  r = HttpResponse{503, {}, ""};
  EXPECT_EQ(interpret(HttpResult(r), now).error().kind, ApiErrc::kRetryLater);
  r = HttpResponse{404, {}, ""};
  EXPECT_EQ(interpret(HttpResult(r), now).error().kind, ApiErrc::kRejected);
  r = HttpResponse{200, {}, "{broken"};
  EXPECT_EQ(interpret(HttpResult(r), now).error().kind, ApiErrc::kProtocol);
  r = HttpResponse{304, {}, ""};
  EXPECT_TRUE(interpret(HttpResult(r), now));
  auto off = interpret(HttpResult(std::unexpected(TransportError{NetError::kTimeout, "timed out"})), now);
  EXPECT_EQ(off.error().kind, ApiErrc::kOffline);
  EXPECT_EQ(off.error().code, "timeout");
}

TEST(Urls, JoinAndRedact) {
  EXPECT_EQ(joinUrl("https://h/", "/auth/login"), "https://h/auth/login");
  EXPECT_EQ(joinUrl("https://h/base", "api"), "https://h/base/api");
  EXPECT_EQ(redactUrl("https://h/p?token=secret#frag"), "https://h/p");
  EXPECT_EQ(redactUrl("https://h/p#x?y"), "https://h/p");
}

}  // namespace
}  // namespace wm::sync
