// Shared checkers of the cluster scenarios (cluster_scenarios.h) and their registration.
#include "sim/cluster_scenarios.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <functional>

#include "cluster/cluster_state.h"
#include "cluster/ring.h"

namespace meridian::sim {

// Defined in cluster_scenarios_membership.cc, cluster_scenarios_kv.cc and
// cluster_scenarios_replication.cc.
ScenarioOutcome RunClusterMembership(const ScenarioOptions& options);
ScenarioOutcome RunClusterKv(const ScenarioOptions& options);
ScenarioOutcome RunReaping(const ScenarioOptions& options);
ScenarioOutcome RunReapingOff(const ScenarioOptions& options);
ScenarioOutcome RunReapingManyPartitions(const ScenarioOptions& options);
ScenarioOutcome RunReplicationStrict(const ScenarioOptions& options);
ScenarioOutcome RunDivergentVersions(const ScenarioOptions& options);
ScenarioOutcome RunDivergentVersionsCalm(const ScenarioOptions& options);
ScenarioOutcome RunSloppyWrites(const ScenarioOptions& options);
// Defined in cluster_scenarios_anti_entropy.cc.
ScenarioOutcome RunAntiEntropy(const ScenarioOptions& options);
ScenarioOutcome RunAntiEntropyOff(const ScenarioOptions& options);
// Defined in cluster_scenarios_recovery.cc.
ScenarioOutcome RunPartitionRecovery(const ScenarioOptions& options);
ScenarioOutcome RunPartitionRecoveryWithoutDeadlines(const ScenarioOptions& options);

namespace {

// `run` with its options changed by `change` first.
ScenarioFunction WithOptions(ScenarioFunction run, std::function<void(ScenarioOptions&)> change) {
  return [run = std::move(run), change = std::move(change)](const ScenarioOptions& options) {
    ScenarioOptions changed = options;
    change(changed);
    return run(changed);
  };
}

// `run` with every node split into `shards` shards.
ScenarioFunction WithShards(ScenarioFunction run, std::uint32_t shards) {
  return WithOptions(std::move(run), [shards](ScenarioOptions& o) { o.shard_count = shards; });
}

// `run` with the i-th node split into 1 + i mod `shards` shards.
ScenarioFunction WithMixedShards(ScenarioFunction run, std::uint32_t shards) {
  return WithOptions(std::move(run), [shards](ScenarioOptions& o) {
    o.shard_count = shards;
    o.mixed_shards = true;
  });
}

// `run` with `nodes` initial nodes, whatever --nodes says.
ScenarioFunction WithNodes(ScenarioFunction run, std::uint32_t nodes) {
  return WithOptions(std::move(run), [nodes](ScenarioOptions& o) { o.node_count = nodes; });
}

// `run` with the workload's bucket of `n` replicas beside the default bucket's.
ScenarioFunction WithBucketReplicas(ScenarioFunction run, std::uint32_t n) {
  return WithOptions(std::move(run), [n](ScenarioOptions& o) { o.bucket_n = n; });
}

// `run` with the workload's bucket set to conflict_policy = lww.
ScenarioFunction WithLastWriteWins(ScenarioFunction run) {
  return WithOptions(std::move(run), [](ScenarioOptions& o) { o.lww = true; });
}

}  // namespace

void RegisterClusterScenarios(ScenarioRegistry& registry) {
  registry.Add("cluster-membership",
               "real nodes join, then crashes/partitions/loss/skew; failure detection within "
               "10 s, restarts seen alive, one cluster state and ring after the heal",
               RunClusterMembership);
  registry.Add("cluster-kv",
               "real nodes (n=3 replicas) under a KV workload with a join and a leave, crashes, "
               "partitions, loss and skew; after the heal no acknowledged write lost, siblings "
               "only for concurrent writes, replicas identical",
               RunClusterKv);
  registry.Add("cluster-kv-shards",
               "cluster-kv with every node split into two shards (a shell and a follower, each "
               "over its own key space), the router and the shell's views between them",
               WithShards(RunClusterKv, 2));
  registry.Add("cluster-kv-lww",
               "cluster-kv on a bucket with conflict_policy=lww: every read returns at most one "
               "value, never one an acknowledged write's context superseded, and after the heal "
               "each key holds a value no acknowledged write superseded (or a delete)",
               WithLastWriteWins(RunClusterKv));
  registry.Add("cluster-kv-n1",
               "cluster-kv on a bucket of n=1 beside the default n=3: each key stays on its one "
               "primary through joins, leaves, fills, hand-offs and faults",
               WithBucketReplicas(RunClusterKv, 1));
  registry.Add("cluster-kv-n2",
               "cluster-kv on a bucket of n=2 beside the default n=3: each key's copies converge "
               "on its own two primaries and nowhere else",
               WithBucketReplicas(RunClusterKv, 2));
  registry.Add("reaping",
               "cluster-kv with tombstone reaping every second (join, leave, crashes, "
               "partitions, loss, skew); after the heal every key is read and deleted, every "
               "tombstone must be reaped, and the final reads find nothing resurrected",
               RunReaping);
  registry.Add("reaping-n1",
               "reaping on a bucket of n=1 beside the default n=3: each key's tombstone is "
               "proposed by its one primary, and reaped",
               WithBucketReplicas(RunReaping, 1));
  registry.Add("reaping-n2",
               "reaping on a bucket of n=2 beside the default n=3: each key's tombstone is "
               "proposed by the smaller id of its own two primaries, in sync with the other",
               WithBucketReplicas(RunReaping, 2));
  registry.Add("reaping-many-partitions",
               "reaping with the production ring size (256 partitions, ~64 per node): every "
               "partition's anti-entropy and reaping must still get their turn (a per-partition "
               "starvation of background slots once stalled reaping with real processes only)",
               RunReapingManyPartitions);
  registry.Add("reaping-shards",
               "reaping with every node split into two shards: each shard runs the rounds of its "
               "own partitions and takes part in others' with its own snapshot and markers",
               WithShards(RunReaping, 2));
  registry.Add("reaping-mixed-shards",
               "reaping with nodes of one, two and three shards: a round's partitions belong to "
               "one shard of every member, grouped by each member's gossiped shard count",
               WithMixedShards(RunReaping, 3));
  registry.Add("reaping-many-partitions-shards",
               "reaping-many-partitions with every node split into three shards",
               WithShards(RunReapingManyPartitions, 3));
  registry.Add("reaping-two-nodes",
               "reaping in a cluster smaller than the buckets' n (two nodes, a third joining and "
               "one leaving; --nodes is ignored): every partition's primaries are all the "
               "members, and its anti-entropy tree is still the bucket's n",
               WithNodes(RunReaping, 2));
  registry.Add("reaping-off",
               "reaping with reaping switched off: broken on purpose, tombstones stay and it "
               "fails",
               RunReapingOff);
  registry.Add("replication-strict",
               "a strict-quorum bucket (n=3, pr=pw=2, dw=2, no sloppy quorum) under crashes, "
               "partitions, loss and skew; every read sees the writes acknowledged before it",
               RunReplicationStrict);
  registry.Add("sloppy-writes",
               "always-writable blind writes (w=1) through isolated nodes taking them as "
               "fallbacks, hints delivered between isolations; no acknowledged write lost",
               RunSloppyWrites);
  registry.Add("sloppy-writes-shards", "sloppy-writes with every node split into two shards",
               WithShards(RunSloppyWrites, 2));
  registry.Add("anti-entropy",
               "w=1 writes and deletes, no reads, under crashes, partitions and loss; after the "
               "heal every replica of every key converges without any read (hints and "
               "anti-entropy alone) within two exchange rounds",
               RunAntiEntropy);
  registry.Add("anti-entropy-n2",
               "anti-entropy on a bucket of n=2 beside the default n=3: the trees of each "
               "replica count converge their keys' own primaries and copy nothing elsewhere",
               WithBucketReplicas(RunAntiEntropy, 2));
  registry.Add("anti-entropy-off",
               "anti-entropy with anti-entropy switched off: broken on purpose, replicas that "
               "nothing reads stay divergent and fail it",
               RunAntiEntropyOff);
  registry.Add("divergent-versions",
               "read-modify-write clients on Zipf keys (n=3, r=w=2) with moderate faults; "
               "histogram of the versions each read sees (Dynamo paper, section 6.3)",
               RunDivergentVersions);
  registry.Add("divergent-versions-calm",
               "divergent-versions without faults: the versions concurrency alone causes",
               RunDivergentVersionsCalm);
  registry.Add("partition-recovery",
               "one node isolated for 5, 15, 30 and 60 s in turn; after each heal every node sees "
               "every other alive and a w=2 write through the healed node succeeds within 2 "
               "gossip intervals + the failure detector's window",
               RunPartitionRecovery);
  registry.Add("partition-recovery-without-deadlines",
               "partition-recovery with connections that have no heartbeats or deadlines (the "
               "transport before issue 10): broken on purpose, stalled connections fail it",
               RunPartitionRecoveryWithoutDeadlines);
}

NodeProcess* NodeAt(Simulation& simulation, const std::string& address) {
  return simulation.FindProcessAs<NodeProcess>(address);
}

Status RingInvariants::Check() {
  for (const std::string& address : simulation_.live_addresses()) {
    const NodeProcess* process = NodeAt(simulation_, address);
    if (process == nullptr) continue;
    const node::Node& node = process->node();
    const cluster::ClusterState& state = node.cluster_state();
    const cluster::Ring& ring = state.ring();

    const cluster::Member* self = state.FindMember(address);
    if (self == nullptr)
      return Status::Internal(fmt::format("{} has no record of itself", address));
    // A removed member that restarts keeps the incarnation the cluster knows (its raised one
    // goes only into a join request: cluster::Membership's constructor).
    if (self->status != cluster::MemberStatus::kRemoved &&
        self->incarnation != node.incarnation()) {
      return Status::Internal(
          fmt::format("{} runs incarnation {} but its record says {} ({}, version {})", address,
                      node.incarnation(), self->incarnation,
                      cluster::MemberStatusName(self->status), self->version));
    }

    auto& seen = ring_version_seen_[{address, simulation_.IncarnationOf(address)}];
    if (ring.version() < seen) {
      return Status::Internal(
          fmt::format("{}'s ring went back from version {} to {}", address, seen, ring.version()));
    }
    seen = ring.version();
    if (ring.version() == 0) continue;  // not part of a cluster yet

    for (std::uint32_t partition = 0; partition < ring.partition_count(); ++partition) {
      const cluster::NodeId& owner = ring.Owner(partition);
      const std::optional<cluster::NodeId> pending = ring.PendingOwner(partition);
      if (owner.empty()) {
        return Status::Internal(fmt::format("{}'s ring v{} leaves partition {} unowned", address,
                                            ring.version(), partition));
      }
      if (state.FindMember(owner) == nullptr) {
        return Status::Internal(
            fmt::format("{}'s ring v{}: partition {} is owned by {}, which "
                        "is not a member it knows",
                        address, ring.version(), partition, owner));
      }
      if (pending && (*pending == owner || state.FindMember(*pending) == nullptr)) {
        return Status::Internal(
            fmt::format("{}'s ring v{}: partition {} has owner {} and pending owner {}", address,
                        ring.version(), partition, owner, *pending));
      }
    }
  }
  return Status::Ok();
}

void CrashWatch::OnTrace(const TraceRecord& record) {
  if (record.kind == TraceKind::kRestart) {
    down_.erase(std::string(record.from));
    return;
  }
  if (record.kind != TraceKind::kCrash) return;
  const std::string crashed(record.from);
  Crash crash;
  crash.time_ms = record.time_ms;
  for (const std::string& address : simulation_.live_addresses()) {
    const NodeProcess* process = NodeAt(simulation_, address);
    if (process == nullptr) continue;
    const cluster::Member* member = process->node().cluster_state().FindMember(crashed);
    if (member != nullptr && member->status != cluster::MemberStatus::kRemoved) {
      crash.observers.emplace_back(address, simulation_.IncarnationOf(address));
    }
  }
  down_[crashed] = std::move(crash);
}

Status CrashWatch::Check() {
  for (auto& [crashed, crash] : down_) {
    if (!crash.detected) {
      bool all_see_down = true;
      for (const auto& [observer, incarnation] : crash.observers) {
        const NodeProcess* process = NodeAt(simulation_, observer);
        if (process != nullptr && simulation_.IncarnationOf(observer) == incarnation &&
            process->node().IsAlive(crashed)) {
          all_see_down = false;
        }
      }
      if (all_see_down) {
        crash.detected = true;
        detection_ms_longest_ =
            std::max(detection_ms_longest_, simulation_.now_ms() - crash.time_ms);
      }
    }
    if (simulation_.now_ms() < crash.time_ms + detection_ms_max_) continue;
    if (!crash.deadline_checked) {
      crash.deadline_checked = true;
      ++detections_checked_;
    }
    for (const auto& [observer, incarnation] : crash.observers) {
      if (simulation_.IncarnationOf(observer) != incarnation) continue;  // restarted since
      const NodeProcess* process = NodeAt(simulation_, observer);
      if (process == nullptr) continue;  // down itself
      if (process->node().IsAlive(crashed)) {
        return Status::Internal(fmt::format(
            "{} still considers {} alive {} ms after it crashed (at t={}ms; limit {} ms)", observer,
            crashed, simulation_.now_ms() - crash.time_ms, crash.time_ms, detection_ms_max_));
      }
    }
  }
  return Status::Ok();
}

Status CheckClusterConverged(Simulation& simulation, const ExpectedMembers& expected) {
  const std::vector<std::string> live = simulation.live_addresses();
  for (const auto& [address, status] : expected) {
    // A removed member may be gone for good (crashed, then removed).
    if (status != cluster::MemberStatus::kRemoved && !simulation.IsUp(address)) {
      return Status::Internal(fmt::format("{} is down", address));
    }
  }
  if (live.empty()) return Status::Internal("no node is up");
  const cluster::ClusterState& reference = NodeAt(simulation, live.front())->node().cluster_state();
  for (const std::string& address : live) {
    const node::Node& node = NodeAt(simulation, address)->node();
    if (node.cluster_state().DigestHash() != reference.DigestHash()) {
      return Status::Internal(
          fmt::format("{} and {} hold different cluster states (rings v{} "
                      "and v{})",
                      live.front(), address, reference.ring().version(),
                      node.cluster_state().ring().version()));
    }
  }

  std::set<cluster::NodeId> up_members;
  for (const auto& member : reference.members()) {
    const auto wanted = expected.find(member->id);
    if (wanted == expected.end()) {
      return Status::Internal(fmt::format("unexpected member {}", member->id));
    }
    if (member->status != wanted->second) {
      // Say what holds it back: the partitions it still owns or receives.
      const cluster::Ring& ring = reference.ring();
      std::vector<std::string> held;
      for (std::uint32_t partition = 0; partition < ring.partition_count(); ++partition) {
        const auto pending = ring.PendingOwner(partition);
        if (ring.Owner(partition) == member->id || (pending && *pending == member->id)) {
          held.push_back(
              fmt::format("{}:{}->{}", partition, ring.Owner(partition), pending.value_or("-")));
        }
      }
      return Status::Internal(fmt::format("member {} is {}, expected {} (ring v{}; holds [{}])",
                                          member->id, cluster::MemberStatusName(member->status),
                                          cluster::MemberStatusName(wanted->second), ring.version(),
                                          fmt::join(held, " ")));
    }
    if (member->status == cluster::MemberStatus::kRemoved) continue;
    const std::uint64_t incarnation = NodeAt(simulation, member->id)->node().incarnation();
    if (member->incarnation != incarnation) {
      return Status::Internal(fmt::format("the cluster records {} at incarnation {}, it runs {}",
                                          member->id, member->incarnation, incarnation));
    }
    if (member->status == cluster::MemberStatus::kUp) up_members.insert(member->id);
  }
  if (reference.members().size() != expected.size()) {
    return Status::Internal(
        fmt::format("{} members, expected {}", reference.members().size(), expected.size()));
  }

  const cluster::Ring& ring = reference.ring();
  for (std::uint32_t partition = 0; partition < ring.partition_count(); ++partition) {
    if (const auto pending = ring.PendingOwner(partition)) {
      return Status::Internal(fmt::format("partition {} is still moving from {} to {}", partition,
                                          ring.Owner(partition), *pending));
    }
    if (!up_members.contains(ring.Owner(partition))) {
      return Status::Internal(fmt::format("partition {} is owned by {}, not an up member",
                                          partition, ring.Owner(partition)));
    }
  }

  for (const std::string& observer : live) {
    const NodeProcess& process = *NodeAt(simulation, observer);
    for (const cluster::NodeId& member : up_members) {
      if (!process.node().IsAlive(member)) {
        return Status::Internal(fmt::format("{} considers {} down", observer, member));
      }
      // Alive by gossip but still suspected (nothing heard from it directly since a request
      // went unanswered): routing would pass it over, e.g. a final r=all read would count a
      // fallback instead of it. A probe clears it within a round trip of the heal. Every shard
      // routes by its own suspicions (a follower's stay its own until a view or an answer
      // clears them), so each is asked.
      for (std::size_t s = 0; s < process.shard_count(); ++s) {
        if (!process.shard(s).Reachable(member)) {
          return Status::Internal(
              fmt::format("{} (shard {}) still suspects {}", observer, s, member));
        }
      }
    }
  }
  return Status::Ok();
}

ExpectedMembers AllUp(const std::vector<std::string>& addresses) {
  ExpectedMembers expected;
  for (const std::string& address : addresses) expected[address] = cluster::MemberStatus::kUp;
  return expected;
}

Status FormCluster(Simulation& simulation, const std::vector<std::string>& addresses) {
  for (const std::string& address : addresses) {
    MERIDIAN_RETURN_IF_ERROR(simulation.AddProcess(address));
  }
  const ExpectedMembers expected = AllUp(addresses);
  const Status status =
      simulation.RunUntil([&] { return CheckClusterConverged(simulation, expected).ok(); },
                          simulation.now_ms() + kFormationMsMax);
  if (!status.ok() && !simulation.failure().has_value()) {
    simulation.Fail("formation: " + CheckClusterConverged(simulation, expected).message());
  }
  return status;
}

}  // namespace meridian::sim
