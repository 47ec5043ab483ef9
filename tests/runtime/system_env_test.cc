// SystemClock and SystemRandom: the real Env parts.
#include "runtime/system_env.h"

#include <gtest/gtest.h>

#include <chrono>
#include <set>

namespace meridian::runtime {
namespace {

TEST(SystemClockTest, WallClockIsNearSystemTimeAndMonotonicNeverGoesBack) {
  SystemClock clock;
  const auto now_ms =
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
  EXPECT_LE(now_ms > clock.WallMillis() ? now_ms - clock.WallMillis() : 0, 1000u);
  std::uint64_t previous = clock.MonotonicMillis();
  for (int i = 0; i < 10000; ++i) {
    std::uint64_t current = clock.MonotonicMillis();
    ASSERT_GE(current, previous);
    previous = current;
  }
}

TEST(SystemRandomTest, SeededSequenceIsReproducibleAndDiffersBySeed) {
  SystemRandom a(7);
  SystemRandom b(7);
  SystemRandom c(8);
  bool any_difference = false;
  for (int i = 0; i < 100; ++i) {
    std::uint64_t value = a.NextU64();
    EXPECT_EQ(value, b.NextU64());
    any_difference |= value != c.NextU64();
  }
  EXPECT_TRUE(any_difference);
}

TEST(SystemRandomTest, ZeroSeedStillProducesVariedValues) {
  SystemRandom random(0);
  std::set<std::uint64_t> values;
  for (int i = 0; i < 1000; ++i) values.insert(random.NextU64());
  EXPECT_EQ(values.size(), 1000u);
}

TEST(SystemRandomTest, OsSeededInstancesDiffer) {
  SystemRandom first;
  SystemRandom second;
  EXPECT_NE(first.NextU64(), second.NextU64());  // 2^-64 chance of a false failure
}

TEST(SystemRandomTest, BitsAreBalanced) {
  SystemRandom random(12345);
  constexpr int kSamples = 20000;
  int ones = 0;
  for (int i = 0; i < kSamples; ++i) ones += __builtin_popcountll(random.NextU64());
  const double mean = static_cast<double>(ones) / kSamples;
  EXPECT_NEAR(mean, 32.0, 0.2);
}

}  // namespace
}  // namespace meridian::runtime
