// Shards of one node (NodeConfig::shard_index, shard_count): each shard is a Node over its own
// storage that owns one contiguous range of the partitions (ShardOfPartition). These tests drive
// two shards the way the server's router does — object requests to the shard of their partition,
// bucket requests to shard 0, whose properties the other shard merges — with no threads.
#include <gtest/gtest.h>

#include "core/byte_codec.h"
#include "core/hash.h"
#include "node/metadata_keys.h"
#include "node/node.h"
#include "node/node_test_util.h"
#include "storage/key_encoding.h"
#include "storage/memory_engine.h"
#include "storage/segment_ordered_objects.h"

namespace meridian::node {
namespace {

using test_support::ManualClock;
using test_support::SplitMix64;

constexpr std::uint32_t kShards = 2;

class NodeShardTest : public ::testing::Test {
 protected:
  NodeShardTest() {
    for (std::uint32_t s = 0; s < kShards; ++s) Open(s);
  }

  NodeConfig ShardConfig(std::uint32_t shard) const {
    NodeConfig config;
    config.shard_index = shard;
    config.shard_count = kShards;
    return config;
  }
  void Open(std::uint32_t shard) {
    shards_[shard] =
        std::make_unique<Node>(ShardConfig(shard), Env{&clock_, &random_, &engines_[shard]});
    const Status opened = shards_[shard]->Open();
    ASSERT_TRUE(opened.ok()) << opened.ToString();
  }

  std::uint32_t ShardOf(const std::string& bucket, const std::string& key) const {
    const std::uint32_t partitions = NodeConfig{}.partition_count;
    return ShardOfPartition(PartitionOf(ObjectHash(bucket, key), partitions), partitions, kShards);
  }

  ClientReply Call(std::uint32_t shard, ClientRequest request) {
    clock_.Advance(1);
    const RequestId id = next_id_++;
    shards_[shard]->Submit(id, std::move(request));
    std::vector<ClientReply> replies = shards_[shard]->TakeReplies();
    EXPECT_EQ(replies.size(), 1u);
    if (replies.size() != 1) return ClientReply{id, Status::Internal("no single reply"), {}};
    return std::move(replies[0]);
  }

  ManualClock clock_;
  SplitMix64 random_{20261205};
  storage::MemoryEngine engines_[kShards];
  std::unique_ptr<Node> shards_[kShards];
  RequestId next_id_ = 1;
};

TEST_F(NodeShardTest, EachShardServesAndStoresOnlyItsOwnPartitions) {
  int served[kShards] = {};
  for (int i = 0; i < 200; ++i) {
    const std::string key = "k" + std::to_string(i);
    const std::uint32_t owner = ShardOf("b", key);
    const std::uint32_t other = (owner + 1) % kShards;
    ClientReply put = Call(owner, PutRequest{{"b", key}, "v" + std::to_string(i), "", {}});
    ASSERT_TRUE(put.status.ok()) << put.status.ToString();
    ClientReply got = Call(owner, GetRequest{{"b", key}, {}});
    ASSERT_TRUE(got.status.ok()) << got.status.ToString();
    ASSERT_EQ(std::get<GetReply>(got.body).values.size(), 1u);
    EXPECT_EQ(std::get<GetReply>(got.body).values[0].value, "v" + std::to_string(i));
    // A request routed to the wrong shard is a router bug: refused, never served.
    ClientReply wrong = Call(other, GetRequest{{"b", key}, {}});
    EXPECT_EQ(wrong.status.code(), StatusCode::kInternal) << wrong.status.ToString();
    ClientReply wrong_put = Call(other, PutRequest{{"b", key}, "x", "", {}});
    EXPECT_EQ(wrong_put.status.code(), StatusCode::kInternal);
    ClientReply wrong_local = Call(other, ClusterLocalRequest{{"b", key}});
    EXPECT_EQ(wrong_local.status.code(), StatusCode::kInternal);
    ++served[owner];
  }
  // Both shards got a share of the keys, and each stored only its own partitions.
  for (std::uint32_t s = 0; s < kShards; ++s) {
    EXPECT_GT(served[s], 50) << "shard " << s;
    int objects = 0;
    ASSERT_TRUE(storage::SegmentOrderedObjects(engines_[s])
                    .Scan(storage::Column::kObjects, "", "",
                          [&](std::string_view key, std::string_view) {
                            EXPECT_EQ(ShardOfPartition(storage::PartitionOfKey(key),
                                                       NodeConfig{}.partition_count, kShards),
                                      s);
                            ++objects;
                            return true;
                          })
                    .ok());
    EXPECT_EQ(objects, served[s]);
  }
}

TEST_F(NodeShardTest, APeerMessageForAnotherShardIsDroppedUnhandledAndCounted) {
  // node::RoutePeerMessage decides which shard a peer's message is for; a shard that is handed
  // another's (a router bug) must not act on another shard's partition.
  std::uint32_t partition = 0;
  while (ShardOfPartition(partition, NodeConfig{}.partition_count, kShards) != 0) ++partition;
  proto::PeerMessage write;
  write.mutable_replica_write()->set_request_id(1);
  write.mutable_replica_write()->set_storage_key(storage::EncodeObjectKey(partition, "b", "k"));
  proto::PeerMessage gossip;  // node-wide: the shell's (shard 0)
  gossip.mutable_gossip_syn()->set_cluster_name("meridian");

  shards_[1]->Receive("10.0.0.9:7000", write);
  shards_[1]->Receive("10.0.0.9:7000", gossip);
  EXPECT_EQ(shards_[1]->misrouted_peer_messages(), 2u);
  EXPECT_TRUE(shards_[1]->TakeOutbound().empty()) << "nothing answered";

  // The shard the router names handles them (the write is refused as malformed, but handled).
  shards_[0]->Receive("10.0.0.9:7000", write);
  shards_[0]->Receive("10.0.0.9:7000", gossip);
  EXPECT_EQ(shards_[0]->misrouted_peer_messages(), 0u);
}

TEST_F(NodeShardTest, BucketPropertiesAreShardZerosAndSurviveARestartOfAnotherShard) {
  BucketPropsPatch patch;
  patch.conflict_policy = ConflictPolicy::kLastWriteWins;
  ClientReply set = Call(0, SetBucketRequest{"lww", patch});
  ASSERT_TRUE(set.status.ok()) << set.status.ToString();
  // Not there until shard 0's records are merged (the router publishes them).
  ClientReply before = Call(1, GetBucketRequest{"lww"});
  ASSERT_TRUE(before.status.ok());
  EXPECT_EQ(std::get<BucketReply>(before.body).props.conflict_policy, ConflictPolicy::kSiblings);
  shards_[1]->MergeBucketProps(shards_[0]->cluster_state().bucket_props());
  ClientReply after = Call(1, GetBucketRequest{"lww"});
  EXPECT_EQ(std::get<BucketReply>(after.body).props.conflict_policy,
            ConflictPolicy::kLastWriteWins);

  // Shard 1 applies the policy to its own keys: two blind puts leave one value, not siblings.
  std::string key;
  for (int i = 0; key.empty(); ++i) {
    if (ShardOf("lww", "k" + std::to_string(i)) == 1) key = "k" + std::to_string(i);
  }
  ASSERT_TRUE(Call(1, PutRequest{{"lww", key}, "one", "", {}}).status.ok());
  ASSERT_TRUE(Call(1, PutRequest{{"lww", key}, "two", "", {}}).status.ok());
  ClientReply got = Call(1, GetRequest{{"lww", key}, {}});
  ASSERT_EQ(std::get<GetReply>(got.body).values.size(), 1u);

  ASSERT_TRUE(shards_[1]->Close().ok());
  Open(1);
  ClientReply restarted = Call(1, GetBucketRequest{"lww"});
  EXPECT_EQ(std::get<BucketReply>(restarted.body).props.conflict_policy,
            ConflictPolicy::kLastWriteWins);
}

TEST_F(NodeShardTest, AConsistencyOrNChangeIsRefusedAndChangesNothing) {
  const auto before = test_support::Snapshot(engines_[0]);
  BucketPropsPatch strong;
  strong.consistency = Consistency::kStrong;
  ClientReply refused = Call(0, SetBucketRequest{"s", strong});
  EXPECT_EQ(refused.status.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status.message().find("more than one shard"), std::string::npos)
      << refused.status.message();
  BucketPropsPatch one;
  one.n = 1;
  EXPECT_EQ(Call(0, SetBucketRequest{"s", one}).status.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(test_support::Snapshot(engines_[0]), before);
}

// What the router does for a change of consistency: hold the bucket on shard 1 (refusing its
// requests), check it is empty there, then let shard 0 make the change.
TEST_F(NodeShardTest, AHeldBucketIsRefusedUntilReleasedAndTheCheckedChangeIsMade) {
  std::string key1;  // a key of shard 1
  for (int i = 0; key1.empty(); ++i) {
    if (ShardOf("s", "k" + std::to_string(i)) == 1) key1 = "k" + std::to_string(i);
  }
  Result<bool> holds = shards_[1]->HoldBucket("s");
  ASSERT_TRUE(holds.ok());
  EXPECT_FALSE(*holds);
  EXPECT_EQ(Call(1, PutRequest{{"s", key1}, "x", "", {}}).status.code(), StatusCode::kUnavailable);
  EXPECT_EQ(Call(1, GetRequest{{"s", key1}, {}}).status.code(), StatusCode::kUnavailable);
  BucketPropsPatch strong;
  strong.consistency = Consistency::kStrong;
  ClientReply changed = Call(0, SetBucketRequest{"s", strong, /*other_shards_checked=*/true});
  ASSERT_TRUE(changed.status.ok()) << changed.status.ToString();
  EXPECT_EQ(std::get<BucketReply>(changed.body).props.consistency, Consistency::kStrong);
  shards_[1]->MergeBucketProps(shards_[0]->cluster_state().bucket_props());
  shards_[1]->ReleaseBucket("s");
  // A strong bucket now, on shard 1 too: a put and a get go through its consensus path.
  ClientReply put = Call(1, PutRequest{{"s", key1}, "x", "", {}});
  ASSERT_TRUE(put.status.ok()) << put.status.ToString();
  ClientReply got = Call(1, GetRequest{{"s", key1}, {}});
  ASSERT_TRUE(got.status.ok()) << got.status.ToString();
  EXPECT_EQ(std::get<GetReply>(got.body).values.at(0).value, "x");

  // A shard that stores data of a bucket says so, and holding it changes nothing stored.
  std::string key_e;
  for (int i = 0; key_e.empty(); ++i) {
    if (ShardOf("e", "k" + std::to_string(i)) == 1) key_e = "k" + std::to_string(i);
  }
  ASSERT_TRUE(Call(1, PutRequest{{"e", key_e}, "v", "", {}}).status.ok());
  const auto before = test_support::Snapshot(engines_[1]);
  Result<bool> stored = shards_[1]->HoldBucket("e");
  ASSERT_TRUE(stored.ok());
  EXPECT_TRUE(*stored);
  EXPECT_EQ(test_support::Snapshot(engines_[1]), before);
  shards_[1]->ReleaseBucket("e");
  EXPECT_TRUE(Call(1, GetRequest{{"e", key_e}, {}}).status.ok());
}

TEST_F(NodeShardTest, TheShardLayoutIsFixedWhenTheDataIsCreated) {
  ASSERT_TRUE(shards_[0]->Close().ok());
  const auto before = test_support::Snapshot(engines_[0]);
  NodeConfig one_shard;  // shard 0 of 1
  Node reopened(one_shard, Env{&clock_, &random_, &engines_[0]});
  const Status status = reopened.Open();
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("created as shard 0 of 2"), std::string::npos)
      << status.message();
  EXPECT_NE(status.message().find("shard 0 of 1"), std::string::npos) << status.message();
  EXPECT_EQ(test_support::Snapshot(engines_[0]), before);

  NodeConfig swapped = ShardConfig(1);  // shard 0's data opened as shard 1
  Node wrong_index(swapped, Env{&clock_, &random_, &engines_[0]});
  EXPECT_EQ(wrong_index.Open().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(test_support::Snapshot(engines_[0]), before);
}

TEST(NodeShardLayoutTest, ADirectoryFromBeforeShardsIsShardZeroOfOne) {
  ManualClock clock;
  SplitMix64 random{7};
  storage::MemoryEngine engine;
  {
    Node node(NodeConfig{}, Env{&clock, &random, &engine});
    ASSERT_TRUE(node.Open().ok());
    ASSERT_TRUE(node.Close().ok());
  }
  // What a release before shards wrote: no layout record.
  storage::WriteBatch forget;
  forget.Delete(storage::Column::kMetadata, std::string(kShardLayoutKey));
  ASSERT_TRUE(engine.Write(forget, storage::WriteOptions{}).ok());
  NodeConfig two;
  two.shard_count = 2;
  Node sharded(two, Env{&clock, &random, &engine});
  const Status refused = sharded.Open();
  EXPECT_EQ(refused.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.message().find("created as shard 0 of 1"), std::string::npos)
      << refused.message();
  Node same(NodeConfig{}, Env{&clock, &random, &engine});
  ASSERT_TRUE(same.Open().ok());
  EXPECT_TRUE(engine.Get(storage::Column::kMetadata, kShardLayoutKey)->has_value());
}

TEST(NodeShardLayoutTest, ADirectoryOfADevelopmentBuildThatPlacedPartitionsByModuloIsRefused) {
  ManualClock clock;
  SplitMix64 random{7};
  storage::MemoryEngine engine;
  NodeConfig second;
  second.shard_count = 2;
  second.shard_index = 1;
  {
    Node node(second, Env{&clock, &random, &engine});
    ASSERT_TRUE(node.Open().ok());
    ASSERT_TRUE(node.Close().ok());
  }
  // What those builds wrote: the count and index, without the range-placement mark.
  std::string layout;
  PutFixed64(layout, (std::uint64_t{2} << 32) | 1);
  storage::WriteBatch old;
  old.Put(storage::Column::kMetadata, std::string(kShardLayoutKey), layout);
  ASSERT_TRUE(engine.Write(old, storage::WriteOptions{}).ok());
  Node reopened(second, Env{&clock, &random, &engine});
  const Status refused = reopened.Open();
  EXPECT_EQ(refused.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.message().find("development build"), std::string::npos) << refused.message();
}

TEST(NodeShardLayoutTest, TheLayoutMustBeValid) {
  ManualClock clock;
  SplitMix64 random{7};
  const auto refused = [&](NodeConfig config) {
    storage::MemoryEngine engine;
    Node node(config, Env{&clock, &random, &engine});
    const Status status = node.Open();
    EXPECT_TRUE(test_support::Snapshot(engine) ==
                test_support::EngineSnapshot(storage::kColumnCount));
    return status;
  };
  NodeConfig seeds_without_peer;
  seeds_without_peer.shard_count = 2;
  seeds_without_peer.seeds = {"127.0.0.1:7000"};
  EXPECT_EQ(refused(seeds_without_peer).code(), StatusCode::kInvalidArgument);
  NodeConfig index_too_high;
  index_too_high.shard_count = 2;
  index_too_high.shard_index = 2;
  EXPECT_EQ(refused(index_too_high).code(), StatusCode::kInvalidArgument);
  NodeConfig none;
  none.shard_count = 0;
  EXPECT_EQ(refused(none).code(), StatusCode::kInvalidArgument);
  NodeConfig more_than_partitions;
  more_than_partitions.partition_count = 4;
  more_than_partitions.shard_count = 8;
  EXPECT_EQ(refused(more_than_partitions).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace meridian::node
