// GetCoordinator: when a read answers (r, pr), what it answers (the merge, LWW-resolved on
// demand), how it fails, and which primaries read repair must update.
#include "replication/get_coordinator.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace meridian::replication {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr std::uint64_t kDeadline = 5000;

std::vector<ReplicaTarget> ThreePrimaries() {
  return {{"a", true, {}}, {"b", true, {}}, {"c", true, {}}};
}

ResolvedQuorum Quorum(std::uint32_t r, std::uint32_t pr = 0) {
  ResolvedQuorum quorum;
  quorum.n = 3;
  quorum.r = r;
  quorum.pr = pr;
  quorum.w = 2;
  return quorum;
}

// A write by `actor` on top of `base` (blind: concurrent with what `base` holds).
DvvSet Write(DvvSet base, ActorId actor, std::uint64_t ms, const std::string& value,
             bool blind = false) {
  base.Update(blind ? VersionVector{} : base.clock(), actor, HlcTimestamp::FromParts(ms, 0), false,
              value, ConflictPolicy::kSiblings);
  return base;
}

// Two concurrent writes made on different replicas.
const DvvSet kFromA = Write(DvvSet(), 1, 10, "from-a");
const DvvSet kFromB = Write(DvvSet(), 2, 20, "from-b");
// An older and a newer version of one history.
const DvvSet kOld = Write(DvvSet(), 1, 10, "old");
const DvvSet kNew = Write(kOld, 1, 30, "new");

TEST(GetCoordinator, AnswersAfterRRepliesWithTheMergeOfTheirSiblings) {
  GetCoordinator get(ThreePrimaries(), Quorum(2), ConflictPolicy::kSiblings, kDeadline);
  get.OnReply(0, kFromA);
  EXPECT_EQ(get.state(), QuorumState::kPending);
  get.OnReply(1, kFromB);
  ASSERT_EQ(get.state(), QuorumState::kSucceeded);
  const DvvSet both = DvvSet::Merge(kFromA, kFromB).value();
  ASSERT_TRUE(get.answer().has_value());
  EXPECT_EQ(*get.answer(), both);
  EXPECT_EQ(get.answer()->siblings().size(), 2u);
  // Each deciding reply missed the other's sibling.
  const ConsistencyReceipt expected{
      .n = 3, .required = 2, .replies = 2, .primaries = 2, .behind = 2};
  EXPECT_EQ(get.receipt(), expected);
  EXPECT_FALSE(get.finished());

  // A later reply changes merged() but neither the answer nor the receipt.
  const DvvSet third = Write(DvvSet(), 3, 40, "from-c");
  get.OnReply(2, third);
  EXPECT_EQ(*get.answer(), both);
  EXPECT_EQ(get.receipt(), expected);
  EXPECT_EQ(get.merged(), DvvSet::Merge(both, third).value());
  EXPECT_TRUE(get.finished());
  EXPECT_THAT(get.ReplicasBehind(), ElementsAre(0u, 1u, 2u));
}

TEST(GetCoordinator, NewerCopySupersedesOlderInTheAnswer) {
  GetCoordinator get(ThreePrimaries(), Quorum(2), ConflictPolicy::kSiblings, kDeadline);
  get.OnReply(2, kOld);
  get.OnReply(0, kNew);
  ASSERT_EQ(get.state(), QuorumState::kSucceeded);
  EXPECT_EQ(get.answer(), kNew);
  EXPECT_EQ(get.receipt().behind, 1u);
}

TEST(GetCoordinator, PrCountsOnlyPrimaries) {
  const std::vector<ReplicaTarget> targets{{"a", true, {}}, {"d", false, "b"}, {"e", false, "c"}};
  GetCoordinator get(targets, Quorum(1, 1), ConflictPolicy::kSiblings, kDeadline);
  get.OnReply(1, kNew);
  get.OnReply(2, kNew);
  EXPECT_EQ(get.state(), QuorumState::kPending);  // r met by fallbacks, pr not
  get.OnReply(0, kOld);
  ASSERT_EQ(get.state(), QuorumState::kSucceeded);
  EXPECT_EQ(get.answer(), kNew);
  const ConsistencyReceipt expected{
      .n = 3, .required = 1, .replies = 3, .primaries = 1, .fallbacks = 2, .behind = 1};
  EXPECT_EQ(get.receipt(), expected);
}

TEST(GetCoordinator, PrFailsEarlyWhenThePrimaryErrs) {
  const std::vector<ReplicaTarget> targets{{"a", true, {}}, {"d", false, "b"}, {"e", false, "c"}};
  GetCoordinator get(targets, Quorum(1, 1), ConflictPolicy::kSiblings, kDeadline);
  get.OnReply(1, kNew);
  get.OnError(0, Status::IoError("read failed"));
  EXPECT_EQ(get.state(), QuorumState::kFailed);
  EXPECT_EQ(get.failure().code(), StatusCode::kUnavailable);
  EXPECT_THAT(get.failure().message(), HasSubstr("r=1 pr=1"));
  EXPECT_THAT(get.failure().message(), HasSubstr("a: read failed"));
}

TEST(GetCoordinator, LastWriteWinsLeavesOneSibling) {
  GetCoordinator get(ThreePrimaries(), Quorum(2), ConflictPolicy::kLastWriteWins, kDeadline);
  get.OnReply(0, kFromA);
  get.OnReply(1, kFromB);
  ASSERT_EQ(get.state(), QuorumState::kSucceeded);
  ASSERT_TRUE(get.answer().has_value());
  ASSERT_EQ(get.answer()->siblings().size(), 1u);
  EXPECT_EQ(get.answer()->siblings()[0].value, "from-b");  // the later timestamp
  // The history still covers the losing write, so it cannot come back.
  EXPECT_TRUE(get.answer()->clock().Covers(kFromA.siblings()[0].dot));
  EXPECT_EQ(get.merged(), get.answer());
}

TEST(GetCoordinator, NullReplyContributesNothingToTheMerge) {
  GetCoordinator get(ThreePrimaries(), Quorum(2), ConflictPolicy::kSiblings, kDeadline);
  get.OnReply(0, std::nullopt);
  get.OnReply(1, kOld);
  ASSERT_EQ(get.state(), QuorumState::kSucceeded);
  EXPECT_EQ(get.answer(), kOld);
  EXPECT_EQ(get.receipt().behind, 1u);  // the one without a copy
}

TEST(GetCoordinator, NotFoundEverywhereAnswersNothing) {
  GetCoordinator get(ThreePrimaries(), Quorum(2), ConflictPolicy::kSiblings, kDeadline);
  get.OnReply(0, std::nullopt);
  get.OnReply(1, std::nullopt);
  ASSERT_EQ(get.state(), QuorumState::kSucceeded);
  EXPECT_FALSE(get.answer().has_value());
  EXPECT_EQ(get.receipt().behind, 0u);
  get.OnReply(2, std::nullopt);
  EXPECT_THAT(get.ReplicasBehind(), IsEmpty());
}

TEST(GetCoordinator, ReplicasBehindListsStaleAndMissingPrimariesOnly) {
  const std::vector<ReplicaTarget> targets{
      {"a", true, {}}, {"b", true, {}}, {"c", true, {}}, {"x", true, {}}, {"d", false, "y"}};
  ResolvedQuorum quorum = Quorum(2);
  quorum.n = 5;
  GetCoordinator get(targets, quorum, ConflictPolicy::kSiblings, kDeadline);
  get.OnReply(0, kNew);                     // up to date
  get.OnReply(1, kOld);                     // stale primary
  get.OnReply(2, std::nullopt);             // primary without a copy
  get.OnError(3, Status::IoError("down"));  // errored: cannot be repaired
  get.OnReply(4, kOld);                     // stale fallback: never repaired
  EXPECT_TRUE(get.finished());
  EXPECT_EQ(get.merged(), kNew);
  EXPECT_THAT(get.ReplicasBehind(), ElementsAre(1u, 2u));
}

TEST(GetCoordinator, BehindCountsTheDecidingReplies) {
  GetCoordinator get(ThreePrimaries(), Quorum(3), ConflictPolicy::kSiblings, kDeadline);
  get.OnReply(0, kOld);
  get.OnReply(1, std::nullopt);
  get.OnReply(2, kNew);
  ASSERT_EQ(get.state(), QuorumState::kSucceeded);
  EXPECT_EQ(get.receipt().behind, 2u);
  EXPECT_EQ(get.receipt().replies, 3u);
}

TEST(GetCoordinator, TimeoutSaysWhatWasReached) {
  GetCoordinator get(ThreePrimaries(), Quorum(2), ConflictPolicy::kSiblings, kDeadline);
  get.OnReply(0, kNew);
  get.OnTime(kDeadline - 1);
  EXPECT_EQ(get.state(), QuorumState::kPending);
  EXPECT_FALSE(get.finished());
  get.OnTime(kDeadline);
  EXPECT_EQ(get.state(), QuorumState::kFailed);
  EXPECT_EQ(get.failure().code(), StatusCode::kTimeout);
  EXPECT_EQ(get.failure().message(),
            "1 of 3 replicas replied (1 primary) within the deadline; r=2 pr=0 was not reached");
  EXPECT_TRUE(get.finished());
  EXPECT_FALSE(get.answer().has_value());
}

TEST(GetCoordinator, FailsEarlyWhenErrorsMakeRUnreachable) {
  GetCoordinator get(ThreePrimaries(), Quorum(2), ConflictPolicy::kSiblings, kDeadline);
  get.OnError(1, Status::IoError("corrupt block"));
  EXPECT_EQ(get.state(), QuorumState::kPending);
  get.OnError(2, Status::Unavailable("overloaded"));
  EXPECT_EQ(get.state(), QuorumState::kFailed);
  EXPECT_EQ(get.failure().code(), StatusCode::kUnavailable);
  EXPECT_THAT(get.failure().message(), HasSubstr("0 of 3 replicas replied (0 primaries)"));
  EXPECT_THAT(get.failure().message(), HasSubstr("b: corrupt block"));
  // A late reply is still merged for repair, but the read stays failed.
  get.OnReply(0, kNew);
  EXPECT_EQ(get.state(), QuorumState::kFailed);
  EXPECT_EQ(get.merged(), kNew);
  EXPECT_TRUE(get.finished());
}

TEST(GetCoordinator, SucceededReadStopsWaitingAtTheDeadline) {
  GetCoordinator get(ThreePrimaries(), Quorum(1), ConflictPolicy::kSiblings, kDeadline);
  get.OnReply(0, kNew);
  ASSERT_EQ(get.state(), QuorumState::kSucceeded);
  EXPECT_FALSE(get.finished());
  get.OnTime(kDeadline + 1);
  EXPECT_EQ(get.state(), QuorumState::kSucceeded);
  EXPECT_TRUE(get.failure().ok());
  EXPECT_TRUE(get.finished());
}

TEST(GetCoordinator, RepeatedRepliesAreIgnored) {
  GetCoordinator get(ThreePrimaries(), Quorum(2), ConflictPolicy::kSiblings, kDeadline);
  get.OnReply(0, kOld);
  get.OnReply(0, kNew);
  get.OnError(0, Status::IoError("late"));
  EXPECT_EQ(get.state(), QuorumState::kPending);
  EXPECT_EQ(get.merged(), kOld);
  EXPECT_EQ(get.receipt().replies, 1u);
}

ReplicaSelection Selection(std::vector<ReplicaTarget> targets,
                           std::vector<cluster::NodeId> unreplaced) {
  return {std::move(targets), std::move(unreplaced)};
}

TEST(GetCoordinator, CheckReachableNamesTheMissingReplicas) {
  EXPECT_TRUE(GetCoordinator::CheckReachable(Selection(ThreePrimaries(), {}), Quorum(3, 3)).ok());

  const Status r =
      GetCoordinator::CheckReachable(Selection({{"a", true, {}}}, {"b", "c"}), Quorum(2));
  EXPECT_EQ(r.code(), StatusCode::kUnavailable);
  EXPECT_EQ(r.message(),
            "r=2 needs 2 replicas but only 1 of 3 is reachable (unreachable primaries: b, c)");

  const Status pr = GetCoordinator::CheckReachable(
      Selection({{"a", true, {}}, {"d", false, "b"}, {"e", false, "c"}}, {}), Quorum(2, 2));
  EXPECT_EQ(pr.code(), StatusCode::kUnavailable);
  EXPECT_EQ(pr.message(),
            "pr=2 needs 2 primaries but only 1 of 3 is reachable (unreachable: b, c)");
}

}  // namespace
}  // namespace meridian::replication

namespace meridian::replication {
namespace {

// Two primaries down: the coordinator is a fallback itself. Two empty fallback replies must not
// answer "not found" before the live primary that holds the value replied (found by
// tests/e2e/test_replication.py).
TEST(GetCoordinator, FallbackNotFoundWaitsForTheLivePrimary) {
  const std::vector<ReplicaTarget> targets = {
      {"a", true, {}}, {"x", false, "b"}, {"y", false, "c"}};
  GetCoordinator get(targets, Quorum(2), ConflictPolicy::kSiblings, kDeadline);
  get.OnReply(1, std::nullopt);
  get.OnReply(2, std::nullopt);
  EXPECT_EQ(get.state(), QuorumState::kPending);
  get.OnReply(0, kOld);
  ASSERT_EQ(get.state(), QuorumState::kSucceeded);
  EXPECT_EQ(get.answer(), kOld);
  EXPECT_EQ(get.receipt().primaries, 1u);
}

// When every target answered and nobody has the key, fallback "not found" replies count.
TEST(GetCoordinator, FallbackNotFoundCountsOnceEveryTargetAnswered) {
  const std::vector<ReplicaTarget> targets = {
      {"a", true, {}}, {"x", false, "b"}, {"y", false, "c"}};
  GetCoordinator get(targets, Quorum(2), ConflictPolicy::kSiblings, kDeadline);
  get.OnReply(1, std::nullopt);
  get.OnReply(0, std::nullopt);
  EXPECT_EQ(get.state(), QuorumState::kPending);
  get.OnReply(2, std::nullopt);
  ASSERT_EQ(get.state(), QuorumState::kSucceeded);
  EXPECT_EQ(get.answer(), std::nullopt);
}

}  // namespace
}  // namespace meridian::replication

namespace meridian::replication {
namespace {

// A primary still receiving its copy of the partition (a new replica) says "not found" without
// knowing: that counts only like a fallback's, so the replica that has the value decides.
TEST(GetCoordinator, IncompletePrimaryNotFoundWaitsForTheOthers) {
  GetCoordinator get(ThreePrimaries(), Quorum(2), ConflictPolicy::kSiblings, kDeadline);
  get.OnReply(0, std::nullopt, /*incomplete=*/true);
  get.OnReply(1, kOld);
  EXPECT_EQ(get.state(), QuorumState::kPending);
  get.OnError(2, Status::Timeout("slow"));
  ASSERT_EQ(get.state(), QuorumState::kSucceeded);
  EXPECT_EQ(get.answer(), kOld);
}

}  // namespace
}  // namespace meridian::replication
