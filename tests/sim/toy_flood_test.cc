// The toy protocol under the simulator: convergence, partitions, crash durability, and the
// scenarios with their nemesis — including a deliberately buggy variant whose failure must be
// found, reported with its seed, and replayed identically.
#include "sim/toy_flood.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/assert.h"
#include "sim/nemesis.h"
#include "sim/scenario.h"

namespace meridian::sim {
namespace {

const std::vector<std::string> kAddresses = {"a", "b", "c", "d"};

struct ToyCluster {
  explicit ToyCluster(std::uint64_t seed, ToyFloodConfig toy = {})
      : simulation(Config(seed), ToyFloodFactory(WithPeers(std::move(toy)))) {
    for (const std::string& address : kAddresses) {
      MERIDIAN_CHECK(simulation.AddProcess(address).ok());
    }
  }
  static SimulationConfig Config(std::uint64_t seed) {
    SimulationConfig config;
    config.seed = seed;
    return config;
  }
  static ToyFloodConfig WithPeers(ToyFloodConfig toy) {
    toy.peer_addresses = kAddresses;
    return toy;
  }
  void Mint(const std::string& address) {
    MERIDIAN_CHECK(simulation.Invoke(address, "mint", [](Process& process) {
      MERIDIAN_CHECK(static_cast<ToyFloodProcess&>(process).Mint().ok());
    }));
  }
  ToyFloodProcess& At(const std::string& address) {
    auto* process = simulation.FindProcessAs<ToyFloodProcess>(address);
    MERIDIAN_CHECK(process != nullptr);
    return *process;
  }

  Simulation simulation;
};

TEST(ToyFloodTest, ConvergesAcrossThePartitionOnlyAfterTheHeal) {
  ToyCluster cluster(3);
  cluster.simulation.Partition({"a", "b"}, {"c", "d"});
  cluster.Mint("a");
  cluster.Mint("c");
  ASSERT_TRUE(cluster.simulation.RunFor(5'000).ok());
  EXPECT_EQ(cluster.At("b").CounterOf("a"), 1u);
  EXPECT_EQ(cluster.At("d").CounterOf("c"), 1u);
  for (const char* other_side : {"c", "d"}) {
    EXPECT_EQ(cluster.At(other_side).CounterOf("a"), 0u);
  }
  EXPECT_EQ(cluster.At("a").CounterOf("c"), 0u);
  EXPECT_FALSE(AllConverged(cluster.simulation));

  cluster.simulation.Heal();
  ASSERT_TRUE(
      cluster.simulation.RunUntil([&] { return AllConverged(cluster.simulation); }, 20'000).ok());
  EXPECT_EQ(cluster.At("d").CounterOf("a"), 1u);
}

TEST(ToyFloodTest, RestartRecoversSyncedCountersOnly) {
  ToyFloodConfig toy;
  toy.sync_every_ticks = 0;  // merged entries stay unsynced
  ToyCluster cluster(4, toy);
  cluster.Mint("a");
  cluster.Mint("a");
  ASSERT_TRUE(
      cluster.simulation.RunUntil([&] { return cluster.At("b").CounterOf("a") == 2; }, 10'000)
          .ok());
  cluster.simulation.Crash("b");
  cluster.simulation.Crash("a");
  ASSERT_TRUE(cluster.simulation.Restart("a").ok());
  ASSERT_TRUE(cluster.simulation.Restart("b").ok());
  EXPECT_EQ(cluster.At("a").CounterOf("a"), 2u);  // mints are synced
  EXPECT_EQ(cluster.At("b").CounterOf("a"), 0u);  // the merge was not
}

TEST(ToyFloodScenarioTest, PassesUnderFaultsAndReplaysBitForBit) {
  const ScenarioRegistry registry = BuiltinScenarios();
  const Scenario* scenario = registry.Find("toy-flood");
  ASSERT_NE(scenario, nullptr);
  for (std::uint64_t seed = 1; seed <= 4; ++seed) {
    ScenarioOptions options;
    options.seed = seed;
    options.duration_ms = 5'000;
    const ScenarioOutcome first = scenario->run(options);
    ASSERT_TRUE(first.passed()) << first.failure->ToString();
    EXPECT_FALSE(first.fault_log.empty());
    const ScenarioOutcome second = scenario->run(options);
    EXPECT_EQ(first.trace_hash, second.trace_hash);
    EXPECT_EQ(first.trace_record_count, second.trace_record_count);
    EXPECT_EQ(first.fault_log, second.fault_log);
    options.seed += 1'000;
    EXPECT_NE(scenario->run(options).trace_hash, first.trace_hash);
  }
}

TEST(ToyFloodScenarioTest, UnsyncedMintBugIsFoundReportedAndReplayed) {
  const ScenarioRegistry registry = BuiltinScenarios();
  const Scenario* scenario = registry.Find("toy-flood-unsynced-mint");
  ASSERT_NE(scenario, nullptr);
  ScenarioOptions options;
  options.duration_ms = 5'000;
  std::optional<ScenarioOutcome> failed;
  for (options.seed = 1; options.seed <= 20 && !failed.has_value(); ++options.seed) {
    ScenarioOutcome outcome = scenario->run(options);
    if (!outcome.passed()) failed = std::move(outcome);
  }
  ASSERT_TRUE(failed.has_value()) << "the nemesis never exposed the unsynced mint";
  const SimulationFailure& failure = *failed->failure;
  options.seed = failure.seed;
  EXPECT_NE(failure.message.find("no-counter-ahead-of-origin"), std::string::npos)
      << failure.message;

  const ScenarioOutcome replay = scenario->run(options);
  ASSERT_FALSE(replay.passed());
  EXPECT_EQ(replay.failure->ToString(), failure.ToString());
  EXPECT_EQ(replay.trace_hash, failed->trace_hash);
}

TEST(NemesisTest, KeepsAtMostCrashedMaxDownAndHealsEverything) {
  SimulationConfig config;
  config.seed = 9;
  ToyFloodConfig toy;
  toy.peer_addresses = kAddresses;
  Simulation simulation(config, ToyFloodFactory(toy));
  for (const std::string& address : kAddresses) ASSERT_TRUE(simulation.AddProcess(address).ok());
  simulation.AddInvariant("crashed-max", [&] {
    const std::size_t down = kAddresses.size() - simulation.live_addresses().size();
    return down <= 2 ? Status::Ok() : Status::Internal(std::to_string(down) + " down");
  });
  NemesisConfig nemesis_config;
  nemesis_config.crashed_max = 2;
  nemesis_config.crash_weight = 10;
  Nemesis nemesis(simulation, nemesis_config);
  ASSERT_TRUE(nemesis.RunSafetyPhase(20'000).ok());
  EXPECT_GT(simulation.CountOf(TraceKind::kCrash), 5u);
  EXPECT_GT(simulation.CountOf(TraceKind::kPartition), 0u);
  EXPECT_GT(simulation.CountOf(TraceKind::kClockSkew), 0u);
  ASSERT_TRUE(nemesis.HealEverything().ok());
  EXPECT_EQ(simulation.live_addresses().size(), kAddresses.size());
  EXPECT_EQ(simulation.network().cut_link_count(), 0u);
  EXPECT_EQ(simulation.network().config().loss_ppm, 0u);
}

TEST(ScenarioRegistryTest, FindsRegisteredScenariosByName) {
  ScenarioRegistry registry;
  registry.Add("b", "second", [](const ScenarioOptions&) { return ScenarioOutcome{}; });
  registry.Add("a", "first", [](const ScenarioOptions&) { return ScenarioOutcome{}; });
  ASSERT_EQ(registry.All().size(), 2u);
  EXPECT_EQ(registry.All()[0]->name, "a");
  EXPECT_EQ(registry.Find("b")->description, "second");
  EXPECT_EQ(registry.Find("c"), nullptr);
  EXPECT_EQ(ScenarioAddresses(2), (std::vector<std::string>{"10.0.0.1:7000", "10.0.0.2:7000"}));
}

}  // namespace
}  // namespace meridian::sim
