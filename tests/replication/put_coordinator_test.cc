// PutCoordinator: when a write succeeds (w, dw, pw), when it fails (errors, deadline), what
// the failure says, and that the decision and its receipt never change afterwards.
#include "replication/put_coordinator.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <string>
#include <vector>

namespace meridian::replication {
namespace {

constexpr std::uint64_t kDeadline = 5000;

using ::testing::HasSubstr;
using ::testing::Not;

std::vector<ReplicaTarget> ThreePrimaries() {
  return {{"a", true, {}}, {"b", true, {}}, {"c", true, {}}};
}

// a primary, then two fallbacks standing in for b and c.
std::vector<ReplicaTarget> OnePrimaryTwoFallbacks() {
  return {{"a", true, {}}, {"d", false, "b"}, {"e", false, "c"}};
}

ResolvedQuorum Quorum(std::uint32_t w, std::uint32_t dw = 0, std::uint32_t pw = 0) {
  ResolvedQuorum quorum;
  quorum.n = 3;
  quorum.r = 2;
  quorum.w = w;
  quorum.dw = dw;
  quorum.pw = pw;
  return quorum;
}

TEST(PutCoordinator, WOfThreeSucceedsAfterWAcksNotBefore) {
  PutCoordinator put(ThreePrimaries(), Quorum(2), kDeadline);
  EXPECT_EQ(put.state(), QuorumState::kPending);
  put.OnAck(0, false, false);
  EXPECT_EQ(put.state(), QuorumState::kPending);
  put.OnAck(2, false, false);
  EXPECT_EQ(put.state(), QuorumState::kSucceeded);
  EXPECT_TRUE(put.failure().ok());
  EXPECT_FALSE(put.all_answered());
  const ConsistencyReceipt expected{.n = 3, .required = 2, .replies = 2, .primaries = 2};
  EXPECT_EQ(put.receipt(), expected);
}

TEST(PutCoordinator, DwNeedsADurableAck) {
  PutCoordinator put(ThreePrimaries(), Quorum(2, 1), kDeadline);
  put.OnAck(0, false, false);
  put.OnAck(1, false, false);
  EXPECT_EQ(put.state(), QuorumState::kPending);  // w met, dw not
  put.OnAck(2, true, false);
  EXPECT_EQ(put.state(), QuorumState::kSucceeded);
  EXPECT_EQ(put.receipt().replies, 3u);
  EXPECT_EQ(put.receipt().durable, 1u);
}

TEST(PutCoordinator, PwCountsOnlyPrimaries) {
  PutCoordinator put(OnePrimaryTwoFallbacks(), Quorum(2, 0, 1), kDeadline);
  put.OnAck(1, true, true);
  put.OnAck(2, true, true);
  EXPECT_EQ(put.state(), QuorumState::kPending);  // two acks, but both from fallbacks
  put.OnAck(0, true, false);
  EXPECT_EQ(put.state(), QuorumState::kSucceeded);
  const ConsistencyReceipt expected{.n = 3,
                                    .required = 2,
                                    .replies = 3,
                                    .primaries = 1,
                                    .fallbacks = 2,
                                    .durable = 3,
                                    .hinted = 2};
  EXPECT_EQ(put.receipt(), expected);
}

TEST(PutCoordinator, PwFailsEarlyWhenTheOnlyPrimaryErrs) {
  PutCoordinator put(OnePrimaryTwoFallbacks(), Quorum(1, 0, 1), kDeadline);
  put.OnAck(1, false, true);
  EXPECT_EQ(put.state(), QuorumState::kPending);
  put.OnError(0, Status::IoError("disk full"));
  EXPECT_EQ(put.state(), QuorumState::kFailed);
  EXPECT_EQ(put.failure().code(), StatusCode::kUnavailable);
  EXPECT_THAT(put.failure().message(), HasSubstr("pw=1"));
  EXPECT_THAT(put.failure().message(), HasSubstr("a: disk full"));
  EXPECT_THAT(put.failure().message(), HasSubstr("applied on 1 replica and may become visible"));
}

TEST(PutCoordinator, FailsEarlyWhenErrorsMakeWUnreachable) {
  PutCoordinator put(ThreePrimaries(), Quorum(2), kDeadline);
  put.OnAck(0, true, false);
  put.OnError(1, Status::IoError("disk full"));
  EXPECT_EQ(put.state(), QuorumState::kPending);  // c may still ack
  put.OnError(2, Status::Unavailable("overloaded"));
  EXPECT_EQ(put.state(), QuorumState::kFailed);
  EXPECT_EQ(put.failure().code(), StatusCode::kUnavailable);
  const std::string& message = put.failure().message();
  EXPECT_THAT(message, HasSubstr("1 of 3 replicas acknowledged (1 primary, 1 durable, 0 hinted)"));
  EXPECT_THAT(message, HasSubstr("w=2 dw=0 pw=0"));
  EXPECT_THAT(message, HasSubstr("b: disk full"));  // the first error
  EXPECT_THAT(message, Not(HasSubstr("overloaded")));
  EXPECT_THAT(message, HasSubstr("may become visible (it was not rolled back)"));
  EXPECT_TRUE(put.all_answered());
}

TEST(PutCoordinator, DwFailsEarlyWhenTooFewCanStillSync) {
  PutCoordinator put(ThreePrimaries(), Quorum(1, 2), kDeadline);
  put.OnAck(0, false, false);  // w met, not durable
  put.OnError(1, Status::IoError("fsync failed"));
  EXPECT_EQ(put.state(), QuorumState::kFailed);
  EXPECT_EQ(put.failure().code(), StatusCode::kUnavailable);
}

TEST(PutCoordinator, TimeoutSaysWhatWasReachedAndThatTheWriteMayBeVisible) {
  PutCoordinator put(ThreePrimaries(), Quorum(2), kDeadline);
  put.OnAck(0, false, false);
  put.OnTime(kDeadline - 1);
  EXPECT_EQ(put.state(), QuorumState::kPending);
  put.OnTime(kDeadline);
  EXPECT_EQ(put.state(), QuorumState::kFailed);
  EXPECT_EQ(put.failure().code(), StatusCode::kTimeout);
  EXPECT_EQ(put.failure().message(),
            "1 of 3 replicas acknowledged (1 primary, 0 durable, 0 hinted) within the deadline; "
            "w=2 dw=0 pw=0 was not reached; the write was applied on 1 replica and may become "
            "visible (it was not rolled back)");
}

TEST(PutCoordinator, TimeoutWithoutAcksSaysTheWriteMayStillBeApplied) {
  PutCoordinator put(ThreePrimaries(), Quorum(2), kDeadline);
  put.OnError(1, Status::Timeout("no answer"));
  put.OnTime(kDeadline + 10);
  EXPECT_EQ(put.failure().code(), StatusCode::kTimeout);
  EXPECT_THAT(put.failure().message(), HasSubstr("0 of 3 replicas acknowledged"));
  EXPECT_THAT(put.failure().message(),
              HasSubstr("the write may still be applied by replicas that did not answer"));
  EXPECT_THAT(put.failure().message(), HasSubstr("b: no answer"));
}

TEST(PutCoordinator, ReceiptIsFrozenAtTheDecision) {
  PutCoordinator put(ThreePrimaries(), Quorum(1), kDeadline);
  put.OnAck(1, true, false);
  ASSERT_EQ(put.state(), QuorumState::kSucceeded);
  const ConsistencyReceipt at_decision = put.receipt();
  put.OnAck(0, true, true);
  put.OnError(2, Status::IoError("late"));
  put.OnTime(kDeadline * 2);
  EXPECT_EQ(put.state(), QuorumState::kSucceeded);
  EXPECT_TRUE(put.failure().ok());
  EXPECT_EQ(put.receipt(), at_decision);
  EXPECT_EQ(put.receipt().replies, 1u);
  EXPECT_TRUE(put.all_answered());
}

TEST(PutCoordinator, FailureIsFinalToo) {
  PutCoordinator put(ThreePrimaries(), Quorum(3), kDeadline);
  put.OnError(0, Status::IoError("x"));
  ASSERT_EQ(put.state(), QuorumState::kFailed);
  const Status failure = put.failure();
  put.OnAck(1, true, false);
  put.OnAck(2, true, false);
  EXPECT_EQ(put.state(), QuorumState::kFailed);
  EXPECT_EQ(put.failure().message(), failure.message());
  EXPECT_EQ(put.receipt().replies, 0u);
}

TEST(PutCoordinator, DuplicateAnswersAreIgnored) {
  PutCoordinator put(ThreePrimaries(), Quorum(2), kDeadline);
  put.OnAck(0, false, false);
  put.OnAck(0, true, true);
  put.OnError(0, Status::IoError("late error"));
  EXPECT_EQ(put.state(), QuorumState::kPending);
  EXPECT_EQ(put.receipt().replies, 1u);
  EXPECT_EQ(put.receipt().durable, 0u);
  put.OnError(1, Status::IoError("first"));
  put.OnAck(1, true, false);  // after its error: ignored
  EXPECT_EQ(put.receipt().replies, 1u);
  EXPECT_EQ(put.state(), QuorumState::kPending);
}

TEST(PutCoordinator, AnswerForAnUnknownTargetIsABug) {
  EXPECT_DEATH(
      {
        PutCoordinator put(ThreePrimaries(), Quorum(2), kDeadline);
        put.OnAck(3, false, false);
      },
      "index < targets_.size");
}

ReplicaSelection Selection(std::vector<ReplicaTarget> targets,
                           std::vector<cluster::NodeId> unreplaced) {
  return {std::move(targets), std::move(unreplaced)};
}

TEST(PutCoordinator, CheckReachableAcceptsEnoughTargets) {
  EXPECT_TRUE(
      PutCoordinator::CheckReachable(Selection(ThreePrimaries(), {}), Quorum(3, 3, 3)).ok());
  EXPECT_TRUE(
      PutCoordinator::CheckReachable(Selection(OnePrimaryTwoFallbacks(), {}), Quorum(3, 0, 1))
          .ok());
}

TEST(PutCoordinator, CheckReachableNamesTheMissingReplicas) {
  const Status w =
      PutCoordinator::CheckReachable(Selection({{"a", true, {}}}, {"b", "c"}), Quorum(2));
  EXPECT_EQ(w.code(), StatusCode::kUnavailable);
  EXPECT_EQ(w.message(),
            "w=2 needs 2 replicas but only 1 of 3 is reachable (unreachable primaries: b, c); "
            "nothing was written");

  const Status dw = PutCoordinator::CheckReachable(
      Selection({{"a", true, {}}, {"b", true, {}}}, {"c"}), Quorum(1, 3));
  EXPECT_EQ(dw.code(), StatusCode::kUnavailable);
  EXPECT_EQ(dw.message(),
            "dw=3 needs 3 replicas but only 2 of 3 are reachable (unreachable primaries: c); "
            "nothing was written");

  // Replaced primaries are unreachable too: pw names them all.
  const Status pw = PutCoordinator::CheckReachable(
      Selection({{"a", true, {}}, {"d", false, "b"}}, {"c"}), Quorum(2, 0, 2));
  EXPECT_EQ(pw.code(), StatusCode::kUnavailable);
  EXPECT_EQ(pw.message(),
            "pw=2 needs 2 primaries but only 1 of 3 is reachable (unreachable: b, c); nothing "
            "was written");
}

// Property: for any sequence of answers, the coordinator succeeds exactly when a prefix of the
// (deduplicated) answers meets w, dw and pw; fails (Unavailable) exactly when, before that,
// the errors leave too few targets; and never changes state or receipt after deciding.
struct Answer {
  std::size_t index;
  bool error;
  bool durable;
  bool hinted;
};

RC_GTEST_PROP(PutCoordinatorProperty, SucceedsIffAPrefixMeetsTheQuorum, ()) {
  const std::size_t count = *rc::gen::inRange<std::size_t>(1, 6);
  const auto primary_flags =
      *rc::gen::container<std::vector<bool>>(count, rc::gen::arbitrary<bool>());
  std::vector<ReplicaTarget> targets;
  std::uint32_t primaries = 0;
  for (std::size_t i = 0; i < count; ++i) {
    targets.push_back({"n" + std::to_string(i), primary_flags[i],
                       primary_flags[i] ? std::string() : "p" + std::to_string(i)});
    primaries += primary_flags[i] ? 1 : 0;
  }
  ResolvedQuorum quorum;
  quorum.n = static_cast<std::uint32_t>(count);
  quorum.w = *rc::gen::inRange<std::uint32_t>(1, quorum.n + 1);
  quorum.dw = *rc::gen::inRange<std::uint32_t>(0, quorum.w + 1);
  quorum.pw = *rc::gen::inRange<std::uint32_t>(0, primaries + 1);
  const auto answers = *rc::gen::container<std::vector<Answer>>(
      rc::gen::build<Answer>(rc::gen::set(&Answer::index, rc::gen::inRange<std::size_t>(0, count)),
                             rc::gen::set(&Answer::error, rc::gen::arbitrary<bool>()),
                             rc::gen::set(&Answer::durable, rc::gen::arbitrary<bool>()),
                             rc::gen::set(&Answer::hinted, rc::gen::arbitrary<bool>())));

  PutCoordinator put(targets, quorum, kDeadline);
  // The model: counts of the first answer of each target.
  std::vector<bool> answered(count, false);
  std::uint32_t acks = 0;
  std::uint32_t durable = 0;
  std::uint32_t primary_acks = 0;
  std::uint32_t hinted = 0;
  std::uint32_t open = static_cast<std::uint32_t>(count);
  std::uint32_t open_primaries = primaries;
  QuorumState expected = QuorumState::kPending;
  ConsistencyReceipt frozen;
  for (const Answer& answer : answers) {
    if (answer.error) {
      put.OnError(answer.index, Status::IoError("refused"));
    } else {
      put.OnAck(answer.index, answer.durable, answer.hinted);
    }
    if (!answered[answer.index]) {
      answered[answer.index] = true;
      --open;
      if (targets[answer.index].primary) --open_primaries;
      if (!answer.error) {
        ++acks;
        if (answer.durable) ++durable;
        if (answer.hinted) ++hinted;
        if (targets[answer.index].primary) ++primary_acks;
      }
    }
    if (expected == QuorumState::kPending) {
      if (acks >= quorum.w && durable >= quorum.dw && primary_acks >= quorum.pw) {
        expected = QuorumState::kSucceeded;
      } else if (acks + open < quorum.w || durable + open < quorum.dw ||
                 primary_acks + open_primaries < quorum.pw) {
        expected = QuorumState::kFailed;
      }
      frozen = ConsistencyReceipt{.n = quorum.n,
                                  .required = quorum.w,
                                  .replies = acks,
                                  .primaries = primary_acks,
                                  .fallbacks = acks - primary_acks,
                                  .durable = durable,
                                  .hinted = hinted};
    }
    RC_ASSERT(put.state() == expected);
    RC_ASSERT(put.receipt() == frozen);
  }
  if (expected == QuorumState::kSucceeded) {
    RC_ASSERT(frozen.replies >= quorum.w);
    RC_ASSERT(frozen.durable >= quorum.dw);
    RC_ASSERT(frozen.primaries >= quorum.pw);
    RC_ASSERT(put.failure().ok());
  }
  if (expected == QuorumState::kFailed) {
    RC_ASSERT(put.failure().code() == StatusCode::kUnavailable);
  }
  RC_TAG(expected == QuorumState::kSucceeded ? "succeeded"
         : expected == QuorumState::kFailed  ? "failed early"
                                             : "pending");
  put.OnTime(kDeadline);
  if (expected == QuorumState::kPending) {
    RC_ASSERT(put.state() == QuorumState::kFailed);
    RC_ASSERT(put.failure().code() == StatusCode::kTimeout);
  } else {
    RC_ASSERT(put.state() == expected);
    RC_ASSERT(put.receipt() == frozen);
  }
  RC_ASSERT(put.all_answered() == (open == 0));
}

}  // namespace
}  // namespace meridian::replication
