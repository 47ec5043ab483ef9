#include "cluster/claim_state.h"

#include "core/seeded_random.h"

#include <algorithm>
#include <map>

#include "core/assert.h"

namespace meridian::cluster::claim_internal {

namespace {
// Repair scans for swap partners cost at most this many candidate checks per partition in
// total, which bounds the claim to O(Q) even when the spacing rules cannot all be met (a
// member owning more than 1 / n_val of the ring).
constexpr std::uint64_t kRepairChecksPerPartition = 16;

// FNV-1a: a fixed, portable hash of a node id (std::hash is not specified).
std::uint64_t HashOfId(const NodeId& id) {
  std::uint64_t hash = 0xcbf29ce484222325ull;
  for (unsigned char c : id) {
    hash ^= c;
    hash *= 0x100000001b3ull;
  }
  return hash;
}

// splitmix64's finaliser: spreads consecutive counts over the whole range.
std::uint64_t Mix(std::uint64_t value) {
  return SplitMix64Next(value);
}
}  // namespace

ClaimState::TakerKey ClaimState::KeyOf(std::uint32_t member) const {
  return {-Deficit(member),
          Mix(member_id_hash_[member] ^ static_cast<std::uint64_t>(counts_[member])), member};
}

ClaimState::ClaimState(const std::vector<NodeId>& current_owners,
                       const std::vector<ClaimMember>& members, std::vector<std::int64_t> targets,
                       std::uint32_t n_val)
    : partition_count_(static_cast<std::uint32_t>(current_owners.size())),
      partition_mask_(partition_count_ - 1),
      targets_(std::move(targets)),
      counts_(members.size(), 0) {
  std::map<std::string, std::uint32_t> zone_index;
  for (const ClaimMember& member : members) zone_index.emplace(member.zone, 0);
  std::uint32_t next_zone = 0;
  for (auto& [zone, index] : zone_index) index = next_zone++;

  std::map<NodeId, std::uint32_t> member_index;
  std::vector<bool> zone_has_target(zone_index.size(), false);
  std::uint32_t members_with_target = 0;
  for (std::uint32_t i = 0; i < members.size(); ++i) {
    member_ids_.push_back(members[i].id);
    member_id_hash_.push_back(HashOfId(members[i].id));
    member_zone_.push_back(zone_index.at(members[i].zone));
    member_index.emplace(members[i].id, i);
    if (targets_[i] > 0) {
      ++members_with_target;
      zone_has_target[member_zone_[i]] = true;
    }
  }
  const auto zones_with_target =
      static_cast<std::uint32_t>(std::count(zone_has_target.begin(), zone_has_target.end(), true));
  // With fewer members (zones) than n_val, the best possible is that many distinct in a row.
  node_window_ = std::max<std::uint32_t>(
      1, std::min({std::max<std::uint32_t>(n_val, 1), members_with_target, partition_count_}));
  zone_window_ = std::max<std::uint32_t>(
      1, std::min({std::max<std::uint32_t>(n_val, 1), zones_with_target, partition_count_}));
  // Distinct zones in every window of w partitions needs every zone to own at most Q / w:
  // shrink the window until the zones' targets allow it, rather than chase the impossible
  // (which would crowd a large zone's nodes together at the end of the walks).
  std::vector<std::int64_t> zone_target(zone_index.size(), 0);
  for (std::uint32_t i = 0; i < members.size(); ++i) zone_target[member_zone_[i]] += targets_[i];
  const std::int64_t largest_zone = *std::max_element(zone_target.begin(), zone_target.end());
  while (zone_window_ > 1 && largest_zone * zone_window_ > partition_count_) --zone_window_;

  original_owner_.resize(partition_count_, kNone);
  for (std::uint32_t partition = 0; partition < partition_count_; ++partition) {
    const auto it = member_index.find(current_owners[partition]);
    if (it == member_index.end()) continue;
    original_owner_[partition] = it->second;
    ++counts_[it->second];
  }
  owner_ = original_owner_;
  trade_checks_left_ = kRepairChecksPerPartition * partition_count_;

  takers_by_zone_.resize(zone_index.size());
  for (std::uint32_t member = 0; member < members.size(); ++member) {
    if (Deficit(member) > 0) takers_by_zone_[member_zone_[member]].insert(KeyOf(member));
  }
  for (std::uint32_t zone = 0; zone < takers_by_zone_.size(); ++zone) {
    if (!takers_by_zone_[zone].empty()) {
      zones_by_best_taker_.insert({*takers_by_zone_[zone].begin(), zone});
    }
  }
}

bool ClaimState::NodeSpacingHolds(std::uint32_t partition, std::uint32_t member) const {
  for (std::uint32_t distance = 1; distance < node_window_; ++distance) {
    if (owner_[Forward(partition, distance)] == member) return false;
    if (owner_[Backward(partition, distance)] == member) return false;
  }
  return true;
}

void ClaimState::NeighbourZones(std::uint32_t partition, std::vector<std::uint32_t>& zones) const {
  zones.clear();
  for (std::uint32_t distance = 1; distance < zone_window_; ++distance) {
    for (std::uint32_t neighbour : {Forward(partition, distance), Backward(partition, distance)}) {
      if (owner_[neighbour] != kNone) zones.push_back(member_zone_[owner_[neighbour]]);
    }
  }
}

int ClaimState::ZoneRepeats(std::uint32_t partition) const {
  if (owner_[partition] == kNone) return 0;
  const std::uint32_t zone = member_zone_[owner_[partition]];
  int repeats = 0;
  for (std::uint32_t distance = 1; distance < zone_window_; ++distance) {
    for (std::uint32_t neighbour : {Forward(partition, distance), Backward(partition, distance)}) {
      if (owner_[neighbour] != kNone && member_zone_[owner_[neighbour]] == zone) ++repeats;
    }
  }
  return repeats;
}

std::uint32_t ClaimState::FindTaker(std::uint32_t partition, bool require_zone_spacing) const {
  std::vector<std::uint32_t> forbidden_zones;
  if (require_zone_spacing) NeighbourZones(partition, forbidden_zones);
  const TakerKey* best = nullptr;
  // Zones in order of their best taker; a zone whose best is worse than the best found so
  // far cannot improve on it. Skips are bounded by the 2 * (n_val - 1) neighbours.
  for (const auto& [zone_best, zone] : zones_by_best_taker_) {
    if (best != nullptr && *best < zone_best) break;
    if (std::find(forbidden_zones.begin(), forbidden_zones.end(), zone) != forbidden_zones.end()) {
      continue;
    }
    for (const TakerKey& key : takers_by_zone_[zone]) {
      if (best != nullptr && *best < key) break;
      if (NodeSpacingHolds(partition, key.member)) {
        best = &key;
        break;
      }
    }
  }
  return best == nullptr ? kNone : best->member;
}

std::uint32_t ClaimState::BestTakerAnywhere() const {
  if (zones_by_best_taker_.empty()) return kNone;
  return zones_by_best_taker_.begin()->first.member;
}

void ClaimState::SetCount(std::uint32_t member, std::int64_t count) {
  const std::uint32_t zone = member_zone_[member];
  std::set<TakerKey>& takers = takers_by_zone_[zone];
  if (!takers.empty()) zones_by_best_taker_.erase({*takers.begin(), zone});
  if (Deficit(member) > 0) takers.erase(KeyOf(member));
  counts_[member] = count;
  if (Deficit(member) > 0) takers.insert(KeyOf(member));
  if (!takers.empty()) zones_by_best_taker_.insert({*takers.begin(), zone});
}

void ClaimState::Assign(std::uint32_t partition, std::uint32_t member) {
  const std::uint32_t previous = owner_[partition];
  if (previous != kNone) SetCount(previous, counts_[previous] - 1);
  owner_[partition] = member;
  SetCount(member, counts_[member] + 1);
  if (member != original_owner_[partition]) reassigned_.push_back(partition);
}

bool ClaimState::TradeWithReassigned(std::uint32_t partition) {
  const std::uint32_t taker = BestTakerAnywhere();
  if (taker == kNone) return false;
  std::vector<std::uint32_t> zones;
  NeighbourZones(partition, zones);
  const auto zone_fits = [&](std::uint32_t member) {
    return std::find(zones.begin(), zones.end(), member_zone_[member]) == zones.end();
  };
  std::uint32_t chosen = kNone;
  for (std::size_t i = 0; i < reassigned_.size() && trade_checks_left_ > 0; ++i) {
    --trade_checks_left_;
    const std::uint32_t other = reassigned_[i];
    const std::uint32_t holder = owner_[other];
    if (other == partition || holder == kNone || holder == taker) continue;
    if (holder == original_owner_[other]) continue;  // moved back; trading it adds a move
    owner_[partition] = holder;
    owner_[other] = taker;
    const bool fits = NodeSpacingHolds(partition, holder) && NodeSpacingHolds(other, taker);
    owner_[partition] = kNone;
    owner_[other] = holder;
    if (!fits) continue;
    if (chosen == kNone) chosen = other;
    if (zone_fits(holder)) {
      chosen = other;
      break;
    }
  }
  if (chosen == kNone) return false;
  const std::uint32_t holder = owner_[chosen];
  Assign(partition, holder);
  Assign(chosen, taker);
  return true;
}

std::uint32_t ClaimState::FindHost(std::uint32_t partition) const {
  std::vector<std::uint32_t> neighbour_zones;
  NeighbourZones(partition, neighbour_zones);
  const auto member_count = static_cast<std::uint32_t>(counts_.size());
  // Only 2 * (n_val - 1) neighbours can block a member, so a short scan from a
  // partition-dependent start finds one and spreads the hosting over the members.
  const std::uint32_t scan = std::min<std::uint32_t>(member_count, 8 * node_window_ + 8);
  std::uint32_t node_only = kNone;
  for (std::uint32_t i = 0; i < scan; ++i) {
    const std::uint32_t member = (partition + i) % member_count;
    if (targets_[member] == 0 || Deficit(member) > 0) continue;
    if (!NodeSpacingHolds(partition, member)) continue;
    if (std::find(neighbour_zones.begin(), neighbour_zones.end(), member_zone_[member]) ==
        neighbour_zones.end()) {
      return member;
    }
    if (node_only == kNone) node_only = member;
  }
  return node_only;
}

std::int64_t ClaimState::Imbalance() const {
  std::int64_t imbalance = 0;
  for (std::uint32_t member = 0; member < counts_.size(); ++member) {
    imbalance += std::max<std::int64_t>(0, counts_[member] - targets_[member]);
  }
  for (std::uint32_t owner : owner_) imbalance += owner == kNone ? 1 : 0;
  return imbalance;
}

bool ClaimState::RunWalk(Walk walk) {
  bool changed = false;
  // For the scheduled walk: each over-target member releases its excess evenly over its
  // partitions, so that released partitions (and the spacing they need) spread over the ring.
  std::vector<std::int64_t> excess(counts_.size(), 0);
  std::vector<std::int64_t> owned(counts_.size(), 0);
  std::vector<std::int64_t> visited(counts_.size(), 0);
  std::vector<std::int64_t> released(counts_.size(), 0);
  std::int64_t steals_left = 0;
  for (std::uint32_t member = 0; member < counts_.size(); ++member) {
    excess[member] = std::max<std::int64_t>(0, counts_[member] - targets_[member]);
    owned[member] = counts_[member];
    steals_left += std::max<std::int64_t>(0, Deficit(member));
  }
  for (std::uint32_t partition = 0; partition < partition_count_; ++partition) {
    if (zones_by_best_taker_.empty()) return changed;  // every member is at its target
    const std::uint32_t owner = owner_[partition];
    const bool unowned = owner == kNone;
    const bool over_target = !unowned && counts_[owner] > targets_[owner];
    const bool breaks_spacing =
        !unowned && walk != Walk::kAny && !NodeSpacingHolds(partition, owner);
    if (walk == Walk::kSteal) {
      // Takers that fit no partition that may move take one from a member at its target,
      // which becomes a (more flexible) taker itself: one extra move per steal.
      if (unowned || over_target || breaks_spacing || steals_left == 0) continue;
      if (Deficit(owner) != 0) continue;
      const std::uint32_t taker = FindTaker(partition, true);
      if (taker == kNone) continue;
      Assign(partition, taker);
      --steals_left;
      changed = true;
      continue;
    }
    if (!unowned && !over_target && !breaks_spacing) continue;
    if (walk == Walk::kScheduled && over_target && !breaks_spacing) {
      ++visited[owner];
      // The k-th release (from 0) is due at visit (k + 1/2) * owned / excess: centred.
      if ((2 * released[owner] + 1) * owned[owner] > 2 * excess[owner] * visited[owner]) continue;
    }
    std::uint32_t taker = FindTaker(
        partition, walk == Walk::kScheduled || walk == Walk::kStrict || walk == Walk::kNodeOnly);
    if (taker == kNone && walk != Walk::kScheduled && walk != Walk::kStrict) {
      taker = FindTaker(partition, false);
    }
    if (taker == kNone && walk == Walk::kAny) taker = BestTakerAnywhere();
    if (taker == kNone && walk == Walk::kChain && unowned) {
      if (TradeWithReassigned(partition)) {
        changed = true;
        continue;
      }
      taker = FindHost(partition);
    }
    if (taker == kNone) continue;
    if (over_target) ++released[owner];
    Assign(partition, taker);
    changed = true;
  }
  return changed;
}

std::vector<std::uint32_t> ClaimState::MovedPartitions() const {
  std::vector<std::uint32_t> moved;
  for (std::uint32_t partition = 0; partition < partition_count_; ++partition) {
    if (owner_[partition] != original_owner_[partition]) moved.push_back(partition);
  }
  return moved;
}

void ClaimState::RepairNodeSpacing() {
  if (node_window_ <= 1) return;
  std::uint64_t budget = kRepairChecksPerPartition * partition_count_;
  const std::vector<std::uint32_t> moved = MovedPartitions();
  for (std::uint32_t partition = 0; partition < partition_count_ && budget > 0; ++partition) {
    const std::uint32_t member = owner_[partition];
    if (NodeSpacingHolds(partition, member)) continue;
    // Candidates: moved partitions first (a swap there adds little movement), then all.
    std::uint32_t fallback = kNone;
    std::uint32_t chosen = kNone;
    const int zone_repeats_before = ZoneRepeats(partition);
    auto consider = [&](std::uint32_t candidate) {
      const std::uint32_t other = owner_[candidate];
      if (candidate == partition || other == member) return false;
      const int repeats_before = zone_repeats_before + ZoneRepeats(candidate);
      Swap(partition, candidate);
      const bool spacing_holds =
          NodeSpacingHolds(partition, other) && NodeSpacingHolds(candidate, member);
      const bool zones_no_worse =
          spacing_holds && ZoneRepeats(partition) + ZoneRepeats(candidate) <= repeats_before;
      Swap(partition, candidate);
      if (spacing_holds && fallback == kNone) fallback = candidate;
      if (zones_no_worse) chosen = candidate;
      return zones_no_worse;
    };
    for (std::uint32_t candidate : moved) {
      if (budget == 0 || consider(candidate)) break;
      --budget;
    }
    for (std::uint32_t step = 1; chosen == kNone && step < partition_count_ && budget > 0;
         ++step, --budget) {
      if (consider(Forward(partition, step))) break;
    }
    if (chosen == kNone) chosen = fallback;
    if (chosen != kNone) Swap(partition, chosen);
  }
}

void ClaimState::RepairZoneSpacing() {
  if (zone_window_ <= 1) return;
  std::uint64_t budget = kRepairChecksPerPartition * partition_count_;
  const std::vector<std::uint32_t> moved = MovedPartitions();
  for (std::uint32_t partition : moved) {
    if (budget == 0) return;
    const int repeats = ZoneRepeats(partition);
    if (repeats == 0) continue;
    const std::uint32_t member = owner_[partition];
    for (std::uint32_t candidate : moved) {
      if (budget == 0) return;
      --budget;
      const std::uint32_t other = owner_[candidate];
      if (candidate == partition || member_zone_[other] == member_zone_[member]) continue;
      const int repeats_before = repeats + ZoneRepeats(candidate);
      Swap(partition, candidate);
      const bool better = NodeSpacingHolds(partition, other) &&
                          NodeSpacingHolds(candidate, member) &&
                          ZoneRepeats(partition) + ZoneRepeats(candidate) < repeats_before;
      if (better) break;
      Swap(partition, candidate);
    }
  }
}

std::vector<NodeId> ClaimState::Owners() const {
  std::vector<NodeId> owners;
  owners.reserve(partition_count_);
  for (std::uint32_t partition = 0; partition < partition_count_; ++partition) {
    MERIDIAN_CHECK(owner_[partition] != kNone);
    owners.push_back(member_ids_[owner_[partition]]);
  }
  for (std::uint32_t member = 0; member < counts_.size(); ++member) {
    MERIDIAN_CHECK(counts_[member] == targets_[member]);
  }
  return owners;
}

}  // namespace meridian::cluster::claim_internal
