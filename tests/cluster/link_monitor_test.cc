// LinkMonitor: when a connection gets a heartbeat, when silence or a stuck write kills it —
// each rule of link_monitor.h, and a property check against a direct reference of the rules.
#include "cluster/link_monitor.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <optional>

#include "core/seeded_random.h"

namespace meridian::cluster {
namespace {

LinkMonitorConfig Config() {
  LinkMonitorConfig config;
  config.heartbeat_interval_ms = 500;
  config.idle_timeout_ms = 2500;
  config.write_timeout_ms = 5000;
  return config;
}

TEST(LinkMonitorTest, ValidatesSettings) {
  EXPECT_TRUE(ValidateLinkMonitorConfig(Config()).ok());
  EXPECT_TRUE(ValidateLinkMonitorConfig(LinkMonitorConfig{}).ok());  // the defaults
  LinkMonitorConfig config = Config();
  config.heartbeat_interval_ms = 0;
  EXPECT_EQ(ValidateLinkMonitorConfig(config).code(), StatusCode::kInvalidArgument);
  config = Config();
  config.idle_timeout_ms = 999;  // below two heartbeat intervals
  Status status = ValidateLinkMonitorConfig(config);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("idle_timeout_ms"), std::string::npos) << status.message();
  config.idle_timeout_ms = 1000;  // exactly two: allowed
  EXPECT_TRUE(ValidateLinkMonitorConfig(config).ok());
  config = Config();
  config.write_timeout_ms = 0;
  EXPECT_EQ(ValidateLinkMonitorConfig(config).code(), StatusCode::kInvalidArgument);
  config = Config();
  config.idle_timeout_ms = 3'600'001;
  EXPECT_EQ(ValidateLinkMonitorConfig(config).code(), StatusCode::kInvalidArgument);
}

TEST(LinkMonitorTest, IdleConnectionGetsAHeartbeatEveryInterval) {
  LinkMonitor monitor(Config(), 500, 1000);
  EXPECT_FALSE(monitor.HeartbeatDue(1000));
  EXPECT_FALSE(monitor.HeartbeatDue(1499));
  EXPECT_EQ(monitor.NextWakeMs(), 1500u);
  EXPECT_TRUE(monitor.HeartbeatDue(1500));
  monitor.WriteStarted(1500);  // the heartbeat
  EXPECT_FALSE(monitor.HeartbeatDue(1600)) << "never while a write is in progress";
  monitor.WriteFinished(1501);
  EXPECT_FALSE(monitor.HeartbeatDue(2000));
  EXPECT_TRUE(monitor.HeartbeatDue(2001));
}

TEST(LinkMonitorTest, TrafficMakesHeartbeatsUnnecessary) {
  LinkMonitor monitor(Config(), 500, 0);
  for (std::uint64_t now_ms = 100; now_ms <= 10'000; now_ms += 400) {
    EXPECT_FALSE(monitor.HeartbeatDue(now_ms)) << now_ms;
    monitor.WriteStarted(now_ms);
    monitor.WriteFinished(now_ms + 1);
  }
}

TEST(LinkMonitorTest, NoHeartbeatsToAPeerThatAnnouncedNone) {
  LinkMonitor monitor(Config(), 0, 0);
  EXPECT_FALSE(monitor.HeartbeatDue(1'000'000));
  // And its silence is no evidence: it sends no heartbeats either.
  EXPECT_EQ(monitor.Check(1'000'000), LinkVerdict::kAlive);
  EXPECT_EQ(monitor.idle_timeout_ms(), 0u);
  EXPECT_FALSE(monitor.DeadlineMs().has_value());
}

TEST(LinkMonitorTest, SilenceForTheIdleTimeoutKillsTheConnection) {
  LinkMonitor monitor(Config(), 500, 0);
  EXPECT_EQ(monitor.DeadlineMs(), 2500u);
  EXPECT_EQ(monitor.Check(2499), LinkVerdict::kAlive);
  EXPECT_EQ(monitor.Check(2500), LinkVerdict::kIdleTimeout);
  // Our own writes do not count: only what arrives proves the peer is there.
  LinkMonitor writing(Config(), 500, 0);
  for (std::uint64_t now_ms = 0; now_ms < 2500; now_ms += 500) {
    writing.WriteStarted(now_ms);
    writing.WriteFinished(now_ms);
  }
  EXPECT_EQ(writing.Check(2500), LinkVerdict::kIdleTimeout);
}

TEST(LinkMonitorTest, AnythingReceivedPushesTheDeadline) {
  LinkMonitor monitor(Config(), 500, 0);
  monitor.Received(2000);
  EXPECT_EQ(monitor.Check(4499), LinkVerdict::kAlive);
  EXPECT_EQ(monitor.DeadlineMs(), 4500u);
  EXPECT_EQ(monitor.Check(4500), LinkVerdict::kIdleTimeout);
  EXPECT_EQ(monitor.last_received_ms(), 2000u);
}

TEST(LinkMonitorTest, APeerWithSlowerHeartbeatsGetsTwoOfItsIntervals) {
  LinkMonitor monitor(Config(), 2000, 0);  // the peer heartbeats every 2 s
  EXPECT_EQ(monitor.idle_timeout_ms(), 4000u);
  EXPECT_EQ(monitor.Check(3999), LinkVerdict::kAlive);
  EXPECT_EQ(monitor.Check(4000), LinkVerdict::kIdleTimeout);
  LinkMonitor absurd(Config(), UINT64_MAX, 0);  // bounded, no overflow
  EXPECT_EQ(absurd.idle_timeout_ms(), 7'200'000u);
}

TEST(LinkMonitorTest, AStuckWriteKillsTheConnectionEvenWhileFramesArrive) {
  LinkMonitor monitor(Config(), 500, 0);
  monitor.WriteStarted(1000);
  for (std::uint64_t now_ms = 1000; now_ms < 6000; now_ms += 200) {
    monitor.Received(now_ms);  // the peer's heartbeats keep coming
    EXPECT_EQ(monitor.Check(now_ms), LinkVerdict::kAlive) << now_ms;
  }
  EXPECT_EQ(monitor.DeadlineMs(), 6000u);
  EXPECT_EQ(monitor.Check(6000), LinkVerdict::kWriteTimeout);
  EXPECT_EQ(LinkVerdictName(LinkVerdict::kWriteTimeout), "write timeout");
  // A write that completes in time clears the deadline.
  LinkMonitor finished(Config(), 500, 0);
  finished.WriteStarted(1000);
  finished.WriteFinished(5999);
  finished.Received(5999);
  EXPECT_EQ(finished.Check(6000), LinkVerdict::kAlive);
}

TEST(LinkMonitorTest, TimeGoingBackwardsIsClamped) {
  LinkMonitor monitor(Config(), 500, 10'000);
  monitor.Received(5000);  // earlier than construction: treated as 10000
  EXPECT_EQ(monitor.last_received_ms(), 10'000u);
  EXPECT_EQ(monitor.Check(12'499), LinkVerdict::kAlive);
}

// Reference: the rules of link_monitor.h written out directly over the recorded history.
struct Reference {
  std::uint64_t last_received_ms = 0;
  std::uint64_t last_write_ms = 0;
  std::optional<std::uint64_t> write_started_ms;
};

TEST(LinkMonitorTest, MatchesTheRulesOnRandomHistories) {
  SplitMix64Random random(7);
  for (int round = 0; round < 200; ++round) {
    LinkMonitorConfig config;
    config.heartbeat_interval_ms = 1 + random.Uniform(1000);
    config.idle_timeout_ms = 2 * config.heartbeat_interval_ms + random.Uniform(3000);
    config.write_timeout_ms = 1 + random.Uniform(6000);
    const std::uint64_t peer_interval_ms = random.Uniform(4) == 0 ? 0 : 1 + random.Uniform(3000);
    const std::uint64_t idle_ms =
        peer_interval_ms == 0 ? 0 : std::max(config.idle_timeout_ms, 2 * peer_interval_ms);
    std::uint64_t now_ms = random.Uniform(100'000);
    LinkMonitor monitor(config, peer_interval_ms, now_ms);
    Reference reference{now_ms, now_ms, std::nullopt};
    for (int step = 0; step < 300; ++step) {
      now_ms += random.Uniform(700);
      switch (random.Uniform(3)) {
        case 0:
          monitor.Received(now_ms);
          reference.last_received_ms = now_ms;
          break;
        case 1:
          if (reference.write_started_ms) {
            monitor.WriteFinished(now_ms);
            reference.write_started_ms.reset();
          } else {
            monitor.WriteStarted(now_ms);
            reference.write_started_ms = now_ms;
          }
          reference.last_write_ms = now_ms;
          break;
        default:
          break;  // time passes
      }
      const bool write_stuck = reference.write_started_ms &&
                               now_ms >= *reference.write_started_ms + config.write_timeout_ms;
      const bool idle = idle_ms > 0 && now_ms >= reference.last_received_ms + idle_ms;
      const LinkVerdict expected = write_stuck ? LinkVerdict::kWriteTimeout
                                   : idle      ? LinkVerdict::kIdleTimeout
                                               : LinkVerdict::kAlive;
      ASSERT_EQ(monitor.Check(now_ms), expected) << "round " << round << " step " << step;
      const bool heartbeat = peer_interval_ms > 0 && !reference.write_started_ms &&
                             now_ms >= reference.last_write_ms + config.heartbeat_interval_ms;
      ASSERT_EQ(monitor.HeartbeatDue(now_ms), heartbeat) << "round " << round << " step " << step;
      // Nothing changes before the wake-up time the monitor asks for.
      const std::uint64_t wake_ms = monitor.NextWakeMs();
      if (wake_ms > now_ms) {
        ASSERT_EQ(monitor.Check(wake_ms - 1), expected);
        ASSERT_EQ(monitor.HeartbeatDue(wake_ms - 1), heartbeat);
      }
      if (std::optional<std::uint64_t> deadline_ms = monitor.DeadlineMs()) {
        ASSERT_NE(monitor.Check(*deadline_ms), LinkVerdict::kAlive);
        if (*deadline_ms > now_ms) {
          ASSERT_EQ(monitor.Check(*deadline_ms - 1), LinkVerdict::kAlive);
        }
      }
    }
  }
}

}  // namespace
}  // namespace meridian::cluster
