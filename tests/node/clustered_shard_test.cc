// A clustered node split into shards (docs/design/write_path.md, "What a clustered node needs
// before it can have shards", steps 1 and 2), driven by hand with no threads: node A is two
// shards — A0, the shell, and A1, a follower — each over its own storage; node B is one shard.
// Messages go where the runtime's router will send them (node::RoutePeerMessage), and after
// every input the harness does what the runtime will do between A's shards: publish the shell's
// view to A1 (Node::MakeShellView / ApplyShellView) and hand A1's completed transfers to the
// shell (TakeTransferCompletions / ReportTransferComplete).
#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/hash.h"
#include "node/node.h"
#include "node/node_test_util.h"
#include "node/peer_route.h"
#include "storage/key_encoding.h"
#include "storage/memory_engine.h"
#include "storage/segment_ordered_objects.h"

namespace meridian::node {
namespace {

using test_support::ManualClock;
using test_support::SplitMix64;

constexpr std::uint32_t kPartitions = 16;
constexpr std::uint32_t kShards = 2;
const std::string kA = "10.0.0.1:7000";
const std::string kB = "10.0.0.2:7000";

class ClusteredShardTest : public ::testing::Test {
 protected:
  // `reap_interval_ms`: every shard's reaping interval (0: off).
  explicit ClusteredShardTest(std::uint64_t reap_interval_ms = 0)
      : reap_interval_ms_(reap_interval_ms) {
    // B creates the cluster; A joins it, so partitions move from B to both of A's shards and
    // A1's completed transfers must travel through the shell.
    b_ = Open(kB, 0, 1, {}, b_engine_);
    for (int i = 0; i < 50 && b_->cluster_state().ring().Owner(0).empty(); ++i) Step(100);
    EXPECT_FALSE(b_->cluster_state().ring().Owner(0).empty());
  }

  // A joins; before that only B runs.
  void OpenA() {
    for (std::uint32_t s = 0; s < kShards; ++s) a_[s] = Open(kA, s, kShards, {kB}, a_engines_[s]);
  }

  std::unique_ptr<Node> Open(const std::string& address, std::uint32_t shard,
                             std::uint32_t shard_count, std::vector<std::string> seeds,
                             storage::MemoryEngine& engine) {
    NodeConfig config;
    config.node_id = address;
    config.peer_address = address;
    config.seeds = std::move(seeds);
    config.partition_count = kPartitions;
    config.tick_interval_ms = 100;
    config.gossip_interval_ms = 200;
    config.anti_entropy.exchange_interval_ms = 2'000;
    config.reaping.interval_ms = reap_interval_ms_;
    config.shard_index = shard;
    config.shard_count = shard_count;
    auto node = std::make_unique<Node>(config, Env{&clock_, &random_, &engine});
    const Status opened = node->Open();
    EXPECT_TRUE(opened.ok()) << opened.ToString();
    return node;
  }

  // What the runtime does between A's shards after each of their inputs.
  void Publish() {
    if (!a_[0]) return;
    const ShellView view = a_[0]->MakeShellView(a1_state_version_);
    a1_state_version_ = view.state_version;
    a_[1]->ApplyShellView(view);
    for (std::uint32_t partition : a_[1]->TakeTransferCompletions()) {
      a_[0]->ReportTransferComplete(partition);
      ++completions_through_shell_;
    }
    a_[0]->SetShardReport(1, a_[1]->ShardReport());
  }

  void Collect() {
    Publish();
    if (a_[0]) {
      // A peer's bucket check: the view (with the seal) is published, then the follower looks.
      for (const Node::ShardCheck& check : a_[0]->TakeShardChecks()) {
        a_[0]->OnShardCheck(check.id, a_[1]->CheckSealedBucket(check.bucket));
        ++shard_checks_;
      }
    }
    for (std::uint32_t s = 0; s < kShards && a_[0]; ++s) {
      for (cluster::Outbound& out : a_[s]->TakeOutbound()) {
        if (s != 0 &&
            RoutePeerMessage(out.message, kPartitions, kShards).to == PeerRoute::To::kShell) {
          ++node_wide_from_follower_;  // gossip, heartbeats, reports: the shell's alone
        }
        in_flight_.push_back({kA, std::move(out)});
      }
      for (ClientReply& reply : a_[s]->TakeReplies()) replies_[reply.id] = std::move(reply);
    }
    for (cluster::Outbound& out : b_->TakeOutbound()) in_flight_.push_back({kB, std::move(out)});
    for (ClientReply& reply : b_->TakeReplies()) replies_[reply.id] = std::move(reply);
  }

  // Delivers every message, and every message those cause, in order.
  void Drain() {
    Collect();
    for (int delivered = 0; !in_flight_.empty(); ++delivered) {
      ASSERT_LT(delivered, 1'000'000) << "messages never stop";
      auto [from, out] = std::move(in_flight_.front());
      in_flight_.pop_front();
      if (cut_ && from != out.to_address) continue;  // the link between A and B is down
      if (out.message.has_reap_prepare()) {
        // A round's partitions all belong to one shard of A (and of B, which has one).
        std::set<std::uint32_t> shards_of_a;
        for (const auto& partition : out.message.reap_prepare().partitions()) {
          shards_of_a.insert(ShardOfPartition(partition.partition(), kPartitions, kShards));
        }
        EXPECT_LE(shards_of_a.size(), 1u) << "a reaping round spans both of A's shards";
        ++reap_prepares_;
      }
      if (out.to_address == kB) {
        b_->Receive(from, out.message);
      } else if (out.to_address == kA && a_[0]) {
        const PeerRoute route = RoutePeerMessage(out.message, kPartitions, kShards);
        if (route.to != PeerRoute::To::kNowhere) a_[route.shard]->Receive(from, out.message);
      }
      Collect();
    }
  }

  void Step(std::uint64_t ms) {
    clock_.Advance(ms);
    for (auto& shard : a_) {
      if (shard) shard->Tick();
    }
    b_->Tick();
    Drain();
  }

  bool Settled() const {
    if (!a_[0]) return false;
    for (const Node* node : {a_[0].get(), a_[1].get(), b_.get()}) {
      const cluster::ClusterState& state = node->cluster_state();
      if (state.members().size() != 2) return false;
      for (const auto& member : state.members()) {
        if (member->status != cluster::MemberStatus::kUp) return false;
      }
      bool owns_a = false;
      bool owns_b = false;
      for (std::uint32_t p = 0; p < kPartitions; ++p) {
        if (state.ring().PendingOwner(p).has_value()) return false;
        owns_a = owns_a || state.ring().Owner(p) == kA;
        owns_b = owns_b || state.ring().Owner(p) == kB;
      }
      if (!owns_a || !owns_b) return false;
    }
    return true;
  }

  void Settle() {
    for (int i = 0; i < 1'200 && !Settled(); ++i) Step(100);
    ASSERT_TRUE(Settled()) << "the two nodes did not settle on a ring within 120 s";
  }

  Node& ShardFor(const std::string& address, const std::string& key) {
    if (address == kB) return *b_;
    const std::uint32_t partition = PartitionOf(ObjectHash("b", key), kPartitions);
    return *a_[ShardOfPartition(partition, kPartitions, kShards)];
  }

  ClientReply Call(const std::string& address, const std::string& key, ClientRequest request) {
    const RequestId id = next_id_++;
    // Object requests go to their partition's shard, the rest to the shell (as the runtime's
    // ShardedKvService sends them).
    const bool object = std::holds_alternative<GetRequest>(request) ||
                        std::holds_alternative<PutRequest>(request) ||
                        std::holds_alternative<DeleteRequest>(request);
    Node& shard = object || address == kB ? ShardFor(address, key) : *a_[0];
    shard.Submit(id, std::move(request));
    Drain();
    for (int i = 0; i < 100 && replies_.count(id) == 0; ++i) Step(100);
    auto it = replies_.find(id);
    if (it == replies_.end()) return ClientReply{id, Status::Internal("no reply"), {}};
    return it->second;
  }

  // Objects stored by `engine`, by key.
  static std::map<std::string, std::uint32_t> StoredKeys(storage::MemoryEngine& engine) {
    std::map<std::string, std::uint32_t> keys;
    EXPECT_TRUE(storage::SegmentOrderedObjects(engine)
                    .Scan(storage::Column::kObjects, "", "",
                          [&](std::string_view key, std::string_view) {
                            auto decoded = storage::DecodeObjectKey(key);
                            EXPECT_TRUE(decoded.ok());
                            if (decoded.ok()) keys[decoded->id.key] = decoded->partition;
                            return true;
                          })
                    .ok());
    return keys;
  }

  ManualClock clock_;
  SplitMix64 random_{20261205};
  storage::MemoryEngine a_engines_[kShards];
  storage::MemoryEngine b_engine_;
  std::unique_ptr<Node> a_[kShards];
  std::unique_ptr<Node> b_;
  std::uint64_t a1_state_version_ = kNoStateVersion;
  std::deque<std::pair<std::string, cluster::Outbound>> in_flight_;
  std::map<RequestId, ClientReply> replies_;
  RequestId next_id_ = 1;
  bool cut_ = false;
  int completions_through_shell_ = 0;
  int node_wide_from_follower_ = 0;
  int shard_checks_ = 0;
  int reap_prepares_ = 0;
  const std::uint64_t reap_interval_ms_;
};

// The same two nodes reaping tombstones every second.
class ClusteredShardReapingTest : public ClusteredShardTest {
 protected:
  ClusteredShardReapingTest() : ClusteredShardTest(1'000) {}
};

TEST_F(ClusteredShardTest, ATwoShardNodeJoinsTakesPartitionsOnBothShardsAndServesThroughEach) {
  // B alone holds some data first, so the partitions that move to A carry it.
  RequestOptions one;
  one.w = QuorumValue::Number(1);
  for (int i = 0; i < 30; ++i) {
    const std::string key = "old" + std::to_string(i);
    const ClientReply put = Call(kB, key, PutRequest{{"b", key}, "o" + std::to_string(i), "", one});
    ASSERT_TRUE(put.status.ok()) << put.status.ToString();
  }
  OpenA();
  Settle();
  // Partitions moved from B to both of A's shards (the ring stripes A's partitions; each shard
  // has a range), and the follower's completions went through the shell.
  int owned[kShards] = {};
  for (std::uint32_t p = 0; p < kPartitions; ++p) {
    if (a_[0]->cluster_state().ring().Owner(p) == kA)
      ++owned[ShardOfPartition(p, kPartitions, kShards)];
  }
  EXPECT_GT(owned[0], 0);
  EXPECT_GT(owned[1], 0);
  EXPECT_GT(completions_through_shell_, 0);
  EXPECT_EQ(a_[1]->cluster_state().ring().version(), a_[0]->cluster_state().ring().version());

  // Default buckets: n=3, r=w=quorum — with two nodes every key has a copy on both.
  for (int i = 0; i < 60; ++i) {
    const std::string key = "k" + std::to_string(i);
    const std::string via = i % 2 == 0 ? kA : kB;
    const ClientReply put = Call(via, key, PutRequest{{"b", key}, "v" + std::to_string(i), "", {}});
    ASSERT_TRUE(put.status.ok()) << key << " via " << via << ": " << put.status.ToString();
    EXPECT_EQ(std::get<WriteReply>(put.body).receipt.primaries, 2u) << key;
  }
  RequestOptions all;
  all.r = QuorumValue::All();
  for (int i = 0; i < 60; ++i) {
    const std::string key = "k" + std::to_string(i);
    const std::string via = i % 2 == 0 ? kB : kA;  // read where it was not written
    const ClientReply got = Call(via, key, GetRequest{{"b", key}, all});
    ASSERT_TRUE(got.status.ok()) << key << ": " << got.status.ToString();
    EXPECT_EQ(test_support::Values(std::get<GetReply>(got.body)),
              std::vector<std::string>{"v" + std::to_string(i)})
        << key;
  }

  for (int i = 0; i < 30; ++i) {
    const std::string key = "old" + std::to_string(i);
    const ClientReply got = Call(kA, key, GetRequest{{"b", key}, all});
    ASSERT_TRUE(got.status.ok()) << key << ": " << got.status.ToString();
    EXPECT_EQ(test_support::Values(std::get<GetReply>(got.body)),
              std::vector<std::string>{"o" + std::to_string(i)})
        << key;
  }

  // Each of A's shards stores exactly its own partitions' keys, together all of them; B all.
  std::size_t on_a = 0;
  for (std::uint32_t s = 0; s < kShards; ++s) {
    for (const auto& [key, partition] : StoredKeys(a_engines_[s])) {
      EXPECT_EQ(ShardOfPartition(partition, kPartitions, kShards), s) << key;
      ++on_a;
    }
  }
  EXPECT_EQ(on_a, 90u);
  EXPECT_EQ(StoredKeys(b_engine_).size(), 90u);
  EXPECT_EQ(a_[0]->misrouted_peer_messages() + a_[1]->misrouted_peer_messages(), 0u);
  EXPECT_EQ(node_wide_from_follower_, 0);
}

TEST_F(ClusteredShardTest, AFollowerTakesTheShellsOpinionOfAPeerAndItsHearingOfItAgain) {
  OpenA();
  Settle();
  cut_ = true;
  // Until the shell's failure detector gives up on B.
  for (int i = 0; i < 600 && a_[0]->IsAlive(kB); ++i) Step(100);
  ASSERT_FALSE(a_[0]->IsAlive(kB));
  EXPECT_FALSE(a_[1]->IsAlive(kB)) << "the follower never pings B itself: it has the shell's view";

  // A write through A's follower for a key it owns: B is down, so it is written sloppily here.
  std::string key;
  for (int i = 0; key.empty(); ++i) {
    const std::string candidate = "cut" + std::to_string(i);
    if (&ShardFor(kA, candidate) == a_[1].get()) key = candidate;
  }
  RequestOptions one;
  one.w = QuorumValue::Number(1);
  const ClientReply put = Call(kA, key, PutRequest{{"b", key}, "while-cut", "", one});
  ASSERT_TRUE(put.status.ok()) << put.status.ToString();

  cut_ = false;
  for (int i = 0; i < 600 && !(a_[0]->IsAlive(kB) && a_[1]->IsAlive(kB)); ++i) Step(100);
  EXPECT_TRUE(a_[1]->IsAlive(kB));
  EXPECT_TRUE(a_[1]->Reachable(kB));
  // The write reaches B once the link healed: A1's anti-entropy exchange with B repairs it.
  for (int i = 0; i < 600 && StoredKeys(b_engine_).count(key) == 0; ++i) Step(100);
  EXPECT_EQ(StoredKeys(b_engine_).count(key), 1u);
  EXPECT_EQ(node_wide_from_follower_, 0);
}

TEST_F(ClusteredShardTest, AFollowerRoutesAroundAPeerAsSoonAsItsShellSuspectsIt) {
  OpenA();
  Settle();
  cut_ = true;
  // The shell's heartbeats to B go unanswered: it suspects B long before its failure detector
  // gives up on it.
  for (int i = 0; i < 50 && a_[0]->Reachable(kB); ++i) Step(100);
  ASSERT_FALSE(a_[0]->Reachable(kB));
  ASSERT_TRUE(a_[0]->IsAlive(kB));
  // The follower has no suspicion of its own (it sent B nothing unanswered long enough), yet
  // it routes around B from the shell's view.
  EXPECT_EQ(a_[1]->Stats().peers_suspected, 0u);
  EXPECT_FALSE(a_[1]->Reachable(kB));

  cut_ = false;
  for (int i = 0; i < 50 && !(a_[0]->Reachable(kB) && a_[1]->Reachable(kB)); ++i) Step(100);
  EXPECT_TRUE(a_[0]->Reachable(kB));
  EXPECT_TRUE(a_[1]->Reachable(kB));
}

TEST_F(ClusteredShardTest, TheNodesReportToAPeersStatusAddsTheFollowersPart) {
  OpenA();
  Settle();
  // A (the smaller id) starts the anti-entropy exchanges of the partitions on both its shards.
  for (int i = 0; i < 600 && a_[1]->Stats().aae_exchanges == 0; ++i) Step(100);
  ASSERT_GT(a_[1]->Stats().aae_exchanges, 0u);
  const ClientReply status = Call(kB, "", ClusterStatusRequest{.include_reports = true});
  ASSERT_TRUE(status.status.ok()) << status.status.ToString();
  const auto& members = std::get<ClusterStatusReply>(status.body).members;
  const auto a = std::find_if(members.begin(), members.end(),
                              [](const MemberView& member) { return member.id == kA; });
  ASSERT_NE(a, members.end());
  ASSERT_TRUE(a->report.has_value()) << a->report_missing;
  // More than the shell's own exchanges (which only grow): the follower's are in it.
  EXPECT_GT(a->report->aae_exchanges, a_[0]->Stats().aae_exchanges);
  EXPECT_LE(a->report->aae_exchanges, a_[0]->Stats().aae_exchanges + a_[1]->Stats().aae_exchanges);
}

TEST_F(ClusteredShardTest, ABucketChangeElsewhereIsRefusedWhenOnlyTheFollowerHoldsTheBucketsData) {
  OpenA();
  Settle();
  // n=1 buckets: a key's only copy is on its owner, so data can sit on A's follower alone.
  BucketPropsPatch solo;
  solo.n = 1;
  for (const char* bucket : {"held", "empty"}) {
    const ClientReply set = Call(kB, "", SetBucketRequest{bucket, solo});  // asks A's shards
    ASSERT_TRUE(set.status.ok()) << set.status.ToString();
  }
  std::string key;
  for (int i = 0; key.empty(); ++i) {
    const std::string candidate = "f" + std::to_string(i);
    const std::uint32_t partition = PartitionOf(ObjectHash("held", candidate), kPartitions);
    if (a_[0]->cluster_state().ring().Owner(partition) == kA &&
        ShardOfPartition(partition, kPartitions, kShards) == 1) {
      key = candidate;
    }
  }
  // Until the change (unsealed, n=1) reached A's follower through gossip and the shell's view.
  const auto settled_on_follower = [&](const char* bucket, std::uint32_t n) {
    const cluster::BucketPropsRecord* record = a_[1]->cluster_state().FindBucketProps(bucket);
    return record != nullptr && !record->props.sealed && record->props.n == n;
  };
  for (int i = 0; i < 100 && !settled_on_follower("held", 1); ++i) Step(100);
  ASSERT_TRUE(settled_on_follower("held", 1));
  const int checks_before = shard_checks_;
  EXPECT_GE(checks_before, 2);
  const RequestId put_id = next_id_++;
  a_[1]->Submit(put_id, PutRequest{{"held", key}, "v", "", {}});
  Drain();
  ASSERT_EQ(replies_.count(put_id), 1u);
  ASSERT_TRUE(replies_[put_id].status.ok()) << replies_[put_id].status.ToString();
  ASSERT_EQ(StoredKeys(a_engines_[1]).count(key), 1u);
  ASSERT_EQ(StoredKeys(a_engines_[0]).size() + StoredKeys(b_engine_).size(), 0u);

  // B changes n of both buckets; it asks A, whose shell must ask its follower too.
  BucketPropsPatch more;
  more.n = 2;
  const ClientReply held = Call(kB, "", SetBucketRequest{"held", more});
  EXPECT_FALSE(held.status.ok()) << "applied although A's follower holds the bucket's data";
  EXPECT_NE(held.status.message().find("data"), std::string::npos) << held.status.ToString();
  const ClientReply empty = Call(kB, "", SetBucketRequest{"empty", more});
  ASSERT_TRUE(empty.status.ok()) << empty.status.ToString();
  EXPECT_EQ(std::get<BucketReply>(empty.body).props.n, 2u);
  EXPECT_GE(shard_checks_, checks_before + 2);
}

TEST_F(ClusteredShardReapingTest, TombstonesOnBothShardsOfATwoShardNodeAreReaped) {
  OpenA();
  Settle();
  // Written and deleted through both nodes: with two nodes and n=3, every key's tombstone is
  // on B and on the shard of A that owns its partition.
  RequestOptions all;
  all.r = QuorumValue::All();
  std::set<std::uint32_t> shards_written;
  for (int i = 0; i < 40; ++i) {
    const std::string key = "gone" + std::to_string(i);
    const std::string via = i % 2 == 0 ? kA : kB;
    ASSERT_TRUE(Call(via, key, PutRequest{{"b", key}, "v", "", {}}).status.ok()) << key;
    const ClientReply got = Call(via, key, GetRequest{{"b", key}, all});
    ASSERT_TRUE(got.status.ok()) << key;
    const ClientReply deleted =
        Call(via, key, DeleteRequest{{"b", key}, std::get<GetReply>(got.body).context, {}});
    ASSERT_TRUE(deleted.status.ok()) << key << ": " << deleted.status.ToString();
    shards_written.insert(
        ShardOfPartition(PartitionOf(ObjectHash("b", key), kPartitions), kPartitions, kShards));
  }
  ASSERT_EQ(shards_written.size(), 2u);
  ASSERT_EQ(StoredKeys(b_engine_).size(), 40u);
  // Every tombstone goes from every copy: the rounds of each of A's shards for the partitions
  // it reaps, and B's for its own, each answered by the one shard of A the round concerns.
  for (int i = 0; i < 600; ++i) {
    if (StoredKeys(b_engine_).empty() && StoredKeys(a_engines_[0]).empty() &&
        StoredKeys(a_engines_[1]).empty()) {
      break;
    }
    Step(100);
  }
  EXPECT_TRUE(StoredKeys(b_engine_).empty()) << StoredKeys(b_engine_).size() << " left on B";
  EXPECT_TRUE(StoredKeys(a_engines_[0]).empty()) << StoredKeys(a_engines_[0]).size() << " on A0";
  EXPECT_TRUE(StoredKeys(a_engines_[1]).empty()) << StoredKeys(a_engines_[1]).size() << " on A1";
  EXPECT_GT(reap_prepares_, 0);
  // B reaps the partitions whose primaries it leads (the smaller id is A: 10.0.0.1), so A's
  // shards run rounds of their own: both of them, the follower too.
  EXPECT_GT(a_[0]->Stats().reaping.rounds_committed, 0u);
  EXPECT_GT(a_[1]->Stats().reaping.rounds_committed, 0u);
  EXPECT_EQ(a_[0]->Stats().reaping.partitions_refused.count("shard_differs"), 0u);
  // Nothing came back: every key reads as absent through either node.
  for (int i = 0; i < 40; ++i) {
    const std::string key = "gone" + std::to_string(i);
    const ClientReply got = Call(i % 2 == 0 ? kB : kA, key, GetRequest{{"b", key}, all});
    ASSERT_TRUE(got.status.ok()) << key;
    EXPECT_FALSE(std::get<GetReply>(got.body).found) << key;
  }
  EXPECT_EQ(a_[0]->misrouted_peer_messages() + a_[1]->misrouted_peer_messages(), 0u);
}

}  // namespace
}  // namespace meridian::node
