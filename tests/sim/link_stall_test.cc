// LinkStalls: a TCP connection through a partition, before and after the heal — with the
// transport's deadlines (cluster::LinkMonitor, ReconnectBackoff) and without them.
#include "sim/link_stall.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "sim/network.h"
#include "sim/seeded_random.h"

namespace meridian::sim {
namespace {

constexpr auto kNothingStillCut = [](const std::string&, const std::string&) { return false; };

// The first time at or after from_ms at which a message on a -> b flows again (bounded search).
std::uint64_t FlowsAgainAtMs(LinkStalls& stalls, std::uint64_t from_ms) {
  for (std::uint64_t now_ms = from_ms; now_ms < from_ms + 1'000'000; now_ms += 10) {
    if (!stalls.Blocks("a", "b", /*cut=*/false, now_ms)) return now_ms;
  }
  return UINT64_MAX;
}

// a -> b cut at 0 for partition_ms, one message sent into the cut at 100, healed.
std::uint64_t StallAfterHealMs(const LinkStallConfig& config, std::uint64_t partition_ms,
                               std::uint64_t seed = 1) {
  LinkStalls stalls(config);
  SeededRandom random(seed);
  stalls.OnCut("a", "b", 0);
  EXPECT_TRUE(stalls.Blocks("a", "b", /*cut=*/true, 100));
  stalls.OnHeal(partition_ms, random, kNothingStillCut);
  return FlowsAgainAtMs(stalls, partition_ms) - partition_ms;
}

TEST(LinkStallTest, WithoutDeadlinesALongPartitionLeavesTheConnectionStuckForTensOfSeconds) {
  const LinkStallConfig old_transport = LinkStallConfig::WithoutTransportDeadlines();
  // Retransmissions at 100 + 200 * (2^k - 1): ..., 51'100, 102'300 ms.
  EXPECT_EQ(StallAfterHealMs(old_transport, 60'000), 42'300u);
  EXPECT_EQ(StallAfterHealMs(old_transport, 30'000), 21'100u);
  EXPECT_EQ(StallAfterHealMs(old_transport, 5'000), 1'300u);
}

TEST(LinkStallTest, WithDeadlinesTheReplacementConnectsWithinASynRetransmissionOfTheHeal) {
  const LinkStallConfig transport;  // the defaults: the transport's deadlines
  for (std::uint64_t partition_ms : {5'000u, 15'000u, 30'000u, 60'000u, 60'700u, 61'300u}) {
    for (std::uint64_t seed = 1; seed <= 20; ++seed) {
      const std::uint64_t stall_ms = StallAfterHealMs(transport, partition_ms, seed);
      EXPECT_LE(stall_ms, transport.syn_rto_initial_ms) << partition_ms << " seed " << seed;
    }
  }
}

TEST(LinkStallTest, AShortPartitionRecoversAtTheNextRetransmission) {
  // Cut for 1 s: the monitor has not given up yet (2.5 s); the retransmission at 1'500 ms wins.
  EXPECT_EQ(StallAfterHealMs(LinkStallConfig{}, 1'000), 500u);
}

TEST(LinkStallTest, ALinkThatCarriedNothingDuringTheCutRecoversAtTheHeal) {
  LinkStalls stalls(LinkStallConfig::WithoutTransportDeadlines());
  SeededRandom random(1);
  stalls.OnCut("a", "b", 0);
  stalls.OnHeal(60'000, random, kNothingStillCut);
  EXPECT_FALSE(stalls.Blocks("a", "b", false, 60'000));
  EXPECT_EQ(stalls.stalled_link_count(), 0u);
}

TEST(LinkStallTest, CutAgainBeforeRecoveringTheStallGoesOn) {
  LinkStalls stalls(LinkStallConfig::WithoutTransportDeadlines());
  SeededRandom random(1);
  stalls.OnCut("a", "b", 0);
  EXPECT_TRUE(stalls.Blocks("a", "b", true, 100));
  stalls.OnHeal(20'000, random, kNothingStillCut);  // next retransmission at 25'500
  EXPECT_TRUE(stalls.Blocks("a", "b", false, 21'000));
  stalls.OnCut("a", "b", 22'000);
  EXPECT_TRUE(stalls.Blocks("a", "b", true, 23'000));
  stalls.OnHeal(30'000, random, kNothingStillCut);  // the schedule goes on: 51'100
  EXPECT_TRUE(stalls.Blocks("a", "b", false, 51'000));
  EXPECT_FALSE(stalls.Blocks("a", "b", false, 51'100));
}

TEST(LinkStallTest, OtherLinksAreUnaffectedAndDisabledMeansMessageLevelCuts) {
  LinkStalls stalls(LinkStallConfig::WithoutTransportDeadlines());
  stalls.OnCut("a", "b", 0);
  EXPECT_FALSE(stalls.Blocks("b", "a", false, 100));
  LinkStallConfig disabled;
  disabled.enabled = false;
  LinkStalls off(disabled);
  SeededRandom random(1);
  off.OnCut("a", "b", 0);
  EXPECT_TRUE(off.Blocks("a", "b", true, 100));
  off.OnHeal(60'000, random, kNothingStillCut);
  EXPECT_FALSE(off.Blocks("a", "b", false, 60'000));
}

TEST(LinkStallTest, TheNetworkReportsStalledDrops) {
  NetworkConfig config;
  config.stalls = LinkStallConfig::WithoutTransportDeadlines();
  SimNetwork network(config, SeededRandom(5));
  network.Partition({"a"}, {"b"}, 0);
  EXPECT_EQ(network.Route("a", "b", 100).dropped, TraceKind::kDropPartition);
  EXPECT_FALSE(network.Whole(100));
  network.Heal(10'000);
  EXPECT_FALSE(network.Whole(10'000));  // healed, but a -> b has not recovered
  EXPECT_FALSE(network.Whole(12'699));
  EXPECT_TRUE(network.Whole(12'700));
  EXPECT_EQ(network.stalled_link_count(), 2u);  // b -> a carried nothing: it flows at once
  EXPECT_EQ(network.Route("a", "b", 10'000).dropped, TraceKind::kDropStalled);
  EXPECT_FALSE(network.Route("b", "a", 10'000).dropped.has_value());
  EXPECT_FALSE(network.Route("a", "b", 12'700).dropped.has_value());
  EXPECT_EQ(network.stalled_link_count(), 0u);
}

}  // namespace
}  // namespace meridian::sim
