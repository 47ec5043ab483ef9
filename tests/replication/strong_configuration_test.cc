#include "replication/strong_configuration.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "replication/strong_codec.h"

namespace meridian::replication {
namespace {

Ballot B(std::uint64_t round, ActorId proposer = 1) {
  return Ballot{round, proposer, 1, 0};
}

PartitionConfigState Active(std::uint64_t epoch, std::vector<cluster::NodeId> members) {
  PartitionConfigState state;
  state.active = StrongConfiguration{epoch, std::move(members)};
  state.known = state.active;
  return state;
}

TEST(StrongConfigurationTest, AcceptorsAreThePrefixOfTheBucketsFactor) {
  const StrongConfiguration configuration{3, {"a", "b", "c", "d", "e"}};
  EXPECT_EQ(configuration.AcceptorsFor(3), (std::vector<cluster::NodeId>{"a", "b", "c"}));
  EXPECT_EQ(configuration.AcceptorsFor(1), (std::vector<cluster::NodeId>{"a"}));
  EXPECT_EQ(configuration.AcceptorsFor(9).size(), 5u);
}

TEST(StrongConfigurationTest, AMemberServesExactlyItsActiveEpoch) {
  const std::optional<PartitionConfigState> state = Active(4, {"a", "b", "c"});
  const StrongConfiguration accepted{4, {"a", "b", "c"}};
  EXPECT_EQ(CheckEpoch(state, accepted, 4).verdict, EpochVerdict::kServe);
  // An older epoch is pointed to the active configuration; a newer one is not ready here.
  const EpochCheck older = CheckEpoch(state, accepted, 3);
  EXPECT_EQ(older.verdict, EpochVerdict::kMoved);
  EXPECT_EQ(older.newest, state->active);
  EXPECT_EQ(CheckEpoch(state, accepted, 0).verdict, EpochVerdict::kMoved);
  EXPECT_EQ(CheckEpoch(state, accepted, 5).verdict, EpochVerdict::kNotReady);
  EXPECT_EQ(CheckEpoch(std::nullopt, accepted, 4).verdict, EpochVerdict::kNotMember);
}

TEST(StrongConfigurationTest, RetiringOrAcceptingTheNextConfigurationStopsServing) {
  std::optional<PartitionConfigState> state = Active(4, {"a", "b", "c"});
  // The register accepted epoch 5 (a move's choose step reached this member).
  EXPECT_EQ(CheckEpoch(state, StrongConfiguration{5, {"a", "b", "d"}}, 4).verdict,
            EpochVerdict::kNotReady);
  // A scan retired epoch 4 and told it the next configuration.
  state->retired = 4;
  state->known = StrongConfiguration{5, {"a", "b", "d"}};
  const EpochCheck check = CheckEpoch(state, StrongConfiguration{4, {"a", "b", "c"}}, 4);
  EXPECT_EQ(check.verdict, EpochVerdict::kMoved);
  EXPECT_EQ(check.newest.epoch, 5u);
}

TEST(StrongConfigurationTest, MergeKeepsTheHigherAcceptedProposalAndRaisesPromises) {
  AcceptorState into;
  into.promised = B(7);
  into.accepted = B(5);
  into.value.present = true;
  into.value.bytes = "old";
  into.value.version = B(5);
  AcceptorState from;
  from.promised = B(6);
  from.accepted = B(6);
  from.value.present = true;
  from.value.bytes = "new";
  from.value.version = B(6);
  MergeAcceptorState(into, from);
  EXPECT_EQ(into.accepted, B(6));
  EXPECT_EQ(into.value.bytes, "new");
  EXPECT_EQ(into.promised, B(7));  // never lowered
  AcceptorState lower;
  lower.promised = B(2);
  lower.accepted = B(2);
  const AcceptorState before = into;
  MergeAcceptorState(into, lower);
  EXPECT_EQ(into, before);
}

RC_GTEST_PROP(StrongConfigurationProperty, MergeIsOrderIndependentAndKeepsTheInvariant,
              (std::vector<std::pair<std::uint8_t, std::uint8_t>> records)) {
  std::vector<AcceptorState> states;
  for (const auto& [promised, accepted] : records) {
    AcceptorState state;
    state.accepted = B(accepted % 8, accepted % 3);
    state.promised = std::max(state.accepted, B(promised % 8, promised % 3));
    state.value.present = !state.accepted.IsZero();
    state.value.bytes = BallotText(state.accepted);
    state.value.version = state.accepted;
    states.push_back(state);
  }
  AcceptorState forward;
  for (const AcceptorState& state : states) MergeAcceptorState(forward, state);
  AcceptorState backward;
  for (auto it = states.rbegin(); it != states.rend(); ++it) MergeAcceptorState(backward, *it);
  RC_ASSERT(forward == backward);
  RC_ASSERT(forward.promised >= forward.accepted);
  for (const AcceptorState& state : states) {
    RC_ASSERT(forward.accepted >= state.accepted);
    RC_ASSERT(forward.promised >= state.promised);
  }
}

TEST(StrongConfigurationTest, TheCollectNeedsAMajorityOfEveryFactorsAcceptors) {
  const StrongConfiguration from{2, {"a", "b", "c", "d", "e"}};
  // Factor 3: a majority of a, b, c; factor 5 (all members): three of five.
  EXPECT_TRUE(CollectCovers(from, {true, true, false, false, true}, {3}));
  EXPECT_FALSE(CollectCovers(from, {true, false, false, true, true}, {3}));
  EXPECT_FALSE(CollectCovers(from, {true, true, false, false, false}, {3}));
  // Factor 1: the first member alone holds its keys.
  EXPECT_FALSE(CollectCovers(from, {false, true, true, true, true}, {1, 3}));
  EXPECT_FALSE(CollectCovers(from, {false, false, false, false, false}, {}));
}

TEST(StrongConfigurationTest, RecordsRoundTripAndMalformedOnesAreRefused) {
  PartitionConfigState state = GenesisState(StrongConfiguration{1, {"n1"}}, B(1),
                                            EncodeConfiguration(StrongConfiguration{1, {"n1"}}));
  state.retired = 1;
  state.known = StrongConfiguration{2, {"n1", "n2", "n3"}};
  state.left = 1;
  auto decoded = DecodePartitionConfig(EncodePartitionConfig(state));
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(*decoded, state);
  EXPECT_EQ(AcceptedConfiguration(*decoded), (StrongConfiguration{1, {"n1"}}));
  EXPECT_FALSE(DecodePartitionConfig("\xff\xff").ok());
  EXPECT_FALSE(DecodeConfiguration(EncodeConfiguration(StrongConfiguration{2, {"a", "a"}})).ok());
  EXPECT_FALSE(DecodeConfiguration(EncodeConfiguration(StrongConfiguration{2, {}})).ok());
  EXPECT_FALSE(DecodeConfiguration(EncodeConfiguration(StrongConfiguration{0, {"a"}})).ok());
}

}  // namespace
}  // namespace meridian::replication
