// Membership: gossip convergence, join, the claimant's ring changes, leave/remove/weight,
// steady-state traffic and claimant failover — N Membership instances connected by an in-test
// network that moves their Outbound messages (no sockets), driven by a seeded Random.
#include "cluster/membership.h"

#include <gtest/gtest.h>

#include "core/seeded_random.h"

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cluster/claim.h"
#include "cluster/gossip_codec.h"

namespace meridian::cluster {
namespace {

constexpr std::uint32_t kPartitions = 64;

using SplitMixRandom = SplitMix64Random;

std::string AddressOf(const NodeId& id) {
  return id + ".test:7000";
}

MembershipOptions OptionsFor(const NodeId& id, std::size_t history = 64) {
  MembershipOptions options;
  options.self.id = id;
  options.self.peer_address = AddressOf(id);
  options.self.http_address = id + ".test:8080";
  options.self.zone = "zone-" + id;
  options.cluster_name = "test";
  options.partition_count = kPartitions;
  options.ring_history_length = history;
  return options;
}

// Nodes by address; messages are delivered within the round they were sent in.
class TestNetwork {
 public:
  explicit TestNetwork(std::uint64_t seed) : random_(seed) {}

  Membership& Add(const NodeId& id, std::size_t history = 64) {
    auto node = std::make_unique<Membership>(OptionsFor(id, history));
    Membership& added = *node;
    nodes_[AddressOf(id)] = std::move(node);
    return added;
  }
  Membership& Node(const NodeId& id) { return *nodes_.at(AddressOf(id)); }
  void Crash(const NodeId& id) { down_.insert(AddressOf(id)); }
  // A restart: a new instance on the node's persisted state (by default its state now), with a
  // raised incarnation.
  Membership& Restart(const NodeId& id, std::uint64_t incarnation,
                      std::optional<ClusterState> state = std::nullopt) {
    MembershipOptions options = OptionsFor(id);
    options.self.incarnation = incarnation;
    ClusterState persisted = state ? std::move(*state) : Node(id).state();
    auto node = std::make_unique<Membership>(options, std::move(persisted));
    Membership& restarted = *node;
    nodes_[AddressOf(id)] = std::move(node);
    return restarted;
  }
  void Restore(const NodeId& id) { down_.erase(AddressOf(id)); }

  void Round() {
    now_ms_ += 1000;
    for (auto& [address, node] : nodes_) {
      if (down_.contains(address)) continue;
      node->Tick(now_ms_, random_);
      Deliver();
    }
  }
  // Rounds until every live node has the same state and a whole round changed nothing (so the
  // claimant has acted on what it learnt). Returns the rounds run, or -1.
  int Settle(int rounds_max) {
    std::uint64_t previous = StateVersionSum();
    for (int round = 1; round <= rounds_max; ++round) {
      Round();
      const std::uint64_t current = StateVersionSum();
      if (current == previous && Converged()) return round;
      previous = current;
    }
    return -1;
  }
  std::uint64_t StateVersionSum() {
    std::uint64_t sum = 0;
    for (auto& [address, node] : nodes_) sum += node->state_version();
    return sum;
  }
  bool Converged() {
    const ClusterState* first = nullptr;
    for (auto& [address, node] : nodes_) {
      if (down_.contains(address) || node->self().status == MemberStatus::kRemoved) continue;
      if (first == nullptr) {
        first = &node->state();
      } else if (!(node->state() == *first)) {
        return false;
      }
    }
    return true;
  }
  // Every pending owner reports its transfers complete until no transfer is pending.
  void CompleteAllTransfers(int rounds_max) {
    for (int round = 0; round < rounds_max; ++round) {
      bool pending = false;
      for (auto& [address, node] : nodes_) {
        if (down_.contains(address)) continue;
        const Ring& ring = node->state().ring();
        for (std::uint32_t p = 0; p < ring.partition_count(); ++p) {
          if (ring.PendingOwner(p)) pending = true;
          if (ring.PendingOwner(p) == node->self_id())
            node->ReportTransferComplete(p).IgnoreError();
        }
      }
      if (!pending && Converged()) return;
      Round();
    }
    FAIL() << "transfers did not complete";
  }

  std::map<proto::PeerMessage::BodyCase, int> message_counts;
  std::size_t bytes_sent = 0;
  std::size_t largest_message_bytes = 0;
  void ResetTraffic() {
    message_counts.clear();
    bytes_sent = 0;
    largest_message_bytes = 0;
  }

 private:
  void Deliver() {
    std::vector<std::pair<std::string, Outbound>> queue;
    for (;;) {
      for (auto& [address, node] : nodes_) {
        for (Outbound& out : node->TakeOutbound()) queue.emplace_back(address, std::move(out));
      }
      if (queue.empty()) return;
      for (auto& [from, out] : queue) {
        ++message_counts[out.message.body_case()];
        const std::size_t size = out.message.ByteSizeLong();
        bytes_sent += size;
        largest_message_bytes = std::max(largest_message_bytes, size);
        if (down_.contains(from) || down_.contains(out.to_address)) continue;
        auto target = nodes_.find(out.to_address);
        if (target != nodes_.end()) target->second->Receive(from, out.message, now_ms_);
      }
      queue.clear();
    }
  }

  SplitMixRandom random_;
  std::uint64_t now_ms_ = 0;
  std::map<std::string, std::unique_ptr<Membership>> nodes_;
  std::set<std::string> down_;
};

// n1 bootstraps; n2..n<count> join through n1; runs until converged and transfers are done.
void StartCluster(TestNetwork& network, int count, std::size_t history = 64) {
  network.Add("n1", history);
  for (int i = 2; i <= count; ++i) {
    Membership& node = network.Add("n" + std::to_string(i), history);
    ASSERT_TRUE(node.Join({AddressOf("n1")}).ok());
  }
  ASSERT_GT(network.Settle(40), 0);
  network.CompleteAllTransfers(40);
}

int OwnedCount(const Ring& ring, const NodeId& id) {
  return static_cast<int>(ring.PartitionsOwnedBy(id).size());
}

TEST(Membership, BootstrapSingleNodeBecomesUpAndOwnsEverything) {
  TestNetwork network(1);
  Membership& node = network.Add("n1");
  network.Round();
  EXPECT_EQ(node.self().status, MemberStatus::kUp);
  EXPECT_TRUE(node.IsClaimant());
  EXPECT_EQ(OwnedCount(node.state().ring(), "n1"), static_cast<int>(kPartitions));
  EXPECT_GT(node.state_version(), 0u);
}

TEST(Membership, IgnoresMessagesFromAnotherCluster) {
  TestNetwork network(2);
  Membership& node = network.Add("n1");
  const std::uint64_t version = node.state_version();
  proto::PeerMessage message;
  message.mutable_gossip_syn()->set_cluster_name("other");
  message.mutable_gossip_syn()->set_state_hash(42);
  node.Receive("x:1", message, 0);
  proto::PeerMessage join;
  join.mutable_join_request()->set_cluster_name("other");
  join.mutable_join_request()->mutable_member()->set_id("intruder");
  node.Receive("x:1", join, 0);
  EXPECT_EQ(node.counters().foreign_cluster_ignored, 2u);
  EXPECT_TRUE(node.TakeOutbound().empty());
  EXPECT_EQ(node.state_version(), version);
  EXPECT_EQ(node.state().FindMember("intruder"), nullptr);
}

// A node whose join has not reached its seed yet knows no other member: an admin request
// about one is "not yet" (Unavailable, retryable), not "no such member" (NotFound).
TEST(Membership, AdminRequestsOnANodeStillJoiningAreUnavailableNotNotFound) {
  TestNetwork network(4);
  network.Add("n1");
  network.Round();
  Membership& joiner = network.Add("n2");
  ASSERT_TRUE(joiner.Join({AddressOf("n1")}).ok());
  ASSERT_TRUE(joiner.joining());
  EXPECT_EQ(joiner.Leave("n1").code(), StatusCode::kUnavailable);
  EXPECT_EQ(joiner.Remove("n1").code(), StatusCode::kUnavailable);
  EXPECT_EQ(joiner.SetWeight("n1", 2).code(), StatusCode::kUnavailable);
  ASSERT_GT(network.Settle(40), 0);
  ASSERT_FALSE(joiner.joining());
  EXPECT_EQ(joiner.Leave("nobody").code(), StatusCode::kNotFound);
}

TEST(Membership, FiveNodesJoiningThroughOneSeedConvergeToIdenticalState) {
  TestNetwork network(3);
  StartCluster(network, 5);
  const ClusterState& state = network.Node("n1").state();
  ASSERT_EQ(state.members().size(), 5u);
  for (const auto& member : state.members()) {
    EXPECT_EQ(member->status, MemberStatus::kUp) << member->id;
    EXPECT_GT(OwnedCount(state.ring(), member->id), 0) << member->id;
    EXPECT_FALSE(network.Node(member->id).joining());
  }
  EXPECT_EQ(network.Node("n4").Claimant(), "n1");
}

TEST(Membership, JoinPlansTransfersThatCompleteToTheClaim) {
  TestNetwork network(4);
  StartCluster(network, 4);
  Membership& joiner = network.Add("n5");
  ASSERT_TRUE(joiner.Join({AddressOf("n3")}).ok());
  ASSERT_GT(network.Settle(30), 0);
  const Ring planned = network.Node("n1").state().ring();
  std::vector<NodeId> targets;
  int moving = 0;
  for (std::uint32_t p = 0; p < kPartitions; ++p) {
    targets.push_back(planned.FutureOwner(p));
    if (planned.PendingOwner(p)) {
      ++moving;
      EXPECT_EQ(*planned.PendingOwner(p), "n5");
    }
  }
  EXPECT_GT(moving, 0);
  EXPECT_LT(moving, static_cast<int>(kPartitions) / 2);  // only what must move
  network.CompleteAllTransfers(40);
  const Ring& ring = joiner.state().ring();
  for (std::uint32_t p = 0; p < kPartitions; ++p) {
    EXPECT_EQ(ring.Owner(p), targets[p]) << p;
    EXPECT_FALSE(ring.PendingOwner(p));
  }
}

TEST(Membership, LeaveMovesPartitionsAwayThenRemoves) {
  TestNetwork network(5);
  StartCluster(network, 5);
  ASSERT_TRUE(network.Node("n5").Leave("n3").ok());
  ASSERT_GT(network.Settle(30), 0);
  EXPECT_EQ(network.Node("n1").state().FindMember("n3")->status, MemberStatus::kLeaving);
  for (std::uint32_t p = 0; p < kPartitions; ++p) {
    EXPECT_NE(network.Node("n1").state().ring().FutureOwner(p), "n3");
  }
  network.CompleteAllTransfers(40);
  ASSERT_GT(network.Settle(30), 0);
  const ClusterState& state = network.Node("n2").state();
  EXPECT_EQ(state.FindMember("n3")->status, MemberStatus::kRemoved);
  EXPECT_EQ(OwnedCount(state.ring(), "n3"), 0);
  EXPECT_EQ(network.Node("n3").self().status, MemberStatus::kRemoved);
}

// A node that left, restarted (gossiping its record, still removed, with the raised
// incarnation) and is asked to join again becomes a member again: the Kubernetes pod
// entrypoint does this after the preStop hook's `cluster leave` (docs/deploy.md). Its join
// request carries the restart's incarnation, which the cluster has not seen as a removed one.
TEST(Membership, ALeftNodeRestartedJoinsAgain) {
  TestNetwork network(15);
  StartCluster(network, 3);
  ASSERT_TRUE(network.Node("n3").Leave("n3").ok());
  ASSERT_GT(network.Settle(30), 0);
  network.CompleteAllTransfers(40);
  ASSERT_GT(network.Settle(30), 0);
  ASSERT_EQ(network.Node("n3").self().status, MemberStatus::kRemoved);

  Membership& restarted = network.Restart("n3", network.Node("n3").self().incarnation + 1);
  EXPECT_EQ(restarted.self().status, MemberStatus::kRemoved);
  // Gossip rounds before the join: the removed node's restart must not use up the incarnation
  // its join request needs.
  for (int round = 0; round < 5; ++round) network.Round();
  EXPECT_EQ(network.Node("n1").state().FindMember("n3")->status, MemberStatus::kRemoved);
  ASSERT_TRUE(restarted.Join({AddressOf("n1")}).ok());
  ASSERT_GT(network.Settle(40), 0);
  network.CompleteAllTransfers(40);
  ASSERT_GT(network.Settle(30), 0);
  for (const char* id : {"n1", "n2", "n3"}) {
    EXPECT_EQ(network.Node(id).state().FindMember("n3")->status, MemberStatus::kUp) << id;
  }
  EXPECT_GT(OwnedCount(network.Node("n1").state().ring(), "n3"), 0);
}

TEST(Membership, RemoveTakesEffectImmediatelyAndOwnershipMovesOff) {
  TestNetwork network(6);
  StartCluster(network, 5);
  network.Crash("n4");
  ASSERT_TRUE(network.Node("n2").Remove("n4").ok());
  EXPECT_EQ(network.Node("n2").state().FindMember("n4")->status, MemberStatus::kRemoved);
  ASSERT_GT(network.Settle(30), 0);
  network.CompleteAllTransfers(40);
  const ClusterState& state = network.Node("n1").state();
  EXPECT_EQ(OwnedCount(state.ring(), "n4"), 0);
  EXPECT_EQ(state.FindMember("n4")->status, MemberStatus::kRemoved);
}

// A removed node streams nothing, so nothing reports its partitions' transfers complete: they
// must flip by themselves (found by the e2e test of strong buckets under membership changes,
// where a killed and removed owner's partitions stayed pending for good).
TEST(Membership, ARemovedOwnersPartitionsFlipWithoutATransfer) {
  TestNetwork network(16);
  StartCluster(network, 5);
  network.Crash("n4");
  ASSERT_TRUE(network.Node("n2").Remove("n4").ok());
  ASSERT_GT(network.Settle(30), 0);
  const Ring& ring = network.Node("n1").state().ring();
  EXPECT_EQ(OwnedCount(ring, "n4"), 0);
  for (std::uint32_t partition = 0; partition < ring.partition_count(); ++partition) {
    EXPECT_FALSE(ring.PendingOwner(partition).has_value() && ring.Owner(partition) == "n4")
        << "partition " << partition << " still waits for the removed n4";
  }
}

TEST(Membership, SetWeightChangesOwnershipTargets) {
  TestNetwork network(7);
  StartCluster(network, 4);
  ASSERT_TRUE(network.Node("n3").SetWeight("n2", 4).ok());
  EXPECT_FALSE(network.Node("n3").SetWeight("n2", 0).ok());
  EXPECT_EQ(network.Node("n3").SetWeight("nobody", 2).code(), StatusCode::kNotFound);
  ASSERT_GT(network.Settle(30), 0);
  network.CompleteAllTransfers(40);
  const Ring& ring = network.Node("n4").state().ring();
  EXPECT_GT(OwnedCount(ring, "n2"), 2 * OwnedCount(ring, "n1"));
}

TEST(Membership, SteadyStateGossipIsOnlySmallSyns) {
  TestNetwork network(8);
  StartCluster(network, 5);
  network.ResetTraffic();
  for (int round = 0; round < 10; ++round) network.Round();
  EXPECT_EQ(network.message_counts[proto::PeerMessage::kGossipSyn], 50);
  EXPECT_EQ(network.message_counts.size(), 1u);
  EXPECT_LT(network.largest_message_bytes, 40u);
}

TEST(Membership, NodeWithRingFarBehindGetsAFullRing) {
  TestNetwork network(9);
  StartCluster(network, 5, /*history=*/2);
  network.Crash("n5");
  const std::uint64_t behind = network.Node("n5").state().ring().version();
  // Several ring versions pass while n5 is away (more than the history holds).
  ASSERT_TRUE(network.Node("n1").SetWeight("n2", 3).ok());
  ASSERT_GT(network.Settle(30), 0);
  network.CompleteAllTransfers(40);
  ASSERT_TRUE(network.Node("n1").SetWeight("n3", 3).ok());
  ASSERT_GT(network.Settle(30), 0);
  network.CompleteAllTransfers(40);
  ASSERT_GT(network.Node("n1").state().ring().version(), behind + 2);
  std::uint64_t full_rings_before = 0;
  for (const char* id : {"n1", "n2", "n3", "n4"}) {
    full_rings_before += network.Node(id).counters().full_rings_sent;
  }
  network.Restore("n5");
  ASSERT_GT(network.Settle(30), 0);
  std::uint64_t full_rings_after = 0;
  for (const char* id : {"n1", "n2", "n3", "n4"}) {
    full_rings_after += network.Node(id).counters().full_rings_sent;
  }
  EXPECT_GT(full_rings_after, full_rings_before);
  EXPECT_EQ(network.Node("n5").state().ring(), network.Node("n1").state().ring());
}

TEST(Membership, RemovedClaimantIsReplacedByTheNextSmallestId) {
  TestNetwork network(10);
  StartCluster(network, 5);
  network.Crash("n1");
  ASSERT_TRUE(network.Node("n3").Remove("n1").ok());
  ASSERT_GT(network.Settle(30), 0);
  EXPECT_EQ(network.Node("n4").Claimant(), "n2");
  network.CompleteAllTransfers(40);
  const ClusterState& state = network.Node("n5").state();
  EXPECT_EQ(OwnedCount(state.ring(), "n1"), 0);
  EXPECT_EQ(state.ring_claimant(), "n2");
}

TEST(Membership, UnreachableClaimantHandsTheRoleOnWithoutChangingOwnership) {
  TestNetwork network(11);
  StartCluster(network, 5);
  network.Crash("n1");
  const Ring before = network.Node("n2").state().ring();
  for (const char* id : {"n2", "n3", "n4", "n5"}) network.Node(id).SetUnreachable({"n1"});
  for (int round = 0; round < 5; ++round) network.Round();
  EXPECT_EQ(network.Node("n2").state().ring(), before);  // failures alone move nothing
  EXPECT_TRUE(network.Node("n2").IsClaimant());
  ASSERT_TRUE(network.Node("n5").Leave("n4").ok());
  ASSERT_GT(network.Settle(30), 0);
  const ClusterState& planned = network.Node("n3").state();
  EXPECT_EQ(planned.ring_claimant(), "n2");
  for (std::uint32_t p = 0; p < kPartitions; ++p) EXPECT_NE(planned.ring().FutureOwner(p), "n4");
  // n1 comes back: it is the claimant again and finishes the plan n2 made.
  network.Restore("n1");
  for (const char* id : {"n2", "n3", "n4", "n5"}) network.Node(id).SetUnreachable({});
  network.CompleteAllTransfers(40);
  ASSERT_GT(network.Settle(30), 0);
  EXPECT_EQ(network.Node("n3").state().FindMember("n4")->status, MemberStatus::kRemoved);
  EXPECT_EQ(network.Node("n3").state().ring_claimant(), "n1");
}

// n3 sent a digest listing n4's record, then crashed and lost it (its last state write was not
// synced); the answer to that digest carries the newer ring but not n4's record, which n3 was
// thought to have. n3 takes no ring naming a node it has no record of (it would route to an
// address it does not know), and the next exchange brings the record and the ring together.
// Found by the simulator: strong-cluster-membership seed 169.
TEST(Membership, ARingNamingANodeWithoutItsRecordWaitsForTheRecord) {
  TestNetwork network(12);
  StartCluster(network, 3);
  const ClusterState before_join = network.Node("n3").state();
  ASSERT_TRUE(network.Add("n4").Join({AddressOf("n1")}).ok());
  ASSERT_GT(network.Settle(40), 0);
  const ClusterState joined = network.Node("n1").state();
  ASSERT_NE(joined.FindMember("n4"), nullptr);
  ASSERT_GT(joined.ring().version(), before_join.ring().version());
  bool names_n4 = false;
  for (std::uint32_t p = 0; p < kPartitions; ++p) {
    names_n4 = names_n4 || joined.ring().Owner(p) == "n4" || joined.ring().PendingOwner(p) == "n4";
  }
  ASSERT_TRUE(names_n4);

  // The digest: every record n1 has, and n3's ring from before the join.
  proto::PeerMessage syn;
  proto::GossipDigest* digest = syn.mutable_gossip_digest();
  digest->set_cluster_name("test");
  digest->set_from_id("n3");
  for (const ClusterState::MemberPointer& member : joined.members()) {
    proto::MemberVersion* entry = digest->add_members();
    entry->set_id(member->id);
    entry->set_incarnation(member->incarnation);
    entry->set_version(member->version);
    entry->set_content_hash(MemberContentHash(*member));
  }
  EncodeRingVersion(before_join.ring_key(), digest->mutable_ring());
  network.Node("n1").Receive(AddressOf("n3"), syn, 100'000);
  std::optional<proto::PeerMessage> answer;
  for (Outbound& out : network.Node("n1").TakeOutbound()) {
    if (out.to_address == AddressOf("n3") && out.message.has_gossip_delta()) answer = out.message;
  }
  ASSERT_TRUE(answer.has_value());
  ASSERT_TRUE(answer->gossip_delta().has_ring_delta());
  ASSERT_EQ(answer->gossip_delta().members_size(), 0);

  Membership& restarted = network.Restart("n3", 2, before_join);
  ASSERT_EQ(restarted.state().FindMember("n4"), nullptr);
  restarted.Receive(AddressOf("n1"), *answer, 100'000);
  EXPECT_EQ(restarted.state().ring(), before_join.ring());
  EXPECT_EQ(restarted.counters().rings_deferred, 1u);

  ASSERT_GT(network.Settle(30), 0);
  EXPECT_NE(network.Node("n3").state().FindMember("n4"), nullptr);
  EXPECT_EQ(network.Node("n3").state().ring(), network.Node("n1").state().ring());
}

}  // namespace
}  // namespace meridian::cluster

namespace meridian::cluster {
namespace {

TEST(MembershipBucketProps, ChangesSpreadByGossipAndTheNewestWins) {
  TestNetwork network(11);
  StartCluster(network, 4);
  BucketProps lww;
  lww.conflict_policy = ConflictPolicy::kLastWriteWins;
  ASSERT_TRUE(network.Node("n3").SetBucketProps("sessions", lww, 1000).ok());
  BucketProps durable;
  durable.dw = QuorumValue::Number(1);
  // An older change made elsewhere concurrently loses to the newer one everywhere.
  ASSERT_TRUE(network.Node("n2").SetBucketProps("sessions", durable, 999).ok());
  ASSERT_GT(network.Settle(20), 0);
  for (const char* id : {"n1", "n2", "n3", "n4"}) {
    const BucketPropsRecord* record = network.Node(id).state().FindBucketProps("sessions");
    ASSERT_NE(record, nullptr) << id;
    EXPECT_EQ(record->props, lww) << id;
    EXPECT_EQ(record->origin, "n3") << id;
  }
  // A later change at the node that lost supersedes (its version is raised past the stored).
  ASSERT_TRUE(network.Node("n2").SetBucketProps("sessions", durable, 5).ok());
  ASSERT_GT(network.Settle(20), 0);
  EXPECT_EQ(network.Node("n4").state().FindBucketProps("sessions")->props, durable);
  EXPECT_FALSE(network.Node("n1").SetBucketProps("bad bucket", durable, 6).ok());
}

}  // namespace
}  // namespace meridian::cluster
