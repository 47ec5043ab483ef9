#include "cluster/ring.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

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

std::vector<NodeId> Owners(std::initializer_list<const char*> names) {
  return std::vector<NodeId>(names.begin(), names.end());
}

TEST(RingTest, StartsUnownedAtVersionZero) {
  const Ring ring(8);
  EXPECT_EQ(ring.partition_count(), 8u);
  EXPECT_EQ(ring.version(), 0u);
  for (std::uint32_t p = 0; p < 8; ++p) {
    EXPECT_EQ(ring.Owner(p), "");
    EXPECT_FALSE(ring.PendingOwner(p).has_value());
    EXPECT_EQ(ring.FutureOwner(p), "");
  }
  EXPECT_TRUE(ring.Nodes().empty());
  EXPECT_TRUE(ring.PartitionsOwnedBy("a").empty());
}

TEST(RingTest, AssignAllSetsOwnersClearsPendingAndBumpsVersion) {
  Ring ring(4);
  ring.AssignAll(Owners({"b", "a", "b", "c"}));
  EXPECT_EQ(ring.version(), 1u);
  EXPECT_EQ(ring.Owner(0), "b");
  EXPECT_EQ(ring.Owner(3), "c");
  EXPECT_EQ(ring.PartitionsOwnedBy("b"), (std::vector<std::uint32_t>{0, 2}));
  EXPECT_EQ(ring.PartitionsOwnedBy("zzz"), std::vector<std::uint32_t>{});
  EXPECT_EQ(ring.Nodes(), Owners({"a", "b", "c"}));

  ring.PlanTransfers(Owners({"d", "a", "b", "c"}));
  ASSERT_TRUE(ring.PendingOwner(0).has_value());
  ring.AssignAll(Owners({"b", "a", "b", "c"}));  // same owners: still a new version
  EXPECT_EQ(ring.version(), 3u);
  EXPECT_FALSE(ring.PendingOwner(0).has_value());
  EXPECT_EQ(ring.Nodes(), Owners({"a", "b", "c"}));  // "d" no longer owns or receives
}

TEST(RingTest, PlanTransfersSetsPendingOnlyWhereTargetDiffers) {
  Ring ring(4);
  ring.AssignAll(Owners({"a", "a", "b", "b"}));
  ring.PlanTransfers(Owners({"a", "c", "b", "a"}));
  EXPECT_EQ(ring.version(), 2u);
  EXPECT_FALSE(ring.PendingOwner(0).has_value());
  EXPECT_EQ(ring.PendingOwner(1), std::optional<NodeId>("c"));
  EXPECT_EQ(ring.Owner(1), "a");  // ownership flips only on Complete
  EXPECT_EQ(ring.FutureOwner(1), "c");
  EXPECT_EQ(ring.FutureOwner(0), "a");
  EXPECT_EQ(ring.PendingOwner(3), std::optional<NodeId>("a"));
  EXPECT_EQ(ring.Nodes(), Owners({"a", "b", "c"}));  // c is receiving

  ring.PlanTransfers(Owners({"a", "c", "b", "a"}));  // nothing changes: no new version
  EXPECT_EQ(ring.version(), 2u);

  ring.PlanTransfers(Owners({"a", "a", "b", "a"}));  // target back to the owner: cleared
  EXPECT_EQ(ring.version(), 3u);
  EXPECT_FALSE(ring.PendingOwner(1).has_value());
}

TEST(RingTest, CompleteFlipsOwnershipAndRefusesWithoutPendingOwner) {
  Ring ring(2);
  ring.AssignAll(Owners({"a", "b"}));
  ring.PlanTransfers(Owners({"c", "b"}));
  const std::uint64_t before = ring.version();

  const Status no_pending = ring.Complete(1);
  EXPECT_EQ(no_pending.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ring.Complete(2).code(), StatusCode::kInvalidArgument);  // out of range
  EXPECT_EQ(ring.version(), before);

  ASSERT_TRUE(ring.Complete(0).ok());
  EXPECT_EQ(ring.version(), before + 1);
  EXPECT_EQ(ring.Owner(0), "c");
  EXPECT_FALSE(ring.PendingOwner(0).has_value());
  EXPECT_EQ(ring.PartitionsOwnedBy("a"), std::vector<std::uint32_t>{});
  EXPECT_EQ(ring.Nodes(), Owners({"b", "c"}));
  EXPECT_EQ(ring.Complete(0).code(), StatusCode::kInvalidArgument);  // already complete
}

TEST(RingTest, DiffListsOnlyChangedPartitions) {
  Ring from(8);
  from.AssignAll(Owners({"a", "b", "a", "b", "a", "b", "a", "b"}));
  Ring to = from;
  to.PlanTransfers(Owners({"a", "c", "a", "b", "a", "b", "a", "b"}));
  const Ring::Delta delta = Ring::Diff(from, to);
  EXPECT_EQ(delta.base_version, from.version());
  EXPECT_EQ(delta.version, to.version());
  ASSERT_EQ(delta.changes.size(), 1u);
  EXPECT_EQ(delta.changes[0], (Ring::Change{1, "b", "c"}));
}

TEST(RingTest, ApplyRefusesWrongBaseOrPartitionAndChangesNothing) {
  Ring ring(4);
  ring.AssignAll(Owners({"a", "b", "a", "b"}));
  const Ring before = ring;

  Ring::Delta stale{0, 5, {{0, "z", ""}}};
  EXPECT_EQ(ring.Apply(stale).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ring, before);

  // The first change is valid, the second is out of range: nothing at all is applied.
  Ring::Delta out_of_range{1, 2, {{0, "z", ""}, {4, "z", ""}}};
  EXPECT_EQ(ring.Apply(out_of_range).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ring, before);
  EXPECT_EQ(ring.Owner(0), "a");

  Ring::Delta backwards{1, 0, {}};
  EXPECT_EQ(ring.Apply(backwards).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ring, before);

  Ring::Delta good{1, 7, {{3, "c", "d"}}};
  ASSERT_TRUE(ring.Apply(good).ok());
  EXPECT_EQ(ring.version(), 7u);
  EXPECT_EQ(ring.Owner(3), "c");
  EXPECT_EQ(ring.PendingOwner(3), std::optional<NodeId>("d"));
  EXPECT_EQ(ring.Owner(0), "a");
}

TEST(RingTest, EqualityComparesOwnershipNotNodeTables) {
  Ring a(4);
  Ring b(4);
  a.AssignAll(Owners({"x", "y", "x", "y"}));
  b.AssignAll(Owners({"y", "x", "y", "x"}));  // tables list y before x
  EXPECT_NE(a, b);
  b.AssignAll(Owners({"x", "y", "x", "y"}));
  EXPECT_NE(a, b);  // versions differ (1 vs 2)
  a.AssignAll(Owners({"x", "y", "x", "y"}));
  EXPECT_EQ(a, b);
}

TEST(RingTest, LargeRingIsCheap) {
  constexpr std::uint32_t kPartitions = 1u << 20;
  std::vector<NodeId> owners(kPartitions);
  for (std::uint32_t p = 0; p < kPartitions; ++p) owners[p] = Name("node-", p % 1000);
  Ring ring(kPartitions);
  ring.AssignAll(owners);
  EXPECT_EQ(ring.Owner(kPartitions - 1), "node-575");
  EXPECT_EQ(ring.Nodes().size(), 1000u);
  EXPECT_EQ(ring.PartitionsOwnedBy("node-7").size(), 1049u);  // 7, 1007, ..., every 1000th
}

// A random ring state over a few nodes: owners, some pending owners, a few completions.
Ring RandomRing(std::uint32_t partition_count, int node_count, int seed_steps) {
  Ring ring(partition_count);
  const auto owners =
      *rc::gen::container<std::vector<int>>(partition_count, rc::gen::inRange(-1, node_count));
  const auto targets =
      *rc::gen::container<std::vector<int>>(partition_count, rc::gen::inRange(0, node_count));
  std::vector<NodeId> owner_ids;
  std::vector<NodeId> target_ids;
  for (std::uint32_t p = 0; p < partition_count; ++p) {
    owner_ids.push_back(owners[p] < 0 ? "" : Name("n", owners[p]));
    target_ids.push_back(Name("n", targets[p]));
  }
  ring.AssignAll(owner_ids);
  if (seed_steps > 0) ring.PlanTransfers(target_ids);
  for (int step = 1; step < seed_steps; ++step) {
    ring.Complete(*rc::gen::inRange<std::uint32_t>(0, partition_count)).IgnoreError();
  }
  return ring;
}

RC_GTEST_PROP(RingProperty, DiffThenApplyReproducesTheTarget, ()) {
  const std::uint32_t partition_count = 1u << *rc::gen::inRange(0, 7);
  const Ring from = RandomRing(partition_count, 5, *rc::gen::inRange(0, 4));
  // The target evolves from `from` so its version is ahead, as deltas are used.
  Ring to = from;
  const Ring other = RandomRing(partition_count, 7, *rc::gen::inRange(0, 4));
  std::vector<NodeId> targets;
  for (std::uint32_t p = 0; p < partition_count; ++p) targets.push_back(other.FutureOwner(p));
  if (*rc::gen::arbitrary<bool>()) to.AssignAll(targets);
  to.PlanTransfers(targets);
  if (partition_count > 1) to.Complete(partition_count - 1).IgnoreError();

  const Ring::Delta delta = Ring::Diff(from, to);
  Ring applied = from;
  RC_ASSERT(applied.Apply(delta).ok());
  RC_ASSERT(applied == to);
  // Only changed partitions are listed.
  std::set<std::uint32_t> listed;
  for (const Ring::Change& change : delta.changes) listed.insert(change.partition);
  for (std::uint32_t p = 0; p < partition_count; ++p) {
    const bool differs = from.Owner(p) != to.Owner(p) || from.PendingOwner(p) != to.PendingOwner(p);
    RC_ASSERT(differs == (listed.count(p) == 1));
  }
  // Applying the same delta again is refused (the base no longer matches) when it moved on.
  if (delta.version != delta.base_version) {
    const Ring snapshot = applied;
    RC_ASSERT(!applied.Apply(delta).ok());
    RC_ASSERT(applied == snapshot);
  }
}

}  // namespace
}  // namespace meridian::cluster
