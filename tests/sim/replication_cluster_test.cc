// Quorum replication on real nodes in the simulator, one behaviour per test: writes reach the
// n primaries; sloppy quorum keeps a key writable with primaries down and hints bring the data
// home; pw refuses clearly; read repair fixes a stale replica; consistency receipts say what
// happened; n cannot change under data.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cluster/preference_list.h"
#include "core/hash.h"
#include "core/object_codec.h"
#include "sim/cluster_scenarios.h"
#include "sim/node_process.h"
#include "sim/simulation.h"
#include "storage/key_encoding.h"
#include "storage/segment_ordered_objects.h"

namespace meridian::sim {
namespace {

constexpr std::uint64_t kFormationMsMax = 30'000;
constexpr std::uint64_t kReplyMsMax = 10'000;
// Long enough for every failure detector to mark a crashed node down.
constexpr std::uint64_t kDetectionMs = 12'000;

class ReplicationClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    addresses_ = ScenarioAddresses(NodeCount());
    spare_ = ScenarioAddresses(NodeCount() + 1).back();
    layout_.bootstrap_address = addresses_.front();
    layout_.seeds = {addresses_.front()};
    layout_.base = SimNodeConfig();
    // Off unless a test asks: each test looks at one mechanism (hints, read repair); anti-entropy
    // would repair behind its back.
    if (!WithAntiEntropy()) layout_.base.anti_entropy.exchange_interval_ms = 0;
    Adjust(layout_.base);
    sink_ = [this](const std::string&, node::ClientReply reply) {
      replies_[reply.id] = std::move(reply);
    };
    SimulationConfig config;
    config.seed = Seed();
    simulation_ = std::make_unique<Simulation>(config, NodeProcessFactory(layout_, &sink_));
    for (const std::string& address : addresses_) {
      ASSERT_TRUE(simulation_->AddProcess(address).ok());
    }
    ExpectedMembers expected;
    for (const std::string& address : addresses_) expected[address] = cluster::MemberStatus::kUp;
    ASSERT_TRUE(simulation_
                    ->RunUntil([&] { return CheckClusterConverged(*simulation_, expected).ok(); },
                               kFormationMsMax)
                    .ok());
    // Forming moved replica lists around; let those (empty) copies finish.
    ASSERT_TRUE(simulation_->RunUntil([&] { return Idle(); }, kFormationMsMax * 2).ok());
  }

  virtual std::uint64_t Seed() const { return 21; }
  virtual std::uint32_t NodeCount() const { return 5; }
  virtual bool WithAntiEntropy() const { return false; }
  virtual void Adjust(node::NodeConfig& /*config*/) const {}

  bool Idle() {
    for (const std::string& address : simulation_->live_addresses()) {
      const node::NodeStats stats = NodeOf(address).Stats();
      if (stats.transfers + stats.copies_queued + stats.hints_pending > 0) return false;
    }
    return true;
  }

  // No pending owner on any node's ring, every ring the same, and nothing being copied.
  bool Settled() {
    std::optional<std::uint64_t> version;
    for (const std::string& address : simulation_->live_addresses()) {
      const cluster::Ring& ring = NodeOf(address).cluster_state().ring();
      if (version && *version != ring.version()) return false;
      version = ring.version();
      for (std::uint32_t partition = 0; partition < ring.partition_count(); ++partition) {
        if (ring.PendingOwner(partition)) return false;
      }
    }
    return Idle();
  }

  // Submits to `address` and runs until the reply arrives.
  node::ClientReply Call(const std::string& address, node::ClientRequest request) {
    return Await(Send(address, std::move(request)));
  }
  // Submits to `address` without running the simulation.
  node::RequestId Send(const std::string& address, node::ClientRequest request) {
    const node::RequestId id = next_id_++;
    EXPECT_TRUE(simulation_->Invoke(address, "request", [&](Process& process) {
      static_cast<NodeProcess&>(process).Submit(id, std::move(request));
    }));
    return id;
  }
  // Runs until the reply to `id` arrives.
  node::ClientReply Await(node::RequestId id) {
    const Status ran = simulation_->RunUntil([&] { return replies_.count(id) != 0; },
                                             simulation_->now_ms() + kReplyMsMax);
    EXPECT_TRUE(ran.ok()) << ran.ToString();
    if (replies_.count(id) == 0) return node::ClientReply{id, Status::Internal("no reply"), {}};
    node::ClientReply reply = std::move(replies_[id]);
    replies_.erase(id);
    return reply;
  }

  const node::Node& NodeOf(const std::string& address) {
    NodeProcess* process = NodeAt(*simulation_, address);
    EXPECT_NE(process, nullptr) << address;
    return process->node();
  }

  // `bucket`'s properties as `address` knows them.
  BucketProps PropsOn(const std::string& address, const std::string& bucket) {
    const cluster::BucketPropsRecord* record =
        NodeOf(address).cluster_state().FindBucketProps(bucket);
    return record == nullptr ? BucketProps{} : record->props;
  }

  // Runs until every node of addresses_ has `bucket` unsealed with `consistency`.
  Status AwaitUnsealedEverywhere(const std::string& bucket, Consistency consistency,
                                 std::uint64_t within_ms = 10'000) {
    return simulation_->RunUntil(
        [&] {
          for (const std::string& address : addresses_) {
            const BucketProps props = PropsOn(address, bucket);
            if (props.sealed || props.consistency != consistency) return false;
          }
          return true;
        },
        simulation_->now_ms() + within_ms);
  }

  // The key's primaries for n = 3, by address (node ids are addresses in the simulator).
  std::vector<std::string> PrimariesOf(const std::string& key) {
    const cluster::ClusterState& state =
        NodeOf(simulation_->live_addresses().front()).cluster_state();
    const std::uint32_t partition = PartitionOf(ObjectHash("b", key), state.partition_count());
    return cluster::ComputePrimaries(
        state.ring(), [](const cluster::NodeId&) { return std::string(); }, partition, 3);
  }
  std::vector<std::string> NonPrimariesOf(const std::string& key) {
    const std::vector<std::string> primaries = PrimariesOf(key);
    std::vector<std::string> others;
    for (const std::string& address : addresses_) {
      if (std::find(primaries.begin(), primaries.end(), address) == primaries.end()) {
        others.push_back(address);
      }
    }
    return others;
  }

  // The live values stored in `address`'s objects column for key "b"/`key`.
  std::optional<std::vector<std::string>> StoredValues(const std::string& address,
                                                       const std::string& key) {
    const std::uint32_t partition = PartitionOf(ObjectHash("b", key), layout_.base.partition_count);
    auto bytes = storage::SegmentOrderedObjects(simulation_->EngineOf(address))
                     .Get(storage::Column::kObjects, storage::EncodeObjectKey(partition, "b", key));
    if (!bytes.ok() || !bytes->has_value()) return std::nullopt;
    auto object = DecodeObject(**bytes);
    EXPECT_TRUE(object.ok());
    std::vector<std::string> values;
    for (const Sibling& sibling : object->siblings()) {
      if (!sibling.tombstone) values.push_back(sibling.value);
    }
    return values;
  }

  std::uint64_t HintsPending() {
    std::uint64_t pending = 0;
    for (const std::string& address : addresses_) {
      if (NodeAt(*simulation_, address) != nullptr)
        pending += NodeOf(address).Stats().hints_pending;
    }
    return pending;
  }

  std::vector<std::string> addresses_;
  std::string spare_;  // a sixth machine, not started by SetUp
  ClusterLayout layout_;
  ReplySink sink_;
  std::unique_ptr<Simulation> simulation_;
  std::map<node::RequestId, node::ClientReply> replies_;
  node::RequestId next_id_ = 1;
};

using Strings = std::vector<std::string>;

TEST_F(ReplicationClusterTest, AWriteReachesEveryPrimaryAndNoOtherNode) {
  const node::ClientReply reply =
      Call(NonPrimariesOf("k").front(), node::PutRequest{{"b", "k"}, "v1", "", {}});
  ASSERT_TRUE(reply.status.ok()) << reply.status.ToString();
  const auto& receipt = std::get<node::WriteReply>(reply.body).receipt;
  EXPECT_EQ(receipt.n, 3u);
  EXPECT_EQ(receipt.required, 2u);
  EXPECT_GE(receipt.replies, 2u);
  EXPECT_EQ(receipt.primaries, receipt.replies);
  EXPECT_EQ(receipt.fallbacks, 0u);
  ASSERT_TRUE(simulation_->RunFor(1'000).ok());  // the third ack lands after the reply
  for (const std::string& primary : PrimariesOf("k")) {
    EXPECT_EQ(StoredValues(primary, "k"), Strings{"v1"}) << primary;
  }
  for (const std::string& other : NonPrimariesOf("k")) {
    EXPECT_EQ(StoredValues(other, "k"), std::nullopt) << other;
  }
  // A get through any node answers after r = 2 replies with the value.
  const node::ClientReply get = Call(addresses_.back(), node::GetRequest{{"b", "k"}});
  ASSERT_TRUE(get.status.ok());
  EXPECT_EQ(std::get<node::GetReply>(get.body).values.size(), 1u);
  EXPECT_EQ(std::get<node::GetReply>(get.body).receipt.required, 2u);
}

TEST_F(ReplicationClusterTest, SloppyQuorumKeepsWritingAndHintsBringTheDataHome) {
  const Strings primaries = PrimariesOf("k");
  const std::string coordinator = primaries[0];
  // Two of the three primaries crash; the failure detectors notice.
  simulation_->Crash(primaries[1]);
  simulation_->Crash(primaries[2]);
  ASSERT_TRUE(simulation_->RunFor(kDetectionMs).ok());

  node::ClientReply reply = Call(coordinator, node::PutRequest{{"b", "k"}, "v1", "", {}});
  ASSERT_TRUE(reply.status.ok()) << reply.status.ToString();
  const auto& receipt = std::get<node::WriteReply>(reply.body).receipt;
  EXPECT_EQ(receipt.primaries, 1u);
  EXPECT_GE(receipt.fallbacks, 1u);
  EXPECT_EQ(receipt.hinted, receipt.fallbacks);
  EXPECT_GT(HintsPending(), 0u);

  // pw = 2 cannot be met with one primary reachable: refused before anything is written.
  node::RequestOptions strict;
  strict.pw = QuorumValue::Number(2);
  reply = Call(coordinator, node::PutRequest{{"b", "k"}, "v2", "", strict});
  EXPECT_EQ(reply.status.code(), StatusCode::kUnavailable);
  EXPECT_NE(reply.status.message().find("pw=2"), std::string::npos) << reply.status.ToString();
  EXPECT_NE(reply.status.message().find("nothing was written"), std::string::npos);
  EXPECT_EQ(StoredValues(coordinator, "k"), Strings{"v1"});

  // The primaries return; the hints drain and the data is home.
  ASSERT_TRUE(simulation_->Restart(primaries[1]).ok());
  ASSERT_TRUE(simulation_->Restart(primaries[2]).ok());
  ASSERT_TRUE(
      simulation_->RunUntil([&] { return HintsPending() == 0; }, simulation_->now_ms() + 60'000)
          .ok())
      << HintsPending() << " hints pending";
  for (const std::string& primary : primaries) {
    EXPECT_EQ(StoredValues(primary, "k"), Strings{"v1"}) << primary;
  }
  // A primary-only read of all three returns it.
  node::RequestOptions all_primaries;
  all_primaries.r = QuorumValue::All();
  all_primaries.pr = QuorumValue::All();
  reply = Call(addresses_.front(), node::GetRequest{{"b", "k"}, all_primaries});
  ASSERT_TRUE(reply.status.ok()) << reply.status.ToString();
  EXPECT_EQ(std::get<node::GetReply>(reply.body).values.size(), 1u);
  EXPECT_EQ(std::get<node::GetReply>(reply.body).receipt.primaries, 3u);
}

// Issue 10, item 1: a node cut off from everyone takes a blind w=1 write for a key it is not a
// primary of (a hint); after the heal the hint is delivered and deleted. Cut off again, it
// takes a second blind write for the same key. Before the fix it minted the same dot again
// from its now empty copy, and the primaries dropped the second write as already seen. Both
// writes are concurrent, so an r = all read must return both as siblings.
TEST_F(ReplicationClusterTest, AFallbackThatDeliveredItsHintNeverMintsTheSameDotAgain) {
  const std::string isolated = NonPrimariesOf("k").front();
  node::RequestOptions always;
  always.w = QuorumValue::Number(1);
  std::vector<std::string> written;
  for (const std::string value : {"first", "second"}) {
    simulation_->Isolate(isolated);
    ASSERT_TRUE(simulation_->RunFor(kDetectionMs).ok());
    const node::ClientReply reply = Call(isolated, node::PutRequest{{"b", "k"}, value, "", always});
    ASSERT_TRUE(reply.status.ok()) << reply.status.ToString();
    const auto& receipt = std::get<node::WriteReply>(reply.body).receipt;
    EXPECT_EQ(receipt.primaries, 0u);
    EXPECT_EQ(receipt.hinted, 1u);
    written.push_back(value);
    simulation_->Heal();
    ASSERT_TRUE(simulation_->RunUntil([&] { return Idle(); }, simulation_->now_ms() + 60'000).ok())
        << "the hint was not delivered";
    // The hint went to the primary the fallback stood in for; r = all reads every primary.
    node::RequestOptions all;
    all.r = QuorumValue::All();
    const node::ClientReply get = Call(PrimariesOf("k").front(), node::GetRequest{{"b", "k"}, all});
    ASSERT_TRUE(get.status.ok()) << get.status.ToString();
    Strings values;
    for (const auto& sibling : std::get<node::GetReply>(get.body).values) {
      values.push_back(sibling.value);
    }
    std::sort(values.begin(), values.end());
    EXPECT_EQ(values, written);
  }
}

// Issue 10, item 4: a node cut off from every primary of a key, long before any failure
// detector marks them down, takes a w=1 write at once as a fallback: its heartbeat pings went
// unanswered for peer_suspect_after_ms, so it routes around the silent primaries instead of
// forwarding the write into the cut (where it would wait out forward_timeout_ms and fail).
TEST_F(ReplicationClusterTest, AWriteThroughANodeCutFromThePrimariesIsTakenBeforeDetection) {
  const std::string receiver = NonPrimariesOf("k").front();
  const node::NodeConfig& config = NodeOf(receiver).config();
  simulation_->Partition({receiver}, PrimariesOf("k"));
  // Two heartbeat rounds: every primary was pinged and stayed silent past the suspicion bound.
  ASSERT_TRUE(simulation_
                  ->RunFor(2 * config.failure_detector.heartbeat_interval_ms +
                           config.suspicion.suspect_after_ms)
                  .ok());
  for (const std::string& primary : PrimariesOf("k")) {
    EXPECT_TRUE(NodeOf(receiver).IsAlive(primary)) << "detected already: the test shows nothing";
  }
  EXPECT_EQ(NodeOf(receiver).Stats().peers_suspected, 3u);

  node::RequestOptions always;
  always.w = QuorumValue::Number(1);
  const std::uint64_t sent_ms = simulation_->now_ms();
  const node::ClientReply reply = Call(receiver, node::PutRequest{{"b", "k"}, "v", "", always});
  ASSERT_TRUE(reply.status.ok()) << reply.status.ToString();
  EXPECT_LT(simulation_->now_ms() - sent_ms, 100u);  // no forward, no deadline waited out
  const auto& receipt = std::get<node::WriteReply>(reply.body).receipt;
  EXPECT_EQ(receipt.primaries, 0u);
  EXPECT_EQ(receipt.hinted, 1u);

  simulation_->Heal();
  ASSERT_TRUE(simulation_->RunUntil([&] { return Idle(); }, simulation_->now_ms() + 60'000).ok());
  EXPECT_EQ(NodeOf(receiver).Stats().peers_suspected, 0u);  // probes cleared it after the heal
  node::RequestOptions all;
  all.r = QuorumValue::All();
  const node::ClientReply get = Call(PrimariesOf("k").front(), node::GetRequest{{"b", "k"}, all});
  ASSERT_TRUE(get.status.ok()) << get.status.ToString();
  ASSERT_EQ(std::get<node::GetReply>(get.body).values.size(), 1u);
  EXPECT_EQ(std::get<node::GetReply>(get.body).values[0].value, "v");
}

// Issue 10, item 4 (hedged forwarding): a write forwarded to a primary whose answers stop
// coming is routed again once that primary is suspected, under the version the forwarding node
// fixed before sending it — so although the silent primary applied it too, it is one write:
// one sibling, and a client that read the primary's copy and overwrote it sees no copy of it
// come back after the heal (the resurrection that re-sending under a new dot caused).
TEST_F(ReplicationClusterTest, AForwardInFlightAtACutIsRoutedAgainUnderItsFixedVersion) {
  const std::string receiver = NonPrimariesOf("k").front();
  const Strings primaries = PrimariesOf("k");
  const node::NodeConfig& config = NodeOf(receiver).config();
  ASSERT_GT(config.single_use_entries_max, 0u);
  node::RequestOptions always;
  always.w = QuorumValue::Number(1);
  const std::uint64_t sent_ms = simulation_->now_ms();
  const node::RequestId id = Send(receiver, node::PutRequest{{"b", "k"}, "v", "", always});
  // Nothing from the primaries reaches the receiver any more: the forward arrives and is
  // applied, its answer is lost.
  simulation_->PartitionOneWay(primaries, {receiver});
  const node::ClientReply reply = Await(id);
  const std::uint64_t took_ms = simulation_->now_ms() - sent_ms;
  ASSERT_TRUE(reply.status.ok()) << reply.status.ToString();
  EXPECT_GE(took_ms, config.suspicion.suspect_after_ms);
  EXPECT_LT(took_ms, config.forward_timeout_ms) << "waited for the forward deadline";
  EXPECT_GE(NodeOf(receiver).Stats().forwards_hedged, 1u);
  EXPECT_EQ(NodeOf(receiver).Stats().forwards_fixed, 1u);

  // The first primary applied it (under the fixed version), and a client of it overwrites it.
  const node::ClientReply local = Call(primaries[0], node::ClusterLocalRequest{{"b", "k"}});
  ASSERT_TRUE(local.status.ok()) << local.status.ToString();
  const auto& copy = std::get<node::LocalCopyReply>(local.body);
  ASSERT_TRUE(copy.object.has_value()) << "the forward was not applied: the test shows nothing";
  ASSERT_EQ(copy.object->siblings().size(), 1u);
  EXPECT_TRUE(IsSingleUse(copy.object->siblings()[0].dot));
  node::RequestOptions one;
  one.r = QuorumValue::Number(1);
  const node::ClientReply read = Call(primaries[0], node::GetRequest{{"b", "k"}, one});
  ASSERT_TRUE(read.status.ok()) << read.status.ToString();
  const std::string token = std::get<node::GetReply>(read.body).context;
  ASSERT_TRUE(Call(primaries[0], node::PutRequest{{"b", "k"}, "over", token, always}).status.ok());

  simulation_->Heal();
  ASSERT_TRUE(simulation_->RunUntil([&] { return Idle(); }, simulation_->now_ms() + 60'000).ok());
  node::RequestOptions all;
  all.r = QuorumValue::All();
  for (const std::string& primary : primaries) {
    const node::ClientReply get = Call(primary, node::GetRequest{{"b", "k"}, all});
    ASSERT_TRUE(get.status.ok()) << get.status.ToString();
    const auto& values = std::get<node::GetReply>(get.body).values;
    ASSERT_EQ(values.size(), 1u) << "the hedged copy came back beside the overwrite";
    EXPECT_EQ(values[0].value, "over");
  }
}

// A write routed again after its first coordinator went silent can still fail where it lands
// (here: w=2, and nothing answers the entry node any more). That coordinator may have applied
// it, so the client hears "may or may not have been applied", never "not applied".
TEST_F(ReplicationClusterTest, AHedgedWriteThatFailsIsAnsweredMayOrMayNotHaveBeenApplied) {
  const std::string receiver = NonPrimariesOf("k").front();
  Strings others;
  for (const std::string& address : addresses_) {
    if (address != receiver) others.push_back(address);
  }
  node::RequestOptions two;
  two.w = QuorumValue::Number(2);
  const node::RequestId id = Send(receiver, node::PutRequest{{"b", "k"}, "v", "", two});
  simulation_->PartitionOneWay(others, {receiver});
  const node::ClientReply reply = Await(id);
  EXPECT_GE(NodeOf(receiver).Stats().forwards_hedged, 1u);
  EXPECT_EQ(reply.status.code(), StatusCode::kTimeout) << reply.status.ToString();
  EXPECT_NE(reply.status.message().find("may or may not have been applied"), std::string::npos)
      << reply.status.ToString();
  EXPECT_EQ(reply.status.message().find("was not applied"), std::string::npos)
      << reply.status.ToString();
  EXPECT_EQ(reply.status.message().find("nothing was written"), std::string::npos)
      << reply.status.ToString();
  simulation_->Heal();
}

// Issue 10, item 4: a forward lost while its primary keeps answering other traffic — here the
// link from the receiver to the key's first primary is cut one way, so that primary's
// heartbeats still arrive and it is never suspected — is routed again after
// forward_hedge_after_ms, avoiding that primary, instead of waiting out forward_timeout_ms.
TEST_F(ReplicationClusterTest, AForwardUnansweredByAPrimaryThatAnswersOtherTrafficIsRoutedAgain) {
  const std::string receiver = NonPrimariesOf("k").front();
  const Strings primaries = PrimariesOf("k");
  const node::NodeConfig& config = NodeOf(receiver).config();
  ASSERT_GT(config.forward_hedge_after_ms, 0u);
  ASSERT_LT(config.forward_hedge_after_ms, config.forward_timeout_ms);
  simulation_->PartitionOneWay({receiver}, {primaries[0]});
  node::RequestOptions always;
  always.w = QuorumValue::Number(1);
  const std::uint64_t sent_ms = simulation_->now_ms();
  const node::ClientReply reply = Call(receiver, node::PutRequest{{"b", "k"}, "v", "", always});
  const std::uint64_t took_ms = simulation_->now_ms() - sent_ms;
  ASSERT_TRUE(reply.status.ok()) << reply.status.ToString();
  EXPECT_EQ(NodeOf(receiver).Stats().peers_suspected, 0u) << "suspected: the test shows nothing";
  EXPECT_GE(took_ms, config.forward_hedge_after_ms);
  EXPECT_LT(took_ms, config.forward_timeout_ms) << "waited for the forward deadline";
  EXPECT_EQ(NodeOf(receiver).Stats().forwards_hedged_unanswered, 1u);
  EXPECT_EQ(NodeOf(receiver).Stats().forwards_hedged, 1u);
  EXPECT_GE(std::get<node::WriteReply>(reply.body).receipt.primaries, 1u);

  simulation_->Heal();
  ASSERT_TRUE(simulation_->RunUntil([&] { return Idle(); }, simulation_->now_ms() + 60'000).ok());
  node::RequestOptions all;
  all.r = QuorumValue::All();
  const node::ClientReply get = Call(primaries[0], node::GetRequest{{"b", "k"}, all});
  ASSERT_TRUE(get.status.ok()) << get.status.ToString();
  ASSERT_EQ(std::get<node::GetReply>(get.body).values.size(), 1u);
  EXPECT_EQ(std::get<node::GetReply>(get.body).values[0].value, "v");
}

// The same with two of the key's primaries leaving the forward unanswered while they answer
// other traffic: it is routed again after each forward_hedge_after_ms, avoiding both, and is
// acknowledged before forward_timeout_ms — one write, although both may have applied it. (Once
// routed again, a write used to wait out the deadline of its second forward.)
TEST_F(ReplicationClusterTest, AForwardUnansweredByTwoPrimariesThatAnswerOtherTrafficIsAcked) {
  const std::string receiver = NonPrimariesOf("k").front();
  const Strings primaries = PrimariesOf("k");
  const node::NodeConfig& config = NodeOf(receiver).config();
  ASSERT_LT(2 * config.forward_hedge_after_ms, config.forward_timeout_ms);
  simulation_->PartitionOneWay({receiver}, {primaries[0], primaries[1]});
  node::RequestOptions always;
  always.w = QuorumValue::Number(1);
  const std::uint64_t sent_ms = simulation_->now_ms();
  const node::ClientReply reply = Call(receiver, node::PutRequest{{"b", "k"}, "v", "", always});
  const std::uint64_t took_ms = simulation_->now_ms() - sent_ms;
  ASSERT_TRUE(reply.status.ok()) << reply.status.ToString();
  EXPECT_EQ(NodeOf(receiver).Stats().peers_suspected, 0u) << "suspected: the test shows nothing";
  EXPECT_GE(took_ms, 2 * config.forward_hedge_after_ms);
  EXPECT_LT(took_ms, config.forward_timeout_ms) << "waited for the forward deadline";
  EXPECT_EQ(NodeOf(receiver).Stats().forwards_hedged_unanswered, 2u);

  simulation_->Heal();
  ASSERT_TRUE(simulation_->RunUntil([&] { return Idle(); }, simulation_->now_ms() + 60'000).ok());
  node::RequestOptions all;
  all.r = QuorumValue::All();
  for (const std::string& primary : primaries) {
    const node::ClientReply get = Call(primary, node::GetRequest{{"b", "k"}, all});
    ASSERT_TRUE(get.status.ok()) << get.status.ToString();
    ASSERT_EQ(std::get<node::GetReply>(get.body).values.size(), 1u) << "one write, two copies";
    EXPECT_EQ(std::get<node::GetReply>(get.body).values[0].value, "v");
  }
}

// The control: with forward_hedge_after_ms = 0 only silence routes a forward again, so the same
// lost forward is answered at forward_timeout_ms, "may or may not have been applied".
class SilenceOnlyHedgingTest : public ReplicationClusterTest {
 protected:
  void Adjust(node::NodeConfig& config) const override { config.forward_hedge_after_ms = 0; }
};

TEST_F(SilenceOnlyHedgingTest, AForwardUnansweredByAPrimaryThatAnswersOtherTrafficTimesOut) {
  const std::string receiver = NonPrimariesOf("k").front();
  const node::NodeConfig& config = NodeOf(receiver).config();
  simulation_->PartitionOneWay({receiver}, {PrimariesOf("k")[0]});
  node::RequestOptions always;
  always.w = QuorumValue::Number(1);
  const std::uint64_t sent_ms = simulation_->now_ms();
  const node::ClientReply reply = Call(receiver, node::PutRequest{{"b", "k"}, "v", "", always});
  EXPECT_EQ(reply.status.code(), StatusCode::kTimeout) << reply.status.ToString();
  EXPECT_NE(reply.status.message().find("may or may not have been applied"), std::string::npos)
      << reply.status.ToString();
  EXPECT_GE(simulation_->now_ms() - sent_ms, config.forward_timeout_ms);
  EXPECT_EQ(NodeOf(receiver).Stats().forwards_hedged, 0u);
  simulation_->Heal();
}

// Hedging off (single_use_entries_max = 0): a write already forwarded to a primary when the
// link is cut is not re-sent elsewhere (the primary may have applied it), and its client hears
// so once the primary is suspected — about peer_suspect_after_ms after the forward — instead of
// after forward_timeout_ms.
class UnhedgedReplicationClusterTest : public ReplicationClusterTest {
 protected:
  void Adjust(node::NodeConfig& config) const override { config.single_use_entries_max = 0; }
};

TEST_F(UnhedgedReplicationClusterTest,
       AForwardInFlightAtACutIsAnsweredOnceItsCoordinatorIsSuspected) {
  const std::string receiver = NonPrimariesOf("k").front();
  const node::NodeConfig& config = NodeOf(receiver).config();
  ASSERT_GT(config.forward_timeout_ms, 2 * config.suspicion.suspect_after_ms);
  node::RequestOptions always;
  always.w = QuorumValue::Number(1);
  const std::uint64_t sent_ms = simulation_->now_ms();
  const node::RequestId id = Send(receiver, node::PutRequest{{"b", "k"}, "v", "", always});
  simulation_->Partition({receiver}, PrimariesOf("k"));  // the forward is on its way
  const node::ClientReply reply = Await(id);
  const std::uint64_t took_ms = simulation_->now_ms() - sent_ms;
  EXPECT_EQ(reply.status.code(), StatusCode::kTimeout) << reply.status.ToString();
  EXPECT_NE(reply.status.message().find("may or may not have been applied"), std::string::npos)
      << reply.status.ToString();
  EXPECT_NE(reply.status.message().find("went silent"), std::string::npos)
      << reply.status.ToString();
  EXPECT_GE(took_ms, config.suspicion.suspect_after_ms);
  EXPECT_LT(took_ms, 2 * config.suspicion.suspect_after_ms) << "waited for the forward deadline";
  EXPECT_EQ(NodeOf(receiver).Stats().forwards_fixed, 0u);

  // Once its heartbeats to the other primaries went unanswered too, the next write through the
  // receiver routes around them all at once.
  ASSERT_TRUE(simulation_
                  ->RunUntil([&] { return NodeOf(receiver).Stats().peers_suspected == 3; },
                             simulation_->now_ms() + 10'000)
                  .ok());
  const node::ClientReply next = Call(receiver, node::PutRequest{{"b", "k"}, "w", "", always});
  ASSERT_TRUE(next.status.ok()) << next.status.ToString();
  EXPECT_EQ(std::get<node::WriteReply>(next.body).receipt.primaries, 0u);
  simulation_->Heal();
}

// Members of an earlier release (no kMemberFeatureFixedVersions in their records) would mint
// their own dot for a forwarded write: nothing is forwarded to them with a fixed version, so a
// write in flight at a cut is not routed again (it is answered "may or may not").
class EarlierReleaseClusterTest : public ReplicationClusterTest {
 protected:
  void Adjust(node::NodeConfig& config) const override { config.features = 0; }
};

TEST_F(EarlierReleaseClusterTest, NoWriteIsForwardedToThemWithAFixedVersion) {
  const std::string receiver = NonPrimariesOf("k").front();
  ASSERT_TRUE(Call(receiver, node::PutRequest{{"b", "k"}, "v1", "", {}}).status.ok());
  EXPECT_EQ(NodeOf(receiver).Stats().forwards_fixed, 0u);
  node::RequestOptions always;
  always.w = QuorumValue::Number(1);
  const node::RequestId id = Send(receiver, node::PutRequest{{"b", "k"}, "v2", "", always});
  simulation_->PartitionOneWay(PrimariesOf("k"), {receiver});
  const node::ClientReply reply = Await(id);
  EXPECT_EQ(reply.status.code(), StatusCode::kTimeout) << reply.status.ToString();
  EXPECT_EQ(NodeOf(receiver).Stats().forwards_hedged, 0u);
  simulation_->Heal();
}

// A key's clock takes at most single_use_entries_max single-use entries: a forwarded write
// beyond them is refused by the primary and sent again with an ordinary dot, and succeeds.
class SmallSingleUseBoundTest : public ReplicationClusterTest {
 protected:
  void Adjust(node::NodeConfig& config) const override { config.single_use_entries_max = 2; }
};

TEST_F(SmallSingleUseBoundTest, ForwardedWritesBeyondTheBoundGetOrdinaryDots) {
  const std::string receiver = NonPrimariesOf("k").front();
  const Strings primaries = PrimariesOf("k");
  for (int i = 0; i < 5; ++i) {
    const node::ClientReply put =
        Call(receiver, node::PutRequest{{"b", "k"}, "v" + std::to_string(i), "", {}});
    ASSERT_TRUE(put.status.ok()) << put.status.ToString();
  }
  EXPECT_EQ(NodeOf(receiver).Stats().forwards_fixed, 5u);
  std::uint64_t refused = 0;
  for (const std::string& primary : primaries)
    refused += NodeOf(primary).Stats().fixed_versions_refused;
  EXPECT_EQ(refused, 3u);
  node::RequestOptions all;
  all.r = QuorumValue::All();
  const node::ClientReply get = Call(primaries[0], node::GetRequest{{"b", "k"}, all});
  ASSERT_TRUE(get.status.ok()) << get.status.ToString();
  EXPECT_EQ(std::get<node::GetReply>(get.body).values.size(), 5u);  // five blind writes
  const node::ClientReply local = Call(primaries[0], node::ClusterLocalRequest{{"b", "k"}});
  const auto& copy = std::get<node::LocalCopyReply>(local.body);
  ASSERT_TRUE(copy.object.has_value());
  EXPECT_EQ(copy.object->clock().SingleUseEntries(), 2u);
}

// Issue 10 item 4 at the bound: a write in flight at a cut to a key whose history holds
// single_use_entries_max versions of forwarded writes. Its first primary's answer is lost, so
// it is routed again under its fixed version; the next primary refuses that version (the
// bound). The silent primary may have applied it, so it cannot be sent again without one:
// the forwarding node takes it itself, as a fallback under that version, past the bound
// (before, it was answered "may or may not have been applied").
TEST_F(SmallSingleUseBoundTest, AWriteRoutedAgainAndRefusedForTheBoundIsTakenByItsForwarder) {
  const std::string receiver = NonPrimariesOf("k").front();
  const Strings primaries = PrimariesOf("k");
  for (const std::string value : {"v0", "v1"}) {
    ASSERT_TRUE(Call(receiver, node::PutRequest{{"b", "k"}, value, "", {}}).status.ok());
  }
  node::RequestOptions always;
  always.w = QuorumValue::Number(1);
  const node::RequestId id = Send(receiver, node::PutRequest{{"b", "k"}, "v2", "", always});
  simulation_->PartitionOneWay({primaries[0]}, {receiver});  // its answers are lost
  const node::ClientReply reply = Await(id);
  ASSERT_TRUE(reply.status.ok()) << reply.status.ToString();
  EXPECT_GE(NodeOf(receiver).Stats().forwards_hedged, 1u);
  std::uint64_t refused = 0;
  for (const std::string& primary : primaries) {
    refused += NodeOf(primary).Stats().fixed_versions_refused;
  }
  EXPECT_GE(refused, 2u) << "the routed-again write was not refused: the test shows nothing";

  simulation_->Heal();
  ASSERT_TRUE(simulation_->RunUntil([&] { return Idle(); }, simulation_->now_ms() + 60'000).ok());
  node::RequestOptions all;
  all.r = QuorumValue::All();
  for (const std::string& primary : primaries) {
    const node::ClientReply get = Call(primary, node::GetRequest{{"b", "k"}, all});
    ASSERT_TRUE(get.status.ok()) << get.status.ToString();
    Strings values;
    for (const auto& sibling : std::get<node::GetReply>(get.body).values) {
      values.push_back(sibling.value);
    }
    std::sort(values.begin(), values.end());
    EXPECT_EQ(values, (Strings{"v0", "v1", "v2"})) << primary;  // three blind writes, once each
  }
}

// Reaping rounds prune a key's superseded single-use entries (with anti-entropy on, as in
// production), so a key written through forwarders keeps being hedged: without the prune, the
// third forwarded write here would be refused its fixed version (bound 2).
class PrunedSingleUseBoundTest : public ReplicationClusterTest {
 protected:
  bool WithAntiEntropy() const override { return true; }
  void Adjust(node::NodeConfig& config) const override { config.single_use_entries_max = 2; }

  // Runs until each of `primaries` pruned one object (summed over them), within a minute.
  Status AwaitPrunedOnEach(const Strings& primaries) {
    return simulation_->RunUntil(
        [&] {
          std::uint64_t pruned = 0;
          for (const std::string& primary : primaries) {
            pruned += NodeOf(primary).Stats().reaping.objects_pruned;
          }
          return pruned == primaries.size();
        },
        simulation_->now_ms() + 60'000);
  }
};

TEST_F(PrunedSingleUseBoundTest, SupersededEntriesArePrunedAndLaterWritesAreHedgedAgain) {
  const std::string receiver = NonPrimariesOf("k").front();
  const Strings primaries = PrimariesOf("k");
  node::RequestOptions all;
  all.r = QuorumValue::All();
  all.w = QuorumValue::All();
  // Each write reads first, so it supersedes the one before.
  const auto overwrite = [&](const std::string& value) {
    const node::ClientReply get = Call(receiver, node::GetRequest{{"b", "k"}, all});
    ASSERT_TRUE(get.status.ok()) << get.status.ToString();
    const std::string context = std::get<node::GetReply>(get.body).context;
    const node::ClientReply put = Call(receiver, node::PutRequest{{"b", "k"}, value, context, all});
    ASSERT_TRUE(put.status.ok()) << put.status.ToString();
  };
  const auto single_use_entries = [&](const std::string& primary) -> std::size_t {
    const node::ClientReply local = Call(primary, node::ClusterLocalRequest{{"b", "k"}});
    const auto& copy = std::get<node::LocalCopyReply>(local.body);
    return copy.object.has_value() ? copy.object->clock().SingleUseEntries() : 0;
  };
  overwrite("v0");
  overwrite("v1");
  for (const std::string& primary : primaries) ASSERT_EQ(single_use_entries(primary), 2u);

  // v0's entry is superseded: a reaping round prunes it on every primary (and only it).
  ASSERT_TRUE(AwaitPrunedOnEach(primaries).ok());
  for (const std::string& primary : primaries) EXPECT_EQ(single_use_entries(primary), 1u);
  std::uint64_t entries_pruned = 0;
  for (const std::string& primary : primaries) {
    entries_pruned += NodeOf(primary).Stats().reaping.single_use_entries_pruned;
  }
  EXPECT_EQ(entries_pruned, primaries.size());

  // The next forwarded write takes its fixed version: nothing refused.
  overwrite("v2");
  std::uint64_t refused = 0;
  for (const std::string& primary : primaries) {
    refused += NodeOf(primary).Stats().fixed_versions_refused;
  }
  EXPECT_EQ(refused, 0u);
  EXPECT_EQ(NodeOf(receiver).Stats().forwards_fixed, 3u);
  for (const std::string& primary : primaries) {
    const node::ClientReply get = Call(primary, node::GetRequest{{"b", "k"}, all});
    ASSERT_TRUE(get.status.ok()) << get.status.ToString();
    const auto& values = std::get<node::GetReply>(get.body).values;
    ASSERT_EQ(values.size(), 1u);
    EXPECT_EQ(values[0].value, "v2");
  }
}

// Tombstone reaping is background work like the rest: while an operator has paused it, no
// round scans a partition (the scan is what cost every node's loop 0.1-0.3 s a minute,
// docs/replication.md run 20) and nothing is reaped; once resumed, the tombstone goes.
class PausedReapingTest : public ReplicationClusterTest {
 protected:
  bool WithAntiEntropy() const override { return true; }
};

TEST_F(PausedReapingTest, NoRoundScansWhilePausedAndTheTombstoneGoesOnceResumed) {
  const Strings primaries = PrimariesOf("k");
  node::RequestOptions all;
  all.r = QuorumValue::All();
  all.w = QuorumValue::All();
  ASSERT_TRUE(Call(primaries[0], node::PutRequest{{"b", "k"}, "v", "", all}).status.ok());
  const node::ClientReply read = Call(primaries[0], node::GetRequest{{"b", "k"}, all});
  ASSERT_TRUE(read.status.ok());
  for (const std::string& address : addresses_) {
    const node::ClientReply paused =
        Call(address, node::ClusterBackgroundRequest{.bytes_per_second = {}, .paused = true});
    ASSERT_TRUE(paused.status.ok()) << paused.status.ToString();
  }
  const auto started = [&] {
    std::uint64_t rounds = 0;
    std::uint64_t proposed = 0;
    for (const std::string& address : addresses_) {
      rounds += NodeOf(address).Stats().reaping.rounds_started;
      proposed += NodeOf(address).Stats().reaping.candidates_proposed;
    }
    return std::pair{rounds, proposed};
  };
  const auto before = started();
  ASSERT_TRUE(
      Call(primaries[0],
           node::DeleteRequest{{"b", "k"}, std::get<node::GetReply>(read.body).context, all})
          .status.ok());
  const auto stored = [&](const std::string& primary) {
    const node::ClientReply local = Call(primary, node::ClusterLocalRequest{{"b", "k"}});
    return std::get<node::LocalCopyReply>(local.body).object.has_value();
  };
  // Several reaping intervals pass: nothing starts, the tombstone stays everywhere.
  ASSERT_TRUE(simulation_->RunFor(5 * SimNodeConfig().reaping.interval_ms).ok());
  EXPECT_EQ(started(), before);
  for (const std::string& primary : primaries) EXPECT_TRUE(stored(primary)) << primary;

  for (const std::string& address : addresses_) {
    ASSERT_TRUE(
        Call(address, node::ClusterBackgroundRequest{.bytes_per_second = {}, .paused = false})
            .status.ok());
  }
  // Within a minute of virtual time (each check is a request of its own, between runs).
  bool gone = false;
  for (int second = 0; second < 60 && !gone; ++second) {
    ASSERT_TRUE(simulation_->RunFor(1'000).ok());
    gone = std::none_of(primaries.begin(), primaries.end(), stored);
  }
  EXPECT_TRUE(gone);
  EXPECT_GT(started().first, before.first);
}

// A client that writes with the context its previous write returned carries entries a prune
// removed since; they come back with its next write. They count against the bound: otherwise
// each write a prune let through would add one more entry to the chain for good.
TEST_F(PrunedSingleUseBoundTest, EntriesAContextBringsBackCountAgainstTheBound) {
  const std::string receiver = NonPrimariesOf("k").front();
  const Strings primaries = PrimariesOf("k");
  node::RequestOptions all;
  all.w = QuorumValue::All();
  const auto put = [&](const std::string& value, const std::string& context) {
    const node::ClientReply reply =
        Call(receiver, node::PutRequest{{"b", "k"}, value, context, all});
    EXPECT_TRUE(reply.status.ok()) << reply.status.ToString();
    return reply.status.ok() ? std::get<node::WriteReply>(reply.body).context : std::string();
  };
  const std::string after_v0 = put("v0", "");
  ASSERT_FALSE(after_v0.empty());
  const std::string after_v1 = put("v1", after_v0);  // carries v0's entry, and its own
  ASSERT_FALSE(after_v1.empty());
  ASSERT_TRUE(AwaitPrunedOnEach(primaries).ok());
  // The clocks hold v1's entry alone; the context still holds v0's too: together the bound.
  put("v2", after_v1);
  std::uint64_t refused = 0;
  for (const std::string& primary : primaries) {
    refused += NodeOf(primary).Stats().fixed_versions_refused;
  }
  EXPECT_EQ(refused, 1u);
  for (const std::string& primary : primaries) {
    const node::ClientReply local = Call(primary, node::ClusterLocalRequest{{"b", "k"}});
    const auto& copy = std::get<node::LocalCopyReply>(local.body);
    ASSERT_TRUE(copy.object.has_value());
    EXPECT_LE(copy.object->clock().SingleUseEntries(), 2u) << primary;
    ASSERT_EQ(copy.object->siblings().size(), 1u);
    EXPECT_EQ(copy.object->siblings()[0].value, "v2");
  }
}

// Hot keys (issue 10 item 4): four writers overwrite one key through its two non-primaries, each
// 100 ms after its previous write was answered (about 34 writes a second, every one forwarded
// with a fixed version: about 68 new single-use entries per 2 s reaping interval, against a
// bound of 128), so its partition's anti-entropy exchanges keep finding the primaries apart and
// a round seldom finds them at one version with nothing in flight. A prune that names its
// actors needs neither: it is stopped only by a copy of one of those writes, so the key is
// pruned every round and keeps being hedged. Control (HotKeyPruningByHashTest): judged by the
// version hash like a tombstone, and only in partitions in sync, it is hardly ever pruned and
// most forwarded writes are refused their fixed version.
class HotKeyPruningTest : public PrunedSingleUseBoundTest {
 protected:
  static constexpr int kWriters = 4;
  static constexpr std::size_t kBound = 128;  // single_use_entries_max
  static constexpr std::uint64_t kThinkMs = 100;
  static constexpr std::uint64_t kWritingMs = 30'000;

  void Adjust(node::NodeConfig& config) const override {
    config.single_use_entries_max = kBound;  // pruned from 1 superseded entry (SimNodeConfig)
    config.reaping.prune_by_actors = ByActors();
  }
  virtual bool ByActors() const { return true; }

  struct Outcome {
    std::uint64_t written = 0;
    std::uint64_t forwarded_fixed = 0;  // at the non-primaries
    std::uint64_t refused = 0;          // fixed versions the primaries refused
    std::uint64_t pruned = 0;           // objects pruned, summed over the primaries
  };
  // kWriters loops, each sending its next overwrite (RESP SET semantics, w = 1) as soon as the
  // previous one is answered, alternating between the key's two non-primaries, for kWritingMs.
  Outcome WriteHotKey() {
    const Strings receivers = NonPrimariesOf("k");
    EXPECT_EQ(receivers.size(), 2u);
    node::RequestOptions one;
    one.w = QuorumValue::Number(1);
    Outcome outcome;
    const auto send = [&](int writer) {
      node::PutRequest put{{"b", "k"}, "v" + std::to_string(outcome.written++), "", one};
      put.overwrite = true;
      return Send(receivers[static_cast<std::size_t>(writer) % receivers.size()], std::move(put));
    };
    // Per writer: its request in flight, or when it sends its next one.
    std::vector<std::optional<node::RequestId>> in_flight(kWriters);
    std::vector<std::uint64_t> next_ms(kWriters, simulation_->now_ms());
    const std::uint64_t end_ms = simulation_->now_ms() + kWritingMs;
    while (simulation_->now_ms() < end_ms) {
      for (int writer = 0; writer < kWriters; ++writer) {
        const auto w = static_cast<std::size_t>(writer);
        if (in_flight[w] && replies_.count(*in_flight[w]) != 0) {
          EXPECT_TRUE(replies_[*in_flight[w]].status.ok())
              << replies_[*in_flight[w]].status.ToString();
          replies_.erase(*in_flight[w]);
          in_flight[w].reset();
          next_ms[w] = simulation_->now_ms() + kThinkMs;
        }
        if (!in_flight[w] && simulation_->now_ms() >= next_ms[w]) in_flight[w] = send(writer);
      }
      const std::uint64_t wake_ms = *std::min_element(next_ms.begin(), next_ms.end());
      const Status ran = simulation_->RunUntil(
          [&] {
            for (std::size_t w = 0; w < in_flight.size(); ++w) {
              if (in_flight[w] ? replies_.count(*in_flight[w]) != 0
                               : simulation_->now_ms() >= next_ms[w]) {
                return true;
              }
            }
            return false;
          },
          std::max(wake_ms, simulation_->now_ms()) + kReplyMsMax);
      EXPECT_TRUE(ran.ok()) << ran.ToString();
      if (!ran.ok()) break;
    }
    for (const auto& id : in_flight) {
      if (id) {
        EXPECT_TRUE(Await(*id).status.ok());
      }
    }
    for (const std::string& receiver : receivers) {
      outcome.forwarded_fixed += NodeOf(receiver).Stats().forwards_fixed;
    }
    for (const std::string& primary : PrimariesOf("k")) {
      outcome.refused += NodeOf(primary).Stats().fixed_versions_refused;
      outcome.pruned += NodeOf(primary).Stats().reaping.objects_pruned;
    }
    // The figures docs/design/tombstones.md quotes (--gtest_output=xml shows them).
    RecordProperty("written", std::to_string(outcome.written));
    RecordProperty("forwarded_fixed", std::to_string(outcome.forwarded_fixed));
    RecordProperty("refused", std::to_string(outcome.refused));
    RecordProperty("pruned", std::to_string(outcome.pruned));
    return outcome;
  }
};

TEST_F(HotKeyPruningTest, AKeyWrittenContinuouslyIsPrunedEveryRoundAndStaysHedged) {
  const Outcome outcome = WriteHotKey();
  // Every overwrite went through a forwarder with a fixed version; a refusal sends it again.
  ASSERT_GT(outcome.written, 800u) << "too few writes to show anything";
  EXPECT_GT(outcome.pruned, 3u * (kWritingMs / SimNodeConfig().reaping.interval_ms) / 2)
      << "pruned " << outcome.pruned;
  // At most one write in ten refused its fixed version (not hedged).
  EXPECT_LT(outcome.refused * 10, outcome.forwarded_fixed)
      << outcome.refused << " of " << outcome.forwarded_fixed << " refused";
  // Every primary's copy stays within the bound, and the key reads at r = all.
  ASSERT_TRUE(simulation_->RunUntil([&] { return Idle(); }, simulation_->now_ms() + 60'000).ok());
  node::RequestOptions all;
  all.r = QuorumValue::All();
  const node::ClientReply get = Call(PrimariesOf("k")[0], node::GetRequest{{"b", "k"}, all});
  ASSERT_TRUE(get.status.ok()) << get.status.ToString();
  for (const std::string& primary : PrimariesOf("k")) {
    const node::ClientReply local = Call(primary, node::ClusterLocalRequest{{"b", "k"}});
    const auto& copy = std::get<node::LocalCopyReply>(local.body);
    ASSERT_TRUE(copy.object.has_value());
    EXPECT_LE(copy.object->clock().SingleUseEntries(), kBound) << primary;
  }
}

class HotKeyPruningByHashTest : public HotKeyPruningTest {
 protected:
  bool ByActors() const override { return false; }
};

// The control: the same writes with prunes judged by the version hash.
TEST_F(HotKeyPruningByHashTest, MostForwardedWritesOfTheHotKeyAreRefusedTheirFixedVersion) {
  const Outcome outcome = WriteHotKey();
  ASSERT_GT(outcome.written, 800u) << "too few writes to show anything";
  EXPECT_GT(outcome.refused * 2, outcome.forwarded_fixed)
      << outcome.refused << " of " << outcome.forwarded_fixed << " refused";
}

// Pruning on demand (issue 10 item 4): the same hot key at the defaults — a bound of 32, pruned
// from 8 superseded entries, a round a minute. The key gains about 34 entries a second, the bound
// in one second: the minute's rounds cannot keep it hedged. A key stored with 8 or more asks its
// reaper for a round of its own 200 ms after the partition's last one, so it is pruned several
// times a second and (almost) every forwarded write keeps its fixed version. Control
// (prune_soon_after_ms 0): most are refused.
class HotKeyPrunedOnDemandTest : public HotKeyPruningTest {
 protected:
  void Adjust(node::NodeConfig& config) const override {
    const node::NodeConfig defaults;
    config.single_use_entries_max = defaults.single_use_entries_max;
    config.reaping.interval_ms = defaults.reaping.interval_ms;
    config.reaping.prune_single_use_from = defaults.reaping.prune_single_use_from;
    config.reaping.prune_soon_after_ms = OnDemand() ? defaults.reaping.prune_soon_after_ms : 0;
  }
  virtual bool OnDemand() const { return true; }
};

TEST_F(HotKeyPrunedOnDemandTest, AKeyWrittenFasterThanTheBoundPerIntervalStaysHedged) {
  ASSERT_EQ(node::NodeConfig().single_use_entries_max, 32u);
  ASSERT_EQ(node::NodeConfig().reaping.interval_ms, 60'000u);
  const Outcome outcome = WriteHotKey();
  ASSERT_GT(outcome.written, 800u) << "too few writes to show anything";
  // Each primary prunes the key many times within the one interval the writes take.
  EXPECT_GT(outcome.pruned, 3u * 30u) << "pruned " << outcome.pruned;
  EXPECT_LT(outcome.refused * 20, outcome.forwarded_fixed)
      << outcome.refused << " of " << outcome.forwarded_fixed << " refused";
  for (const std::string& primary : PrimariesOf("k")) {
    const node::ClientReply local = Call(primary, node::ClusterLocalRequest{{"b", "k"}});
    const auto& copy = std::get<node::LocalCopyReply>(local.body);
    ASSERT_TRUE(copy.object.has_value());
    EXPECT_LE(copy.object->clock().SingleUseEntries(), 32u) << primary;
  }
}

class HotKeyPrunedByIntervalTest : public HotKeyPrunedOnDemandTest {
 protected:
  bool OnDemand() const override { return false; }
};

// The control: the same writes with only the interval's rounds.
TEST_F(HotKeyPrunedByIntervalTest, MostForwardedWritesOfTheHotKeyAreRefusedTheirFixedVersion) {
  const Outcome outcome = WriteHotKey();
  ASSERT_GT(outcome.written, 800u) << "too few writes to show anything";
  EXPECT_GT(outcome.refused * 2, outcome.forwarded_fixed)
      << outcome.refused << " of " << outcome.forwarded_fixed << " refused";
}

// Issue 10, item 7's instrument: a get or write that took slow_request_ms or more is recorded
// with where its time went — which replica answered when, or which coordinator a forward went
// to — and a quick one is not recorded at all.
TEST_F(ReplicationClusterTest, ASlowRequestIsRecordedWithTheReplicaItWaitedFor) {
  const Strings primaries = PrimariesOf("k");
  const std::string coordinator = primaries[0];
  ASSERT_TRUE(Call(coordinator, node::PutRequest{{"b", "k"}, "v1", "", {}}).status.ok());
  EXPECT_EQ(NodeOf(coordinator).Stats().slow_requests, 0u);
  EXPECT_TRUE(NodeOf(coordinator).slow_requests().lines().empty());

  // w=all with one primary cut off (not yet suspected): the write waits out its deadline.
  simulation_->Partition({coordinator}, {primaries[2]});
  node::RequestOptions all;
  all.w = QuorumValue::All();
  all.sloppy_quorum = false;
  const node::ClientReply timed_out =
      Call(coordinator, node::PutRequest{{"b", "k"}, "v2", "", all});
  EXPECT_FALSE(timed_out.status.ok());
  EXPECT_EQ(NodeOf(coordinator).Stats().slow_requests, 1u);
  ASSERT_EQ(NodeOf(coordinator).slow_requests().lines().size(), 1u);
  const node::SlowRequests::Line& line = NodeOf(coordinator).slow_requests().lines().front();
  const node::NodeConfig& config = NodeOf(coordinator).config();
  EXPECT_GE(line.took_ms, config.request_timeout_ms);
  EXPECT_NE(line.description.find("put in bucket \"b\""), std::string::npos) << line.description;
  EXPECT_NE(line.description.find("from a client of this node"), std::string::npos)
      << line.description;
  EXPECT_NE(line.description.find(coordinator + " (here) 0 ms"), std::string::npos)
      << line.description;
  EXPECT_NE(line.description.find(primaries[2] + " no answer"), std::string::npos)
      << line.description;
  EXPECT_EQ(line.description.find(primaries[1] + " no answer"), std::string::npos)
      << line.description;
  simulation_->Heal();

  // A forward into a cut: the forwarding node records the coordinator it waited for (and then
  // routes the write again: hedged forwarding).
  const std::string receiver = NonPrimariesOf("k").front();
  ASSERT_TRUE(simulation_->RunFor(config.failure_detector.heartbeat_interval_ms * 3).ok());
  simulation_->Partition({receiver}, primaries);
  const node::ClientReply forwarded = Call(receiver, node::PutRequest{{"b", "k"}, "v3", "", {}});
  EXPECT_TRUE(forwarded.status.ok()) << forwarded.status.ToString();
  ASSERT_GE(NodeOf(receiver).slow_requests().lines().size(), 1u);
  const std::string& forward = NodeOf(receiver).slow_requests().lines().front().description;
  EXPECT_NE(forward.find("forwarded on to the coordinator at"), std::string::npos) << forward;
  EXPECT_NE(forward.find("no answer, the peer went silent; routed again"), std::string::npos)
      << forward;
}

TEST_F(ReplicationClusterTest, WithEveryPrimaryDownAWriteWithW1StillSucceeds) {
  const Strings primaries = PrimariesOf("k");
  for (const std::string& primary : primaries) simulation_->Crash(primary);
  ASSERT_TRUE(simulation_->RunFor(kDetectionMs).ok());
  node::RequestOptions one;
  one.w = QuorumValue::One();
  const std::string receiver = NonPrimariesOf("k").front();
  const node::ClientReply reply = Call(receiver, node::PutRequest{{"b", "k"}, "v1", "", one});
  ASSERT_TRUE(reply.status.ok()) << reply.status.ToString();
  EXPECT_EQ(std::get<node::WriteReply>(reply.body).receipt.primaries, 0u);
  EXPECT_GE(std::get<node::WriteReply>(reply.body).receipt.hinted, 1u);
  // With sloppy quorum off the same write is refused, saying why.
  node::RequestOptions strict = one;
  strict.sloppy_quorum = false;
  const node::ClientReply refused = Call(receiver, node::PutRequest{{"b", "k"}, "v2", "", strict});
  EXPECT_EQ(refused.status.code(), StatusCode::kUnavailable) << refused.status.ToString();
}

TEST_F(ReplicationClusterTest, ReadRepairFixesAStaleReplica) {
  const Strings primaries = PrimariesOf("k");
  // One primary misses a write: down, and not replaced (sloppy quorum off).
  simulation_->Crash(primaries[2]);
  ASSERT_TRUE(simulation_->RunFor(kDetectionMs).ok());
  node::RequestOptions no_sloppy;
  no_sloppy.sloppy_quorum = false;
  node::ClientReply reply = Call(primaries[0], node::PutRequest{{"b", "k"}, "v1", "", no_sloppy});
  ASSERT_TRUE(reply.status.ok()) << reply.status.ToString();
  EXPECT_EQ(std::get<node::WriteReply>(reply.body).receipt.replies, 2u);
  EXPECT_EQ(StoredValues(primaries[2], "k"), std::nullopt);
  ASSERT_TRUE(simulation_->Restart(primaries[2]).ok());
  ASSERT_TRUE(simulation_->RunFor(kDetectionMs).ok());
  EXPECT_EQ(StoredValues(primaries[2], "k"), std::nullopt);  // behind: no hint, no repair yet

  node::RequestOptions all;
  all.r = QuorumValue::All();
  reply = Call(primaries[0], node::GetRequest{{"b", "k"}, all});
  ASSERT_TRUE(reply.status.ok()) << reply.status.ToString();
  EXPECT_EQ(std::get<node::GetReply>(reply.body).receipt.behind, 1u);
  ASSERT_TRUE(simulation_->RunFor(1'000).ok());
  EXPECT_EQ(StoredValues(primaries[2], "k"), Strings{"v1"});
  EXPECT_GE(NodeOf(primaries[0]).Stats().read_repairs, 1u);
}

class AntiEntropyClusterTest : public ReplicationClusterTest {
 protected:
  bool WithAntiEntropy() const override { return true; }
};

// Issue 10 item 5: a primary that missed a write (down, and not replaced) gets it back from
// anti-entropy within two exchange rounds of its return, though nobody reads the key; a primary
// whose disk was wiped is refilled the same way.
TEST_F(AntiEntropyClusterTest, AStaleOrWipedReplicaIsRepairedWithoutAnyRead) {
  const Strings primaries = PrimariesOf("k");
  simulation_->Crash(primaries[2]);
  ASSERT_TRUE(simulation_->RunFor(kDetectionMs).ok());
  node::RequestOptions no_sloppy;
  no_sloppy.sloppy_quorum = false;
  ASSERT_TRUE(Call(primaries[0], node::PutRequest{{"b", "k"}, "v1", "", no_sloppy}).status.ok());
  ASSERT_TRUE(simulation_->Restart(primaries[2]).ok());
  EXPECT_EQ(StoredValues(primaries[2], "k"), std::nullopt);
  const std::uint64_t round_ms = layout_.base.anti_entropy.exchange_interval_ms;
  ASSERT_TRUE(simulation_
                  ->RunUntil([&] { return StoredValues(primaries[2], "k") == Strings{"v1"}; },
                             simulation_->now_ms() + kDetectionMs + 2 * round_ms)
                  .ok())
      << "not repaired within two anti-entropy rounds";
  EXPECT_EQ(NodeOf(primaries[0]).Stats().read_repairs, 0u);
  EXPECT_GE(NodeOf(primaries[2]).Stats().aae_keys_received, 1u);

  // Its objects lost (say a volume restored from an old backup) while the node kept its
  // identity and cluster state: anti-entropy refills it. (A node that loses everything rejoins
  // and is refilled by the ownership handoff of its join.)
  simulation_->Crash(primaries[1]);
  storage::MemoryEngine& engine = simulation_->EngineOf(primaries[1]);
  for (storage::Column column : {storage::Column::kObjectsBySegment}) {  // the objects, as stored
    storage::WriteBatch wipe;
    ASSERT_TRUE(engine
                    .Scan(column, "", "",
                          [&](std::string_view key, std::string_view) {
                            wipe.Delete(column, std::string(key));
                            return true;
                          })
                    .ok());
    ASSERT_TRUE(engine.Write(wipe, storage::WriteOptions{.sync = true}).ok());
    ASSERT_TRUE(engine.CommitPending().ok());
  }
  ASSERT_TRUE(simulation_->Restart(primaries[1]).ok());
  EXPECT_EQ(StoredValues(primaries[1], "k"), std::nullopt);
  ASSERT_TRUE(simulation_
                  ->RunUntil([&] { return StoredValues(primaries[1], "k") == Strings{"v1"}; },
                             simulation_->now_ms() + kDetectionMs + 2 * round_ms)
                  .ok())
      << "the emptied replica was not refilled within two anti-entropy rounds";
  EXPECT_GE(NodeOf(primaries[1]).Stats().aae_keys_received, 1u);
  EXPECT_EQ(NodeOf(primaries[0]).Stats().read_repairs, 0u);

  // A node that loses its whole disk rejoins under a new identity and gets its data back too.
  simulation_->Crash(primaries[2]);
  simulation_->WipeStorage(primaries[2]);
  ASSERT_TRUE(simulation_->Restart(primaries[2]).ok());
  EXPECT_EQ(StoredValues(primaries[2], "k"), std::nullopt);
  ASSERT_TRUE(simulation_
                  ->RunUntil([&] { return StoredValues(primaries[2], "k") == Strings{"v1"}; },
                             simulation_->now_ms() + 60'000)
                  .ok());
}

class AntiEntropyPacingClusterTest : public AntiEntropyClusterTest {
 protected:
  void Adjust(node::NodeConfig& config) const override {
    config.background.bytes_per_second = 100'000;  // ~24 small objects per second
    config.background.burst_bytes = 16'384;
  }
};

// Issue 10 item 7: a node repaired by anti-entropy pays for what it is sent. When it answers an
// exchange by asking for copies while its budget is in debt, the request waits (as a hint or
// handoff ack does), so its peers together cannot push more than its own budget into it.
TEST_F(AntiEntropyPacingClusterTest, ANodeAskingForRepairCopiesWaitsForItsOwnBudget) {
  const std::string& away = addresses_[4];
  simulation_->Crash(away);
  ASSERT_TRUE(simulation_->RunFor(kDetectionMs).ok());
  node::RequestOptions no_sloppy;
  no_sloppy.sloppy_quorum = false;
  std::vector<std::string> missed;  // keys the away node is a primary of
  for (int i = 0; i < 120; ++i) {
    const std::string key = "k" + std::to_string(i);
    ASSERT_TRUE(Call(addresses_[0], node::PutRequest{{"b", key}, "v", "", no_sloppy}).status.ok());
    const Strings primaries = PrimariesOf(key);
    if (std::find(primaries.begin(), primaries.end(), away) != primaries.end()) {
      missed.push_back(key);
    }
  }
  ASSERT_GT(missed.size(), 40u);
  ASSERT_TRUE(simulation_->Restart(away).ok());
  const std::uint64_t round_ms = layout_.base.anti_entropy.exchange_interval_ms;
  ASSERT_TRUE(simulation_
                  ->RunUntil(
                      [&] {
                        for (const std::string& key : missed) {
                          if (StoredValues(away, key) != Strings{"v"}) return false;
                        }
                        return true;
                      },
                      simulation_->now_ms() + kDetectionMs + 6 * round_ms)
                  .ok())
      << "not repaired";
  const node::NodeStats stats = NodeOf(away).Stats();
  EXPECT_GE(stats.aae_keys_received, missed.size());
  EXPECT_GT(stats.ack_pacing.acks_held, 0u) << "no repair request waited for the budget";
}

TEST_F(ReplicationClusterTest, QuorumSettingsAreValidatedAtTheEdge) {
  node::RequestOptions too_many;
  too_many.w = QuorumValue::Number(4);
  node::ClientReply reply = Call(addresses_[0], node::PutRequest{{"b", "k"}, "v", "", too_many});
  EXPECT_EQ(reply.status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(reply.status.message().find("w=4"), std::string::npos) << reply.status.ToString();
  EXPECT_EQ(StoredValues(addresses_[0], "k"), std::nullopt);

  // n may be set on an empty bucket but not above the member count, and not once it has data.
  BucketPropsPatch five;
  five.n = 5;
  EXPECT_TRUE(Call(addresses_[0], node::SetBucketRequest{"fresh", five}).status.ok());
  BucketPropsPatch six;
  six.n = 6;
  reply = Call(addresses_[0], node::SetBucketRequest{"fresh", six});
  EXPECT_EQ(reply.status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(reply.status.message().find("exceeds the 5 member"), std::string::npos);

  ASSERT_TRUE(Call(PrimariesOf("k")[0], node::PutRequest{{"b", "k"}, "v", "", {}}).status.ok());
  BucketPropsPatch two;
  two.n = 2;
  reply = Call(PrimariesOf("k")[0], node::SetBucketRequest{"b", two});
  EXPECT_EQ(reply.status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(reply.status.message().find("holds data"), std::string::npos)
      << reply.status.ToString();
}

// A bucket's consistency (or n) changes only while no member holds any of its data — every
// member's storage, not just the node that takes the request (node/bucket_change.h).
TEST_F(ReplicationClusterTest, AConsistencyChangeLooksAtEveryMembersStorage) {
  ASSERT_TRUE(Call(PrimariesOf("k")[0], node::PutRequest{{"b", "k"}, "v", "", {}}).status.ok());
  ASSERT_TRUE(simulation_->RunUntil([&] { return Idle(); }, simulation_->now_ms() + 10'000).ok());
  // Through a node that holds no copy of the bucket's only key (nor a hint of it).
  const std::string elsewhere = NonPrimariesOf("k").front();
  ASSERT_EQ(StoredValues(elsewhere, "k"), std::nullopt);
  BucketPropsPatch strong;
  strong.consistency = Consistency::kStrong;
  node::ClientReply reply = Call(elsewhere, node::SetBucketRequest{"b", strong});
  EXPECT_EQ(reply.status.code(), StatusCode::kInvalidArgument) << reply.status.ToString();
  EXPECT_NE(reply.status.message().find("holds data"), std::string::npos)
      << reply.status.ToString();
  EXPECT_NE(reply.status.message().find(PrimariesOf("k")[0]), std::string::npos)
      << "names where: " << reply.status.ToString();
  BucketPropsPatch five;
  five.n = 5;
  reply = Call(elsewhere, node::SetBucketRequest{"b", five});
  EXPECT_EQ(reply.status.code(), StatusCode::kInvalidArgument) << reply.status.ToString();
  // Nothing changed, and the seal is lifted everywhere: the key reads and writes as before.
  ASSERT_TRUE(simulation_->RunFor(3'000).ok());
  for (const std::string& address : addresses_) {
    const BucketProps props = PropsOn(address, "b");
    EXPECT_EQ(props.consistency, Consistency::kEventual) << address;
    EXPECT_EQ(props.n, 3u) << address;
    EXPECT_FALSE(props.sealed) << address;
  }
  EXPECT_TRUE(Call(elsewhere, node::PutRequest{{"b", "k"}, "v2", "", {}}).status.ok());

  // An empty bucket changes, through any node, and every member learns it.
  reply = Call(elsewhere, node::SetBucketRequest{"fresh", strong});
  ASSERT_TRUE(reply.status.ok()) << reply.status.ToString();
  ASSERT_TRUE(AwaitUnsealedEverywhere("fresh", Consistency::kStrong).ok());
}

// While the members are asked, the bucket is sealed on every node that knows it: reads and
// writes are refused, so nothing can land between a member's answer and the change. A member
// that does not answer stops the change at the deadline, and the seal is lifted.
TEST_F(ReplicationClusterTest, AChangeSealsTheBucketAndNeedsEveryMembersAnswer) {
  const std::string silent = addresses_.back();
  const std::string via = addresses_.front();
  simulation_->Isolate(silent);
  BucketPropsPatch strong;
  strong.consistency = Consistency::kStrong;
  const node::RequestId change = Send(via, node::SetBucketRequest{"fresh", strong});
  ASSERT_TRUE(simulation_->RunFor(1'000).ok());
  ASSERT_EQ(replies_.count(change), 0u) << "still waiting for " << silent;
  for (const std::string& address : addresses_) {
    if (address == silent) continue;
    EXPECT_TRUE(PropsOn(address, "fresh").sealed) << address;
    const node::ClientReply put = Call(address, node::PutRequest{{"fresh", "k"}, "v", "", {}});
    EXPECT_EQ(put.status.code(), StatusCode::kUnavailable) << address;
    EXPECT_NE(put.status.message().find("sealed"), std::string::npos) << put.status.ToString();
    const node::ClientReply get = Call(address, node::GetRequest{{"fresh", "k"}});
    EXPECT_EQ(get.status.code(), StatusCode::kUnavailable) << address;
    const node::ClientReply again = Call(address, node::SetBucketRequest{"fresh", strong});
    EXPECT_EQ(again.status.code(), StatusCode::kUnavailable) << address;
  }
  const node::ClientReply reply = Await(change);
  EXPECT_EQ(reply.status.code(), StatusCode::kUnavailable) << reply.status.ToString();
  EXPECT_NE(reply.status.message().find("no answer from " + silent), std::string::npos)
      << reply.status.ToString();
  for (const std::string& address : addresses_) {
    if (address == silent) continue;
    EXPECT_EQ(StoredValues(address, "k"), std::nullopt) << "nothing landed on " << address;
  }
  simulation_->Heal();
  ASSERT_TRUE(AwaitUnsealedEverywhere("fresh", Consistency::kEventual).ok())
      << "the seal is lifted everywhere, the silent node included";
  // With every member answering, the change is made.
  const node::ClientReply made = Call(via, node::SetBucketRequest{"fresh", strong});
  EXPECT_TRUE(made.status.ok()) << made.status.ToString();
}

// A node that restarts in the middle of its own change lifts the seal it left.
TEST_F(ReplicationClusterTest, ASealLeftByARestartIsLifted) {
  const std::string via = addresses_.front();
  simulation_->Isolate(addresses_.back());
  BucketPropsPatch strong;
  strong.consistency = Consistency::kStrong;
  Send(via, node::SetBucketRequest{"fresh", strong});
  ASSERT_TRUE(simulation_->RunFor(1'000).ok());
  ASSERT_TRUE(PropsOn(addresses_[1], "fresh").sealed);
  simulation_->Crash(via);
  ASSERT_TRUE(simulation_->Restart(via).ok());
  simulation_->Heal();
  ASSERT_TRUE(AwaitUnsealedEverywhere("fresh", Consistency::kEventual, 15'000).ok());
  EXPECT_TRUE(Call(addresses_[1], node::PutRequest{{"fresh", "k"}, "v", "", {}}).status.ok());
}

// A joining node learns every bucket's properties in the same message as the ring (the seed's
// full state answers its join): it never routes a key of a strong bucket as eventual.
TEST_F(ReplicationClusterTest, AJoinerKnowsTheBucketsBeforeItKnowsTheRing) {
  BucketPropsPatch strong;
  strong.consistency = Consistency::kStrong;
  ASSERT_TRUE(Call(addresses_.front(), node::SetBucketRequest{"fresh", strong}).status.ok());
  ASSERT_TRUE(AwaitUnsealedEverywhere("fresh", Consistency::kStrong).ok());
  ASSERT_TRUE(simulation_->AddProcess(spare_).ok());
  // Checked after every event: the first moment the joiner can route, it knows the bucket.
  bool checked = false;
  ASSERT_TRUE(simulation_
                  ->RunUntil(
                      [&] {
                        if (NodeAt(*simulation_, spare_) == nullptr) return false;
                        const cluster::Ring& ring = NodeOf(spare_).cluster_state().ring();
                        if (ring.Owner(0).empty()) {
                          EXPECT_EQ(PropsOn(spare_, "fresh").consistency, Consistency::kEventual)
                              << "nothing known before the join's answer";
                          return false;
                        }
                        EXPECT_EQ(PropsOn(spare_, "fresh").consistency, Consistency::kStrong);
                        checked = true;
                        return true;
                      },
                      simulation_->now_ms() + 10'000)
                  .ok());
  EXPECT_TRUE(checked);
  const node::ClientReply put = Call(spare_, node::PutRequest{{"fresh", "k"}, "v", "", {}});
  ASSERT_TRUE(put.status.ok()) << put.status.ToString();
  EXPECT_EQ(std::get<node::WriteReply>(put.body).context.rfind("s.", 0), 0u)
      << "written as a strong key";
}

class RingChangeTest : public ReplicationClusterTest,
                       public ::testing::WithParamInterface<std::uint64_t> {
 protected:
  std::uint64_t Seed() const override { return GetParam(); }
};

INSTANTIATE_TEST_SUITE_P(Seeds, RingChangeTest, ::testing::Range<std::uint64_t>(1, 9));

TEST_P(RingChangeTest, LeavesEveryKeyOnExactlyItsPrimaries) {
  constexpr int kKeys = 60;
  const auto key = [](int i) { return "key" + std::to_string(i); };
  for (int i = 0; i < kKeys; ++i) {
    const std::string via = addresses_[static_cast<std::size_t>(i) % addresses_.size()];
    ASSERT_TRUE(
        Call(via, node::PutRequest{{"b", key(i)}, "v" + std::to_string(i), "", {}}).status.ok());
  }
  const auto check_placement = [&](const std::string& stage) {
    ASSERT_TRUE(
        simulation_->RunUntil([&] { return Settled(); }, simulation_->now_ms() + 120'000).ok())
        << stage << ": not settled";
    const std::vector<std::string> live = simulation_->live_addresses();
    for (int i = 0; i < kKeys; ++i) {
      const Strings primaries = PrimariesOf(key(i));
      for (const std::string& address : live) {
        const bool primary =
            std::find(primaries.begin(), primaries.end(), address) != primaries.end();
        const auto stored = StoredValues(address, key(i));
        if (primary && stored != Strings{"v" + std::to_string(i)}) {
          std::string holders;
          for (const std::string& a : live)
            holders += " " + a + "=" + std::to_string(StoredValues(a, key(i)).has_value());
          std::string prims;
          for (const auto& p : primaries) prims += " " + p;
          ADD_FAILURE() << "primaries:" << prims << " holders:" << holders;
        }
        if (primary) {
          EXPECT_EQ(stored, Strings{"v" + std::to_string(i)})
              << stage << " " << key(i) << " on " << address;
        } else {
          EXPECT_EQ(stored, std::nullopt) << stage << " " << key(i) << " on " << address;
        }
      }
    }
  };
  ASSERT_TRUE(simulation_->RunFor(1'000).ok());  // the last writes' third acks
  check_placement("before");

  // Throughout, no node streams more partitions at once than its background governor allows
  // (docs/design/governor.md); the ring changes below make some node wait for a stream.
  const std::uint64_t streams_max = layout_.base.background.streams_max;
  std::uint64_t streams_peak = 0;
  std::map<std::string, std::uint64_t> stream_refusals;
  std::map<std::string, std::uint64_t> handoff_bytes;
  simulation_->AddInvariant("background streams within streams_max", [&]() -> Status {
    for (const std::string& address : simulation_->live_addresses()) {
      const replication::BackgroundStats stats = NodeOf(address).Stats().background;
      const std::uint64_t held = stats.Total().streams_held;
      if (held > streams_max) {
        return Status::Internal(address + " holds " + std::to_string(held) + " streams");
      }
      streams_peak = std::max(streams_peak, held);
      stream_refusals[address] = stats.Total().streams_refused;
      handoff_bytes[address] = stats.of(replication::WorkKind::kOwnershipHandoff).bytes_granted;
    }
    return Status::Ok();
  });

  // A join: the sixth node takes partitions; replica lists change around them.
  ASSERT_TRUE(simulation_->AddProcess(spare_).ok());
  ASSERT_TRUE(
      simulation_
          ->RunUntil(
              [&] {
                return NodeAt(*simulation_, spare_) != nullptr &&
                       NodeOf(spare_).cluster_state().ring().PartitionsOwnedBy(spare_).size() > 0;
              },
              simulation_->now_ms() + 120'000)
          .ok());
  check_placement("after the join");

  // A weight change.
  ASSERT_TRUE(Call(addresses_[1], node::ClusterSetWeightRequest{addresses_[2], 3}).status.ok());
  ASSERT_TRUE(simulation_
                  ->RunUntil(
                      [&] {
                        return NodeOf(addresses_[0])
                                   .cluster_state()
                                   .ring()
                                   .PartitionsOwnedBy(addresses_[2])
                                   .size() > layout_.base.partition_count / 5;
                      },
                      simulation_->now_ms() + 120'000)
                  .ok());
  check_placement("after the weight change");

  // A leave.
  ASSERT_TRUE(Call(addresses_[0], node::ClusterLeaveRequest{addresses_[3]}).status.ok());
  ASSERT_TRUE(simulation_
                  ->RunUntil(
                      [&] {
                        return NodeOf(addresses_[0])
                            .cluster_state()
                            .ring()
                            .PartitionsOwnedBy(addresses_[3])
                            .empty();
                      },
                      simulation_->now_ms() + 120'000)
                  .ok());
  check_placement("after the leave");

  std::uint64_t refusals = 0;
  std::uint64_t bytes = 0;
  for (const auto& [address, count] : stream_refusals) refusals += count;
  for (const auto& [address, count] : handoff_bytes) bytes += count;
  EXPECT_EQ(streams_peak, streams_max);
  EXPECT_GT(refusals, 0u);
  EXPECT_GT(bytes, 0u);
}

// Cluster status with reports (node/member_report.h): every reachable member answers with
// its own figures, which match what that node's stats say; a member cut off has no report and
// the status says why, after at most member_report_timeout_ms.
TEST_F(ReplicationClusterTest, StatusCarriesTheReportOfEveryReachableMember) {
  const auto reports_of = [&](const std::string& via) {
    const node::ClientReply reply = Call(via, node::ClusterStatusRequest{true});
    EXPECT_TRUE(reply.status.ok()) << reply.status.ToString();
    std::map<std::string, node::MemberView> members;
    if (reply.status.ok()) {
      for (const node::MemberView& member :
           std::get<node::ClusterStatusReply>(reply.body).members) {
        members[member.id] = member;
      }
    }
    return members;
  };
  std::map<std::string, node::MemberView> members = reports_of(addresses_[0]);
  ASSERT_EQ(members.size(), addresses_.size());
  for (const auto& [id, member] : members) {
    ASSERT_TRUE(member.report.has_value()) << id << ": " << member.report_missing;
    EXPECT_FALSE(member.report->load.has_value()) << "the simulator's runtime gives no load";
    EXPECT_EQ(member.report->hints_pending, 0u) << id;
    EXPECT_TRUE(member.report->transfers.empty()) << id;
  }
  EXPECT_TRUE(Call(addresses_[0], node::ClusterStatusRequest{false}).status.ok());

  // Cut off before any detector notices: asked, silent, reported so at the deadline.
  const std::string cut = PrimariesOf("k").front();
  const std::string via = NonPrimariesOf("k").front();
  simulation_->Isolate(cut);
  const std::uint64_t sent_ms = simulation_->now_ms();
  members = reports_of(via);
  const std::uint64_t waited_ms = simulation_->now_ms() - sent_ms;
  const std::uint64_t timeout_ms = NodeOf(via).config().member_report_timeout_ms;
  EXPECT_GE(waited_ms, timeout_ms);
  EXPECT_LT(waited_ms, timeout_ms + 500);
  EXPECT_FALSE(members.at(cut).report.has_value());
  EXPECT_EQ(members.at(cut).report_missing,
            "no answer within " + std::to_string(timeout_ms) + " ms");

  // Detected: not asked at all. A write for a key it is a primary of leaves a hint, which the
  // fallback's report shows exactly as its stats count it.
  ASSERT_TRUE(simulation_->RunFor(kDetectionMs).ok());
  node::RequestOptions always;
  always.w = QuorumValue::Number(1);
  ASSERT_TRUE(Call(via, node::PutRequest{{"b", "k"}, "v", "", always}).status.ok());
  members = reports_of(via);
  EXPECT_EQ(members.at(cut).report_missing, "not reachable");
  std::uint64_t reported_hints = 0;
  for (const std::string& address : addresses_) {
    if (address == cut) continue;
    ASSERT_TRUE(members.at(address).report.has_value()) << address;
    EXPECT_EQ(members.at(address).report->hints_pending, NodeOf(address).Stats().hints_pending)
        << address;
    reported_hints += members.at(address).report->hints_pending;
  }
  EXPECT_GT(reported_hints, 0u);
  simulation_->Heal();
}

// Streams of many small batches, so that one is seen part-way.
class SmallBatchClusterTest : public ReplicationClusterTest {
 protected:
  void Adjust(node::NodeConfig& config) const override { config.handoff.batch_objects_max = 4; }
};

// While partitions move (a weight change), the status shows the streams with their progress:
// acknowledged bytes within the size estimated at the start, to the member that gains.
TEST_F(SmallBatchClusterTest, StatusShowsRunningTransfersWithTheirProgress) {
  node::RequestOptions one;
  one.w = QuorumValue::Number(1);
  for (int i = 0; i < 400; ++i) {
    ASSERT_TRUE(
        Call(addresses_[i % addresses_.size()],
             node::PutRequest{{"b", "k" + std::to_string(i)}, std::string(2000, 'x'), "", one})
            .status.ok());
  }
  ASSERT_TRUE(simulation_->RunUntil([&] { return Idle(); }, simulation_->now_ms() + 60'000).ok());
  const std::string gainer = addresses_[2];
  ASSERT_TRUE(Call(addresses_[1], node::ClusterSetWeightRequest{gainer, 4}).status.ok());
  std::vector<node::TransferView> seen;
  for (int attempt = 0; attempt < 400 && seen.empty(); ++attempt) {
    const node::ClientReply reply = Call(addresses_[0], node::ClusterStatusRequest{true});
    ASSERT_TRUE(reply.status.ok()) << reply.status.ToString();
    for (const node::MemberView& member : std::get<node::ClusterStatusReply>(reply.body).members) {
      ASSERT_TRUE(member.report.has_value()) << member.id << ": " << member.report_missing;
      for (const node::TransferView& transfer : member.report->transfers) {
        if (transfer.bytes_done > 0 && !transfer.replica_copy) seen.push_back(transfer);
      }
    }
    if (seen.empty()) {
      ASSERT_TRUE(simulation_->RunFor(20).ok());
    }
  }
  ASSERT_FALSE(seen.empty()) << "no ownership stream was seen with progress";
  for (const node::TransferView& transfer : seen) {
    EXPECT_EQ(transfer.peer, gainer);
    EXPECT_GT(transfer.bytes_total, 0u) << "the memory engine's estimate is exact";
    EXPECT_LE(transfer.bytes_done, transfer.bytes_total);
    EXPECT_GT(transfer.elapsed_ms, 0u);
    ASSERT_TRUE(transfer.EtaSeconds().has_value());
    EXPECT_GE(*transfer.EtaSeconds(), 0);
  }
  ASSERT_TRUE(
      simulation_->RunUntil([&] { return Settled(); }, simulation_->now_ms() + 120'000).ok());
  const node::ClientReply after = Call(addresses_[0], node::ClusterStatusRequest{true});
  for (const node::MemberView& member : std::get<node::ClusterStatusReply>(after.body).members) {
    ASSERT_TRUE(member.report.has_value()) << member.id;
    EXPECT_TRUE(member.report->transfers.empty()) << member.id << " still reports a stream";
  }
}

}  // namespace
}  // namespace meridian::sim

namespace meridian::sim {
namespace {

// Two members, as a StatefulSet of two pods: the second leaves through itself (the preStop
// hook's `meridian cluster leave` on its own node). Its partitions move to the first, it ends
// removed, and it stays removed: nothing undoes a leave once its partitions moved.
class TwoMemberLeaveTest : public ReplicationClusterTest,
                           public ::testing::WithParamInterface<std::uint64_t> {
 protected:
  std::uint64_t Seed() const override { return GetParam(); }
  std::uint32_t NodeCount() const override { return 2; }
};

INSTANTIATE_TEST_SUITE_P(Seeds, TwoMemberLeaveTest, ::testing::Range<std::uint64_t>(1, 21));

TEST_P(TwoMemberLeaveTest, ALeaveThroughTheLeavingNodeEndsRemovedAndStaysSo) {
  const std::string& stays = addresses_[0];
  const std::string& leaves = addresses_[1];
  node::RequestOptions one;
  one.w = QuorumValue::Number(1);
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(Call(addresses_[static_cast<std::size_t>(i) % 2],
                     node::PutRequest{{"b", "k" + std::to_string(i)}, "v", "", one})
                    .status.ok());
  }
  ASSERT_FALSE(NodeOf(stays).cluster_state().ring().PartitionsOwnedBy(leaves).empty());

  const node::ClientReply left = Call(leaves, node::ClusterLeaveRequest{""});
  ASSERT_TRUE(left.status.ok()) << left.status.ToString();
  const auto status_on = [&](const std::string& via) {
    const cluster::Member* member = NodeOf(via).cluster_state().FindMember(leaves);
    return member == nullptr ? cluster::MemberStatus::kUp : member->status;
  };
  ASSERT_TRUE(simulation_
                  ->RunUntil(
                      [&] {
                        return status_on(stays) == cluster::MemberStatus::kRemoved &&
                               status_on(leaves) == cluster::MemberStatus::kRemoved;
                      },
                      simulation_->now_ms() + 120'000)
                  .ok())
      << "on " << stays << ": " << cluster::MemberStatusName(status_on(stays)) << ", on " << leaves
      << ": " << cluster::MemberStatusName(status_on(leaves));

  // A minute later nothing has brought it back.
  for (int second = 0; second < 60; ++second) {
    ASSERT_TRUE(simulation_->RunFor(1'000).ok());
    for (const std::string& via : addresses_) {
      ASSERT_EQ(status_on(via), cluster::MemberStatus::kRemoved)
          << "on " << via << " after " << second << " s";
      ASSERT_TRUE(NodeOf(via).cluster_state().ring().PartitionsOwnedBy(leaves).empty()) << via;
    }
  }
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(StoredValues(stays, "k" + std::to_string(i)), Strings{"v"}) << i;
  }
}

}  // namespace
}  // namespace meridian::sim

namespace meridian::sim {
namespace {

// The race of test_deploy.py's two-pod leave: a node joins a one-member cluster and is asked to
// leave (through itself) while it still sees itself joining, as the claimant moves it to up.
// The leave is made from the joiner's own record, older than the claimant's (the join request
// raised it there): the newer record must not undo it (cluster_state_test.cc,
// MemberMerge.TheStatusNeverMovesBackWithinAGeneration), and the joiner ends removed with the
// only member owning everything.
class LeaveWhileJoiningTest : public ReplicationClusterTest,
                              public ::testing::WithParamInterface<std::uint64_t> {
 protected:
  std::uint64_t Seed() const override { return GetParam(); }
  std::uint32_t NodeCount() const override { return 1; }
};

INSTANTIATE_TEST_SUITE_P(Seeds, LeaveWhileJoiningTest, ::testing::Range<std::uint64_t>(1, 11));

TEST_P(LeaveWhileJoiningTest, TheLeaveWinsOverTheConcurrentMoveToUp) {
  const std::string& first = addresses_[0];
  const std::string& joiner = spare_;
  const auto status_on = [&](const std::string& via) -> std::optional<cluster::MemberStatus> {
    NodeProcess* process = NodeAt(*simulation_, via);
    if (process == nullptr) return std::nullopt;
    const cluster::Member* member = process->node().cluster_state().FindMember(joiner);
    if (member == nullptr) return std::nullopt;
    return member->status;
  };
  ASSERT_TRUE(simulation_->AddProcess(joiner).ok());
  ASSERT_TRUE(simulation_
                  ->RunUntil([&] { return status_on(first) == cluster::MemberStatus::kUp; },
                             simulation_->now_ms() + 30'000)
                  .ok());
  // The claimant's change has not reached the joiner yet: the race is on.
  ASSERT_EQ(status_on(joiner), cluster::MemberStatus::kJoining);
  const node::ClientReply left = Call(joiner, node::ClusterLeaveRequest{""});
  ASSERT_TRUE(left.status.ok()) << left.status.ToString();

  ASSERT_TRUE(
      simulation_
          ->RunUntil(
              [&] {
                return status_on(first) == cluster::MemberStatus::kRemoved &&
                       NodeOf(first).cluster_state().ring().PartitionsOwnedBy(joiner).empty();
              },
              simulation_->now_ms() + 120'000)
          .ok())
      << "the joiner is " << cluster::MemberStatusName(*status_on(first)) << " on " << first;
  ASSERT_TRUE(simulation_->RunFor(30'000).ok());
  EXPECT_EQ(status_on(first), cluster::MemberStatus::kRemoved);
  EXPECT_TRUE(NodeOf(first).cluster_state().ring().PartitionsOwnedBy(joiner).empty());
  EXPECT_EQ(NodeOf(first).cluster_state().ring().PartitionsOwnedBy(first).size(),
            layout_.base.partition_count);
}

}  // namespace
}  // namespace meridian::sim
