// "cluster-kv": real nodes serve a KV workload sent through random nodes while one extra node
// joins and one node leaves (ownership moves, handoff runs) and the Nemesis injects crashes
// followed by restarts, network partitions (two-way splits of any size, one-way cuts,
// isolation), message loss bursts (reordering comes from random latency) and clock skew.
// Keys are replicated with the bucket defaults: n = 3, r = w = quorum, sloppy quorum (so a
// partitioned client side still writes, through fallbacks that keep hints). Every write asks
// for dw = 1, so an acknowledged write is durable on at least one replica.
// Checked:
//   * throughout: RingInvariants; every reply matches exactly one request; writes are
//     acknowledged durable; errors are only Unavailable or Timeout (counted); every read is
//     checked by KvHistory::CheckRead (no phantom or duplicate value, siblings only for
//     concurrent writes);
//   * after the heal (FinishKvRun): the cluster converges (the joined node up, the leaver
//     removed, no pending owner), every request still in flight is answered or lost with its
//     node, and every node's background replication is idle (no hint pending, no partition
//     stream, no copy queued), within liveness_ms_max;
//   * then every key is read with r = all through a random node (checked as above and by
//     KvHistory::CheckFinal: no acknowledged write lost, nothing resurrected), and once their
//     read repair landed, CheckReplicasConverged: the primaries of every key hold identical
//     objects, no other node holds objects of partitions it is not a primary of, and no hint
//     record is left.
// "reaping" is cluster-kv with tombstone reaping every second (cluster_scenarios_reaping.h):
// after the heal it also waits until every tombstone is reaped, before the final reads check
// that nothing was resurrected, and it fails if no tombstone was ever reaped.
#include <fmt/format.h>

#include <string>
#include <vector>

#include "sim/cluster_scenarios.h"
#include "sim/cluster_scenarios_kv_workload.h"
#include "sim/cluster_scenarios_reaping.h"
#include "sim/nemesis.h"

namespace meridian::sim {
namespace {

constexpr std::uint32_t kKeyCount = 24;  // few keys: many writes per key, siblings, overwrites
constexpr std::uint64_t kLeaveRetryMs = 1'000;

bool SeesLeaving(Simulation& simulation, const std::string& leaver) {
  for (const std::string& address : simulation.live_addresses()) {
    const cluster::Member* member =
        NodeAt(simulation, address)->node().cluster_state().FindMember(leaver);
    if (member != nullptr && !cluster::IsActive(member->status)) return true;
  }
  return false;
}

// Asks for the leave until some live node has recorded it (the node that accepted it may crash
// before gossiping it), every kLeaveRetryMs until end_ms.
void ScheduleLeave(Simulation& simulation, KvWorkload& workload, const std::string& leaver,
                   std::uint64_t at_ms, std::uint64_t end_ms) {
  if (at_ms >= end_ms) return;
  simulation.Schedule(at_ms, "leave", [&simulation, &workload, leaver, at_ms, end_ms] {
    if (SeesLeaving(simulation, leaver)) return;
    workload.SubmitAdmin(node::ClusterLeaveRequest{leaver});
    ScheduleLeave(simulation, workload, leaver, at_ms + kLeaveRetryMs, end_ms);
  });
}

}  // namespace

// `reaping`: the "reaping" scenario's steps; `reap_interval_ms` its nodes' interval (0: the
// control, "reaping-off", which must fail). `partition_count` 0: the simulator's default.
ScenarioOutcome RunClusterKvWith(const ScenarioOptions& options, bool reaping,
                                 std::uint64_t reap_interval_ms,
                                 std::uint32_t partition_count = 0) {
  const std::vector<std::string> all_addresses = ScenarioAddresses(options.node_count + 1);
  const std::vector<std::string> addresses(all_addresses.begin(), all_addresses.end() - 1);
  const std::string joiner = all_addresses.back();
  ClusterLayout layout;
  layout.bootstrap_address = addresses.front();
  layout.seeds = addresses;  // joins try each initial node in turn
  layout.base = SimNodeConfig();
  if (reaping) {
    layout.base.reaping.interval_ms = reap_interval_ms;
    // Far below the workload's keys per node, so rounds run out of their scan budget and the
    // partitions left out are examined by the rounds after.
    layout.base.reaping.scan_keys_per_round_max = 16;
  }
  if (partition_count != 0) layout.base.partition_count = partition_count;
  layout.base.shard_count = options.shard_count;
  if (options.mixed_shards) {
    for (std::size_t i = 0; i < all_addresses.size(); ++i) {
      layout.shard_counts[all_addresses[i]] =
          1 + static_cast<std::uint32_t>(i) % options.shard_count;
    }
  }

  KvWorkloadConfig workload_config;
  for (std::uint32_t index = 0; index < kKeyCount; ++index) {
    workload_config.keys.push_back(fmt::format("k{:02}", index));
  }
  workload_config.write_options.dw = QuorumValue::Number(1);
  workload_config.require_durable = true;
  workload_config.lww = options.lww;
  workload_config.shard_count = options.shard_count;
  workload_config.shard_counts = layout.shard_counts;

  ReplySink sink;  // set below; outlives the simulation's processes
  SimulationConfig config;
  config.seed = options.seed;
  config.tick_interval_ms = layout.base.tick_interval_ms;
  Simulation simulation(config, NodeProcessFactory(layout, &sink));
  KvWorkload workload(simulation, std::move(workload_config));
  sink = [&workload](const std::string& address, node::ClientReply reply) {
    workload.OnReply(address, std::move(reply));
  };
  RingInvariants ring_invariants(simulation);
  simulation.AddInvariant("ring", [&] { return ring_invariants.Check(); });
  ReapWatch reap_watch(simulation, workload.config());

  NemesisConfig nemesis_config;  // every fault kind
  nemesis_config.crashed_max = 1;
  Nemesis nemesis(simulation, nemesis_config);

  SeededRandom plan_random = simulation.DeriveRandom("plan");
  const std::string leaver = addresses.size() >= 2
                                 ? addresses[1 + plan_random.Uniform(addresses.size() - 1)]
                                 : std::string();
  ExpectedMembers expected;
  for (const std::string& address : all_addresses) expected[address] = cluster::MemberStatus::kUp;
  if (!leaver.empty()) expected[leaver] = cluster::MemberStatus::kRemoved;
  Status status = FormCluster(simulation, addresses);
  if (status.ok()) {
    status = SetWorkloadBucketFromOptions(simulation, workload, options);
  }
  const std::uint64_t start_ms = simulation.now_ms();
  const std::uint64_t end_ms = start_ms + options.duration_ms;
  if (status.ok()) {
    workload.ScheduleOperations(end_ms);
    simulation.Schedule(start_ms + options.duration_ms / 4, "join", [&] {
      const Status added = simulation.AddProcess(joiner);
      if (!added.ok())
        simulation.Fail(fmt::format("{} did not start: {}", joiner, added.ToString()));
    });
    if (!leaver.empty()) {
      ScheduleLeave(simulation, workload, leaver, start_ms + options.duration_ms / 2, end_ms);
    }
    status = nemesis.RunSafetyPhase(options.duration_ms);
  }
  if (status.ok()) status = nemesis.HealEverything();
  if (status.ok() && !leaver.empty()) {
    const std::uint64_t now_ms = simulation.now_ms();
    ScheduleLeave(simulation, workload, leaver, now_ms, now_ms + options.liveness_ms_max);
  }
  if (status.ok() && reaping) {
    // Once the cluster converged: a read and a delete of every key (so there is something to reap
    // even when the run ended on puts), then every tombstone must go once the cluster is quiet; the
    // final reads below then check that reaping resurrected nothing.
    const auto settled = [&] {
      return !workload.AnyAnswerable() && CheckClusterConverged(simulation, expected).ok();
    };
    status = simulation.RunUntil(settled, simulation.now_ms() + options.liveness_ms_max);
    if (status.ok()) {
      workload.ReadEveryKey();
      status = simulation.RunUntil(settled, simulation.now_ms() + options.liveness_ms_max);
    }
    // Every superseded single-use entry goes too (the nodes prune from one: SimNodeConfig).
    if (status.ok()) status = reap_watch.AwaitPruned(options.liveness_ms_max);
    if (status.ok()) {
      workload.DeleteEveryKey();
      status = simulation.RunUntil(settled, simulation.now_ms() + options.liveness_ms_max);
    }
    if (status.ok()) status = reap_watch.AwaitNoTombstones(options.liveness_ms_max);
  }
  if (status.ok()) {
    status = FinishKvRun(
        simulation, workload, [&] { return CheckClusterConverged(simulation, expected); },
        options.liveness_ms_max);
  }
  if (status.ok() && reaping) status = reap_watch.CheckReaped();
  if (!status.ok() && !simulation.failure().has_value()) simulation.Fail(status.ToString());

  ScenarioOutcome outcome = OutcomeOf(simulation);
  outcome.fault_log = nemesis.log();
  outcome.fault_log.push_back(fmt::format("summary: joiner {} leaver {}; {}{}", joiner, leaver,
                                          KvCountersText(workload.counters()),
                                          reaping ? "; " + reap_watch.Summary() : ""));
  outcome.metrics["tombstones_reaped"] = reap_watch.reaped();
  outcome.metrics["objects_pruned"] = reap_watch.pruned();
  // Hedged forwarding (since each node's last start, so a lower bound under crashes).
  for (const std::string& address : simulation.live_addresses()) {
    if (NodeProcess* process = NodeAt(simulation, address); process != nullptr) {
      const node::NodeStats stats = process->node().Stats();
      outcome.metrics["forwards_fixed"] += stats.forwards_fixed;
      outcome.metrics["forwards_hedged"] += stats.forwards_hedged;
      outcome.metrics["forwards_hedged_unanswered"] += stats.forwards_hedged_unanswered;
      outcome.metrics["fixed_versions_refused"] += stats.fixed_versions_refused;
    }
  }
  return outcome;
}

ScenarioOutcome RunClusterKv(const ScenarioOptions& options) {
  return RunClusterKvWith(options, /*reaping=*/false, 0);
}

ScenarioOutcome RunReaping(const ScenarioOptions& options) {
  return RunClusterKvWith(options, /*reaping=*/true, kReapIntervalMs);
}

ScenarioOutcome RunReapingManyPartitions(const ScenarioOptions& options) {
  return RunClusterKvWith(options, /*reaping=*/true, kReapIntervalMs, kManyPartitions);
}

ScenarioOutcome RunReapingOff(const ScenarioOptions& options) {
  return RunClusterKvWith(options, /*reaping=*/true, /*reap_interval_ms=*/0);
}

}  // namespace meridian::sim
