// SelectReplicas: reachable primaries first, then fallbacks (with hints) for the unreachable
// primaries under sloppy quorum; the coordinator itself is the preferred fallback.
#include "replication/replica_selection.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace meridian::replication {
namespace {

cluster::PreferenceList Preference() {
  return {{"a", "b", "c"}, {"d", "e", "f"}};
}

std::function<bool(const cluster::NodeId&)> AllBut(std::set<cluster::NodeId> down) {
  return [down = std::move(down)](const cluster::NodeId& node) { return !down.contains(node); };
}

ReplicaTarget Primary(const cluster::NodeId& node) {
  return {node, true, {}};
}

ReplicaTarget Fallback(const cluster::NodeId& node, const cluster::NodeId& hint_for) {
  return {node, false, hint_for};
}

TEST(ReplicaSelection, AllReachableSelectsPrimariesOnly) {
  const ReplicaSelection s = SelectReplicas(Preference(), AllBut({}), true, "a");
  EXPECT_EQ(s.targets, (std::vector<ReplicaTarget>{Primary("a"), Primary("b"), Primary("c")}));
  EXPECT_TRUE(s.unreplaced.empty());
}

TEST(ReplicaSelection, SloppyReplacesAnUnreachablePrimaryWithTheNextFallback) {
  const ReplicaSelection s = SelectReplicas(Preference(), AllBut({"b"}), true, "a");
  EXPECT_EQ(s.targets,
            (std::vector<ReplicaTarget>{Primary("a"), Primary("c"), Fallback("d", "b")}));
  EXPECT_TRUE(s.unreplaced.empty());
}

TEST(ReplicaSelection, FallbacksFollowTheOrderOfThePrimariesTheyReplace) {
  // d is down too: b gets e, c gets f.
  const ReplicaSelection s = SelectReplicas(Preference(), AllBut({"b", "c", "d"}), true, "a");
  EXPECT_EQ(s.targets,
            (std::vector<ReplicaTarget>{Primary("a"), Fallback("e", "b"), Fallback("f", "c")}));
  EXPECT_TRUE(s.unreplaced.empty());
}

TEST(ReplicaSelection, SloppyOffLeavesUnreachablePrimariesUnreplaced) {
  const ReplicaSelection s = SelectReplicas(Preference(), AllBut({"a", "c"}), false, "b");
  EXPECT_EQ(s.targets, (std::vector<ReplicaTarget>{Primary("b")}));
  EXPECT_EQ(s.unreplaced, (std::vector<cluster::NodeId>{"a", "c"}));
}

TEST(ReplicaSelection, SelfIsThePreferredFallback) {
  // The coordinator f is the last fallback of the walk but replaces the first down primary.
  const ReplicaSelection s = SelectReplicas(Preference(), AllBut({"a", "b"}), true, "f");
  EXPECT_EQ(s.targets,
            (std::vector<ReplicaTarget>{Primary("c"), Fallback("f", "a"), Fallback("d", "b")}));
  EXPECT_TRUE(s.unreplaced.empty());
}

TEST(ReplicaSelection, SelfIsNotUsedTwice) {
  // e is self and also reachable in the walk: it must stand in for one primary only.
  const ReplicaSelection s = SelectReplicas(Preference(), AllBut({"a", "b", "c", "d"}), true, "e");
  EXPECT_EQ(s.targets, (std::vector<ReplicaTarget>{Fallback("e", "a"), Fallback("f", "b")}));
  EXPECT_EQ(s.unreplaced, (std::vector<cluster::NodeId>{"c"}));
}

TEST(ReplicaSelection, SelfAsPrimaryIsNotAFallback) {
  const ReplicaSelection s = SelectReplicas(Preference(), AllBut({"c"}), true, "b");
  EXPECT_EQ(s.targets,
            (std::vector<ReplicaTarget>{Primary("a"), Primary("b"), Fallback("d", "c")}));
}

TEST(ReplicaSelection, FallbacksExhaustedLeavesTheRestUnreplaced) {
  const cluster::PreferenceList preference{{"a", "b", "c"}, {"d"}};
  const ReplicaSelection s = SelectReplicas(preference, AllBut({"a", "b", "c"}), true, "x");
  EXPECT_EQ(s.targets, (std::vector<ReplicaTarget>{Fallback("d", "a")}));
  EXPECT_EQ(s.unreplaced, (std::vector<cluster::NodeId>{"b", "c"}));
}

TEST(ReplicaSelection, UnreachableFallbacksAreSkipped) {
  const ReplicaSelection s = SelectReplicas(Preference(), AllBut({"a", "d", "e", "f"}), true, "b");
  EXPECT_EQ(s.targets, (std::vector<ReplicaTarget>{Primary("b"), Primary("c")}));
  EXPECT_EQ(s.unreplaced, (std::vector<cluster::NodeId>{"a"}));
}

}  // namespace
}  // namespace meridian::replication
