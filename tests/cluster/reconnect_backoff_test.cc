// ReconnectBackoff: attempt starts spaced by a jittered, doubling backoff, never before the
// previous attempt ended, reset by a connection.
#include "cluster/reconnect_backoff.h"

#include <gtest/gtest.h>

#include <cstdint>

#include "core/seeded_random.h"

namespace meridian::cluster {
namespace {

ReconnectBackoffConfig Config(std::uint64_t initial_ms, std::uint64_t max_ms) {
  ReconnectBackoffConfig config;
  config.initial_ms = initial_ms;
  config.max_ms = max_ms;
  return config;
}

TEST(ReconnectBackoffTest, ValidatesSettings) {
  EXPECT_TRUE(ValidateReconnectBackoffConfig(ReconnectBackoffConfig{}).ok());
  EXPECT_FALSE(ValidateReconnectBackoffConfig(Config(0, 100)).ok());
  EXPECT_FALSE(ValidateReconnectBackoffConfig(Config(200, 100)).ok());
  EXPECT_FALSE(ValidateReconnectBackoffConfig(Config(1, 3'600'001)).ok());
  EXPECT_TRUE(ValidateReconnectBackoffConfig(Config(100, 100)).ok());
}

TEST(ReconnectBackoffTest, FastFailuresAreSpacedByAJitteredDoublingBackoff) {
  ReconnectBackoff backoff(Config(100, 1000));
  SplitMix64Random random(1);
  std::uint64_t start_ms = 0;
  const std::uint64_t expected_backoff_ms[] = {100, 200, 400, 800, 1000, 1000, 1000};
  for (std::uint64_t bound_ms : expected_backoff_ms) {
    ASSERT_EQ(backoff.backoff_ms(), bound_ms);
    // Refused at once (a crashed peer): the next start is backoff/2..backoff after this one.
    const std::uint64_t next_ms = backoff.NextAttemptMs(start_ms, start_ms + 1, random);
    EXPECT_GE(next_ms, start_ms + bound_ms / 2);
    EXPECT_LE(next_ms, start_ms + bound_ms);
    start_ms = next_ms;
  }
}

TEST(ReconnectBackoffTest, ASlowFailureIsFollowedAtOnceWhenTheBackoffHasPassed) {
  ReconnectBackoff backoff(Config(100, 1000));
  SplitMix64Random random(2);
  for (int i = 0; i < 10; ++i) (void)backoff.NextAttemptMs(0, 1, random);  // at the maximum
  // A connect that timed out after 2 s (SYNs lost in a partition): no extra wait.
  EXPECT_EQ(backoff.NextAttemptMs(10'000, 12'000, random), 12'000u);
}

TEST(ReconnectBackoffTest, AConnectionResetsTheBackoffAndALongOneIsReplacedAtOnce) {
  ReconnectBackoff backoff(Config(100, 1000));
  SplitMix64Random random(3);
  for (int i = 0; i < 10; ++i) (void)backoff.NextAttemptMs(0, 1, random);
  EXPECT_EQ(backoff.backoff_ms(), 1000u);
  backoff.Reset();  // handshake completed at 5000
  EXPECT_EQ(backoff.backoff_ms(), 100u);
  // The connection lived 60 s and was declared dead: the replacement starts right away.
  EXPECT_EQ(backoff.NextAttemptMs(5000, 65'000, random), 65'000u);
  // A peer that accepts and closes at once: still at least initial/2 between starts.
  backoff.Reset();
  const std::uint64_t next_ms = backoff.NextAttemptMs(70'000, 70'001, random);
  EXPECT_GE(next_ms, 70'050u);
  EXPECT_LE(next_ms, 70'100u);
}

TEST(ReconnectBackoffTest, SameRandomSameSchedule) {
  ReconnectBackoff first(ReconnectBackoffConfig{});
  ReconnectBackoff second(ReconnectBackoffConfig{});
  SplitMix64Random random_a(9);
  SplitMix64Random random_b(9);
  std::uint64_t a_ms = 0;
  std::uint64_t b_ms = 0;
  for (int i = 0; i < 20; ++i) {
    a_ms = first.NextAttemptMs(a_ms, a_ms + 3, random_a);
    b_ms = second.NextAttemptMs(b_ms, b_ms + 3, random_b);
    ASSERT_EQ(a_ms, b_ms);
  }
}

}  // namespace
}  // namespace meridian::cluster
