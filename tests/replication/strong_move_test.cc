#include "replication/strong_move.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "replication/strong_codec.h"

namespace meridian::replication {
namespace {

Ballot B(std::uint64_t round, ActorId proposer = 9) {
  return Ballot{round, proposer, 1, 0};
}

AcceptorState Accepted(std::uint64_t round, const std::string& bytes) {
  AcceptorState state;
  state.promised = B(round);
  state.accepted = B(round);
  state.value.present = true;
  state.value.bytes = bytes;
  state.value.version = B(round);
  state.value.recent = {B(round)};
  return state;
}

// Members of the old configuration: each with its register and its records.
struct Member {
  AcceptorState register_state;
  std::map<std::string, AcceptorState> records;
  bool up = true;
};

class StrongMoveTest : public ::testing::Test {
 protected:
  StrongMoveTest() {
    from_ = StrongConfiguration{1, {"a", "b", "c"}};
    from_value_ = Accepted(1, EncodeConfiguration(from_)).value;
    for (const char* name : {"a", "b", "c"}) {
      members_[name].register_state = Accepted(1, EncodeConfiguration(from_));
    }
  }

  StrongMove Make(std::vector<cluster::NodeId> target, std::uint64_t deadline_ms = 10'000) {
    StrongMoveConfig config;
    config.proposer.proposer = 7;
    config.proposer.incarnation = 1;
    config.page_bytes_max = 300;  // a few records per page
    config.resend_after_ms = 100;
    return StrongMove(config, from_, from_value_, std::move(target), {3}, 1, 42, 0, deadline_ms);
  }

  // Delivers everything the move asks of the up members, letting virtual time pass (backoffs,
  // resends) while it waits, until it is done or `until_ms`.
  void Run(StrongMove& move, std::uint64_t now_ms = 0, std::uint64_t until_ms = 500) {
    for (int round = 0; round < 2'000; ++round) {
      bool any = false;
      for (const StrongRequest& request : move.TakeRegisterRequests()) {
        any = true;
        Member& member = members_[move.from().members[request.acceptor]];
        if (!member.up) continue;
        AcceptorReply reply;
        switch (request.kind) {
          case StrongRequest::Kind::kPrepare:
            HandlePrepare(member.register_state, request.ballot, reply);
            break;
          case StrongRequest::Kind::kPropose:
            HandlePropose(member.register_state, request.ballot, request.value, reply);
            break;
          case StrongRequest::Kind::kQuery:
            reply = HandleQuery(member.register_state);
            break;
        }
        move.OnRegisterReply(request.acceptor, request.kind, request.ballot, reply);
      }
      for (const StrongScanPage& page : move.TakeScans()) {
        any = true;
        const cluster::NodeId& name = move.from().members[page.member];
        Member& member = members_[name];
        if (!member.up) continue;
        scanned_.insert(name);
        std::vector<std::pair<std::string, AcceptorState>> records;
        auto it =
            page.after.empty() ? member.records.begin() : member.records.upper_bound(page.after);
        for (; it != member.records.end() && records.size() < 2; ++it) records.push_back(*it);
        move.OnScanPage(page.member, page.after, records, it == member.records.end());
      }
      for (const StrongInstallPage& page : move.TakeInstalls()) {
        any = true;
        const cluster::NodeId& name = move.to().members[page.member];
        if (!members_[name].up) continue;
        for (const auto& [key, state] : page.records) installed_[name][key] = state;
        if (page.last) installed_register_[name] = page.register_state;
        move.OnInstallAck(page.member, page.page);
      }
      if (!any) {
        if (move.state() == StrongMove::State::kSucceeded ||
            move.state() == StrongMove::State::kFailed || now_ms >= until_ms) {
          return;
        }
        now_ms += 10;
        move.OnTime(now_ms);
      }
    }
  }

  StrongConfiguration from_;
  RegisterValue from_value_;
  std::map<cluster::NodeId, Member> members_;
  std::set<cluster::NodeId> scanned_;
  std::map<cluster::NodeId, std::map<std::string, AcceptorState>> installed_;
  std::map<cluster::NodeId, AcceptorState> installed_register_;
};

TEST_F(StrongMoveTest, ChoosesCollectsTheHighestAcceptedAndInstallsEverywhere) {
  members_["a"].records["k1"] = Accepted(3, "v3");
  members_["b"].records["k1"] = Accepted(5, "v5");  // the latest write of k1
  members_["c"].records["k1"] = Accepted(5, "v5");
  // Keys on a majority (b and c) need several pages; a record only one member holds was never
  // chosen, and the move may finish before it reads it.
  for (int key = 2; key < 8; ++key) {
    members_["b"].records["k" + std::to_string(key)] = Accepted(2, "x");
    members_["c"].records["k" + std::to_string(key)] = Accepted(2, "x");
  }
  StrongMove move = Make({"a", "b", "d"});
  Run(move);
  ASSERT_EQ(move.state(), StrongMove::State::kSucceeded) << move.failure().ToString();
  EXPECT_EQ(move.to(), (StrongConfiguration{2, {"a", "b", "d"}}));
  EXPECT_EQ(move.records_merged(), 7u);
  for (const char* name : {"a", "b", "d"}) {
    ASSERT_EQ(installed_[name].size(), 7u) << name;
    EXPECT_EQ(installed_[name]["k1"].value.bytes, "v5") << name;
    EXPECT_EQ(AcceptedConfiguration(PartitionConfigState{installed_register_[name], {}, 0, {}}),
              move.to());
  }
  // The register holds the new configuration at a majority of the old members.
  int holding = 0;
  for (const char* name : {"a", "b", "c"}) {
    auto held = DecodeConfiguration(members_[name].register_state.value.bytes);
    holding += held.ok() && held->epoch == 2;
  }
  EXPECT_GE(holding, 2);
}

TEST_F(StrongMoveTest, AdoptsANextConfigurationAlreadyChosen) {
  const StrongConfiguration chosen{2, {"a", "c", "e"}};
  for (const char* name : {"a", "b", "c"}) {
    members_[name].register_state = Accepted(4, EncodeConfiguration(chosen));
  }
  StrongMove move = Make({"a", "b", "d"});
  Run(move);
  ASSERT_EQ(move.state(), StrongMove::State::kSucceeded) << move.failure().ToString();
  EXPECT_EQ(move.to(), chosen);
  EXPECT_TRUE(installed_register_.contains("e"));
  EXPECT_FALSE(installed_register_.contains("d"));
}

TEST_F(StrongMoveTest, AMinorityDownStillMovesAndAMajorityDownFailsAtTheDeadline) {
  members_["c"].up = false;
  StrongMove move = Make({"a", "b", "d"});
  Run(move);
  EXPECT_EQ(move.state(), StrongMove::State::kSucceeded) << move.failure().ToString();
  EXPECT_FALSE(scanned_.contains("c"));

  members_["b"].up = false;
  scanned_.clear();
  StrongMove blocked = Make({"a", "b", "d"}, 1'000);
  Run(blocked, 0, 500);
  EXPECT_EQ(blocked.state(), StrongMove::State::kChoosing);
  Run(blocked, 500, 2'000);
  EXPECT_EQ(blocked.state(), StrongMove::State::kFailed);
}

TEST_F(StrongMoveTest, AnInstallTargetThatIsDownGetsItsPagesAgain) {
  members_["a"].records["k1"] = Accepted(3, "v3");
  members_["a"].records["k2"] = Accepted(3, "v3");
  members_["d"].up = false;
  StrongMove move = Make({"a", "b", "d"});
  Run(move);
  EXPECT_EQ(move.state(), StrongMove::State::kInstalling);
  members_["d"].up = true;
  Run(move, 500, 1'000);
  ASSERT_EQ(move.state(), StrongMove::State::kSucceeded) << move.failure().ToString();
  EXPECT_EQ(installed_["d"].size(), 2u);
}

TEST_F(StrongMoveTest, RepeatedAndStalePagesAreIgnored) {
  members_["a"].records["k1"] = Accepted(3, "v3");
  StrongMove move = Make({"a", "b", "d"});
  // Choose only.
  for (int round = 0; round < 10; ++round) {
    for (const StrongRequest& request : move.TakeRegisterRequests()) {
      Member& member = members_[move.from().members[request.acceptor]];
      AcceptorReply reply;
      if (request.kind == StrongRequest::Kind::kPrepare) {
        HandlePrepare(member.register_state, request.ballot, reply);
      } else if (request.kind == StrongRequest::Kind::kPropose) {
        HandlePropose(member.register_state, request.ballot, request.value, reply);
      } else {
        reply = HandleQuery(member.register_state);
      }
      move.OnRegisterReply(request.acceptor, request.kind, request.ballot, reply);
    }
  }
  ASSERT_EQ(move.state(), StrongMove::State::kCollecting);
  (void)move.TakeScans();
  // A page for a cursor nobody asked about changes nothing.
  move.OnScanPage(0, "zzz", {{"zzzz", Accepted(9, "bad")}}, true);
  EXPECT_EQ(move.records_merged(), 0u);
  move.OnScanPage(0, "", {{"k1", Accepted(3, "v3")}}, true);
  move.OnScanPage(0, "", {{"k1", Accepted(3, "v3")}}, true);  // repeated
  EXPECT_EQ(move.records_merged(), 1u);
  EXPECT_EQ(move.state(), StrongMove::State::kCollecting);  // one member is not a majority
}

}  // namespace
}  // namespace meridian::replication
