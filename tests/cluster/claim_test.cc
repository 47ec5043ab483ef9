#include "cluster/claim.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace meridian::cluster {
namespace {

// "prefix" followed by the number (avoids g++ 12's false -Wrestrict on "literal" + string).
std::string Name(const char* prefix, std::uint64_t number) {
  std::string name(prefix);
  name += std::to_string(number);
  return name;
}

constexpr std::uint32_t kNVal = 3;

struct Cluster {
  std::vector<ClaimMember> members;
  std::uint32_t partition_count = 0;
};

rc::Gen<Cluster> GenCluster() {
  return rc::gen::exec([] {
    Cluster cluster;
    const int node_count = *rc::gen::inRange(1, 51);
    const int zone_count = *rc::gen::inRange(1, 5);
    for (int i = 0; i < node_count; ++i) {
      cluster.members.push_back({Name("node-", i), Name("zone-", *rc::gen::inRange(0, zone_count)),
                                 *rc::gen::inRange<std::uint32_t>(1, 9)});
    }
    cluster.partition_count = 64u << *rc::gen::inRange(0, 7);  // 64 .. 4096
    return cluster;
  });
}

// Clusters in which every node holds 64+ partitions (after one more joins): Q 1024..4096.
rc::Gen<Cluster> GenLargeCluster() {
  return rc::gen::exec([] {
    Cluster cluster;
    cluster.partition_count = 1024u << *rc::gen::inRange(0, 3);
    const int node_count =
        *rc::gen::inRange(8, std::min<int>(51, static_cast<int>(cluster.partition_count / 64)));
    const int zone_count = *rc::gen::inRange(1, 5);
    for (int i = 0; i < node_count; ++i) {
      cluster.members.push_back({Name("node-", i), Name("zone-", *rc::gen::inRange(0, zone_count)),
                                 *rc::gen::inRange<std::uint32_t>(1, 9)});
    }
    return cluster;
  });
}

std::uint64_t TotalWeight(const std::vector<ClaimMember>& members) {
  std::uint64_t total = 0;
  for (const ClaimMember& member : members) total += member.weight;
  return total;
}

double ExactShare(const ClaimMember& member, const std::vector<ClaimMember>& members,
                  std::uint32_t partition_count) {
  return static_cast<double>(partition_count) * member.weight /
         static_cast<double>(TotalWeight(members));
}

double MaxWeightShare(const std::vector<ClaimMember>& members) {
  std::uint32_t heaviest = 0;
  for (const ClaimMember& member : members) heaviest = std::max(heaviest, member.weight);
  return static_cast<double>(heaviest) / static_cast<double>(TotalWeight(members));
}

std::map<NodeId, std::int64_t> Counts(const std::vector<NodeId>& owners) {
  std::map<NodeId, std::int64_t> counts;
  for (const NodeId& owner : owners) ++counts[owner];
  return counts;
}

// Windows of `window` consecutive partitions (wrapping) in which some node repeats.
int NodeSpacingViolations(const std::vector<NodeId>& owners, std::uint32_t window) {
  int violations = 0;
  for (std::size_t p = 0; p < owners.size(); ++p) {
    std::set<NodeId> seen;
    for (std::uint32_t i = 0; i < window; ++i) seen.insert(owners[(p + i) % owners.size()]);
    if (seen.size() < window) ++violations;
  }
  return violations;
}

int ZoneSpacingViolations(const std::vector<NodeId>& owners,
                          const std::vector<ClaimMember>& members, std::uint32_t window) {
  std::map<NodeId, std::string> zone_of;
  for (const ClaimMember& member : members) zone_of[member.id] = member.zone;
  int violations = 0;
  for (std::size_t p = 0; p < owners.size(); ++p) {
    std::set<std::string> seen;
    for (std::uint32_t i = 0; i < window; ++i)
      seen.insert(zone_of[owners[(p + i) % owners.size()]]);
    if (seen.size() < window) ++violations;
  }
  return violations;
}

int Moved(const std::vector<NodeId>& before, const std::vector<NodeId>& after) {
  int moved = 0;
  for (std::size_t p = 0; p < before.size(); ++p) moved += before[p] != after[p] ? 1 : 0;
  return moved;
}

std::vector<NodeId> FreshClaim(const Cluster& cluster) {
  return ComputeClaim(std::vector<NodeId>(cluster.partition_count), cluster.members, {kNVal});
}

TEST(ClaimTest, SingleNodeOwnsEverything) {
  const auto owners = ComputeClaim(std::vector<NodeId>(8), {{"a", "z", 1}}, {});
  EXPECT_EQ(owners, std::vector<NodeId>(8, "a"));
}

TEST(ClaimTest, EqualNodesGetEqualSharesSpacedApart) {
  const std::vector<ClaimMember> members = {
      {"a", "z1", 1}, {"b", "z2", 1}, {"c", "z3", 1}, {"d", "z4", 1}};
  const auto owners = ComputeClaim(std::vector<NodeId>(64), members, {3});
  for (const auto& [node, count] : Counts(owners)) EXPECT_EQ(count, 16) << node;
  EXPECT_EQ(NodeSpacingViolations(owners, 3), 0);
  EXPECT_EQ(ZoneSpacingViolations(owners, members, 3), 0);
}

TEST(ClaimTest, WeightsSetShares) {
  const std::vector<ClaimMember> members = {
      {"a", "z1", 1}, {"b", "z2", 2}, {"c", "z3", 4}, {"d", "z1", 1}, {"e", "z2", 8}};
  const auto owners = ComputeClaim(std::vector<NodeId>(256), members, {1});
  auto counts = Counts(owners);
  EXPECT_EQ(counts["a"], 16);
  EXPECT_EQ(counts["b"], 32);
  EXPECT_EQ(counts["c"], 64);
  EXPECT_EQ(counts["d"], 16);
  EXPECT_EQ(counts["e"], 128);
}

TEST(ClaimTest, RemovedOwnersLoseEverythingAndKeptOwnersKeepTheirs) {
  std::vector<NodeId> current(16);
  for (std::size_t p = 0; p < current.size(); ++p) current[p] = Name("n", p % 4);
  const std::vector<ClaimMember> members = {
      {"n0", "z", 1}, {"n1", "z", 1}, {"n2", "z", 1}, {"n4", "z", 1}};  // n3 left, n4 joined
  const auto owners = ComputeClaim(current, members, {1});
  for (std::size_t p = 0; p < owners.size(); ++p) {
    if (current[p] != "n3") {
      EXPECT_EQ(owners[p], current[p]) << p;  // targets are 4 each
    }
    EXPECT_NE(owners[p], "n3");
  }
}

RC_GTEST_PROP(ClaimProperty, OwnsEveryPartitionInProportionToWeight, ()) {
  const Cluster cluster = *GenCluster();
  // Start from a random ring: unowned partitions, members and strangers as owners.
  std::vector<NodeId> current(cluster.partition_count);
  if (*rc::gen::arbitrary<bool>()) {
    for (NodeId& owner : current) {
      const int pick = *rc::gen::inRange(-2, static_cast<int>(cluster.members.size()));
      owner = pick == -2 ? "" : pick == -1 ? "stranger" : cluster.members[pick].id;
    }
  }
  const auto owners = ComputeClaim(current, cluster.members, {kNVal});
  RC_ASSERT(owners.size() == cluster.partition_count);
  auto counts = Counts(owners);
  std::int64_t total = 0;
  for (const ClaimMember& member : cluster.members) {
    const double exact = ExactShare(member, cluster.members, cluster.partition_count);
    const auto count = static_cast<double>(counts[member.id]);
    RC_ASSERT(std::abs(count - exact) < 1.0);  // rounding only: stronger than +-5%
    if (exact >= 64) RC_ASSERT(std::abs(count - exact) <= 0.05 * exact);
    total += counts[member.id];
  }
  RC_ASSERT(total == static_cast<std::int64_t>(cluster.partition_count));  // no strangers
}

RC_GTEST_PROP(ClaimProperty, DeterministicAndIndependentOfMemberOrder, ()) {
  const Cluster cluster = *GenCluster();
  std::vector<ClaimMember> shuffled =
      *rc::gen::arbitrary<bool>()
          ? cluster.members
          : std::vector<ClaimMember>(cluster.members.rbegin(), cluster.members.rend());
  std::rotate(shuffled.begin(),
              shuffled.begin() + *rc::gen::inRange<std::size_t>(0, shuffled.size()),
              shuffled.end());
  const auto first = FreshClaim(cluster);
  RC_ASSERT(first == FreshClaim(cluster));
  RC_ASSERT(first == ComputeClaim(std::vector<NodeId>(cluster.partition_count), shuffled, {kNVal}));
}

// Guarantee: a claim from scratch puts n_val distinct nodes in every window of n_val
// consecutive partitions (wrapping) when there are more than n_val members, each holding 64+
// partitions, and no member's weight share exceeds 1 / (n_val + 1). (With fewer partitions
// per node a few percent of the windows may repeat a node.)
RC_GTEST_PROP(ClaimProperty, FreshClaimSpacesNodes, ()) {
  const Cluster cluster = *GenLargeCluster();
  RC_PRE(cluster.members.size() > kNVal);
  RC_PRE(MaxWeightShare(cluster.members) <= 1.0 / (kNVal + 1));
  RC_PRE(cluster.partition_count >= 64 * cluster.members.size());
  RC_ASSERT(NodeSpacingViolations(FreshClaim(cluster), kNVal) == 0);
}

// Zones (best effort): with at least n_val + 1 zones, each holding at most 1 / (n_val + 1) of
// the weight, at most 10% of the windows repeat a zone.
RC_GTEST_PROP(ClaimProperty, FreshClaimMostlySpacesZones, ()) {
  Cluster cluster = *GenCluster();
  // Four zones, balanced: members dealt round-robin with equal weights per zone.
  const std::uint32_t weight = *rc::gen::inRange<std::uint32_t>(1, 9);
  const std::size_t member_count = 4 * *rc::gen::inRange<std::size_t>(1, 13);
  cluster.members.clear();
  for (std::size_t i = 0; i < member_count; ++i) {
    cluster.members.push_back({Name("node-", i), Name("zone-", i % 4), weight});
  }
  const auto owners = FreshClaim(cluster);
  const int violations = ZoneSpacingViolations(owners, cluster.members, kNVal);
  RC_ASSERT(violations * 10 <= static_cast<int>(cluster.partition_count));
}

// A join moves at most 1.1x the ideal (the new node's target) plus n_val, and keeps every
// window of n_val partitions on distinct nodes, when the ring before had no spacing violation,
// every node holds 64+ partitions and no weight share exceeds 1 / (n_val + 1). (The n_val: the
// new node's partitions can break a window that other nodes' moves then repair — a weight-1
// joiner among 40 nodes of 4,096 partitions took its 28 and three more changed hands around
// one of them, rapidcheck seed 8385655676078087647; 10 % of a small target is under one move.)
RC_GTEST_PROP(ClaimProperty, JoinMovesCloseToIdeal, ()) {
  Cluster cluster = *GenLargeCluster();
  const auto before = FreshClaim(cluster);
  cluster.members.push_back(
      {"joiner", Name("zone-", *rc::gen::inRange(0, 4)), *rc::gen::inRange<std::uint32_t>(1, 9)});
  RC_PRE(cluster.partition_count >= 64 * cluster.members.size());
  RC_PRE(MaxWeightShare(cluster.members) <= 1.0 / (kNVal + 1));
  RC_PRE(cluster.members.size() > kNVal);
  RC_PRE(NodeSpacingViolations(before, kNVal) == 0);
  const auto after = ComputeClaim(before, cluster.members, {kNVal});
  const auto ideal = Counts(after)["joiner"];
  RC_ASSERT(static_cast<double>(Moved(before, after)) <=
            1.1 * static_cast<double>(ideal) + static_cast<double>(kNVal));
  RC_ASSERT(NodeSpacingViolations(after, kNVal) == 0);
}

// A leave moves every partition of the leaving node plus at most 30% more (moves that keep
// the spacing rule), and keeps every window of n_val partitions on distinct nodes, when every
// remaining node holds 64+ partitions and no remaining weight share exceeds 1 / (n_val + 2).
RC_GTEST_PROP(ClaimProperty, LeaveMovesItsPartitionsPlusBoundedRepair, ()) {
  Cluster cluster = *GenLargeCluster();
  RC_PRE(cluster.members.size() > kNVal + 1);
  const auto before = FreshClaim(cluster);
  const std::size_t leaving = *rc::gen::inRange<std::size_t>(0, cluster.members.size());
  const NodeId leaver = cluster.members[leaving].id;
  cluster.members.erase(cluster.members.begin() + static_cast<std::ptrdiff_t>(leaving));
  RC_PRE(cluster.partition_count >= 64 * cluster.members.size());
  RC_PRE(MaxWeightShare(cluster.members) <= 1.0 / (kNVal + 2));
  const auto after = ComputeClaim(before, cluster.members, {kNVal});
  const auto owned = Counts(before)[leaver];
  for (const NodeId& owner : after) RC_ASSERT(owner != leaver);
  RC_ASSERT(static_cast<double>(Moved(before, after)) <= 1.3 * static_cast<double>(owned));
  RC_ASSERT(NodeSpacingViolations(after, kNVal) == 0);
}

TEST(ClaimTest, WeightChangeMovesOnlyTheDifference) {
  std::vector<ClaimMember> members;
  for (int i = 0; i < 8; ++i) members.push_back({Name("n", i), Name("z", i % 4), 2});
  const auto before = ComputeClaim(std::vector<NodeId>(1024), members, {kNVal});
  members[0].weight = 3;  // 128 -> 1024 * 3 / 17 = 180.7
  const auto after = ComputeClaim(before, members, {kNVal});
  const auto gained = Counts(after)["n0"] - Counts(before)["n0"];
  EXPECT_GE(gained, 52);
  EXPECT_LE(Moved(before, after), gained * 11 / 10);
  EXPECT_EQ(NodeSpacingViolations(after, kNVal), 0);
}

}  // namespace
}  // namespace meridian::cluster
