#include "replication/strong_proposer.h"

#include <gtest/gtest.h>

#include <set>
#include <vector>

namespace meridian::replication {
namespace {

// Acceptors in memory; a proposer's requests are delivered to the reachable ones, in order,
// and their answers fed straight back, until the proposer sends nothing more.
struct Acceptors {
  explicit Acceptors(std::size_t n) : state(n) {}

  void Run(StrongProposer& proposer, const std::set<std::size_t>& reachable) {
    for (int rounds = 0; rounds < 100; ++rounds) {
      std::vector<StrongRequest> requests = proposer.TakeRequests();
      if (requests.empty()) return;
      for (const StrongRequest& request : requests) {
        if (!reachable.contains(request.acceptor)) continue;
        AcceptorReply reply = Handle(request);
        proposer.OnReply(request.acceptor, request.kind, request.ballot, reply);
      }
    }
    FAIL() << "the proposer never stopped sending";
  }
  void Run(StrongProposer& proposer) {
    std::set<std::size_t> all;
    for (std::size_t i = 0; i < state.size(); ++i) all.insert(i);
    Run(proposer, all);
  }

  AcceptorReply Handle(const StrongRequest& request) {
    AcceptorState& acceptor = state[request.acceptor];
    AcceptorReply reply;
    switch (request.kind) {
      case StrongRequest::Kind::kPrepare:
        HandlePrepare(acceptor, request.ballot, reply);
        break;
      case StrongRequest::Kind::kPropose:
        HandlePropose(acceptor, request.ballot, request.value, reply);
        break;
      case StrongRequest::Kind::kQuery:
        reply = HandleQuery(acceptor);
        break;
    }
    return reply;
  }

  // Runs, then lets time pass (phase timeouts, backoff) until the proposer decides.
  void Settle(StrongProposer& proposer, const std::set<std::size_t>& reachable) {
    for (std::uint64_t now = 0; now < 5'000 && proposer.state() == StrongProposer::State::kPending;
         now += 100) {
      proposer.OnTime(now);
      Run(proposer, reachable);
    }
  }

  void Settle(StrongProposer& proposer) {
    std::set<std::size_t> all;
    for (std::size_t i = 0; i < state.size(); ++i) all.insert(i);
    Settle(proposer, all);
  }

  std::vector<AcceptorState> state;
};

StrongProposerConfig Config(ActorId proposer) {
  StrongProposerConfig config;
  config.proposer = proposer;
  config.incarnation = 1;
  return config;
}

StrongOp Put(std::string bytes, Precondition precondition = Precondition::kNone,
             Ballot expected = {}) {
  return StrongOp{StrongOp::Kind::kPut, std::move(bytes), precondition, expected};
}
StrongOp Read() {
  return StrongOp{};
}
StrongOp Delete() {
  return StrongOp{StrongOp::Kind::kDelete, "", Precondition::kNone, {}};
}

StrongProposer Make(ActorId proposer, StrongOp op, std::optional<ChosenProposal> fast = {},
                    std::uint64_t round_floor = 0) {
  return StrongProposer(Config(proposer), JointQuorum::Majority(3), std::move(op), std::move(fast),
                        round_floor, 7, 0, 10'000);
}

TEST(StrongProposerTest, AWriteTakesTwoRoundTripsAndTheNextOneFromTheSameProposerOne) {
  Acceptors acceptors(3);
  StrongProposer first = Make(1, Put("a"));
  acceptors.Run(first);
  ASSERT_EQ(first.state(), StrongProposer::State::kSucceeded);
  EXPECT_EQ(first.round_trips(), 2u);
  EXPECT_EQ(first.requests_sent(), 6u);
  EXPECT_EQ(first.result().value.bytes, "a");
  ASSERT_TRUE(first.chosen().has_value());

  StrongProposer second = Make(1, Put("b"), first.chosen());
  acceptors.Run(second);
  ASSERT_EQ(second.state(), StrongProposer::State::kSucceeded);
  EXPECT_EQ(second.round_trips(), 1u);
  EXPECT_EQ(second.requests_sent(), 3u);
  EXPECT_EQ(second.chosen()->ballot, first.chosen()->ballot.Successor());
  for (const AcceptorState& state : acceptors.state) EXPECT_EQ(state.value.bytes, "b");
  // Each write got its own version, and the history of the key shows both.
  EXPECT_EQ(second.result().value.recent,
            (std::vector<Ballot>{first.result().value.version, second.result().value.version}));
}

TEST(StrongProposerTest, AReadTakesOneRoundTripWhenAQuorumAgrees) {
  Acceptors acceptors(3);
  StrongProposer write = Make(1, Put("a"));
  acceptors.Run(write);
  StrongProposer read = Make(2, Read());
  acceptors.Run(read, {0, 2});
  ASSERT_EQ(read.state(), StrongProposer::State::kSucceeded);
  EXPECT_EQ(read.round_trips(), 1u);
  EXPECT_TRUE(read.result().value.present);
  EXPECT_EQ(read.result().value.bytes, "a");
  EXPECT_FALSE(read.chosen().has_value());

  StrongProposer absent = Make(2, Read());
  Acceptors empty(3);
  empty.Run(absent);
  ASSERT_EQ(absent.state(), StrongProposer::State::kSucceeded);
  EXPECT_FALSE(absent.result().value.present);
}

TEST(StrongProposerTest, AReadThatFindsDisagreementWritesTheNewestValueBack) {
  Acceptors acceptors(3);
  StrongProposer write = Make(1, Put("a"));
  acceptors.Run(write, {0, 1});  // acceptor 2 missed it
  ASSERT_EQ(write.state(), StrongProposer::State::kSucceeded);
  StrongProposer read = Make(2, Read());
  acceptors.Run(read, {1, 2});
  ASSERT_EQ(read.state(), StrongProposer::State::kSucceeded);
  EXPECT_EQ(read.round_trips(), 3u);  // query, prepare, propose
  EXPECT_EQ(read.result().value.bytes, "a");
  EXPECT_EQ(acceptors.state[2].value.bytes, "a");  // repaired by the write-back
  EXPECT_EQ(acceptors.state[2].value.version, write.result().value.version);
}

TEST(StrongProposerTest, AFastWriteRefusedBecauseAnotherProposerIntervenedStartsOver) {
  Acceptors acceptors(3);
  StrongProposer first = Make(1, Put("a"));
  acceptors.Run(first);
  StrongProposer other = Make(2, Put("b"));
  acceptors.Run(other);
  ASSERT_EQ(other.state(), StrongProposer::State::kSucceeded);

  StrongProposer again =
      Make(1, Put("c", Precondition::kVersion, other.result().value.version), first.chosen());
  acceptors.Settle(again);
  ASSERT_EQ(again.state(), StrongProposer::State::kSucceeded);
  EXPECT_FALSE(again.result().precondition_failed);  // evaluated on "b", not the cached "a"
  EXPECT_EQ(again.round_trips(), 3u);                // refused fast proposal, then 2
  EXPECT_EQ(acceptors.state[0].value.bytes, "c");
  EXPECT_EQ(acceptors.state[0].value.recent.size(), 3u);
}

TEST(StrongProposerTest, PreconditionsAreCheckedAgainstTheAgreedValue) {
  Acceptors acceptors(3);
  StrongProposer create = Make(1, Put("a", Precondition::kAbsent));
  acceptors.Run(create);
  ASSERT_EQ(create.state(), StrongProposer::State::kSucceeded);
  EXPECT_FALSE(create.result().precondition_failed);
  const Ballot version = create.result().value.version;

  StrongProposer create_again = Make(2, Put("b", Precondition::kAbsent));
  acceptors.Settle(create_again);
  ASSERT_EQ(create_again.state(), StrongProposer::State::kSucceeded);
  EXPECT_TRUE(create_again.result().precondition_failed);
  EXPECT_EQ(create_again.result().value.bytes, "a");  // the current value, unchanged
  for (const AcceptorState& state : acceptors.state) EXPECT_EQ(state.value.version, version);

  StrongProposer stale = Make(2, Put("c", Precondition::kVersion, Ballot{1, 99, 1, 0}));
  acceptors.Settle(stale);
  EXPECT_TRUE(stale.result().precondition_failed);
  StrongProposer matching = Make(2, Put("c", Precondition::kVersion, version));
  acceptors.Settle(matching);
  EXPECT_FALSE(matching.result().precondition_failed);
  EXPECT_EQ(acceptors.state[1].value.bytes, "c");

  StrongProposer remove = Make(3, Delete());
  acceptors.Settle(remove);
  StrongProposer only_if_present = Make(3, Put("d", Precondition::kPresent));
  acceptors.Settle(only_if_present);
  EXPECT_TRUE(only_if_present.result().precondition_failed);
  EXPECT_FALSE(acceptors.state[0].value.present);
}

// A proposal that reached one acceptor only, then taken over by another proposer's round:
// the first proposer must find out that it took effect and not apply its write twice.
TEST(StrongProposerTest, AnUncertainWriteThatTookEffectIsNotAppliedAgain) {
  Acceptors acceptors(3);
  StrongProposer write = Make(1, Put("mine"));
  // Phase 1 at every acceptor, the proposal reaches acceptor 0 only.
  std::vector<StrongRequest> prepares = write.TakeRequests();
  for (const auto& request : prepares) {
    write.OnReply(request.acceptor, request.kind, request.ballot, acceptors.Handle(request));
  }
  std::vector<StrongRequest> proposals = write.TakeRequests();
  ASSERT_EQ(proposals.size(), 3u);
  write.OnReply(0, proposals[0].kind, proposals[0].ballot, acceptors.Handle(proposals[0]));
  ASSERT_EQ(write.state(), StrongProposer::State::kPending);

  // Another proposer's round through acceptors 0 and 1 adopts it and writes on top.
  StrongProposer other = Make(2, Put("theirs"), {}, 5);
  acceptors.Run(other, {0, 1});
  ASSERT_EQ(other.state(), StrongProposer::State::kSucceeded);

  // The first proposer's phase times out; its next round must see its own write.
  acceptors.Settle(write, {0, 1, 2});
  ASSERT_EQ(write.state(), StrongProposer::State::kSucceeded);
  EXPECT_EQ(write.result().value.bytes, "mine");
  EXPECT_EQ(acceptors.state[2].value.bytes, "theirs");
  EXPECT_EQ(acceptors.state[2].value.recent.size(), 2u);  // "mine" once, then "theirs"
}

TEST(StrongProposerTest, AnUncertainWriteThatProvablyDidNotTakeEffectIsProposedAgain) {
  Acceptors acceptors(3);
  StrongProposer write = Make(1, Put("mine"));
  for (const auto& request : write.TakeRequests()) {
    write.OnReply(request.acceptor, request.kind, request.ballot, acceptors.Handle(request));
  }
  std::vector<StrongRequest> proposals = write.TakeRequests();
  write.OnReply(0, proposals[0].kind, proposals[0].ballot, acceptors.Handle(proposals[0]));

  // Another proposer writes through acceptors 1 and 2, never seeing acceptor 0's proposal.
  StrongProposer other = Make(2, Put("theirs"), {}, 5);
  acceptors.Run(other, {1, 2});
  ASSERT_EQ(other.state(), StrongProposer::State::kSucceeded);

  acceptors.Settle(write, {1, 2});
  ASSERT_EQ(write.state(), StrongProposer::State::kSucceeded);
  EXPECT_EQ(write.result().value.bytes, "mine");
  EXPECT_EQ(acceptors.state[1].value.bytes, "mine");
  // "theirs", then "mine" once (its first proposal never became part of the history).
  ASSERT_EQ(acceptors.state[1].value.recent.size(), 2u);
  EXPECT_EQ(acceptors.state[1].value.recent[0], other.result().value.version);
}

TEST(StrongProposerTest, ADeadlineWithoutAQuorumFailsAndSaysWhetherAWriteMayHaveHappened) {
  Acceptors acceptors(3);
  StrongProposer nothing = Make(1, Put("a"));
  acceptors.Run(nothing, {0});
  EXPECT_EQ(nothing.state(), StrongProposer::State::kPending);
  nothing.OnTime(10'000);
  ASSERT_EQ(nothing.state(), StrongProposer::State::kFailed);
  EXPECT_EQ(nothing.result().status.code(), StatusCode::kTimeout);
  EXPECT_FALSE(nothing.result().maybe_applied);

  Acceptors more(3);
  StrongProposer partial = Make(1, Put("a"));
  for (const auto& request : partial.TakeRequests()) {
    partial.OnReply(request.acceptor, request.kind, request.ballot, more.Handle(request));
  }
  std::vector<StrongRequest> proposals = partial.TakeRequests();
  partial.OnReply(0, proposals[0].kind, proposals[0].ballot, more.Handle(proposals[0]));
  partial.OnTime(10'000);
  ASSERT_EQ(partial.state(), StrongProposer::State::kFailed);
  EXPECT_TRUE(partial.result().maybe_applied);
  EXPECT_NE(partial.result().status.message().find("may or may not"), std::string::npos);
}

TEST(StrongProposerTest, ARefusedPrepareRetriesAboveTheRoundItWasRefusedFor) {
  Acceptors acceptors(3);
  AcceptorReply ignored;
  for (auto& state : acceptors.state) HandlePrepare(state, Ballot{40, 9, 1, 0}, ignored);
  StrongProposer write = Make(1, Put("a"));
  acceptors.Run(write);
  EXPECT_EQ(write.state(), StrongProposer::State::kPending);  // backing off
  write.OnTime(1'000);
  acceptors.Run(write);
  ASSERT_EQ(write.state(), StrongProposer::State::kSucceeded);
  EXPECT_EQ(write.chosen()->ballot.round, 41u);
  EXPECT_EQ(write.highest_round(), 41u);
}

TEST(StrongProposerTest, AJointQuorumNeedsBothGroups) {
  Acceptors acceptors(4);
  StrongProposer write(Config(1), JointQuorum(4, {{0, 1, 2}, {0, 1, 3}}), Put("a"), {}, 0, 7, 0,
                       10'000);
  acceptors.Run(write, {0, 2, 3});  // a majority of each group, through 0
  ASSERT_EQ(write.state(), StrongProposer::State::kSucceeded);

  StrongProposer blocked(Config(2), JointQuorum(4, {{0, 1, 2}, {0, 1, 3}}), Put("b"), {}, 0, 7, 0,
                         10'000);
  acceptors.Run(blocked, {1, 2});  // a majority of the first group only
  EXPECT_EQ(blocked.state(), StrongProposer::State::kPending);
}

}  // namespace
}  // namespace meridian::replication

namespace meridian::replication {
namespace {

StrongProposer MakeThrifty(ActorId proposer, StrongOp op, std::optional<ChosenProposal> fast = {}) {
  StrongProposerConfig config = Config(proposer);
  config.thrifty = true;
  config.widen_after_ms = 50;
  return StrongProposer(config, JointQuorum::Majority(3), std::move(op), std::move(fast), 0, 7, 0,
                        10'000);
}

TEST(StrongProposerTest, ThriftyPhasesAskOnlyTheFirstMajority) {
  Acceptors acceptors(3);
  StrongProposer write = MakeThrifty(1, Put("a"));
  acceptors.Run(write);
  ASSERT_EQ(write.state(), StrongProposer::State::kSucceeded);
  EXPECT_EQ(write.round_trips(), 2u);
  EXPECT_EQ(write.requests_sent(), 4u);  // two phases, two acceptors each
  EXPECT_FALSE(acceptors.state[2].value.present) << "the third acceptor was never asked";

  StrongProposer fast = MakeThrifty(1, Put("b"), write.chosen());
  acceptors.Run(fast);
  ASSERT_EQ(fast.state(), StrongProposer::State::kSucceeded);
  EXPECT_EQ(fast.requests_sent(), 2u);

  // Another coordinator reads the same majority: it agrees, one round trip.
  StrongProposer read = MakeThrifty(2, Read());
  acceptors.Run(read);
  ASSERT_EQ(read.state(), StrongProposer::State::kSucceeded);
  EXPECT_EQ(read.round_trips(), 1u);
  EXPECT_EQ(read.requests_sent(), 2u);
  EXPECT_EQ(read.result().value.bytes, "b");
}

TEST(StrongProposerTest, ThriftyPhasesWidenAfterTheirDelayWhenTheMajorityIsIncomplete) {
  Acceptors acceptors(3);
  StrongProposer write = MakeThrifty(1, Put("a"));
  acceptors.Run(write, {0, 2});  // acceptor 1 is away
  EXPECT_EQ(write.state(), StrongProposer::State::kPending);
  EXPECT_EQ(write.requests_sent(), 2u);
  write.OnTime(49);
  EXPECT_TRUE(write.TakeRequests().empty()) << "too early to widen";
  write.OnTime(50);
  acceptors.Run(write, {0, 2});  // the prepare goes to acceptor 2 as well
  // The propose phase again asks the first majority first, then widens.
  for (std::uint64_t now = 100; now <= 300 && write.state() == StrongProposer::State::kPending;
       now += 50) {
    write.OnTime(now);
    acceptors.Run(write, {0, 2});
  }
  ASSERT_EQ(write.state(), StrongProposer::State::kSucceeded);
  EXPECT_EQ(write.round_trips(), 2u) << "widening continues a phase, it does not restart it";
  EXPECT_EQ(acceptors.state[2].value.bytes, "a");
}

TEST(StrongProposerTest, ThriftyPhasesWidenAtOnceOnARefusal) {
  Acceptors acceptors(3);
  // Another proposer got a higher promise from acceptor 1 only (no quorum, it gave up).
  StrongProposer other = Make(9, Put("x"), {}, /*round_floor=*/50);
  acceptors.Run(other, {1});
  ASSERT_EQ(other.state(), StrongProposer::State::kPending);

  StrongProposer write = MakeThrifty(1, Put("a"));
  acceptors.Run(write);  // no time passes: only the refusals widen the phases
  ASSERT_EQ(write.state(), StrongProposer::State::kSucceeded);
  EXPECT_EQ(write.round_trips(), 2u);
  EXPECT_EQ(acceptors.state[0].value.bytes, "a");
  EXPECT_EQ(acceptors.state[2].value.bytes, "a");
  EXPECT_FALSE(acceptors.state[1].value.present);
}

}  // namespace
}  // namespace meridian::replication
