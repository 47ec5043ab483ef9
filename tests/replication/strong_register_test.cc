#include "replication/strong_register.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "replication/ballot.h"
#include "replication/joint_quorum.h"

namespace meridian::replication {
namespace {

Ballot B(std::uint64_t round, ActorId proposer = 1, std::uint64_t step = 0) {
  return Ballot{round, proposer, 1, step};
}

TEST(BallotTest, OrdersByRoundThenProposerThenIncarnationThenStep) {
  EXPECT_LT(B(1, 9), B(2, 1));
  EXPECT_LT(B(2, 1), B(2, 2));
  EXPECT_LT((Ballot{2, 1, 1, 5}), (Ballot{2, 1, 2, 0}));
  EXPECT_LT(B(2, 1, 0), B(2, 1, 1));
  EXPECT_TRUE(Ballot{}.IsZero());
  EXPECT_LT(Ballot{}, B(1));
  EXPECT_EQ(BallotText(Ballot{3, 0xab, 2, 7}), "3.ab.2.7");
}

RC_GTEST_PROP(BallotProperty, NothingLiesBetweenABallotAndItsSuccessor,
              (std::uint8_t r1, std::uint8_t p1, std::uint8_t i1, std::uint8_t s1, std::uint8_t r2,
               std::uint8_t p2, std::uint8_t i2, std::uint8_t s2)) {
  const Ballot b{r1 % 4u, p1 % 4u, i1 % 3u, s1 % 4u};
  const Ballot x{r2 % 4u, p2 % 4u, i2 % 3u, s2 % 4u};
  RC_ASSERT(!(b < x && x < b.Successor()));
  RC_ASSERT(b < b.Successor());
}

TEST(AcceptorTest, PromisesOnlyAboveEveryBallotSeen) {
  AcceptorState state;
  AcceptorReply reply;
  EXPECT_TRUE(HandlePrepare(state, B(2), reply));
  EXPECT_TRUE(reply.granted);
  EXPECT_TRUE(reply.ballot.IsZero());  // nothing accepted yet
  EXPECT_EQ(state.promised, B(2));

  EXPECT_FALSE(HandlePrepare(state, B(2), reply));  // not twice
  EXPECT_FALSE(reply.granted);
  EXPECT_EQ(reply.ballot, B(2));
  EXPECT_FALSE(HandlePrepare(state, B(1, 7), reply));
  EXPECT_FALSE(reply.granted);
  EXPECT_EQ(reply.ballot, B(2));
  EXPECT_EQ(state.promised, B(2));
}

TEST(AcceptorTest, PrepareReportsTheLastAcceptedProposal) {
  AcceptorState state;
  AcceptorReply reply;
  const RegisterValue value = RegisterValue{}.Written(B(1), true, "v1");
  ASSERT_TRUE(HandlePropose(state, B(1), value, reply));
  ASSERT_TRUE(reply.granted);
  EXPECT_TRUE(HandlePrepare(state, B(3), reply));
  EXPECT_TRUE(reply.granted);
  EXPECT_EQ(reply.ballot, B(1));
  EXPECT_EQ(reply.value, value);
}

TEST(AcceptorTest, AcceptsAtOrAbovePromiseAndRefusesBelow) {
  AcceptorState state;
  AcceptorReply reply;
  ASSERT_TRUE(HandlePrepare(state, B(5), reply));
  const RegisterValue v4 = RegisterValue{}.Written(B(4), true, "four");
  EXPECT_FALSE(HandlePropose(state, B(4), v4, reply));
  EXPECT_FALSE(reply.granted);
  EXPECT_EQ(reply.ballot, B(5));
  EXPECT_TRUE(state.accepted.IsZero());

  const RegisterValue v5 = RegisterValue{}.Written(B(5), true, "five");
  EXPECT_TRUE(HandlePropose(state, B(5), v5, reply));
  EXPECT_TRUE(reply.granted);
  EXPECT_EQ(state.accepted, B(5));
  EXPECT_EQ(state.value, v5);

  // A repeat is granted again and changes nothing; an older proposal is refused.
  EXPECT_FALSE(HandlePropose(state, B(5), v5, reply));
  EXPECT_TRUE(reply.granted);
  EXPECT_FALSE(HandlePropose(state, B(4), v4, reply));
  EXPECT_FALSE(reply.granted);

  // The fast path: the successor of the accepted ballot needs no prepare.
  const RegisterValue v6 = v5.Written(B(5).Successor(), true, "six");
  EXPECT_TRUE(HandlePropose(state, B(5).Successor(), v6, reply));
  EXPECT_TRUE(reply.granted);
  EXPECT_EQ(state.value.bytes, "six");
}

TEST(AcceptorTest, QueryChangesNothing) {
  AcceptorState state;
  AcceptorReply reply;
  ASSERT_TRUE(HandlePrepare(state, B(2), reply));
  const AcceptorState before = state;
  const AcceptorReply query = HandleQuery(state);
  EXPECT_TRUE(query.granted);
  EXPECT_TRUE(query.ballot.IsZero());
  EXPECT_EQ(state, before);
}

TEST(RegisterValueTest, WritesAdvanceTheVersionAndKeepTheLastFewInView) {
  RegisterValue value;
  for (std::uint64_t round = 1; round <= kRecentWrites + 2; ++round) {
    value = value.Written(B(round), round % 3 != 0, "v" + std::to_string(round));
    EXPECT_EQ(value.version, B(round));
    EXPECT_EQ(value.recent.back(), B(round));
  }
  ASSERT_EQ(value.recent.size(), kRecentWrites);
  EXPECT_EQ(value.recent.front(), B(3));
  EXPECT_TRUE(value.WroteRecently(B(kRecentWrites + 2)));
  EXPECT_FALSE(value.WroteRecently(B(2)));
  const RegisterValue deleted = value.Written(B(99), false, "ignored");
  EXPECT_FALSE(deleted.present);
  EXPECT_EQ(deleted.bytes, "");
}

TEST(JointQuorumTest, NeedsAMajorityOfEveryGroup) {
  const JointQuorum simple = JointQuorum::Majority(3);
  EXPECT_FALSE(simple.Reached({true, false, false}));
  EXPECT_TRUE(simple.Reached({true, false, true}));
  EXPECT_FALSE(simple.Lost({true, false, false}));
  EXPECT_TRUE(simple.Lost({true, true, false}));

  // Acceptors 0,1,2 now and 0,1,3 next: {0,1} serves both; {2,3} neither; {0,2,3} both.
  const JointQuorum joint(4, {{0, 1, 2}, {0, 1, 3}});
  EXPECT_TRUE(joint.Reached({true, true, false, false}));
  EXPECT_FALSE(joint.Reached({false, false, true, true}));
  EXPECT_FALSE(joint.Reached({true, false, true, false}));  // no majority of the next group
  EXPECT_TRUE(joint.Reached({true, false, true, true}));
  EXPECT_TRUE(joint.Lost({false, true, false, true}));  // next group: only 0 left
  EXPECT_FALSE(joint.Lost({false, false, true, true}));
}

}  // namespace
}  // namespace meridian::replication
