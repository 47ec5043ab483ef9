// SeededRandom, SimClock, EventQueue and SimNetwork on their own.
#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "sim/event_queue.h"
#include "sim/network.h"
#include "sim/seeded_random.h"
#include "sim/sim_clock.h"

namespace meridian::sim {
namespace {

std::vector<std::uint64_t> Draw(SeededRandom random, int count) {
  std::vector<std::uint64_t> values;
  for (int i = 0; i < count; ++i) values.push_back(random.NextU64());
  return values;
}

TEST(SeededRandomTest, SameSeedSameSequenceDifferentSeedsDiffer) {
  EXPECT_EQ(Draw(SeededRandom(42), 100), Draw(SeededRandom(42), 100));
  EXPECT_NE(Draw(SeededRandom(42), 100), Draw(SeededRandom(43), 100));
}

TEST(SeededRandomTest, DeriveDependsOnlyOnSeedAndLabel) {
  SeededRandom root(7);
  const auto network_first = Draw(root.Derive("network"), 10);
  root.NextU64();  // drawing from the root does not change derived streams
  EXPECT_EQ(Draw(root.Derive("network"), 10), network_first);
  EXPECT_NE(Draw(root.Derive("nemesis"), 10), network_first);
  EXPECT_NE(Draw(SeededRandom(8).Derive("network"), 10), network_first);
}

TEST(SeededRandomTest, ChanceAndUniformBetweenRespectBounds) {
  SeededRandom random(1);
  int hits = 0;
  for (int i = 0; i < 10'000; ++i) {
    EXPECT_FALSE(ChancePpm(random, 0));
    EXPECT_TRUE(ChancePpm(random, kPartsPerMillion));
    hits += ChancePpm(random, 250'000) ? 1 : 0;
    const std::uint64_t value = UniformBetween(random, 5, 9);
    EXPECT_GE(value, 5u);
    EXPECT_LE(value, 9u);
  }
  EXPECT_GT(hits, 2'200);
  EXPECT_LT(hits, 2'800);
}

TEST(SimClockTest, SkewChangesOnlyTheWallClock) {
  VirtualTime time;
  SimClock skewed(time);
  SimClock plain(time);
  time.AdvanceTo(2'000'000);
  skewed.set_skew(ClockSkew{-5'000, 1'000});  // 5 s behind, gains 1 ms per second
  EXPECT_EQ(skewed.MonotonicMillis(), 2'000'000u);
  EXPECT_EQ(plain.MonotonicMillis(), 2'000'000u);
  EXPECT_EQ(plain.WallMillis(), kWallClockOriginMs + 2'000'000);
  EXPECT_EQ(skewed.WallMillis(), kWallClockOriginMs + 2'000'000 - 5'000 + 2'000);
}

TEST(EventQueueTest, OrdersByTimeThenInsertion) {
  EventQueue queue;
  for (const auto& [time_ms, label] :
       std::vector<std::pair<std::uint64_t, std::string>>{{5, "a"}, {3, "b"}, {5, "c"}, {3, "d"}}) {
    Event event;
    event.time_ms = time_ms;
    event.label = label;
    queue.Push(std::move(event));
  }
  std::string order;
  while (!queue.empty()) order += queue.Pop().label;
  EXPECT_EQ(order, "bdac");
}

TEST(SimNetworkTest, PartitionsCutBothOrOneDirectionUntilHealed) {
  SimNetwork network(NetworkConfig{}, SeededRandom(1));
  network.Partition({"a"}, {"b", "c"}, 0);
  EXPECT_TRUE(network.IsCut("a", "b"));
  EXPECT_TRUE(network.IsCut("c", "a"));
  EXPECT_FALSE(network.IsCut("b", "c"));
  EXPECT_EQ(network.Route("b", "a", 0).dropped, TraceKind::kDropPartition);
  network.Heal(0);
  network.PartitionOneWay({"a"}, {"b"}, 0);
  EXPECT_TRUE(network.IsCut("a", "b"));
  EXPECT_FALSE(network.IsCut("b", "a"));
  network.Heal(0);
  EXPECT_EQ(network.cut_link_count(), 0u);
}

TEST(SimNetworkTest, LatencyLossAndDuplicationFollowTheConfig) {
  NetworkConfig config;
  config.latency_ms_min = 10;
  config.latency_jitter_ms = 5;
  config.tail_ppm = 500'000;
  config.tail_step_ms = 100;
  config.latency_ms_max = 400;
  SimNetwork network(config, SeededRandom(3));
  std::set<std::uint64_t> latencies;
  for (int i = 0; i < 2'000; ++i) {
    const Routing routing = network.Route("a", "b", 0);
    ASSERT_FALSE(routing.dropped.has_value());
    ASSERT_EQ(routing.delays_ms.size(), 1u);
    EXPECT_GE(routing.delays_ms[0], 10u);
    EXPECT_LE(routing.delays_ms[0], 400u);
    latencies.insert(routing.delays_ms[0]);
  }
  EXPECT_TRUE(latencies.contains(400u));  // the tail reaches the cap
  EXPECT_GT(latencies.size(), 10u);       // reordering needs varied latencies

  network.set_loss_ppm(kPartsPerMillion);
  EXPECT_EQ(network.Route("a", "b", 0).dropped, TraceKind::kDropLoss);
  network.set_loss_ppm(0);
  network.set_duplicate_ppm(kPartsPerMillion);
  EXPECT_EQ(network.Route("a", "b", 0).delays_ms.size(), 2u);
}

}  // namespace
}  // namespace meridian::sim
