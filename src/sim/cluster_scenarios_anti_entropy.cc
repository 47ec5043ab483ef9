// "anti-entropy": replicas converge by themselves, with no client read at all.
//
// N nodes (5 by default), the bucket defaults (n = 3, sloppy quorum) with w = 1 and dw = 1 (so
// a write reaches as few replicas as possible: one, plus whatever the others get later), the
// one-client workload on 24 keys with puts (1 in 4 blind), deletes and no reads, while the
// Nemesis crashes and restarts nodes, partitions the network, isolates nodes and injects loss.
// After the heal no client reads anything — read repair never runs — and every replica of every
// key must hold the same sibling set (CheckReplicasConverged) within the bound: the heal's
// settling (hints delivered, requests answered) plus two anti-entropy rounds. Then the usual
// end (FinishKvRun): final reads, no acknowledged write lost, nothing resurrected. The time from
// the heal to convergence is the outcome's metric "converged_ms". "anti-entropy-off" is the
// same with anti-entropy switched off: broken on purpose, it shows the checker can fail.
#include <fmt/format.h>

#include "core/assert.h"
#include "sim/cluster_scenarios.h"
#include "sim/cluster_scenarios_kv_workload.h"
#include "sim/nemesis.h"

namespace meridian::sim {
namespace {

constexpr std::uint32_t kKeyCount = 24;
// Hint delivery and failure-detector recovery after the heal, before anti-entropy's rounds.
constexpr std::uint64_t kSettleMsMax = 15'000;

std::vector<std::string> KeyNames() {
  std::vector<std::string> keys;
  for (std::uint32_t index = 0; index < kKeyCount; ++index) {
    keys.push_back(fmt::format("k{:02}", index));
  }
  return keys;
}

ScenarioOutcome RunAntiEntropyWith(const ScenarioOptions& options, bool anti_entropy) {
  const std::vector<std::string> addresses = ScenarioAddresses(options.node_count);
  ReplySink sink;
  SimulationConfig simulation_config;
  simulation_config.seed = options.seed;
  simulation_config.tick_interval_ms = SimNodeConfig().tick_interval_ms;
  ClusterLayout layout;
  layout.bootstrap_address = addresses.front();
  layout.seeds = addresses;
  layout.base = SimNodeConfig();
  if (!anti_entropy) layout.base.anti_entropy.exchange_interval_ms = 0;
  Simulation simulation(simulation_config, NodeProcessFactory(layout, &sink));

  KvWorkloadConfig workload_config;
  workload_config.keys = KeyNames();
  workload_config.write_options.w = QuorumValue::Number(1);
  workload_config.write_options.dw = QuorumValue::Number(1);
  workload_config.require_durable = true;
  workload_config.blind_put_one_in = 4;
  workload_config.reads = false;
  KvWorkload workload(simulation, workload_config);
  sink = [&workload](const std::string& address, node::ClientReply reply) {
    workload.OnReply(address, std::move(reply));
  };
  RingInvariants ring_invariants(simulation);
  simulation.AddInvariant("ring", [&] { return ring_invariants.Check(); });

  NemesisConfig nemesis_config;
  nemesis_config.fault_interval_ms_min = 500;
  nemesis_config.fault_interval_ms_max = 2'000;
  nemesis_config.crashed_max = std::max<std::uint32_t>(1, (options.node_count - 1) / 2);
  nemesis_config.one_way_partition_weight = 0;
  nemesis_config.clock_skew_weight = 0;
  nemesis_config.clock_reset_weight = 0;
  Nemesis nemesis(simulation, nemesis_config);

  const ExpectedMembers expected = AllUp(addresses);
  Status status = FormCluster(simulation, addresses);
  if (status.ok()) {
    status = SetWorkloadBucketFromOptions(simulation, workload, options);
  }
  if (status.ok()) {
    workload.ScheduleOperations(simulation.now_ms() + options.duration_ms);
    status = nemesis.RunSafetyPhase(options.duration_ms);
  }
  if (status.ok()) status = nemesis.HealEverything();
  std::uint64_t converged_ms = 0;
  if (status.ok()) {
    const std::uint64_t bound_ms = kSettleMsMax + 2 * layout.base.anti_entropy.exchange_interval_ms;
    auto converged = AwaitConvergenceWithoutReads(simulation, workload, bound_ms);
    status = converged.status();
    if (converged.ok()) converged_ms = *converged;
  }
  if (status.ok()) {
    status = FinishKvRun(
        simulation, workload, [&] { return CheckClusterConverged(simulation, expected); },
        options.liveness_ms_max);
  }
  if (!status.ok() && !simulation.failure().has_value()) simulation.Fail(status.ToString());
  ScenarioOutcome outcome = OutcomeOf(simulation);
  outcome.fault_log = nemesis.log();
  outcome.fault_log.push_back(fmt::format("summary: {}; converged {} ms after the heal",
                                          KvCountersText(workload.counters()), converged_ms));
  outcome.metrics["converged_ms"] = converged_ms;
  return outcome;
}

}  // namespace

ScenarioOutcome RunAntiEntropy(const ScenarioOptions& options) {
  return RunAntiEntropyWith(options, /*anti_entropy=*/true);
}

ScenarioOutcome RunAntiEntropyOff(const ScenarioOptions& options) {
  return RunAntiEntropyWith(options, /*anti_entropy=*/false);
}

}  // namespace meridian::sim
