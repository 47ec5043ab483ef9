// ClusteredShards: between the loops of a clustered node's two shards, driven here by polling
// each loop by hand. A follower knows the shell's ring from the start; a peer message reaches
// the shard of its partition on that shard's loop, and the follower's answer goes back through
// the shell's loop to the transport; a follower's queue is bounded (a message that would pass
// it is dropped and counted).
#include "runtime/clustered_shards.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>
#include <vector>

#include "node/peer_route.h"
#include "runtime/cross_loop.h"
#include "runtime/node_service.h"
#include "runtime/system_env.h"
#include "storage/key_encoding.h"
#include "storage/memory_engine.h"

namespace meridian::runtime {
namespace {

constexpr std::uint32_t kPartitions = 16;
const std::string kSelf = "10.0.0.1:7000";
const std::string kPeer = "10.0.0.9:7000";

node::NodeConfig ShardConfig(std::uint32_t shard) {
  node::NodeConfig config;
  config.node_id = kSelf;
  config.peer_address = kSelf;  // clustered: it bootstraps a cluster of its own (no seeds)
  config.partition_count = kPartitions;
  config.tick_interval_ms = 60'000;  // no tick during the test: every input is the test's
  config.shard_index = shard;
  config.shard_count = 2;
  return config;
}

proto::PeerMessage ReplicaReadOf(std::uint32_t partition) {
  proto::PeerMessage message;
  message.mutable_replica_read()->set_request_id(7);
  message.mutable_replica_read()->set_storage_key(
      storage::EncodeObjectKey(partition, "b", "some-key"));
  return message;
}

class ClusteredShardsTest : public ::testing::Test {
 protected:
  ClusteredShardsTest()
      : shell_(ShardConfig(0), node::Env{&clock_, &random0_, &engine0_}),
        follower_(ShardConfig(1), node::Env{&clock_, &random1_, &engine1_}) {
    EXPECT_TRUE(shell_.Open().ok());
    EXPECT_TRUE(follower_.Open().ok());
    EXPECT_TRUE(follower_.FollowsShell());
    shell_service_ = std::make_unique<NodeService>(shell_io_, shell_);
    follower_service_ = std::make_unique<NodeService>(follower_io_, follower_);
  }

  void Make(std::uint64_t queue_bytes_max) {
    shards_ = std::make_unique<ClusteredShards>(
        std::vector<ClusteredShards::Shard>{{&shell_, shell_service_.get(), &to_shell_},
                                            {&follower_, follower_service_.get(), &to_follower_}},
        [this](const cluster::Outbound& outbound) { sent_.push_back(outbound); }, queue_bytes_max);
    shards_->Start();
  }

  // Runs what is ready on both loops, a few rounds (each hop is one post).
  void Poll() {
    for (int i = 0; i < 5; ++i) {
      follower_io_.poll();
      follower_io_.restart();
      shell_io_.poll();
      shell_io_.restart();
    }
  }

  std::vector<cluster::Outbound> SentTo(const std::string& address) const {
    std::vector<cluster::Outbound> to;
    for (const cluster::Outbound& out : sent_) {
      if (out.to_address == address) to.push_back(out);
    }
    return to;
  }

  SystemClock clock_;
  SystemRandom random0_{1};
  SystemRandom random1_{2};
  storage::MemoryEngine engine0_;
  storage::MemoryEngine engine1_;
  node::Node shell_;
  node::Node follower_;
  boost::asio::io_context shell_io_;
  boost::asio::io_context follower_io_;
  LoopChannel to_shell_{shell_io_};
  LoopChannel to_follower_{follower_io_};
  std::unique_ptr<NodeService> shell_service_;
  std::unique_ptr<NodeService> follower_service_;
  std::unique_ptr<ClusteredShards> shards_;
  std::vector<cluster::Outbound> sent_;
};

TEST_F(ClusteredShardsTest, TheFollowerKnowsTheShellsRingFromTheStart) {
  ASSERT_FALSE(shell_.cluster_state().ring().Owner(0).empty());
  EXPECT_TRUE(follower_.cluster_state().ring().Owner(0).empty());
  Make(1 << 20);
  EXPECT_EQ(follower_.cluster_state().ring().version(), shell_.cluster_state().ring().version());
  EXPECT_EQ(follower_.cluster_state().ring().Owner(kPartitions - 1), kSelf);
}

TEST_F(ClusteredShardsTest, AChangeOfTheShellsStateReachesTheFollowerWithTheNextView) {
  Make(1 << 20);
  int replies = 0;
  shell_service_->Submit(
      node::SetBucketRequest{"lww", {.conflict_policy = ConflictPolicy::kLastWriteWins}},
      [&](node::ClientReply reply) {
        EXPECT_TRUE(reply.status.ok()) << reply.status.ToString();
        ++replies;
      });
  EXPECT_EQ(follower_.cluster_state().FindBucketProps("lww"), nullptr)
      << "the view crosses on the follower's loop";
  Poll();
  EXPECT_EQ(replies, 1);
  const cluster::BucketPropsRecord* record = follower_.cluster_state().FindBucketProps("lww");
  ASSERT_NE(record, nullptr);
  EXPECT_EQ(record->props.conflict_policy, ConflictPolicy::kLastWriteWins);
}

TEST_F(ClusteredShardsTest, AMessageReachesItsShardsLoopAndTheAnswerLeavesThroughTheShells) {
  Make(1 << 20);
  const std::uint32_t follower_partition = kPartitions - 1;
  ASSERT_EQ(node::ShardOfPartition(follower_partition, kPartitions, 2), 1u);
  shards_->Deliver(kPeer, ReplicaReadOf(follower_partition));
  EXPECT_TRUE(sent_.empty()) << "nothing runs before the follower's loop does";
  follower_io_.poll();
  follower_io_.restart();
  EXPECT_TRUE(sent_.empty()) << "the answer crosses to the transport's loop first";
  Poll();
  const std::vector<cluster::Outbound> answers = SentTo(kPeer);
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_TRUE(answers[0].message.has_replica_read_reply());
  EXPECT_EQ(follower_.misrouted_peer_messages(), 0u);
  EXPECT_EQ(shell_.misrouted_peer_messages(), 0u);
}

TEST_F(ClusteredShardsTest, AFollowersQueueIsBoundedAndAMessageOverItIsDroppedAndCounted) {
  const proto::PeerMessage read = ReplicaReadOf(kPartitions - 1);
  // Room for one message: the second waits for nothing and is dropped.
  Make(read.ByteSizeLong());
  shards_->Deliver(kPeer, read);
  shards_->Deliver(kPeer, read);
  EXPECT_EQ(shards_->dropped_messages(), 1u);
  Poll();
  EXPECT_EQ(SentTo(kPeer).size(), 1u);
  // Once received, its bytes are given back.
  shards_->Deliver(kPeer, read);
  Poll();
  EXPECT_EQ(SentTo(kPeer).size(), 2u);
  EXPECT_EQ(shards_->dropped_messages(), 1u);
}

}  // namespace
}  // namespace meridian::runtime
