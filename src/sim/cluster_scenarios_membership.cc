// "cluster-membership": real nodes form a cluster through the first node, then a Nemesis
// safety phase (crashes and restarts, partitions, one-way cuts, isolation, loss bursts, clock
// skew), a heal and a liveness phase. Checked:
//   * throughout: RingInvariants, and CrashWatch — every node that knew a crashed node marks it
//     down within kDetectionMsMax of virtual time and keeps it down until it restarts;
//   * after the heal: within liveness_ms_max every node holds the same cluster state, every
//     member is up at its current incarnation, no partition is moving, and every node
//     considers every other alive (restarted nodes are alive again everywhere);
//   * then a probe on the healed cluster: one node crashes, all others must mark it down within
//     kDetectionMsMax; it restarts (higher incarnation) and must be alive again at every
//     observer, with the cluster converged, within kRecoveryMsMax.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <string>
#include <vector>

#include "sim/cluster_scenarios.h"
#include "sim/nemesis.h"

namespace meridian::sim {
namespace {

// A crashed node must be marked down within this much virtual time: the 10 s target of the
// brief (the phi-accrual detector needs about 5.3 s after the last heartbeat with the defaults;
// gaps from lost heartbeats are not learnt, so loss bursts before the crash do not slow it).
constexpr std::uint64_t kDetectionMsMax = 10'000;
// A restarted node's first heartbeat refutes "down" at once; gossip spreads its incarnation
// in a few rounds.
constexpr std::uint64_t kRecoveryMsMax = 15'000;

// Runs until CheckClusterConverged holds; on a timeout fails the simulation with the reason.
Status AwaitConverged(Simulation& simulation, const ExpectedMembers& expected,
                      std::uint64_t duration_ms, std::string_view phase) {
  const Status status =
      simulation.RunUntil([&] { return CheckClusterConverged(simulation, expected).ok(); },
                          simulation.now_ms() + duration_ms);
  if (!status.ok() && !simulation.failure().has_value()) {
    simulation.Fail(fmt::format("{}: not converged within {} ms: {}", phase, duration_ms,
                                CheckClusterConverged(simulation, expected).message()));
  }
  return status;
}

// Crashes `victim` in the healed cluster and checks detection, restart and recovery.
Status ProbeCrashAndRestart(Simulation& simulation, const std::vector<std::string>& addresses,
                            const std::string& victim) {
  simulation.Crash(victim);
  const std::uint64_t crashed_at_ms = simulation.now_ms();
  auto all_see_down = [&] {
    for (const std::string& observer : addresses) {
      if (observer == victim) continue;
      if (NodeAt(simulation, observer)->node().IsAlive(victim)) return false;
    }
    return true;
  };
  Status status = simulation.RunUntil(all_see_down, crashed_at_ms + kDetectionMsMax);
  if (!status.ok()) {
    if (!simulation.failure().has_value()) {
      std::vector<std::string> believers;
      for (const std::string& observer : addresses) {
        if (observer != victim && NodeAt(simulation, observer)->node().IsAlive(victim)) {
          believers.push_back(observer);
        }
      }
      simulation.Fail(
          fmt::format("probe: {} crashed at t={}ms and {} still consider it alive "
                      "after {} ms",
                      victim, crashed_at_ms, fmt::join(believers, ","), kDetectionMsMax));
    }
    return status;
  }
  const std::uint64_t old_incarnation = simulation.IncarnationOf(victim);
  status = simulation.Restart(victim);
  if (!status.ok()) {
    simulation.Fail(fmt::format("probe: restart of {} failed: {}", victim, status.ToString()));
    return status;
  }
  if (simulation.IncarnationOf(victim) <= old_incarnation) {
    simulation.Fail(fmt::format("probe: {} restarted without a higher incarnation", victim));
    return Status::Internal("no higher incarnation");
  }
  return AwaitConverged(simulation, AllUp(addresses), kRecoveryMsMax, "probe: after restart");
}

}  // namespace

ScenarioOutcome RunClusterMembership(const ScenarioOptions& options) {
  const std::vector<std::string> addresses = ScenarioAddresses(options.node_count);
  ClusterLayout layout;
  layout.bootstrap_address = addresses.front();
  layout.seeds = {addresses.front()};
  layout.base = SimNodeConfig();

  SimulationConfig config;
  config.seed = options.seed;
  config.tick_interval_ms = layout.base.tick_interval_ms;
  Simulation simulation(config, NodeProcessFactory(layout, nullptr));
  RingInvariants ring_invariants(simulation);
  CrashWatch crash_watch(simulation, kDetectionMsMax);
  simulation.SetTraceObserver([&](const TraceRecord& record) { crash_watch.OnTrace(record); });
  simulation.AddInvariant("ring", [&] { return ring_invariants.Check(); });
  simulation.AddInvariant("crash-detected", [&] { return crash_watch.Check(); });

  NemesisConfig nemesis_config;
  nemesis_config.crashed_max = (options.node_count - 1) / 2;  // a minority
  Nemesis nemesis(simulation, nemesis_config);

  Status status = Status::Ok();
  for (const std::string& address : addresses) {
    status = simulation.AddProcess(address);
    if (!status.ok()) {
      simulation.Fail(fmt::format("{} did not start: {}", address, status.ToString()));
      break;
    }
  }
  if (status.ok())
    status = AwaitConverged(simulation, AllUp(addresses), kFormationMsMax, "formation");
  if (status.ok()) status = nemesis.RunSafetyPhase(options.duration_ms);
  if (status.ok()) status = nemesis.HealEverything();
  if (status.ok()) {
    status = AwaitConverged(simulation, AllUp(addresses), options.liveness_ms_max, "liveness");
  }
  if (status.ok() && addresses.size() >= 2) {
    SeededRandom probe_random = simulation.DeriveRandom("probe");
    status = ProbeCrashAndRestart(simulation, addresses,
                                  addresses[probe_random.Uniform(addresses.size())]);
  }
  if (!status.ok() && !simulation.failure().has_value()) simulation.Fail(status.ToString());

  ScenarioOutcome outcome = OutcomeOf(simulation);
  outcome.fault_log = nemesis.log();
  outcome.fault_log.push_back(
      fmt::format("summary: {} crash detections checked by their deadline; slowest detection {} ms",
                  crash_watch.detections_checked(), crash_watch.detection_ms_longest()));
  return outcome;
}

}  // namespace meridian::sim
