// Replication scenarios on a fixed membership (no joins or leaves):
//
// "replication-strict": N nodes (5 by default); one bucket with n = 3, pr = pw = 2 (pr + pw > n:
// every read that succeeds overlaps every acknowledged write on a primary), dw = 2 and
// sloppy_quorum off; r = w = quorum (2). Random puts, deletes and gets through random live
// nodes (the cluster-kv workload) while the Nemesis crashes and restarts nodes (at most a
// minority down at once), partitions the network (two-way splits, one-way cuts, isolation),
// injects loss bursts and skews clocks. Requests that fail (Unavailable, Timeout) are allowed and
// counted. Checked: every successful read with KvHistory's strict checks (sees every write
// acknowledged before it was sent unless a write since covered it, returns nothing an
// acknowledged write had superseded, siblings only for concurrent writes); writes are
// acknowledged durable; after the heal the FinishKvRun checks (settled, no acknowledged write
// lost, replicas converged).
//
// "divergent-versions": the measurement of the Dynamo paper (DeCandia et al. 2007, section 6.3:
// the share of reads that see 1, 2, 3, 4+ versions). N nodes (5 by default), the bucket
// defaults n = 3, r = w = 2 (sloppy quorum), writes with dw = 1; kClients clients each loop
// get -> put with the get's context (read-modify-write) -> think time, on kKeyCount keys drawn
// Zipf-like (s = 1); a moderate Nemesis (a fault every 1-4 s: occasional crash and restart,
// brief partitions, loss bursts up to 10%, clock skew). Every successful read during the run is
// counted by the number of live siblings it returned (0 = not found, 1, 2, 3, 4+); the
// histogram is the summary line of the fault log (`meridian sim --verbose`) and the outcome's
// metrics. Reads are checked (siblings only for concurrent writes), and after the heal the
// FinishKvRun checks run. The knobs are --nodes and --duration-ms; the constants below are
// fixed. "divergent-versions-calm" is the same without any fault: the baseline that separates
// what concurrency alone causes from what faults add.
//
// "sloppy-writes": always-writable writes (w = 1, dw = 1, sloppy quorum) through random nodes,
// half of them blind (no context, so concurrent with everything), while one node (now and
// then another) is isolated for 8-12 s and healed for 5-8 s, again and again. A write
// at an isolated node for a key it is not a primary of is taken by that node as a fallback
// (a hint); after the heal the hint is delivered and dropped, and the next isolation makes the
// same node coordinate the same key again from nothing. Every dot it mints then must still be
// new: after the heal the FinishKvRun checks require every acknowledged write to survive (as a
// value or an ancestor of one) on identical replicas.
#include <fmt/format.h>

#include <algorithm>
#include <string>
#include <vector>

#include "core/assert.h"
#include "core/bucket_props.h"
#include "sim/cluster_scenarios.h"
#include "sim/cluster_scenarios_kv_workload.h"
#include "sim/nemesis.h"
#include "sim/seeded_random.h"

namespace meridian::sim {
namespace {

constexpr std::uint64_t kBucketSetupMsMax = 10'000;

constexpr std::string_view kStrictBucket = "strict";
constexpr std::uint32_t kStrictKeyCount = 24;

constexpr std::uint32_t kSloppyKeyCount = 12;
// An isolation lasts long enough for the failure detectors to notice it (so the isolated node
// takes writes as a fallback), a healed spell long enough for its hints to be delivered.
constexpr std::uint64_t kSloppyIsolatedMsMin = 8'000;
constexpr std::uint64_t kSloppyIsolatedMsMax = 12'000;
constexpr std::uint64_t kSloppyHealedMsMin = 5'000;
constexpr std::uint64_t kSloppyHealedMsMax = 8'000;

constexpr std::uint32_t kClients = 24;
constexpr std::uint32_t kKeyCount = 200;
constexpr std::uint64_t kThinkMsMin = 100;
constexpr std::uint64_t kThinkMsMax = 1'000;

// Whether every live node knows `bucket` with exactly `props`.
bool BucketKnownEverywhere(Simulation& simulation, const std::string& bucket,
                           const BucketProps& props) {
  for (const std::string& address : simulation.live_addresses()) {
    const cluster::BucketPropsRecord* record =
        NodeAt(simulation, address)->node().cluster_state().FindBucketProps(bucket);
    if (record == nullptr || record->props != props) return false;
  }
  return true;
}

struct Cluster {
  explicit Cluster(const ScenarioOptions& options, KvWorkloadConfig workload_config)
      : addresses(ScenarioAddresses(options.node_count)),
        simulation(MakeConfig(options), MakeFactory(addresses, options.shard_count, &sink)),
        workload(simulation, WithShards(std::move(workload_config), options.shard_count)),
        ring_invariants(simulation) {
    sink = [this](const std::string& address, node::ClientReply reply) {
      workload.OnReply(address, std::move(reply));
    };
    simulation.AddInvariant("ring", [this] { return ring_invariants.Check(); });
  }

  static KvWorkloadConfig WithShards(KvWorkloadConfig config, std::uint32_t shard_count) {
    config.shard_count = shard_count;
    return config;
  }
  static SimulationConfig MakeConfig(const ScenarioOptions& options) {
    SimulationConfig config;
    config.seed = options.seed;
    config.tick_interval_ms = SimNodeConfig().tick_interval_ms;
    return config;
  }
  static ProcessFactory MakeFactory(const std::vector<std::string>& addresses,
                                    std::uint32_t shard_count, const ReplySink* sink) {
    ClusterLayout layout;
    layout.bootstrap_address = addresses.front();
    layout.seeds = addresses;
    layout.base = SimNodeConfig();
    layout.base.shard_count = shard_count;
    return NodeProcessFactory(layout, sink);
  }

  std::vector<std::string> addresses;
  ReplySink sink;  // declared before the simulation: it outlives the processes
  Simulation simulation;
  KvWorkload workload;
  RingInvariants ring_invariants;
};

std::vector<std::string> KeyNames(std::uint32_t count) {
  std::vector<std::string> keys;
  for (std::uint32_t index = 0; index < count; ++index)
    keys.push_back(fmt::format("k{:03}", index));
  return keys;
}

// The common end of a run: heal every fault, then FinishKvRun with every node expected up;
// the first failure is recorded in the simulation. The outcome carries the nemesis' log.
ScenarioOutcome HealAndFinish(Cluster& cluster, Nemesis& nemesis, const ScenarioOptions& options,
                              Status status) {
  Simulation& simulation = cluster.simulation;
  if (status.ok()) status = nemesis.HealEverything();
  if (status.ok()) {
    const ExpectedMembers expected = AllUp(cluster.addresses);
    status = FinishKvRun(
        simulation, cluster.workload, [&] { return CheckClusterConverged(simulation, expected); },
        options.liveness_ms_max);
  }
  if (!status.ok() && !simulation.failure().has_value()) simulation.Fail(status.ToString());
  ScenarioOutcome outcome = OutcomeOf(simulation);
  outcome.fault_log = nemesis.log();
  return outcome;
}

}  // namespace

ScenarioOutcome RunReplicationStrict(const ScenarioOptions& options) {
  KvWorkloadConfig workload_config;
  workload_config.bucket = std::string(kStrictBucket);
  workload_config.keys = KeyNames(kStrictKeyCount);
  workload_config.require_durable = true;  // dw = 2
  workload_config.strict = true;
  Cluster cluster(options, std::move(workload_config));
  Simulation& simulation = cluster.simulation;
  KvWorkload& workload = cluster.workload;

  NemesisConfig nemesis_config;  // every fault kind
  nemesis_config.crashed_max = std::max<std::uint32_t>(1, (options.node_count - 1) / 2);
  Nemesis nemesis(simulation, nemesis_config);

  BucketPropsPatch patch;
  patch.n = 3;
  patch.pr = QuorumValue::Number(2);
  patch.pw = QuorumValue::Number(2);
  patch.dw = QuorumValue::Number(2);
  patch.sloppy_quorum = false;
  const Result<BucketProps> props = ApplyBucketPropsPatch(BucketProps{}, patch);
  MERIDIAN_CHECK(props.ok());

  Status status = FormCluster(simulation, cluster.addresses);
  if (status.ok()) {
    workload.SubmitAdmin(node::SetBucketRequest{std::string(kStrictBucket), patch});
    status = simulation.RunUntil(
        [&] {
          return workload.admin_succeeded() &&
                 BucketKnownEverywhere(simulation, std::string(kStrictBucket), *props);
        },
        simulation.now_ms() + kBucketSetupMsMax);
    if (!status.ok() && !simulation.failure().has_value()) {
      simulation.Fail("the strict bucket's properties did not reach every node");
    }
  }
  if (status.ok()) {
    workload.ScheduleOperations(simulation.now_ms() + options.duration_ms);
    status = nemesis.RunSafetyPhase(options.duration_ms);
  }
  ScenarioOutcome outcome = HealAndFinish(cluster, nemesis, options, status);
  outcome.fault_log.push_back("summary: " + KvCountersText(workload.counters()));
  return outcome;
}

namespace {

ScenarioOutcome RunDivergentVersionsWith(const ScenarioOptions& options, bool faults) {
  KvWorkloadConfig workload_config;  // the bucket defaults: n = 3, r = w = quorum (2)
  workload_config.keys = KeyNames(kKeyCount);
  // dw = 1: an acknowledged write survives crashes (the coordinator syncs), so "no acknowledged
  // write lost" is a fair check; the version counts do not depend on it.
  workload_config.write_options.dw = QuorumValue::Number(1);
  workload_config.require_durable = true;
  Cluster cluster(options, std::move(workload_config));
  Simulation& simulation = cluster.simulation;
  KvWorkload& workload = cluster.workload;

  NemesisConfig nemesis_config;  // moderate: a fault every 1-4 s, mostly short-lived
  nemesis_config.fault_interval_ms_min = 1'000;
  nemesis_config.fault_interval_ms_max = 4'000;
  nemesis_config.crashed_max = 1;
  nemesis_config.crash_weight = 1;
  nemesis_config.restart_weight = 3;
  nemesis_config.partition_weight = 1;
  nemesis_config.one_way_partition_weight = 0;
  nemesis_config.isolate_weight = 1;
  nemesis_config.heal_weight = 4;
  nemesis_config.loss_burst_weight = 1;
  nemesis_config.loss_end_weight = 2;
  nemesis_config.loss_burst_ppm_max = 100'000;
  nemesis_config.clock_skew_weight = 1;
  nemesis_config.clock_reset_weight = 1;
  Nemesis nemesis(simulation, nemesis_config);

  Status status = FormCluster(simulation, cluster.addresses);
  if (status.ok()) {
    workload.StartClients(kClients, simulation.now_ms() + options.duration_ms, kThinkMsMin,
                          kThinkMsMax);
    status = faults ? nemesis.RunSafetyPhase(options.duration_ms)
                    : simulation.RunFor(options.duration_ms);
  }
  ScenarioOutcome outcome = HealAndFinish(cluster, nemesis, options, status);
  const KvCounters& counters = workload.counters();
  outcome.fault_log.push_back(fmt::format("summary: {} clients, {} keys; {}; {}", kClients,
                                          kKeyCount, KvCountersText(counters),
                                          VersionHistogramText(counters)));
  outcome.metrics["reads"] = counters.reads;
  outcome.metrics["versions_0"] = counters.versions[0];
  outcome.metrics["versions_1"] = counters.versions[1];
  outcome.metrics["versions_2"] = counters.versions[2];
  outcome.metrics["versions_3"] = counters.versions[3];
  outcome.metrics["versions_4_or_more"] = counters.versions[4];
  return outcome;
}

}  // namespace

ScenarioOutcome RunSloppyWrites(const ScenarioOptions& options) {
  KvWorkloadConfig workload_config;  // the bucket defaults: n = 3, sloppy quorum
  workload_config.keys = KeyNames(kSloppyKeyCount);
  workload_config.write_options.w = QuorumValue::Number(1);
  workload_config.write_options.dw = QuorumValue::Number(1);
  workload_config.read_options.r = QuorumValue::Number(1);
  workload_config.require_durable = true;
  workload_config.blind_put_one_in = 1;
  Cluster cluster(options, std::move(workload_config));
  Simulation& simulation = cluster.simulation;
  Nemesis nemesis(simulation, NemesisConfig{});  // only its HealEverything

  Status status = FormCluster(simulation, cluster.addresses);
  std::vector<std::string> schedule;
  if (status.ok()) {
    const std::uint64_t end_ms = simulation.now_ms() + options.duration_ms;
    cluster.workload.ScheduleOperations(end_ms);
    SeededRandom random = simulation.DeriveRandom("isolation");
    // One victim, isolated again and again, so it coordinates the same keys as a fallback
    // after its earlier hints for them were delivered; now and then another node instead.
    const std::string victim = cluster.addresses[random.Uniform(cluster.addresses.size())];
    std::uint64_t at_ms = simulation.now_ms() + kSloppyHealedMsMin;
    while (at_ms < end_ms) {
      const std::string isolated = random.Uniform(4) == 0
                                       ? cluster.addresses[random.Uniform(cluster.addresses.size())]
                                       : victim;
      schedule.push_back(fmt::format("t={}ms isolate {}", at_ms, isolated));
      simulation.Schedule(at_ms, "isolate",
                          [&simulation, isolated] { simulation.Isolate(isolated); });
      at_ms += UniformBetween(random, kSloppyIsolatedMsMin, kSloppyIsolatedMsMax);
      schedule.push_back(fmt::format("t={}ms heal", at_ms));
      simulation.Schedule(at_ms, "heal", [&simulation] { simulation.Heal(); });
      at_ms += UniformBetween(random, kSloppyHealedMsMin, kSloppyHealedMsMax);
    }
    status = simulation.RunFor(options.duration_ms);
  }
  ScenarioOutcome outcome = HealAndFinish(cluster, nemesis, options, status);
  outcome.fault_log.insert(outcome.fault_log.begin(), schedule.begin(), schedule.end());
  outcome.fault_log.push_back("summary: " + KvCountersText(cluster.workload.counters()));
  return outcome;
}

ScenarioOutcome RunDivergentVersions(const ScenarioOptions& options) {
  return RunDivergentVersionsWith(options, /*faults=*/true);
}

ScenarioOutcome RunDivergentVersionsCalm(const ScenarioOptions& options) {
  return RunDivergentVersionsWith(options, /*faults=*/false);
}

}  // namespace meridian::sim
