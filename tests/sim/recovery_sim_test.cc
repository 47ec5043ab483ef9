// "partition-recovery": after partitions of 5 to 60 s, the healed cluster is whole again within
// the bound (2 gossip intervals + the failure detector's window) — with the transport's
// deadlines modelled; without them (the transport before issue 10) the stalled connections make
// it fail, and the failing seed replays exactly.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "sim/scenario.h"

namespace meridian::sim {
namespace {

constexpr std::uint64_t kBoundMs = 6'000;  // RecoveryBoundMs() with the simulator's node defaults

ScenarioOptions OptionsFor(std::uint64_t seed) {
  ScenarioOptions options;
  options.seed = seed;
  return options;
}

const Scenario& Find(const ScenarioRegistry& registry, const std::string& name) {
  const Scenario* scenario = registry.Find(name);
  EXPECT_NE(scenario, nullptr) << name;
  return *scenario;
}

TEST(PartitionRecoverySimTest, EveryPartitionLengthRecoversWithinTheBound) {
  const ScenarioRegistry registry = BuiltinScenarios();
  const Scenario& scenario = Find(registry, "partition-recovery");
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    const ScenarioOutcome outcome = scenario.run(OptionsFor(seed));
    ASSERT_TRUE(outcome.passed()) << outcome.failure->ToString() << "\nreplay: meridian sim --seed "
                                  << seed << " --workload partition-recovery --verbose";
    for (const char* partition : {"5000", "15000", "30000", "60000"}) {
      for (const char* what : {"alive_ms_after_", "write_ms_after_"}) {
        const std::string metric = std::string(what) + partition;
        ASSERT_TRUE(outcome.metrics.contains(metric)) << metric;
        EXPECT_LE(outcome.metrics.at(metric), kBoundMs) << metric << " seed " << seed;
      }
    }
  }
}

TEST(PartitionRecoverySimTest, WithoutTransportDeadlinesStalledConnectionsFailItAndReplay) {
  const ScenarioRegistry registry = BuiltinScenarios();
  const Scenario& scenario = Find(registry, "partition-recovery-without-deadlines");
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    const ScenarioOutcome outcome = scenario.run(OptionsFor(seed));
    ASSERT_FALSE(outcome.passed()) << "seed " << seed;
    const std::string& message = outcome.failure->message;
    EXPECT_NE(message.find("not recovered within 6000 ms of the heal"), std::string::npos)
        << message;
    const ScenarioOutcome replay = scenario.run(OptionsFor(seed));
    ASSERT_FALSE(replay.passed());
    EXPECT_EQ(replay.failure->ToString(), outcome.failure->ToString());
    EXPECT_EQ(replay.trace_hash, outcome.trace_hash);
  }
}

TEST(PartitionRecoverySimTest, SameSeedReplaysToTheSameTraceHash) {
  const ScenarioRegistry registry = BuiltinScenarios();
  const Scenario& scenario = Find(registry, "partition-recovery");
  const ScenarioOutcome first = scenario.run(OptionsFor(3));
  const ScenarioOutcome second = scenario.run(OptionsFor(3));
  EXPECT_EQ(first.trace_hash, second.trace_hash);
  EXPECT_EQ(first.trace_record_count, second.trace_record_count);
  EXPECT_EQ(first.metrics, second.metrics);
  EXPECT_EQ(first.fault_log, second.fault_log);
  EXPECT_NE(scenario.run(OptionsFor(4)).trace_hash, first.trace_hash);
}

}  // namespace
}  // namespace meridian::sim
