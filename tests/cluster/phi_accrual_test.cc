#include "cluster/phi_accrual.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>

namespace meridian::cluster {
namespace {

// Feeds `count` heartbeats spaced interval_ms apart with uniform jitter of +-jitter_ms; returns
// the time of the last one.
std::uint64_t FeedHeartbeats(PhiAccrualDetector& detector, std::uint64_t start_ms, int count,
                             std::uint64_t interval_ms, std::uint64_t jitter_ms,
                             std::mt19937_64& random) {
  std::uniform_int_distribution<std::int64_t> jitter(-static_cast<std::int64_t>(jitter_ms),
                                                     static_cast<std::int64_t>(jitter_ms));
  std::uint64_t now_ms = start_ms;
  for (int i = 0; i < count; ++i) {
    detector.Heartbeat(now_ms);
    now_ms += static_cast<std::uint64_t>(static_cast<std::int64_t>(interval_ms) + jitter(random));
  }
  return now_ms;
}

// The first silence (ms after `from_ms`, 1 ms steps) at which the detector declares the peer
// down.
std::uint64_t SilenceUntilDownMs(const PhiAccrualDetector& detector, std::uint64_t from_ms) {
  for (std::uint64_t silence_ms = 0; silence_ms < 60'000; ++silence_ms) {
    if (!detector.IsAvailable(from_ms + silence_ms)) return silence_ms;
  }
  return 60'000;
}

TEST(PhiAccrualTest, PhiIsZeroWithoutHeartbeats) {
  PhiAccrualDetector detector;
  EXPECT_EQ(detector.Phi(0), 0.0);
  EXPECT_EQ(detector.Phi(1'000'000), 0.0);
  EXPECT_TRUE(detector.IsAvailable(1'000'000));
  EXPECT_FALSE(detector.last_heartbeat_ms().has_value());
}

TEST(PhiAccrualTest, FirstHeartbeatSeedsTheWindowWithTheEstimate) {
  PhiAccrualDetector detector;
  detector.Heartbeat(5000);
  EXPECT_EQ(detector.sample_count(), 2u);
  EXPECT_DOUBLE_EQ(detector.mean_interval_ms(), 1000.0);
  EXPECT_DOUBLE_EQ(detector.std_deviation_ms(), 250.0);
  EXPECT_EQ(detector.last_heartbeat_ms(), 5000u);
}

TEST(PhiAccrualTest, PhiIsNearZeroAfterAHeartbeatAndGrowsWithSilence) {
  PhiAccrualDetector detector;
  std::mt19937_64 random(1);
  const std::uint64_t next_ms = FeedHeartbeats(detector, 1000, 50, 1000, 20, random);
  detector.Heartbeat(next_ms);
  EXPECT_LT(detector.Phi(next_ms), 0.01);
  double previous = detector.Phi(next_ms);
  for (std::uint64_t silence_ms = 100; silence_ms <= 10'000; silence_ms += 100) {
    const double phi = detector.Phi(next_ms + silence_ms);
    EXPECT_GE(phi, previous) << "silence " << silence_ms;
    previous = phi;
  }
  EXPECT_GT(previous, 100.0);
  EXPECT_LT(detector.Phi(next_ms + 1000), 0.1);  // one interval of silence is nothing unusual
}

TEST(PhiAccrualTest, RegularHeartbeatsWithJitterKeepPhiLow) {
  PhiAccrualDetector detector;
  std::mt19937_64 random(7);
  std::lognormal_distribution<double> jitter_ms(3.0, 1.0);  // median 20 ms, long tail
  std::uint64_t now_ms = 0;
  double max_phi = 0.0;
  for (int i = 0; i < 5000; ++i) {
    max_phi = std::max(max_phi, detector.Phi(now_ms));  // the peak: just before the arrival
    detector.Heartbeat(now_ms);
    now_ms += 1000 + static_cast<std::uint64_t>(jitter_ms(random));
  }
  EXPECT_LT(max_phi, 1.0);
}

TEST(PhiAccrualTest, CrashIsDetectedWithinTheDocumentedBound) {
  // Defaults, 1 s heartbeats with small jitter: phi reaches 8 after about
  // mean + pause + 5.23 * min_std = 1000 + 3000 + 523 ms of silence (docs/design).
  PhiAccrualDetector detector;
  std::mt19937_64 random(3);
  const std::uint64_t next_ms = FeedHeartbeats(detector, 0, 200, 1000, 10, random);
  const std::uint64_t last_ms = *detector.last_heartbeat_ms();
  ASSERT_LT(last_ms, next_ms);
  const std::uint64_t silence_ms = SilenceUntilDownMs(detector, last_ms);
  EXPECT_GE(silence_ms, 4400u);
  EXPECT_LE(silence_ms, 4600u);
}

TEST(PhiAccrualTest, WindowIsBounded) {
  PhiAccrualConfig config;
  config.max_sample_size = 100;
  PhiAccrualDetector detector(config);
  std::uint64_t now_ms = 0;
  detector.Heartbeat(now_ms);
  for (int i = 0; i < 1000; ++i) {
    now_ms += 1000;
    detector.Heartbeat(now_ms);
  }
  EXPECT_EQ(detector.sample_count(), 100u);
  EXPECT_DOUBLE_EQ(detector.mean_interval_ms(), 1000.0);
  // After max_sample_size intervals of 500 ms the 1000 ms ones are all forgotten.
  for (int i = 0; i < 100; ++i) {
    now_ms += 500;
    detector.Heartbeat(now_ms);
  }
  EXPECT_EQ(detector.sample_count(), 100u);
  EXPECT_DOUBLE_EQ(detector.mean_interval_ms(), 500.0);
  EXPECT_DOUBLE_EQ(detector.std_deviation_ms(), 0.0);
}

TEST(PhiAccrualTest, OutageIntervalIsNotRecorded) {
  PhiAccrualDetector detector;
  std::uint64_t now_ms = 0;
  for (int i = 0; i < 20; ++i, now_ms += 1000) detector.Heartbeat(now_ms);
  const std::size_t samples = detector.sample_count();
  now_ms += 60'000;  // a partition
  EXPECT_FALSE(detector.IsAvailable(now_ms));
  detector.Heartbeat(now_ms);
  EXPECT_TRUE(detector.IsAvailable(now_ms));
  EXPECT_EQ(detector.sample_count(), samples);
  EXPECT_NEAR(detector.mean_interval_ms(), 1000.0, 1.0);
  // Detection after the outage is as fast as before it.
  EXPECT_LE(SilenceUntilDownMs(detector, now_ms), 4600u);
}

TEST(PhiAccrualTest, ExpectHeartbeatFromStartsTheClockWithoutRecording) {
  PhiAccrualDetector detector;
  detector.ExpectHeartbeatFrom(10'000);
  EXPECT_EQ(detector.sample_count(), 0u);
  EXPECT_LT(detector.Phi(10'000), 0.01);
  // Judged by the first estimate: 1000 + 3000 + 5.23 * 250 = about 5.3 s.
  const std::uint64_t silence_ms = SilenceUntilDownMs(detector, 10'000);
  EXPECT_GE(silence_ms, 5200u);
  EXPECT_LE(silence_ms, 5400u);
  detector.Heartbeat(12'000);
  EXPECT_EQ(detector.sample_count(), 2u);  // a first heartbeat: seeded, no 2000 ms sample
  EXPECT_EQ(detector.last_heartbeat_ms(), 12'000u);
  detector.ExpectHeartbeatFrom(20'000);  // no effect once heard
  EXPECT_EQ(detector.last_heartbeat_ms(), 12'000u);
}

TEST(PhiAccrualTest, ResetForgetsEverything) {
  PhiAccrualDetector detector;
  for (std::uint64_t now_ms = 0; now_ms < 10'000; now_ms += 1000) detector.Heartbeat(now_ms);
  detector.Reset();
  EXPECT_EQ(detector.sample_count(), 0u);
  EXPECT_EQ(detector.Phi(1'000'000), 0.0);
  EXPECT_FALSE(detector.last_heartbeat_ms().has_value());
}

TEST(PhiAccrualTest, OutOfOrderHeartbeatIsIgnored) {
  PhiAccrualDetector detector;
  detector.Heartbeat(5000);
  detector.Heartbeat(6000);
  detector.Heartbeat(5500);
  detector.Heartbeat(6000);
  EXPECT_EQ(detector.sample_count(), 3u);
  EXPECT_EQ(detector.last_heartbeat_ms(), 6000u);
}

TEST(PhiAccrualTest, PhiOfMatchesTheNormalTail) {
  EXPECT_NEAR(PhiAccrualDetector::PhiOf(1000, 1000, 100), -std::log10(0.5), 1e-9);
  // One standard deviation above the mean: tail 0.1587, phi 0.80 (approximation within 1%).
  EXPECT_NEAR(PhiAccrualDetector::PhiOf(1100, 1000, 100), 0.80, 0.01);
  // Far below the mean the peer is certainly not late.
  EXPECT_LT(PhiAccrualDetector::PhiOf(0, 1000, 100), 1e-6);
  // A silence far beyond the mean saturates instead of overflowing.
  EXPECT_GT(PhiAccrualDetector::PhiOf(1e9, 1000, 100), 300.0);
}

TEST(PhiAccrualTest, ValidatesConfig) {
  EXPECT_TRUE(ValidatePhiAccrualConfig({}).ok());
  PhiAccrualConfig config;
  config.threshold = 0;
  EXPECT_FALSE(ValidatePhiAccrualConfig(config).ok());
  config = {};
  config.max_sample_size = 1;
  EXPECT_FALSE(ValidatePhiAccrualConfig(config).ok());
  config = {};
  config.min_std_deviation_ms = 0;
  EXPECT_FALSE(ValidatePhiAccrualConfig(config).ok());
  config = {};
  config.first_heartbeat_estimate_ms = 0;
  EXPECT_FALSE(ValidatePhiAccrualConfig(config).ok());
}

}  // namespace
}  // namespace meridian::cluster

namespace meridian::cluster {
namespace {

// Gaps left by lost heartbeats are not learnt, so detection after a lossy period stays as fast
// as after a clean one (found by the simulator: detection took 10.7 s after loss bursts).
TEST(PhiAccrualLearning, GapsFromLostHeartbeatsDoNotSlowLaterDetection) {
  PhiAccrualDetector detector;
  std::uint64_t now_ms = 0;
  detector.Heartbeat(now_ms);
  for (int i = 0; i < 200; ++i) {
    now_ms += (i % 2 == 0) ? 1000 : 2600;  // every other heartbeat's predecessor was lost
    detector.Heartbeat(now_ms);
  }
  EXPECT_LT(detector.mean_interval_ms(), 1100.0);
  EXPECT_GE(detector.Phi(now_ms + 5000), detector.config().threshold);

  PhiAccrualConfig learn_everything;
  learn_everything.max_learned_interval_ms = 0;
  PhiAccrualDetector unbounded(learn_everything);
  now_ms = 0;
  unbounded.Heartbeat(now_ms);
  for (int i = 0; i < 200; ++i) {
    now_ms += (i % 2 == 0) ? 1000 : 2600;
    unbounded.Heartbeat(now_ms);
  }
  EXPECT_LT(unbounded.Phi(now_ms + 5000), unbounded.config().threshold);
}

}  // namespace
}  // namespace meridian::cluster
