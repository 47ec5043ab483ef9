#include "node/bucket_change.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace meridian::node {
namespace {

using Answer = proto::BucketCheckReply::Answer;
using Ids = std::vector<cluster::NodeId>;

constexpr std::uint64_t kFirstId = 100;
constexpr std::uint64_t kDeadlineMs = 8000;
constexpr std::uint64_t kResendMs = 500;

BucketChange MakeChange() {
  return BucketChange("b", {"n2", "n3"}, kFirstId, /*now_ms=*/0, kDeadlineMs, kResendMs);
}

void AnswerAll(BucketChange& change, Answer answer) {
  const std::uint64_t id = change.check_id();
  change.OnReply("n2", id, answer, "");
  change.OnReply("n3", id, answer, "");
}

TEST(BucketChangeTest, AppliesOnlyAfterTwoRoundsOfEveryMemberAnsweringEmpty) {
  BucketChange change = MakeChange();
  EXPECT_EQ(change.Due(0), (Ids{"n2", "n3"}));
  EXPECT_EQ(change.check_id(), kFirstId);
  AnswerAll(change, proto::BucketCheckReply::ANSWER_EMPTY);
  // The first round is not enough: a copy may have been in flight between two answers.
  EXPECT_EQ(change.outcome(10), BucketChange::Outcome::kPending);
  EXPECT_EQ(change.round(), 1);
  EXPECT_EQ(change.check_id(), kFirstId + 1);
  EXPECT_EQ(change.Due(10), (Ids{"n2", "n3"})) << "everyone is asked again at once";
  change.OnReply("n2", kFirstId, proto::BucketCheckReply::ANSWER_EMPTY, "");  // stale: round 0
  change.OnReply("n2", kFirstId + 1, proto::BucketCheckReply::ANSWER_EMPTY, "");
  EXPECT_EQ(change.outcome(20), BucketChange::Outcome::kPending);
  change.OnReply("n3", kFirstId + 1, proto::BucketCheckReply::ANSWER_EMPTY, "");
  EXPECT_EQ(change.outcome(20), BucketChange::Outcome::kApply);
  EXPECT_TRUE(change.Due(20).empty());
}

TEST(BucketChangeTest, ResendsToSilentMembersAndFailsAtTheDeadline) {
  BucketChange change = MakeChange();
  EXPECT_EQ(change.Due(0).size(), 2u);
  EXPECT_TRUE(change.Due(kResendMs - 1).empty());
  change.OnReply("n2", kFirstId, proto::BucketCheckReply::ANSWER_EMPTY, "");
  EXPECT_EQ(change.Due(kResendMs), (Ids{"n3"}));
  EXPECT_EQ(change.outcome(kDeadlineMs - 1), BucketChange::Outcome::kPending);
  EXPECT_EQ(change.outcome(kDeadlineMs), BucketChange::Outcome::kFailed);
  EXPECT_NE(change.Explain(kDeadlineMs).find("no answer from n3"), std::string::npos)
      << change.Explain(kDeadlineMs);
  EXPECT_TRUE(change.Due(kDeadlineMs).empty());
}

TEST(BucketChangeTest, OneMemberHoldingDataOrSupersedingDecidesAtOnce) {
  BucketChange holds = MakeChange();
  holds.OnReply("n3", kFirstId, proto::BucketCheckReply::ANSWER_HOLDS_DATA, "");
  EXPECT_EQ(holds.outcome(0), BucketChange::Outcome::kHoldsData);
  EXPECT_NE(holds.Explain(0).find("stored on n3"), std::string::npos) << holds.Explain(0);

  BucketChange superseded = MakeChange();
  AnswerAll(superseded, proto::BucketCheckReply::ANSWER_EMPTY);
  superseded.OnReply("n2", kFirstId + 1, proto::BucketCheckReply::ANSWER_SUPERSEDED, "");
  EXPECT_EQ(superseded.outcome(0), BucketChange::Outcome::kSuperseded);

  BucketChange failed = MakeChange();
  failed.OnReply("n2", kFirstId, proto::BucketCheckReply::ANSWER_ERROR, "disk");
  EXPECT_EQ(failed.outcome(0), BucketChange::Outcome::kFailed);
  EXPECT_NE(failed.Explain(0).find("failed on n2 (disk)"), std::string::npos) << failed.Explain(0);
}

TEST(BucketChangeTest, IgnoresStrangersDuplicatesAndOtherChecks) {
  BucketChange change = MakeChange();
  change.OnReply("n9", kFirstId, proto::BucketCheckReply::ANSWER_HOLDS_DATA, "");  // not asked
  change.OnReply("n2", kFirstId + 7, proto::BucketCheckReply::ANSWER_HOLDS_DATA, "");
  change.OnReply("n2", kFirstId, proto::BucketCheckReply::ANSWER_UNSPECIFIED, "");
  EXPECT_EQ(change.outcome(0), BucketChange::Outcome::kPending);
  change.OnReply("n2", kFirstId, proto::BucketCheckReply::ANSWER_EMPTY, "");
  change.OnReply("n2", kFirstId, proto::BucketCheckReply::ANSWER_HOLDS_DATA, "");  // a duplicate
  EXPECT_EQ(change.outcome(0), BucketChange::Outcome::kPending);
  EXPECT_TRUE(change.Owns(kFirstId + 1));
  EXPECT_FALSE(change.Owns(kFirstId + BucketChange::kRounds));
}

TEST(BucketChangeTest, SealedStatusIsRetryableAndNamesTheBucket) {
  const Status status = SealedBucketStatus("orders");
  EXPECT_EQ(status.code(), StatusCode::kUnavailable);
  EXPECT_NE(status.message().find("\"orders\" is sealed"), std::string::npos);
}

}  // namespace
}  // namespace meridian::node
