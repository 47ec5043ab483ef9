// ClusterState and Member merge: the lattice laws (commutative, associative, idempotent) and
// the deterministic tie-breaks that make every node converge to the same state.
#include "cluster/cluster_state.h"

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "cluster/gossip_codec.h"
#include "cluster/member.h"
#include "cluster/ring.h"

namespace meridian::cluster {
namespace {

constexpr std::uint32_t kPartitions = 8;

Member MakeMember(std::string id, std::uint64_t incarnation, std::uint64_t version,
                  std::uint32_t weight = 1, MemberStatus status = MemberStatus::kUp) {
  Member member;
  member.id = std::move(id);
  member.peer_address = member.id + ":7000";
  member.http_address = member.id + ":8080";
  member.zone = "z1";
  member.weight = weight;
  member.status = status;
  member.incarnation = incarnation;
  member.version = version;
  return member;
}

// A ring of kPartitions owned round-robin by `owners`, raised to `version` by repeated
// assignment.
std::shared_ptr<const Ring> MakeRing(const std::vector<NodeId>& owners, std::uint64_t version) {
  auto ring = std::make_shared<Ring>(kPartitions);
  std::vector<NodeId> assignment(kPartitions);
  for (std::uint32_t p = 0; p < kPartitions; ++p) assignment[p] = owners[p % owners.size()];
  while (ring->version() < version) ring->AssignAll(assignment);
  return ring;
}

struct RingChoice {
  std::shared_ptr<const Ring> ring;
  NodeId claimant;
};

// A state from generated records and one ring choice.
ClusterState MakeState(const std::vector<Member>& members, const RingChoice* ring) {
  ClusterState state("test", kPartitions);
  for (const Member& member : members) state.MergeMember(member);
  if (ring != nullptr) state.MergeRing(ring->ring, RingContentHash(*ring->ring), ring->claimant);
  return state;
}

rc::Gen<Member> GenMember() {
  return rc::gen::apply(
      [](int id, int incarnation, int version, int weight, int status, int generation) {
        Member member =
            MakeMember("n" + std::to_string(id), static_cast<std::uint64_t>(incarnation),
                       static_cast<std::uint64_t>(version), static_cast<std::uint32_t>(weight),
                       static_cast<MemberStatus>(status));
        member.generation = static_cast<std::uint64_t>(generation);
        return member;
      },
      rc::gen::inRange(0, 4), rc::gen::inRange(0, 2), rc::gen::inRange(0, 3),
      rc::gen::inRange(1, 3), rc::gen::inRange(1, 5), rc::gen::inRange(0, 2));
}

std::vector<RingChoice> RingChoices() {
  return {
      {MakeRing({"n0", "n1"}, 1), "n0"}, {MakeRing({"n1", "n2"}, 1), "n1"},
      {MakeRing({"n0", "n2"}, 2), "n2"}, {MakeRing({"n2", "n0"}, 2), "n2"},
      {MakeRing({"n3"}, 3), "n3"},
  };
}

rc::Gen<ClusterState> GenState() {
  return rc::gen::apply(
      [](const std::vector<Member>& members, int ring_index) {
        static const std::vector<RingChoice> choices = RingChoices();
        return MakeState(members, ring_index < 0 ? nullptr : &choices[ring_index]);
      },
      rc::gen::container<std::vector<Member>>(GenMember()), rc::gen::inRange(-1, 5));
}

ClusterState Merged(ClusterState a, const ClusterState& b) {
  a.Merge(b);
  return a;
}

RC_GTEST_PROP(ClusterStateMerge, IsCommutative, ()) {
  const ClusterState a = *GenState();
  const ClusterState b = *GenState();
  RC_ASSERT(Merged(a, b) == Merged(b, a));
}

RC_GTEST_PROP(ClusterStateMerge, IsAssociative, ()) {
  const ClusterState a = *GenState();
  const ClusterState b = *GenState();
  const ClusterState c = *GenState();
  RC_ASSERT(Merged(Merged(a, b), c) == Merged(a, Merged(b, c)));
}

RC_GTEST_PROP(ClusterStateMerge, IsIdempotentAndReportsChanges, ()) {
  const ClusterState a = *GenState();
  const ClusterState b = *GenState();
  ClusterState merged = Merged(a, b);
  RC_ASSERT(Merged(merged, a) == merged);
  ClusterState again = merged;
  RC_ASSERT(!again.Merge(b));
  RC_ASSERT(again == merged);
  RC_ASSERT(merged.DigestHash() == Merged(b, a).DigestHash());
}

// Version first, so a restart (a higher incarnation at the same version) never undoes an
// administrative change made meanwhile (a higher version).
TEST(MemberMerge, HigherVersionThenIncarnationWins) {
  EXPECT_TRUE(MemberSupersedes(MakeMember("a", 1, 9), MakeMember("a", 2, 0)));
  EXPECT_FALSE(MemberSupersedes(MakeMember("a", 2, 0), MakeMember("a", 1, 9)));
  EXPECT_TRUE(MemberSupersedes(MakeMember("a", 2, 9), MakeMember("a", 1, 9)));
  EXPECT_TRUE(MemberSupersedes(MakeMember("a", 1, 3), MakeMember("a", 1, 2)));
  EXPECT_FALSE(MemberSupersedes(MakeMember("a", 1, 2), MakeMember("a", 1, 3)));
  EXPECT_FALSE(MemberSupersedes(MakeMember("a", 1, 2), MakeMember("a", 1, 2)));
}

TEST(MemberMerge, EqualKeysWithDifferentContentMergeToTheSameRecordEverywhere) {
  const Member heavy = MakeMember("a", 1, 5, 4);
  const Member leaving = MakeMember("a", 1, 5, 1, MemberStatus::kLeaving);
  EXPECT_EQ(MergeMembers(heavy, leaving), MergeMembers(leaving, heavy));
  EXPECT_EQ(MergeMembers(heavy, leaving).status, MemberStatus::kLeaving);
  ClusterState first("test", kPartitions);
  first.MergeMember(heavy);
  first.MergeMember(leaving);
  ClusterState second("test", kPartitions);
  second.MergeMember(leaving);
  second.MergeMember(heavy);
  EXPECT_EQ(first, second);
  EXPECT_EQ(first.DigestHash(), second.DigestHash());
}

// Two changes made at once from different records: a leave asked of a joiner that has not yet
// heard it is up (made from its own record, version 2), and the claimant's move of it to up
// (made from the record the join request left, version 3). Both survive the merge, in either
// order: the status never moves back (before, the newer record won whole and the leave was
// lost: test_deploy.py's two-pod leave, 3 runs of 4).
TEST(MemberMerge, TheStatusNeverMovesBackWithinAGeneration) {
  const Member up = MakeMember("a", 1, 3, 1, MemberStatus::kUp);
  const Member leaving = MakeMember("a", 1, 2, 1, MemberStatus::kLeaving);
  Member expected = up;
  expected.status = MemberStatus::kLeaving;
  EXPECT_EQ(MergeMembers(up, leaving), expected);
  EXPECT_EQ(MergeMembers(leaving, up), expected);
  EXPECT_TRUE(MemberSupersedes(leaving, up));
  EXPECT_FALSE(MemberSupersedes(up, expected));

  // A weight change from a newer record keeps its weight and the concurrent leave's status.
  const Member heavier = MakeMember("a", 1, 4, 5, MemberStatus::kUp);
  EXPECT_EQ(MergeMembers(heavier, leaving).weight, 5u);
  EXPECT_EQ(MergeMembers(heavier, leaving).status, MemberStatus::kLeaving);

  ClusterState first("test", kPartitions);
  first.MergeMember(up);
  first.MergeMember(leaving);
  ClusterState second("test", kPartitions);
  second.MergeMember(leaving);
  second.MergeMember(up);
  EXPECT_EQ(first, second);
  EXPECT_EQ(*first.FindMember("a"), expected);
}

// A removed member that joins again starts a new generation: its joining record wins whole over
// every record of the old membership, removed or not.
TEST(MemberMerge, AHigherGenerationWinsWhole) {
  const Member removed = MakeMember("a", 1, 5, 1, MemberStatus::kRemoved);
  const Member stale_leaving = MakeMember("a", 1, 4, 1, MemberStatus::kLeaving);
  Member rejoined = MakeMember("a", 2, 6, 1, MemberStatus::kJoining);
  rejoined.generation = 1;
  Member up_again = MakeMember("a", 2, 7, 1, MemberStatus::kUp);
  up_again.generation = 1;
  EXPECT_EQ(MergeMembers(rejoined, removed), rejoined);
  EXPECT_EQ(MergeMembers(removed, rejoined), rejoined);
  EXPECT_EQ(MergeMembers(up_again, stale_leaving), up_again);
  EXPECT_FALSE(MemberSupersedes(removed, up_again));
  // Generation 0 hashes as before generations existed (digests of older nodes agree).
  Member zero = removed;
  zero.generation = 0;
  EXPECT_EQ(MemberContentHash(zero), MemberContentHash(removed));
  EXPECT_NE(MemberContentHash(rejoined), [&] {
    Member other = rejoined;
    other.generation = 0;
    return MemberContentHash(other);
  }());
}

// A member's shard count travels with its record (reaping rounds are grouped by it); one shard
// encodes and hashes as records did before the field existed.
TEST(MemberShards, TravelWithTheRecordAndOneShardEncodesAsBefore) {
  Member one = MakeMember("a", 1, 3, 1, MemberStatus::kUp);
  proto::GossipMember encoded;
  EncodeMember(one, &encoded);
  EXPECT_EQ(encoded.shards(), 0u);  // absent on the wire
  auto decoded = DecodeMember(encoded);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->shards, 1u);

  Member four = one;
  four.shards = 4;
  EXPECT_NE(MemberContentHash(four), MemberContentHash(one));
  encoded.Clear();
  EncodeMember(four, &encoded);
  decoded = DecodeMember(encoded);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(*decoded, four);

  encoded.set_shards(kMemberShardsMax + 1);
  EXPECT_FALSE(DecodeMember(encoded).ok());
  Member none = one;
  none.shards = 0;
  EXPECT_FALSE(ValidateMember(none).ok());
}

// A member's features travel with its record (others forward writes with fixed versions only
// to members that have kMemberFeatureFixedVersions); none encodes and hashes as before, and a
// restart with new software advertises them.
TEST(MemberFeatures, TravelWithTheRecordAndNoneEncodesAsBefore) {
  Member old_release = MakeMember("a", 1, 3, 1, MemberStatus::kUp);
  ASSERT_EQ(old_release.features, 0u);
  proto::GossipMember encoded;
  EncodeMember(old_release, &encoded);
  EXPECT_EQ(encoded.features(), 0u);
  const std::uint64_t hash_before = MemberContentHash(old_release);
  Member upgraded = old_release;
  upgraded.features = kMemberFeaturesOfThisRelease;
  EXPECT_NE(MemberContentHash(upgraded), hash_before);
  // Tagged: features never hash like a shard count of the same value.
  Member sharded = old_release;
  sharded.shards = static_cast<std::uint32_t>(kMemberFeaturesOfThisRelease);
  EXPECT_NE(MemberContentHash(upgraded), MemberContentHash(sharded));
  encoded.Clear();
  EncodeMember(upgraded, &encoded);
  auto decoded = DecodeMember(encoded);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(*decoded, upgraded);
  EXPECT_NE(decoded->features & kMemberFeatureFixedVersions, 0u);
}

TEST(RingMerge, HigherVersionWinsThenSmallerClaimant) {
  const RingVersionKey old_ring{1, 11, "a"};
  const RingVersionKey newer{2, 22, "z"};
  EXPECT_TRUE(RingSupersedes(newer, old_ring));
  EXPECT_FALSE(RingSupersedes(old_ring, newer));
  const RingVersionKey from_b{3, 33, "b"};
  const RingVersionKey from_c{3, 44, "c"};
  EXPECT_TRUE(RingSupersedes(from_b, from_c));
  EXPECT_FALSE(RingSupersedes(from_c, from_b));
  EXPECT_FALSE(RingSupersedes(from_b, from_b));
}

TEST(RingMerge, SplitBrainClaimantsConvergeOnTheSmallerClaimant) {
  const std::vector<RingChoice> choices = RingChoices();
  const RingChoice& by_n2 = choices[2];  // version 2
  const RingChoice& by_n2_other = choices[3];
  ClusterState first = MakeState({}, &by_n2);
  ClusterState second = MakeState({}, &by_n2_other);
  ClusterState third("test", kPartitions);
  third.MergeRing(MakeRing({"n1", "n3"}, 2), RingContentHash(*MakeRing({"n1", "n3"}, 2)), "n1");
  EXPECT_TRUE(first.Merge(third));
  EXPECT_TRUE(second.Merge(third));
  EXPECT_EQ(first.ring_claimant(), "n1");
  EXPECT_EQ(first, second);
}

TEST(RingContentHash, DependsOnOwnersAndPendingOwners) {
  Ring a(kPartitions);
  a.AssignAll(std::vector<NodeId>(kPartitions, "x"));
  Ring b = a;
  EXPECT_EQ(RingContentHash(a), RingContentHash(b));
  std::vector<NodeId> targets(kPartitions, "x");
  targets[3] = "y";
  b.PlanTransfers(targets);
  EXPECT_NE(RingContentHash(a), RingContentHash(b));
}

}  // namespace
}  // namespace meridian::cluster
