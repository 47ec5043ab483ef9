// "partition-recovery": how fast a healed cluster is whole again (issue 10, item 3). N real nodes
// (5 by default) form a cluster; then, for partitions of 5, 15, 30 and 60 s in turn, one node
// (drawn from the seed) is cut off from all others, the network heals, and the run waits until
// every node considers every other alive AND a put with w = 2 submitted through the healed node
// after the heal has succeeded. Both must happen within RecoveryBoundMs() of the heal — two
// gossip intervals plus the failure detector's window — or the run fails, naming what is still
// missing. The simulated network models connections that stall through a partition
// (sim/link_stall.h) with the transport's own deadline logic (cluster::LinkMonitor), so this
// checks the transport's recovery, not only the protocols'.
//
// "partition-recovery-without-deadlines" is the same with the network modelling the transport
// before heartbeats and deadlines (LinkStallConfig::WithoutTransportDeadlines): broken on
// purpose, it fails on the 15 s partition because the stalled connections wait for TCP's next
// retransmission — the bug, as the simulator now sees it.
//
// Measurements (ScenarioOutcome::metrics, and the fault log): alive_ms_after_<D> and
// write_ms_after_<D>, the times from the heal of the D ms partition.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/assert.h"
#include "core/quorum.h"
#include "sim/cluster_scenarios.h"

namespace meridian::sim {
namespace {

constexpr std::uint64_t kPartitionsMs[] = {5'000, 15'000, 30'000, 60'000};
// Calm time between two partitions, so each starts from a settled cluster.
constexpr std::uint64_t kSettleMs = 5'000;
// A new probe write is submitted this often after the heal (several may be in flight: a write
// sent too early waits for its coordinator's timeout, which must not delay the next one).
constexpr std::uint64_t kProbeIntervalMs = 250;

// The liveness bound of issue 10 item 3: two gossip intervals plus the failure detector's window
// (one heartbeat interval plus the pause it forgives). 2 * 1 s + 1 s + 3 s = 6 s with the
// simulator's node defaults.
std::uint64_t RecoveryBoundMs(const node::NodeConfig& config) {
  const cluster::FailureDetectorConfig& detector = config.failure_detector;
  return 2 * config.gossip_interval_ms + detector.heartbeat_interval_ms +
         detector.phi.acceptable_heartbeat_pause_ms;
}

// Observers that consider some other node down, as "observer:down,down" entries.
std::vector<std::string> DownViews(Simulation& simulation,
                                   const std::vector<std::string>& addresses) {
  std::vector<std::string> views;
  for (const std::string& observer : addresses) {
    std::vector<std::string> down;
    for (const std::string& other : addresses) {
      if (other != observer && !NodeAt(simulation, observer)->node().IsAlive(other)) {
        down.push_back(other);
      }
    }
    if (!down.empty())
      views.push_back(fmt::format("{} sees {} down", observer, fmt::join(down, ",")));
  }
  return views;
}

// Puts with w = 2 through one node, every kProbeIntervalMs while active; remembers when the
// first one succeeded.
class WriteProbe {
 public:
  explicit WriteProbe(Simulation& simulation) : simulation_(simulation) {}

  void Start(const std::string& address) {
    address_ = address;
    succeeded_at_ms_.reset();
    last_error_ = "no reply yet";
    ++round_;
    SubmitAndReschedule(round_);
  }
  void Stop() { ++round_; }  // pending callbacks of the old round do nothing

  void OnReply(const std::string& address, const node::ClientReply& reply) {
    if (address != address_ || !in_flight_.contains(reply.id)) return;
    in_flight_.erase(reply.id);
    if (!reply.status.ok()) {
      last_error_ = reply.status.ToString();
      return;
    }
    if (!succeeded_at_ms_) succeeded_at_ms_ = simulation_.now_ms();
  }

  const std::optional<std::uint64_t>& succeeded_at_ms() const { return succeeded_at_ms_; }
  const std::string& last_error() const { return last_error_; }

 private:
  void SubmitAndReschedule(std::uint64_t round) {
    if (round != round_ || succeeded_at_ms_) return;
    const node::RequestId id = next_id_++;
    node::PutRequest put;
    put.id = ObjectId{std::string(kDefaultBucket), fmt::format("probe-{}", id)};
    put.value = "v";
    put.options.w = QuorumValue::Number(2);
    if (simulation_.Invoke(address_, "probe-put", [&](Process& process) {
          static_cast<NodeProcess&>(process).Submit(id, std::move(put));
        })) {
      in_flight_[id] = simulation_.now_ms();
    }
    simulation_.Schedule(simulation_.now_ms() + kProbeIntervalMs, "probe",
                         [this, round] { SubmitAndReschedule(round); });
  }

  Simulation& simulation_;
  std::string address_;
  std::uint64_t round_ = 0;
  node::RequestId next_id_ = 1;
  std::map<node::RequestId, std::uint64_t> in_flight_;  // id -> submitted at
  std::optional<std::uint64_t> succeeded_at_ms_;
  std::string last_error_;
};

// Isolates `victim` for partition_ms, heals, and waits for recovery within the bound. Records
// the measurements; fails the simulation when the bound passes.
Status PartitionAndRecover(Simulation& simulation, const std::vector<std::string>& addresses,
                           const std::string& victim, std::uint64_t partition_ms,
                           std::uint64_t bound_ms, WriteProbe& probe, ScenarioOutcome& outcome) {
  simulation.Isolate(victim);
  MERIDIAN_RETURN_IF_ERROR(simulation.RunFor(partition_ms));
  simulation.Heal();
  const std::uint64_t healed_at_ms = simulation.now_ms();
  probe.Start(victim);
  std::optional<std::uint64_t> all_alive_at_ms;
  auto recovered = [&] {
    if (!all_alive_at_ms && DownViews(simulation, addresses).empty()) {
      all_alive_at_ms = simulation.now_ms();
    }
    return all_alive_at_ms.has_value() && probe.succeeded_at_ms().has_value();
  };
  const Status status = simulation.RunUntil(recovered, healed_at_ms + bound_ms);
  probe.Stop();
  if (!status.ok()) {
    if (!simulation.failure().has_value()) {
      const std::vector<std::string> down = DownViews(simulation, addresses);
      simulation.Fail(fmt::format(
          "after a {} ms partition of {}: not recovered within {} ms of the heal (2 gossip "
          "intervals + the failure detector's window): {}; write through {}: {}",
          partition_ms, victim, bound_ms,
          down.empty() ? "all alive" : fmt::format("{}", fmt::join(down, "; ")), victim,
          probe.succeeded_at_ms() ? "succeeded" : probe.last_error()));
    }
    return status;
  }
  const std::uint64_t alive_ms = *all_alive_at_ms - healed_at_ms;
  const std::uint64_t write_ms = *probe.succeeded_at_ms() - healed_at_ms;
  outcome.metrics[fmt::format("alive_ms_after_{}", partition_ms)] = alive_ms;
  outcome.metrics[fmt::format("write_ms_after_{}", partition_ms)] = write_ms;
  outcome.fault_log.push_back(
      fmt::format("partition of {} for {} ms: all alive {} ms and a w=2 write through it {} ms "
                  "after the heal (bound {} ms)",
                  victim, partition_ms, alive_ms, write_ms, bound_ms));
  return Status::Ok();
}

ScenarioOutcome RunPartitionRecoveryWith(const ScenarioOptions& options, LinkStallConfig stalls) {
  const std::vector<std::string> addresses = ScenarioAddresses(options.node_count);
  ClusterLayout layout;
  layout.bootstrap_address = addresses.front();
  layout.seeds = {addresses.front()};
  layout.base = SimNodeConfig();
  const std::uint64_t bound_ms = RecoveryBoundMs(layout.base);

  SimulationConfig config;
  config.seed = options.seed;
  config.tick_interval_ms = layout.base.tick_interval_ms;
  config.network.stalls = std::move(stalls);
  ReplySink sink;  // declared before the simulation: it outlives the processes
  Simulation simulation(config, NodeProcessFactory(layout, &sink));
  WriteProbe probe(simulation);
  sink = [&](const std::string& address, node::ClientReply reply) {
    probe.OnReply(address, reply);
  };
  RingInvariants ring_invariants(simulation);
  simulation.AddInvariant("ring", [&] { return ring_invariants.Check(); });

  ScenarioOutcome outcome;
  Status status = FormCluster(simulation, addresses);
  SeededRandom victims = simulation.DeriveRandom("victims");
  for (const std::uint64_t partition_ms : kPartitionsMs) {
    if (!status.ok()) break;
    status = simulation.RunFor(kSettleMs);
    if (!status.ok()) break;
    const std::string victim = addresses[victims.Uniform(addresses.size())];
    status =
        PartitionAndRecover(simulation, addresses, victim, partition_ms, bound_ms, probe, outcome);
  }
  if (!status.ok() && !simulation.failure().has_value()) simulation.Fail(status.ToString());

  ScenarioOutcome result = OutcomeOf(simulation);
  result.metrics = std::move(outcome.metrics);
  result.fault_log = std::move(outcome.fault_log);
  return result;
}

}  // namespace

ScenarioOutcome RunPartitionRecovery(const ScenarioOptions& options) {
  return RunPartitionRecoveryWith(options, LinkStallConfig{});
}

ScenarioOutcome RunPartitionRecoveryWithoutDeadlines(const ScenarioOptions& options) {
  return RunPartitionRecoveryWith(options, LinkStallConfig::WithoutTransportDeadlines());
}

}  // namespace meridian::sim
