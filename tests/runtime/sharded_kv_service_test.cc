// ShardedKvService: which shard each kind of request goes to, a bucket change answered only
// after its properties were published to the other shards, and a change of consistency or n
// made only while the other shards hold the bucket and store none of it. The shards here are
// recording fakes on one thread; the server test runs the real thing over threads.
#include "runtime/sharded_kv_service.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "core/hash.h"
#include "node/peer_route.h"

namespace meridian::runtime {
namespace {

constexpr std::uint32_t kPartitions = 64;

// Records what it was sent and answers at once: a bucket get with `props`, the rest with
// `status`.
class RecordingShard final : public api::KvService {
 public:
  void Submit(node::ClientRequest request, Completion done) override {
    node::ClientReply reply;
    if (const auto* get = std::get_if<node::GetBucketRequest>(&request)) {
      if (get->bucket.empty()) {
        reply.status = Status::InvalidArgument("bucket name is empty");
      } else {
        reply.body = node::BucketReply{get->bucket, props};
      }
    } else if (const auto* background = std::get_if<node::ClusterBackgroundRequest>(&request);
               background != nullptr && status.ok()) {
      reply.body = node::BackgroundReply{background->bytes_per_second.value_or(0),
                                         background->paused.value_or(false), 1};
    } else {
      reply.status = status;
    }
    requests.push_back(std::move(request));
    done(std::move(reply));
  }
  std::vector<node::ClientRequest> requests;
  Status status = Status::Ok();
  BucketProps props;
};

// Hooks that record their calls; publishing, holding and releasing finish when told to.
struct Hooks {
  ShardedKvService::ShardHooks Make() {
    ShardedKvService::ShardHooks hooks;
    hooks.publish_buckets = [this](std::function<void()> then) {
      ++publishes;
      log.push_back("publish");
      pending_publish = std::move(then);
      if (auto_finish) Finish();
    };
    hooks.hold_buckets = [this](const std::string& bucket,
                                std::function<void(Result<std::optional<std::uint32_t>>)> done) {
      log.push_back("hold " + bucket);
      done(holder);
    };
    hooks.release_buckets = [this](const std::string& bucket, std::function<void()> then) {
      log.push_back("release " + bucket);
      then();
    };
    return hooks;
  }
  void Finish() {
    if (!pending_publish) return;
    auto then = std::move(*pending_publish);
    pending_publish.reset();
    then();
  }
  int publishes = 0;
  bool auto_finish = true;
  std::optional<std::function<void()>> pending_publish;
  Result<std::optional<std::uint32_t>> holder = std::optional<std::uint32_t>();
  std::vector<std::string> log;
};

std::uint32_t PartitionShard(const std::string& bucket, const std::string& key,
                             std::uint32_t shards) {
  return node::ShardOfPartition(PartitionOf(ObjectHash(bucket, key), kPartitions), kPartitions,
                                shards);
}

TEST(ShardedKvServiceTest, ObjectRequestsGoToTheShardOfTheirPartitionAndTheRestToShardZero) {
  RecordingShard shards[3];
  Hooks hooks;
  ShardedKvService service({&shards[0], &shards[1], &shards[2]}, kPartitions, hooks.Make());
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
  EXPECT_EQ(hooks.publishes, 0);
  EXPECT_TRUE(hooks.log.empty());
}

TEST(ShardedKvServiceTest, ABucketChangeIsAnsweredOnlyOnceItsPropertiesWerePublished) {
  RecordingShard shards[2];
  Hooks hooks;
  hooks.auto_finish = false;
  ShardedKvService service({&shards[0], &shards[1]}, kPartitions, hooks.Make());
  int replies = 0;
  BucketPropsPatch lww;
  lww.conflict_policy = ConflictPolicy::kLastWriteWins;
  service.Submit(node::SetBucketRequest{"b", lww}, [&](node::ClientReply reply) {
    EXPECT_TRUE(reply.status.ok());
    ++replies;
  });
  // Shard 0 was asked for the current properties, then given the change; no hold (neither
  // consistency nor n changes), nothing for shard 1.
  ASSERT_EQ(shards[0].requests.size(), 2u);
  EXPECT_TRUE(std::holds_alternative<node::GetBucketRequest>(shards[0].requests[0]));
  const auto* set = std::get_if<node::SetBucketRequest>(&shards[0].requests[1]);
  ASSERT_NE(set, nullptr);
  EXPECT_FALSE(set->other_shards_checked);
  EXPECT_TRUE(shards[1].requests.empty());
  EXPECT_EQ(hooks.log, (std::vector<std::string>{"publish"}));
  EXPECT_EQ(replies, 0);  // not before every shard has the properties
  hooks.Finish();
  EXPECT_EQ(replies, 1);

  // A refused change publishes nothing and is answered at once.
  shards[0].status = Status::InvalidArgument("refused");
  service.Submit(node::SetBucketRequest{"b", lww}, [&](node::ClientReply reply) {
    EXPECT_EQ(reply.status.code(), StatusCode::kInvalidArgument);
    ++replies;
  });
  EXPECT_EQ(replies, 2);
  EXPECT_EQ(hooks.publishes, 1);
}

TEST(ShardedKvServiceTest, AConsistencyChangeHoldsTheOtherShardsAndPublishesBeforeReleasing) {
  RecordingShard shards[3];
  Hooks hooks;
  ShardedKvService service({&shards[0], &shards[1], &shards[2]}, kPartitions, hooks.Make());
  BucketPropsPatch strong;
  strong.consistency = Consistency::kStrong;
  std::optional<node::ClientReply> answer;
  service.Submit(node::SetBucketRequest{"s", strong},
                 [&](node::ClientReply reply) { answer = std::move(reply); });
  ASSERT_TRUE(answer.has_value());
  EXPECT_TRUE(answer->status.ok()) << answer->status.ToString();
  EXPECT_EQ(hooks.log, (std::vector<std::string>{"hold s", "publish", "release s"}));
  const auto* set = std::get_if<node::SetBucketRequest>(&shards[0].requests.back());
  ASSERT_NE(set, nullptr);
  EXPECT_TRUE(set->other_shards_checked);

  // The same consistency again is no change: no hold.
  hooks.log.clear();
  shards[0].props.consistency = Consistency::kStrong;
  service.Submit(node::SetBucketRequest{"s", strong}, [](node::ClientReply) {});
  EXPECT_EQ(hooks.log, (std::vector<std::string>{"publish"}));
}

TEST(ShardedKvServiceTest, AnotherShardHoldingTheBucketsDataRefusesTheChangeAndReleases) {
  RecordingShard shards[3];
  Hooks hooks;
  hooks.holder = std::optional<std::uint32_t>(2);
  ShardedKvService service({&shards[0], &shards[1], &shards[2]}, kPartitions, hooks.Make());
  BucketPropsPatch one;
  one.n = 1;
  std::optional<node::ClientReply> answer;
  service.Submit(node::SetBucketRequest{"b", one},
                 [&](node::ClientReply reply) { answer = std::move(reply); });
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(answer->status.message().find("on shard 2 of this node"), std::string::npos)
      << answer->status.message();
  EXPECT_EQ(hooks.log, (std::vector<std::string>{"hold b", "release b"}));
  // Shard 0 was only asked for the current properties: nothing changed.
  EXPECT_EQ(shards[0].requests.size(), 1u);

  // A shard that could not check: the change is refused with its error, and released.
  hooks.log.clear();
  hooks.holder = Status::IoError("disk");
  service.Submit(node::SetBucketRequest{"b", one},
                 [&](node::ClientReply reply) { answer = std::move(reply); });
  EXPECT_EQ(answer->status.code(), StatusCode::kIoError);
  EXPECT_EQ(hooks.log, (std::vector<std::string>{"hold b", "release b"}));
}

// A change of the background budget goes to every shard, each with its share of the node's
// rate (at least 1 byte/s), and is answered once all have, with their settings added up — or
// with the first shard's error.
TEST(ShardedKvServiceTest, ABackgroundChangeGoesToEveryShardWithItsShareAndTheRepliesAddUp) {
  std::vector<RecordingShard> shards(3);
  Hooks hooks;
  ShardedKvService service({&shards[0], &shards[1], &shards[2]}, kPartitions, hooks.Make());
  std::optional<node::ClientReply> answer;
  service.Submit(node::ClusterBackgroundRequest{10, true},
                 [&](node::ClientReply reply) { answer = std::move(reply); });
  ASSERT_TRUE(answer.has_value());
  ASSERT_TRUE(answer->status.ok()) << answer->status.ToString();
  const auto* total = std::get_if<node::BackgroundReply>(&answer->body);
  ASSERT_NE(total, nullptr);
  EXPECT_EQ(total->bytes_per_second, 9u);  // 10 / 3 = 3 each
  EXPECT_TRUE(total->paused);
  EXPECT_EQ(total->shards, 3u);
  for (const RecordingShard& shard : shards) {
    ASSERT_EQ(shard.requests.size(), 1u);
    const auto& sent = std::get<node::ClusterBackgroundRequest>(shard.requests[0]);
    EXPECT_EQ(sent.bytes_per_second, std::optional<std::uint64_t>(3));
    EXPECT_EQ(sent.paused, std::optional<bool>(true));
  }

  service.Submit(node::ClusterBackgroundRequest{2, std::nullopt}, [](node::ClientReply) {});
  EXPECT_EQ(std::get<node::ClusterBackgroundRequest>(shards[2].requests[1]).bytes_per_second,
            std::optional<std::uint64_t>(1));  // never 0, which would mean unlimited

  shards[1].status = Status::InvalidArgument("refused");
  answer.reset();
  service.Submit(node::ClusterBackgroundRequest{},
                 [&](node::ClientReply reply) { answer = std::move(reply); });
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(shards[2].requests.size(), 3u) << "every shard was asked";
}

TEST(ShardedKvServiceTest, OneShardTakesEverythingWithoutHooks) {
  RecordingShard shard;
  Hooks hooks;
  ShardedKvService service({&shard}, kPartitions, hooks.Make());
  BucketPropsPatch strong;
  strong.consistency = Consistency::kStrong;
  service.Submit(node::SetBucketRequest{"b", strong}, [](node::ClientReply) {});
  service.Submit(node::GetRequest{{"b", "k"}, {}}, [](node::ClientReply) {});
  EXPECT_EQ(shard.requests.size(), 2u);
  EXPECT_TRUE(hooks.log.empty());
}

}  // namespace
}  // namespace meridian::runtime
