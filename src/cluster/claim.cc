// The claim algorithm (the why and the tested guarantees: docs/design/ring.md):
//   1. Targets: each member's share of Q by weight, rounded by largest remainder (ties by node
//      id) so the targets sum to exactly Q. The result always meets them exactly.
//   2. Walks over the ring reassign only partitions that must or may move: unowned (or owned
//      by a non-member), owned by a member over its target, or breaking the node spacing rule
//      (the same node twice within n_val consecutive partitions). The taker is the member
//      with the largest deficit (target - count) that keeps the spacing rules there:
//        scheduled  over-target owners release at an even pace around the ring; node and
//                   zone spacing required;
//        strict     release whenever a taker fits; node and zone spacing required;
//        node-only  node spacing required, zone spacing preferred;
//        chain      an unowned partition no taker fits is traded with one reassigned earlier
//                   (no extra move) or hosted by a member at target, which releases another
//                   partition later; steal: a stuck taker takes a partition from a member at
//                   target, which becomes a more flexible taker (one extra move each);
//        any        whatever taker has the largest deficit (now every count equals target).
//   3. Repair: swaps of two partitions' owners (counts unchanged) that remove node spacing
//      violations, then swaps among moved partitions that reduce zone repeats.
// Every step is O(Q * n_val * log members) (repair scans are capped at 16 * Q checks); ties
// are broken by fixed hashes of node ids and then node id; no randomness.
#include "cluster/claim.h"

#include <algorithm>
#include <utility>

#include "cluster/claim_state.h"
#include "core/assert.h"
#include "core/hash.h"

namespace meridian::cluster {

namespace {

constexpr int kChainRoundsMax = 8;

// Largest-remainder apportionment of `partition_count` by weight; ties by member order
// (members are sorted by id).
std::vector<std::int64_t> ComputeTargets(const std::vector<ClaimMember>& members,
                                         std::uint32_t partition_count) {
  std::uint64_t total_weight = 0;
  for (const ClaimMember& member : members) total_weight += member.weight;
  std::vector<std::int64_t> targets(members.size());
  std::vector<std::pair<std::uint64_t, std::size_t>> remainders;  // (remainder, member)
  std::uint64_t assigned = 0;
  for (std::size_t i = 0; i < members.size(); ++i) {
    const std::uint64_t scaled = std::uint64_t{partition_count} * members[i].weight;
    targets[i] = static_cast<std::int64_t>(scaled / total_weight);
    assigned += scaled / total_weight;
    remainders.emplace_back(scaled % total_weight, i);
  }
  std::stable_sort(remainders.begin(), remainders.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  for (std::uint64_t i = 0; assigned < partition_count; ++i, ++assigned) {
    ++targets[remainders[i].second];
  }
  return targets;
}

}  // namespace

std::vector<NodeId> ComputeClaim(const std::vector<NodeId>& current_owners,
                                 const std::vector<ClaimMember>& members,
                                 const ClaimOptions& options) {
  MERIDIAN_CHECK(!members.empty());
  MERIDIAN_CHECK(current_owners.size() <= (1u << 20));
  const auto partition_count = static_cast<std::uint32_t>(current_owners.size());
  MERIDIAN_CHECK(IsValidPartitionCount(partition_count));

  std::vector<ClaimMember> sorted = members;
  std::sort(sorted.begin(), sorted.end(),
            [](const ClaimMember& a, const ClaimMember& b) { return a.id < b.id; });
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    MERIDIAN_CHECK(sorted[i].weight > 0);
    if (i > 0) MERIDIAN_CHECK(sorted[i - 1].id != sorted[i].id);
  }

  claim_internal::ClaimState state(current_owners, sorted, ComputeTargets(sorted, partition_count),
                                   options.n_val);
  using Walk = claim_internal::ClaimState::Walk;
  for (Walk walk : {Walk::kScheduled, Walk::kStrict, Walk::kNodeOnly}) {
    state.RunWalk(walk);
  }
  // Chains: a partition no taker fits goes to a member that fits, which releases another
  // partition to a taker later. Each round must lower the imbalance; a few rounds suffice.
  for (int round = 0; round < kChainRoundsMax && state.Imbalance() > 0; ++round) {
    const std::int64_t before = state.Imbalance();
    state.RunWalk(Walk::kChain);
    if (state.Imbalance() < before) continue;
    state.RunWalk(Walk::kSteal);
  }
  state.RunWalk(Walk::kAny);
  state.RepairNodeSpacing();
  state.RepairZoneSpacing();
  return state.Owners();
}

}  // namespace meridian::cluster
