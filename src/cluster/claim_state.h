// ClaimState: the working state of one ComputeClaim run (claim.cc): the owner of every
// partition as a member index, each member's count and target, and an index of the members
// below target ("takers") ordered by deficit, per zone, so that choosing the best taker that
// keeps the spacing rules at a partition costs O(n_val * log members), not O(members).
// Internal to the claim algorithm; not thread-safe.
#pragma once

#include <cstdint>
#include <set>
#include <utility>
#include <vector>

#include "cluster/claim.h"
#include "cluster/node_id.h"

namespace meridian::cluster::claim_internal {

class ClaimState {
 public:
  enum class Walk { kScheduled, kStrict, kNodeOnly, kChain, kSteal, kAny };

  // `members` sorted by id, distinct; `targets` sum to current_owners.size().
  ClaimState(const std::vector<NodeId>& current_owners, const std::vector<ClaimMember>& members,
             std::vector<std::int64_t> targets, std::uint32_t n_val);

  // One pass over the ring reassigning the partitions that must or may move (claim.cc).
  // Returns whether anything changed.
  bool RunWalk(Walk walk);
  // Partitions without an owner plus partitions their owners hold above target.
  std::int64_t Imbalance() const;
  // Swaps owners of two partitions to remove node spacing violations (counts unchanged).
  void RepairNodeSpacing();
  // Swaps owners among moved partitions to reduce zone repeats, never adding node violations.
  void RepairZoneSpacing();

  // The result; requires every partition assigned and every count equal to its target.
  std::vector<NodeId> Owners() const;

 private:
  static constexpr std::uint32_t kNone = 0xffffffff;
  // Ordering of takers: larger deficit first; among equal deficits by a hash of the node id
  // and its current count (so equal members take turns in a different order each round,
  // instead of a fixed cycle that would give every node the same ring neighbours), then by
  // member index (= node id order).
  struct TakerKey {
    std::int64_t negative_deficit;
    std::uint64_t turn;
    std::uint32_t member;
    auto operator<=>(const TakerKey&) const = default;
  };
  TakerKey KeyOf(std::uint32_t member) const;

  std::uint32_t Forward(std::uint32_t partition, std::uint32_t distance) const {
    return (partition + distance) & partition_mask_;
  }
  std::uint32_t Backward(std::uint32_t partition, std::uint32_t distance) const {
    return (partition - distance) & partition_mask_;
  }
  std::int64_t Deficit(std::uint32_t member) const { return targets_[member] - counts_[member]; }

  // True when no partition within node_window_ - 1 of `partition` is owned by `member`.
  bool NodeSpacingHolds(std::uint32_t partition, std::uint32_t member) const;
  // Zones owning the partitions within zone_window_ - 1 of `partition` (may repeat).
  void NeighbourZones(std::uint32_t partition, std::vector<std::uint32_t>& zones) const;
  // Partitions within zone_window_ - 1 of `partition` whose owner shares its owner's zone.
  int ZoneRepeats(std::uint32_t partition) const;
  // The best taker for `partition` keeping node spacing (and zone spacing when
  // `require_zone_spacing`); kNone when there is none.
  std::uint32_t FindTaker(std::uint32_t partition, bool require_zone_spacing) const;
  std::uint32_t BestTakerAnywhere() const;
  // A member at or above its target that keeps node spacing (zone spacing if possible) at
  // `partition`, to host it for a while when no taker fits (it releases another partition
  // later); kNone when there is none.
  std::uint32_t FindHost(std::uint32_t partition) const;
  // For an unowned `partition` that no taker fits: finds a partition reassigned earlier in
  // this claim whose new owner fits `partition` while a taker fits its place, and trades
  // (no extra movement). Returns whether it did.
  bool TradeWithReassigned(std::uint32_t partition);

  void SetCount(std::uint32_t member, std::int64_t count);
  void Assign(std::uint32_t partition, std::uint32_t member);
  void Swap(std::uint32_t a, std::uint32_t b) { std::swap(owner_[a], owner_[b]); }
  std::vector<std::uint32_t> MovedPartitions() const;

  std::uint32_t partition_count_;
  std::uint32_t partition_mask_;
  std::vector<NodeId> member_ids_;
  std::vector<std::uint64_t> member_id_hash_;
  std::vector<std::uint32_t> member_zone_;
  std::vector<std::int64_t> targets_;
  std::vector<std::int64_t> counts_;
  std::vector<std::uint32_t> original_owner_;  // member index, kNone: unowned or non-member
  std::vector<std::uint32_t> owner_;           // working assignment
  std::vector<std::uint32_t> reassigned_;      // partitions given a new owner (may repeat)
  std::uint64_t trade_checks_left_ = 0;        // bounds TradeWithReassigned's scans
  std::uint32_t node_window_ = 1;              // partitions in a window that must be distinct nodes
  std::uint32_t zone_window_ = 1;              // ... that should be distinct zones
  std::vector<std::set<TakerKey>> takers_by_zone_;
  std::set<std::pair<TakerKey, std::uint32_t>> zones_by_best_taker_;  // (zone's best, zone)
};

}  // namespace meridian::cluster::claim_internal
