// The cluster scenarios: the real node::Node (through NodeProcess) in the simulator, with
// checkers. Shared pieces of cluster_scenarios*.cc:
//   * RingInvariants — checked after every event: each live node's ring is well formed and
//     never goes backwards within one incarnation, and its own member record is current;
//   * CrashWatch — a crashed node must be marked down by every node that knew it within
//     detection_ms_max of virtual time, and stay down until it restarts;
//   * CheckClusterConverged — the liveness condition after the heal.
// See docs/design/simulator.md ("Cluster scenarios").
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "cluster/member.h"
#include "core/status.h"
#include "sim/node_process.h"
#include "sim/scenario.h"
#include "sim/simulation.h"

namespace meridian::sim {

// Registers "cluster-membership", "cluster-kv", "replication-strict", "divergent-versions",
// "divergent-versions-calm", "partition-recovery" and "partition-recovery-without-deadlines"
// (called by BuiltinScenarios()).
void RegisterClusterScenarios(ScenarioRegistry& registry);

// The NodeProcess at `address`; nullptr when it is down.
NodeProcess* NodeAt(Simulation& simulation, const std::string& address);

// Per-node ring and self-record checks; one instance per simulation (it remembers ring
// versions per incarnation). Use as an invariant: [&] { return invariants.Check(); }.
class RingInvariants {
 public:
  explicit RingInvariants(Simulation& simulation) : simulation_(simulation) {}
  Status Check();

 private:
  Simulation& simulation_;
  // (address, simulator incarnation) -> highest ring version seen.
  std::map<std::pair<std::string, std::uint64_t>, std::uint64_t> ring_version_seen_;
};

// Watches crashes through the simulation's trace and checks that failure detectors notice
// them. Install with simulation.SetTraceObserver([&](auto& r) { watch.OnTrace(r); }) and
// add Check() as an invariant.
class CrashWatch {
 public:
  CrashWatch(Simulation& simulation, std::uint64_t detection_ms_max)
      : simulation_(simulation), detection_ms_max_(detection_ms_max) {}

  void OnTrace(const TraceRecord& record);
  Status Check();

  // Crashes whose detection deadline passed while the node was still down (so checked).
  std::uint64_t detections_checked() const { return detections_checked_; }
  // The longest time from a crash until every observer considered the node down.
  std::uint64_t detection_ms_longest() const { return detection_ms_longest_; }

 private:
  struct Crash {
    std::uint64_t time_ms = 0;
    // Nodes that knew the crashed node as a member when it crashed, with their simulator
    // incarnation (an observer that restarts since is no longer held to the deadline).
    std::vector<std::pair<std::string, std::uint64_t>> observers;
    bool deadline_checked = false;
    bool detected = false;  // every observer considers it down
  };

  Simulation& simulation_;
  std::uint64_t detection_ms_max_;
  std::map<std::string, Crash> down_;  // crashed and not restarted yet, by address
  std::uint64_t detections_checked_ = 0;
  std::uint64_t detection_ms_longest_ = 0;
};

// What the converged cluster must look like: each member's final status. Every address listed
// must be up in the simulation, except members expected removed (they may be gone for good).
using ExpectedMembers = std::map<std::string, cluster::MemberStatus>;

// OK when every live node has the same cluster state (digest), the members have exactly the
// expected statuses, members that are not removed carry their node's current incarnation, the
// ring has no pending owners and every partition is owned by an up member, and every node
// considers every other non-removed member alive and reachable (not suspected). Otherwise the
// first difference found.
Status CheckClusterConverged(Simulation& simulation, const ExpectedMembers& expected);

// How long a scenario's cluster may take to form (and a new bucket property to spread).
inline constexpr std::uint64_t kFormationMsMax = 30'000;

// Every address expected up.
ExpectedMembers AllUp(const std::vector<std::string>& addresses);

// Starts a node at every address, in order, and runs until the cluster has formed
// (CheckClusterConverged with AllUp); on a timeout fails the simulation ("formation: ...").
Status FormCluster(Simulation& simulation, const std::vector<std::string>& addresses);

}  // namespace meridian::sim
