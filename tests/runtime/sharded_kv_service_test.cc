// ShardedKvService: which shard each kind of request goes to, and a bucket change answered only
// after its properties were published to the other shards. The shards here are recording fakes
// on one thread; the server test runs the real thing over threads.
#include "runtime/sharded_kv_service.h"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/hash.h"

namespace meridian::runtime {
namespace {

constexpr std::uint32_t kPartitions = 64;

// Records what it was sent; answers at once, or holds the completion when told to.
class RecordingShard final : public api::KvService {
 public:
  void Submit(node::ClientRequest request, Completion done) override {
    requests.push_back(std::move(request));
    node::ClientReply reply;
    reply.status = status;
    done(std::move(reply));
  }
  std::vector<node::ClientRequest> requests;
  Status status = Status::Ok();
};

std::uint32_t PartitionShard(const std::string& bucket, const std::string& key,
                             std::uint32_t shards) {
  return PartitionOf(ObjectHash(bucket, key), kPartitions) % shards;
}

TEST(ShardedKvServiceTest, ObjectRequestsGoToTheShardOfTheirPartitionAndTheRestToShardZero) {
  RecordingShard shards[3];
  int publishes = 0;
  ShardedKvService service({&shards[0], &shards[1], &shards[2]}, kPartitions,
                           [&](std::function<void()> then) {
                             ++publishes;
                             then();
                           });
  std::vector<int> expected(3, 0);
  for (int i = 0; i < 60; ++i) {
    const std::string key = "k" + std::to_string(i);
    const std::uint32_t owner = PartitionShard("b", key, 3);
    int replies = 0;
    const auto count = [&](node::ClientReply) { ++replies; };
    service.Submit(node::GetRequest{{"b", key}, {}}, count);
    service.Submit(node::PutRequest{{"b", key}, "v", "", {}}, count);
    service.Submit(node::DeleteRequest{{"b", key}, "", {}}, count);
    service.Submit(node::ClusterLocateRequest{{"b", key}}, count);
    service.Submit(node::ClusterLocalRequest{{"b", key}}, count);
    EXPECT_EQ(replies, 5);
    expected[owner] += 5;
  }
  for (int s = 0; s < 3; ++s) {
    EXPECT_EQ(static_cast<int>(shards[s].requests.size()), expected[s]) << "shard " << s;
    EXPECT_GT(expected[s], 0) << "shard " << s;
  }
  const std::size_t before = shards[0].requests.size();
  service.Submit(node::GetBucketRequest{"b"}, [](node::ClientReply) {});
  service.Submit(node::ListBucketsRequest{}, [](node::ClientReply) {});
  service.Submit(node::ClusterStatusRequest{}, [](node::ClientReply) {});
  service.Submit(node::ClusterRingRequest{}, [](node::ClientReply) {});
  EXPECT_EQ(shards[0].requests.size(), before + 4);
  EXPECT_EQ(publishes, 0);
}

TEST(ShardedKvServiceTest, ABucketChangeIsAnsweredOnlyOnceItsPropertiesWerePublished) {
  RecordingShard shards[2];
  std::optional<std::function<void()>> pending_publish;
  ShardedKvService service({&shards[0], &shards[1]}, kPartitions,
                           [&](std::function<void()> then) { pending_publish = std::move(then); });
  int replies = 0;
  service.Submit(node::SetBucketRequest{"b", {}}, [&](node::ClientReply reply) {
    EXPECT_TRUE(reply.status.ok());
    ++replies;
  });
  ASSERT_EQ(shards[0].requests.size(), 1u);
  EXPECT_TRUE(shards[1].requests.empty());
  ASSERT_TRUE(pending_publish.has_value());
  EXPECT_EQ(replies, 0);  // not before every shard has the properties
  (*pending_publish)();
  EXPECT_EQ(replies, 1);

  // A refused change publishes nothing and is answered at once.
  pending_publish.reset();
  shards[0].status = Status::FailedPrecondition("refused");
  service.Submit(node::SetBucketRequest{"b", {}}, [&](node::ClientReply reply) {
    EXPECT_EQ(reply.status.code(), StatusCode::kFailedPrecondition);
    ++replies;
  });
  EXPECT_EQ(replies, 2);
  EXPECT_FALSE(pending_publish.has_value());
}

TEST(ShardedKvServiceTest, OneShardTakesEverythingWithoutPublishing) {
  RecordingShard shard;
  bool published = false;
  ShardedKvService service({&shard}, kPartitions, [&](std::function<void()> then) {
    published = true;
    then();
  });
  service.Submit(node::SetBucketRequest{"b", {}}, [](node::ClientReply) {});
  service.Submit(node::GetRequest{{"b", "k"}, {}}, [](node::ClientReply) {});
  EXPECT_EQ(shard.requests.size(), 2u);
  EXPECT_FALSE(published);
}

}  // namespace
}  // namespace meridian::runtime
