// FailureDetector: one node's local opinion of which peers are up, by heartbeat ping/pong and a
// PhiAccrualDetector per monitored peer. The opinion is for routing only (prefer peers that
// answer); it never changes ownership, which only an explicit leave/remove does.
//
// Who is monitored (SelectMonitoredPeers): every other member while the cluster has at most
// monitored_peers_max members; in a larger cluster the k = monitored_peers_when_large
// successors of this node on a ring of members ordered by xxh3(node id). Every node then
// watches exactly k peers and is watched by exactly its k predecessors, so heartbeat traffic per
// node stays constant as the cluster grows. Opinions about unmonitored peers must come from
// elsewhere (gossip); here they are "no evidence of failure" (IsAlive true, Phi 0).
//
// Protocol: every heartbeat_interval_ms, Tick() emits a HeartbeatPing to each monitored peer.
// Any node answers a ping with a HeartbeatPong (also to senders outside its peer set). The
// arrival of a ping or a pong from a monitored peer is a heartbeat of that peer; from anyone else
// it creates no state (state is O(monitored peers), not O(cluster size)). A peer becomes
// monitored at the first Tick() after it was selected: from then on phi grows until it answers,
// so a peer that never answers is declared down too (after the first heartbeat estimate plus the
// acceptable pause, about 5.3 s with the defaults).
//
// Incarnations: a node that restarts comes back with a higher incarnation. A ping or pong with a
// higher incarnation than last seen clears that peer's history and counts as its first heartbeat
// (alive at once), so a stale "down" is refuted immediately; SetPeers() with a higher
// incarnation clears the history too (monitoring restarts at the next Tick()). Messages with a
// lower incarnation come from a previous life and are ignored (pings are still answered).
//
// Sans-IO: time comes in as now_ms (a monotonic clock), messages leave through TakeOutbound().
// Not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "cluster/node_id.h"
#include "cluster/outbound.h"
#include "cluster/phi_accrual.h"
#include "core/status.h"
#include "proto/peer.pb.h"

namespace meridian::cluster {

struct FailureDetectorConfig {
  std::uint64_t heartbeat_interval_ms = 1000;
  // Cluster size (members including this node) up to which every member monitors every other.
  std::size_t monitored_peers_max = 64;
  // Peers each node monitors in a larger cluster (k): its successors in xxh3(node id) order.
  std::size_t monitored_peers_when_large = 8;
  // first_heartbeat_estimate_ms should equal heartbeat_interval_ms.
  PhiAccrualConfig phi;
};

// InvalidArgument naming the setting out of range.
Status ValidateFailureDetectorConfig(const FailureDetectorConfig& config);

// A cluster member as the failure detector needs it.
struct FailureDetectorPeer {
  NodeId id;
  std::string address;  // "host:port" for Outbound
  std::uint64_t incarnation = 0;
};

// The ids `self` monitors among `members` (which may include self; duplicates are ignored),
// sorted by id. Deterministic: every node computes the same relation from the same member list.
std::vector<NodeId> SelectMonitoredPeers(const NodeId& self, const std::vector<NodeId>& members,
                                         std::size_t monitored_peers_max,
                                         std::size_t monitored_peers_when_large);

class FailureDetector {
 public:
  // Requires ValidateFailureDetectorConfig(config).ok() and a valid self_id.
  FailureDetector(NodeId self_id, std::uint64_t self_incarnation,
                  const FailureDetectorConfig& config = {});

  // The current membership (this node may be included; it is skipped). Recomputes the
  // monitored set; peers no longer monitored (left, or moved out of the selection) lose their
  // history.
  void SetPeers(const std::vector<FailureDetectorPeer>& peers);
  // This node's incarnation, carried in every ping and pong from now on.
  void SetSelfIncarnation(std::uint64_t incarnation);

  // Advances time: pings every monitored peer when a heartbeat interval has passed since the
  // last round, and starts the clock for newly monitored peers.
  void Tick(std::uint64_t now_ms);
  // A message from the node listening at from_address. Handles heartbeat_ping and
  // heartbeat_pong bodies; returns InvalidArgument for other bodies or a ping/pong without a
  // valid from_id.
  Status Receive(const std::string& from_address, const proto::PeerMessage& message,
                 std::uint64_t now_ms);
  // Messages produced since the last call, in production order.
  std::vector<Outbound> TakeOutbound();

  // Local opinion. For an id that is not monitored: IsAlive true, Phi 0.
  bool IsAlive(const NodeId& id, std::uint64_t now_ms) const;
  double Phi(const NodeId& id, std::uint64_t now_ms) const;
  // Monitored peers whose phi is at or above the threshold, sorted by id.
  std::vector<NodeId> DownPeers(std::uint64_t now_ms) const;
  bool IsMonitored(const NodeId& id) const;
  // Sorted by id.
  std::vector<NodeId> MonitoredPeers() const;

  const NodeId& self_id() const { return self_id_; }
  std::uint64_t self_incarnation() const { return self_incarnation_; }
  const FailureDetectorConfig& config() const { return config_; }

 private:
  struct PeerState {
    std::string address;
    std::uint64_t incarnation = 0;  // highest seen (SetPeers or messages)
    bool clock_started = false;     // ExpectHeartbeatFrom() done since (re)monitoring began
    PhiAccrualDetector detector;
  };

  void RecordArrival(const NodeId& from_id, std::uint64_t incarnation, std::uint64_t now_ms);

  NodeId self_id_;
  std::uint64_t self_incarnation_;
  FailureDetectorConfig config_;
  // Monitored peers only: memory is O(k), not O(cluster size).
  std::unordered_map<NodeId, PeerState> peers_;
  std::uint64_t next_sequence_ = 1;
  std::uint64_t next_round_ms_ = 0;
  bool ticked_ = false;
  std::vector<Outbound> outbound_;
};

}  // namespace meridian::cluster
