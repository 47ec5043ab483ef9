// Claim: decides which node should own each partition. Dynamo's "strategy 3" (equal
// partitions) with capacity weights and zones, as in Riak's claim:
//   * each node's share of partitions is proportional to its weight (within a few percent
//     once nodes hold 64+ partitions each);
//   * consecutive partitions go to distinct nodes, and to distinct zones where the zones
//     allow, so a preference list of `n_val` consecutive partitions spans n_val nodes/zones;
//   * starting from the current owners, only partitions that must move are moved (close to
//     the ideal fraction on a join, a leave or a weight change).
// Pure function; deterministic for equal inputs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cluster/node_id.h"

namespace meridian::cluster {

struct ClaimMember {
  NodeId id;
  std::string zone;
  std::uint32_t weight = 1;  // > 0; relative capacity
};

struct ClaimOptions {
  std::uint32_t n_val = 3;  // consecutive partitions that should land on distinct nodes/zones
};

// Target owner of every partition (size == current_owners.size(), a power of two).
// `current_owners[p]` may be empty (unowned) or name a node absent from `members` (it is
// leaving or removed: its partitions must move). Requires a non-empty `members` with
// distinct ids.
std::vector<NodeId> ComputeClaim(const std::vector<NodeId>& current_owners,
                                 const std::vector<ClaimMember>& members,
                                 const ClaimOptions& options);

}  // namespace meridian::cluster
