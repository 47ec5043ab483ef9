// Node scenario tests: the single-node semantics of get/put/delete with causal contexts,
// bucket properties, validation, durability (dw) and node identity.
#include "node/node.h"

#include <gtest/gtest.h>

#include "core/causal_context.h"
#include "core/hash.h"
#include "core/object_codec.h"
#include "node/cluster_state_record.h"
#include "node/metadata_keys.h"
#include "node/node_test_util.h"
#include "storage/key_encoding.h"
#include "storage/segment_ordered_objects.h"

namespace meridian::node {
namespace {

using test_support::FailingEngine;
using test_support::NodeFixture;
using test_support::SplitMix64;
using test_support::Values;
using Strings = std::vector<std::string>;

class NodeTest : public NodeFixture {};

// ---- get / put / delete -----------------------------------------------------------------

TEST_F(NodeTest, GetOfMissingKeyIsNotFoundWithoutContext) {
  const ClientReply reply = Call(GetRequest{{"b", "absent"}});
  ASSERT_TRUE(reply.status.ok()) << reply.status.ToString();
  const auto& get = std::get<GetReply>(reply.body);
  EXPECT_FALSE(get.found);
  EXPECT_TRUE(get.values.empty());
  EXPECT_TRUE(get.context.empty());
}

TEST_F(NodeTest, BinaryValueAndKeyRoundTrip) {
  std::string value;
  for (int byte = 0; byte < 256; ++byte) value.push_back(static_cast<char>(byte));
  const std::string key("k\0\xff", 3);
  const WriteReply written = Put(key, value);
  const std::uint64_t put_wall_ms = clock_.WallMillis();
  EXPECT_FALSE(written.context.empty());
  const GetReply got = Get(key);
  EXPECT_TRUE(got.found);
  EXPECT_EQ(Values(got), Strings{value});
  EXPECT_EQ(got.values[0].timestamp.physical_ms(), put_wall_ms);
  EXPECT_FALSE(got.context.empty());
  // The same key in another bucket, or a key that is a prefix, is a different object.
  EXPECT_FALSE(Get(key, "other").found);
  EXPECT_FALSE(Get("k").found);
}

TEST_F(NodeTest, TwoBlindPutsBecomeSiblingsInWriteOrder) {
  Put("k", "a");
  Put("k", "b");
  const GetReply got = Get("k");
  EXPECT_TRUE(got.found);
  EXPECT_EQ(Values(got), (Strings{"a", "b"}));
  EXPECT_LT(got.values[0].timestamp, got.values[1].timestamp);
}

TEST_F(NodeTest, PutWithGetContextSupersedesExactlyTheSiblingsItSaw) {
  Put("k", "a");
  Put("k", "b");
  const std::string seen = Get("k").context;
  Put("k", "concurrent");  // written after the get: the client never saw it
  Put("k", "merged", seen);
  EXPECT_EQ(Values(Get("k")), (Strings{"concurrent", "merged"}));
}

TEST_F(NodeTest, PutWithItsOwnReplyContextOverwritesItsWrite) {
  const WriteReply first = Put("k", "v1");
  const WriteReply second = Put("k", "v2", first.context);
  EXPECT_FALSE(second.context.empty());
  Put("k", "v3", second.context);
  EXPECT_EQ(Values(Get("k")), Strings{"v3"});
}

TEST_F(NodeTest, StaleContextDoesNotOverwriteNewerData) {
  Put("k", "a");
  const std::string old_context = Get("k").context;
  Put("k", "b", old_context);
  EXPECT_EQ(Values(Get("k")), Strings{"b"});
  // A writer still holding the context from before "b" cannot erase "b" unseen.
  Put("k", "c", old_context);
  EXPECT_EQ(Values(Get("k")), (Strings{"b", "c"}));
}

TEST_F(NodeTest, PutReplyContextOmittedWhenAnotherBlindWriteIntervened) {
  const WriteReply mine = Put("k", "mine");
  ASSERT_FALSE(mine.context.empty());
  Put("k", "theirs");  // blind, coordinated by the same node
  const WriteReply again = Put("k", "mine-2", mine.context);
  // Returning a context here would cover "theirs", which this client never saw.
  EXPECT_TRUE(again.context.empty());
  EXPECT_EQ(Values(Get("k")), (Strings{"theirs", "mine-2"}));
}

TEST_F(NodeTest, LwwBucketKeepsOnlyTheLatestWrite) {
  SetBucket("b", BucketPropsPatch{.conflict_policy = ConflictPolicy::kLastWriteWins});
  Put("k", "a");
  Put("k", "b");
  GetReply got = Get("k");
  EXPECT_EQ(Values(got), Strings{"b"});
  // Even when the wall clock steps back, a later write on this node wins.
  const HlcTimestamp before = got.values[0].timestamp;
  clock_.SetWall(clock_.WallMillis() - 60'000);
  Put("k", "after-clock-step");
  got = Get("k");
  EXPECT_EQ(Values(got), Strings{"after-clock-step"});
  EXPECT_GT(got.values[0].timestamp, before);
}

TEST_F(NodeTest, LwwWinsAcrossRestartWithClockBehind) {
  SetBucket("b", BucketPropsPatch{.conflict_policy = ConflictPolicy::kLastWriteWins});
  Put("k", "before-restart");
  clock_.SetWall(clock_.WallMillis() - 3'600'000);  // an hour behind after the restart
  Restart();
  Put("k", "after-restart");
  EXPECT_EQ(Values(Get("k")), Strings{"after-restart"});
}

TEST_F(NodeTest, DeleteLeavesContextAndPutWithItIsSingleValue) {
  Put("k", "a");
  const WriteReply deleted = Delete("k", Get("k").context);
  EXPECT_FALSE(deleted.context.empty());
  const GetReply after_delete = Get("k");
  EXPECT_FALSE(after_delete.found);
  EXPECT_TRUE(after_delete.values.empty());
  EXPECT_FALSE(after_delete.context.empty());
  Put("k", "reborn", after_delete.context);
  const GetReply reborn = Get("k");
  EXPECT_TRUE(reborn.found);
  EXPECT_EQ(Values(reborn), Strings{"reborn"});
}

TEST_F(NodeTest, BlindDeleteRemovesEverySibling) {
  Put("k", "a");
  Put("k", "b");
  const WriteReply deleted = Delete("k");
  EXPECT_FALSE(deleted.context.empty());
  EXPECT_FALSE(Get("k").found);
  // The delete's own reply context lets the deleter write without a sibling as well.
  Put("k", "c", deleted.context);
  EXPECT_EQ(Values(Get("k")), Strings{"c"});
}

TEST_F(NodeTest, DeleteWithStaleContextKeepsUnseenWrite) {
  Put("k", "a");
  const std::string seen = Get("k").context;
  Put("k", "unseen");
  Delete("k", seen);
  EXPECT_EQ(Values(Get("k")), Strings{"unseen"});
}

TEST_F(NodeTest, DeleteOfMissingKeyIsOk) {
  const WriteReply deleted = Delete("never-written");
  EXPECT_FALSE(deleted.context.empty());
  const GetReply got = Get("never-written");
  EXPECT_FALSE(got.found);
  EXPECT_FALSE(got.context.empty());  // the tombstone is a history
}

TEST_F(NodeTest, RequestsAreAnsweredInOrderWithTheirIds) {
  node_->Submit(70, PutRequest{{"b", "k"}, "v", "", {}});
  node_->Submit(71, GetRequest{{"b", "k"}});
  node_->Submit(72, GetBucketRequest{"b"});
  const std::vector<ClientReply> replies = node_->TakeReplies();
  ASSERT_EQ(replies.size(), 3u);
  EXPECT_EQ(replies[0].id, 70u);
  EXPECT_TRUE(std::holds_alternative<WriteReply>(replies[0].body));
  EXPECT_EQ(replies[1].id, 71u);
  EXPECT_EQ(Values(std::get<GetReply>(replies[1].body)), Strings{"v"});
  EXPECT_EQ(replies[2].id, 72u);
  EXPECT_TRUE(std::holds_alternative<BucketReply>(replies[2].body));
  EXPECT_TRUE(node_->TakeReplies().empty());
}

TEST_F(NodeTest, TickIsCallableAndProducesNothing) {
  node_->Tick();
  clock_.Advance(config_.tick_interval_ms);
  node_->Tick();
  EXPECT_TRUE(node_->TakeReplies().empty());
}

// A joiner that stops before the cluster's state reaches it has persisted only itself, still
// joining; nobody else knows of it, so after a restart it must ask its seeds again (found by
// the simulator: cluster-kv seed 41072, a joiner cut off, then crashed, sat alone forever).
TEST_F(NodeTest, AJoinerThatStoppedBeforeTheClusterAnsweredAsksItsSeedsAgain) {
  storage::MemoryEngine engine;
  NodeConfig config = config_;
  config.peer_address = "10.0.0.9:7000";
  config.seeds = {"10.0.0.1:7000"};
  const auto join_requests = [&](Node& node) {
    int sent = 0;
    for (int tick = 0; tick < 30; ++tick) {
      clock_.Advance(config.tick_interval_ms);
      node.Tick();
      for (const cluster::Outbound& out : node.TakeOutbound()) {
        if (out.message.has_join_request() && out.to_address == "10.0.0.1:7000") ++sent;
      }
    }
    return sent;
  };
  {
    Node first(config, Env{&clock_, &random_, &engine});
    ASSERT_TRUE(first.Open().ok());
    EXPECT_GT(join_requests(first), 0);
    ASSERT_TRUE(first.Close().ok());
  }
  ASSERT_TRUE(engine.Get(storage::Column::kMetadata, kClusterStateKey)->has_value());
  Node again(config, Env{&clock_, &random_, &engine});
  ASSERT_TRUE(again.Open().ok());
  EXPECT_GT(join_requests(again), 0);
}

TEST_F(NodeTest, SubmitBeforeOpenIsUnavailable) {
  Node unopened(config_, Env{&clock_, &random_, &engine_});
  unopened.Submit(5, GetRequest{{"b", "k"}});
  const std::vector<ClientReply> replies = unopened.TakeReplies();
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].id, 5u);
  EXPECT_EQ(replies[0].status.code(), StatusCode::kUnavailable);
}

// ---- buckets ----------------------------------------------------------------------------

TEST_F(NodeTest, UnconfiguredBucketHasDefaults) {
  const ClientReply reply = Call(GetBucketRequest{"fresh"});
  ASSERT_TRUE(reply.status.ok());
  const auto& bucket = std::get<BucketReply>(reply.body);
  EXPECT_EQ(bucket.bucket, "fresh");
  EXPECT_EQ(bucket.props, BucketProps{});
}

TEST_F(NodeTest, ListBucketsNamesTheConfiguredBucketsInNameOrder) {
  auto list = [&] { return std::get<BucketListReply>(Call(ListBucketsRequest{}).body); };
  EXPECT_TRUE(list().buckets.empty());
  EXPECT_EQ(list().defaults, BucketProps{});
  Put("k", "v");  // data in bucket "b" alone does not configure it
  EXPECT_TRUE(list().buckets.empty());
  const BucketProps zeta =
      SetBucket("zeta", BucketPropsPatch{.conflict_policy = ConflictPolicy::kLastWriteWins});
  const BucketProps alpha = SetBucket("alpha", BucketPropsPatch{.dw = QuorumValue::Number(1)});
  const BucketListReply reply = list();
  ASSERT_EQ(reply.buckets.size(), 2u);
  EXPECT_EQ(reply.buckets[0].bucket, "alpha");
  EXPECT_EQ(reply.buckets[0].props, alpha);
  EXPECT_EQ(reply.buckets[1].bucket, "zeta");
  EXPECT_EQ(reply.buckets[1].props, zeta);
}

TEST_F(NodeTest, OverwriteWithoutContextSupersedesEverySibling) {
  Put("k", "v1");
  Put("k", "v2");  // blind: a sibling
  EXPECT_EQ(Values(Get("k")).size(), 2u);
  PutRequest overwrite{{"b", "k"}, "v3", "", {}};
  overwrite.overwrite = true;
  ASSERT_TRUE(Call(std::move(overwrite)).status.ok());
  EXPECT_EQ(Values(Get("k")), Strings{"v3"});
  // A later blind write is a sibling of v3 again: overwrite is per request.
  Put("k", "v4");
  EXPECT_EQ(Values(Get("k")).size(), 2u);
}

TEST_F(NodeTest, SetBucketPatchesOnlyGivenFieldsAndIsDurable) {
  EXPECT_EQ(SetBucket("b", BucketPropsPatch{.dw = QuorumValue::Number(1)}).dw,
            QuorumValue::Number(1));
  const BucketProps props =
      SetBucket("b", BucketPropsPatch{.conflict_policy = ConflictPolicy::kLastWriteWins});
  EXPECT_EQ(props.dw, QuorumValue::Number(1));
  EXPECT_EQ(props.conflict_policy, ConflictPolicy::kLastWriteWins);
  engine_.DropUnsyncedWrites();  // a crash right after the reply
  Restart();
  const ClientReply reply = Call(GetBucketRequest{"b"});
  EXPECT_EQ(std::get<BucketReply>(reply.body).props, props);
  // Other buckets are unaffected.
  EXPECT_EQ(std::get<BucketReply>(Call(GetBucketRequest{"c"}).body).props, BucketProps{});
}

// ---- durability -------------------------------------------------------------------------

TEST_F(NodeTest, DurableWriteSurvivesCrashUnsyncedWriteDoesNot) {
  const WriteReply durable = Put("synced", "1", "", /*dw=*/1);
  EXPECT_TRUE(durable.durable);
  const WriteReply lazy = Put("unsynced", "2", "", /*dw=*/0);
  EXPECT_FALSE(lazy.durable);
  Crash();
  EXPECT_EQ(Values(Get("synced")), Strings{"1"});
  EXPECT_FALSE(Get("unsynced").found);
}

TEST_F(NodeTest, CrashTakesNewActorIdCleanRestartKeepsIt) {
  const ActorId first = node_->actor_id();
  Restart();
  EXPECT_EQ(node_->actor_id(), first);
  Crash();
  EXPECT_NE(node_->actor_id(), first);
  EXPECT_NE(node_->actor_id(), 0u);
}

// A write lost in a crash must not leave a context that later supersedes a different write:
// the lost write's dot is never minted again.
TEST_F(NodeTest, ContextOfWriteLostInCrashDoesNotSupersedeLaterWrite) {
  Put("k", "base", "", /*dw=*/1);
  const std::string base_context = Get("k").context;
  const WriteReply lost = Put("k", "lost", base_context, /*dw=*/0);
  ASSERT_FALSE(lost.context.empty());
  Crash();
  EXPECT_EQ(Values(Get("k")), Strings{"base"});
  Put("k", "after-crash", "", /*dw=*/1);  // blind: concurrent with "base"
  // A client that saw only "lost" resolves with its context: "after-crash" is new to it.
  Put("k", "resolved-by-old-client", lost.context, /*dw=*/1);
  EXPECT_EQ(Values(Get("k")), (Strings{"after-crash", "resolved-by-old-client"}));
}

TEST_F(NodeTest, BucketDwDecidesDurabilityUnlessTheRequestOverrides) {
  EXPECT_FALSE(Put("k", "default-bucket").durable);
  SetBucket("b", BucketPropsPatch{.dw = QuorumValue::Number(1)});
  EXPECT_TRUE(Put("k", "from-bucket").durable);
  EXPECT_FALSE(Put("k", "overridden", "", /*dw=*/0).durable);
  ClientReply deleted = Call(DeleteRequest{{"b", "k"}, "", RequestOptions{}});
  EXPECT_TRUE(std::get<WriteReply>(deleted.body).durable);
}

// ---- validation: every refused request changes nothing ----------------------------------

class NodeValidationTest : public NodeFixture {
 protected:
  void SetUp() override {
    NodeConfig config;
    config.key_bytes_max = 16;
    config.value_bytes_max = 64;
    Restart(config);
    Put("k", "original");
    before_ = test_support::Snapshot(engine_);
    before_get_ = Get("k");
  }
  // The request fails with `code`, a message, and leaves storage and the object unchanged.
  void ExpectRefused(ClientRequest request, StatusCode code, const std::string& message_part) {
    const ClientReply reply = Call(std::move(request));
    EXPECT_EQ(reply.status.code(), code) << reply.status.ToString();
    EXPECT_NE(reply.status.message().find(message_part), std::string::npos)
        << reply.status.message();
    EXPECT_EQ(test_support::Snapshot(engine_), before_);
    const GetReply after = Get("k");
    EXPECT_EQ(Values(after), Values(before_get_));
    EXPECT_EQ(after.context, before_get_.context);
  }
  test_support::EngineSnapshot before_;
  GetReply before_get_;
};

TEST_F(NodeValidationTest, BadBucketNames) {
  ExpectRefused(PutRequest{{"bad/name", "k"}, "v", "", {}}, StatusCode::kInvalidArgument, "bucket");
  ExpectRefused(PutRequest{{"", "k"}, "v", "", {}}, StatusCode::kInvalidArgument, "bucket");
  ExpectRefused(DeleteRequest{{std::string(65, 'b'), "k"}, "", {}}, StatusCode::kInvalidArgument,
                "bucket");
  ExpectRefused(GetRequest{{"sp ace", "k"}}, StatusCode::kInvalidArgument, "bucket");
  ExpectRefused(GetBucketRequest{"no/slash"}, StatusCode::kInvalidArgument, "bucket");
  ExpectRefused(SetBucketRequest{"", BucketPropsPatch{.dw = QuorumValue::Number(1)}},
                StatusCode::kInvalidArgument, "bucket");
}

TEST_F(NodeValidationTest, BadKeys) {
  ExpectRefused(PutRequest{{"b", ""}, "v", "", {}}, StatusCode::kInvalidArgument, "key");
  ExpectRefused(PutRequest{{"b", std::string(17, 'k')}, "v", "", {}}, StatusCode::kTooLarge, "17");
  ExpectRefused(DeleteRequest{{"b", std::string(17, 'k')}, "", {}}, StatusCode::kTooLarge, "key");
  ExpectRefused(GetRequest{{"b", ""}}, StatusCode::kInvalidArgument, "key");
}

TEST_F(NodeValidationTest, ValueOverTheLimitIsTooLarge) {
  ExpectRefused(PutRequest{{"b", "k"}, std::string(65, 'v'), "", {}}, StatusCode::kTooLarge, "65");
  // Exactly the limit is fine.
  EXPECT_TRUE(PutReply("other", std::string(64, 'v')).status.ok());
}

TEST_F(NodeValidationTest, MalformedOrForeignContextIsInvalidArgument) {
  ExpectRefused(PutRequest{{"b", "k"}, "v", "not base64!", {}}, StatusCode::kInvalidArgument, "");
  ExpectRefused(DeleteRequest{{"b", "k"}, "AAAA", {}}, StatusCode::kInvalidArgument, "");
  // A valid token, but issued for another key.
  Put("elsewhere", "x");
  before_ = test_support::Snapshot(engine_);
  const std::string foreign = Get("elsewhere").context;
  ExpectRefused(PutRequest{{"b", "k"}, "v", foreign, {}}, StatusCode::kInvalidArgument, "");
  ExpectRefused(DeleteRequest{{"b", "k"}, foreign, {}}, StatusCode::kInvalidArgument, "");
}

TEST_F(NodeValidationTest, DwAboveOneIsInvalidArgument) {
  ExpectRefused(PutRequest{{"b", "k"}, "v", "", RequestOptions{.dw = QuorumValue::Number(2)}},
                StatusCode::kInvalidArgument, "dw=2");
  ExpectRefused(DeleteRequest{{"b", "k"}, "", RequestOptions{.dw = QuorumValue::Number(7)}},
                StatusCode::kInvalidArgument, "dw=7");
  ExpectRefused(SetBucketRequest{"b", BucketPropsPatch{.dw = QuorumValue::Number(3)}},
                StatusCode::kInvalidArgument, "dw=3");
}

// ---- storage failures and corruption ----------------------------------------------------

TEST_F(NodeTest, StorageFailureIsRepliedAndNothingIsAcknowledged) {
  Put("k", "original");
  FailingEngine failing(engine_);
  node_engine_ = &failing;
  Restart();
  const auto before = test_support::Snapshot(engine_);
  failing.fail_writes = true;
  ClientReply reply = PutReply("k", "lost");
  EXPECT_EQ(reply.status.code(), StatusCode::kIoError);
  EXPECT_TRUE(reply.status.retryable());
  reply = Call(SetBucketRequest{"b", BucketPropsPatch{.dw = QuorumValue::Number(1)}});
  EXPECT_EQ(reply.status.code(), StatusCode::kIoError);
  failing.fail_reads = true;
  reply = Call(GetRequest{{"b", "k"}});
  EXPECT_EQ(reply.status.code(), StatusCode::kIoError);
  EXPECT_EQ(test_support::Snapshot(engine_), before);
  failing.fail_reads = false;
  failing.fail_writes = false;
  EXPECT_EQ(Values(Get("k")), Strings{"original"});
}

TEST_F(NodeTest, OpenFailsWhenStorageFails) {
  FailingEngine failing(engine_);
  failing.fail_reads = true;
  Node node(config_, Env{&clock_, &random_, &failing});
  EXPECT_EQ(node.Open().code(), StatusCode::kIoError);
}

TEST_F(NodeTest, UndecodableStoredObjectIsCorruption) {
  const std::string storage_key = storage::EncodeObjectKey(
      PartitionOf(ObjectHash("b", "k"), config_.partition_count), "b", "k");
  storage::WriteBatch batch;  // a record on disk that does not decode, hash in front
  batch.Put(storage::Column::kObjectsBySegment, storage::PhysicalObjectKey(storage_key),
            std::string(8, '\0') + "garbage");
  ASSERT_TRUE(engine_.Write(batch, storage::WriteOptions{}).ok());
  EXPECT_EQ(Call(GetRequest{{"b", "k"}}).status.code(), StatusCode::kCorruption);
  EXPECT_EQ(PutReply("k", "v").status.code(), StatusCode::kCorruption);
  EXPECT_EQ(*storage::SegmentOrderedObjects(engine_).Get(storage::Column::kObjects, storage_key),
            "garbage");
}

TEST_F(NodeTest, ObjectsAreStoredUnderTheirPartitionKey) {
  Put("k", "v");
  const std::uint32_t partition = PartitionOf(ObjectHash("b", "k"), config_.partition_count);
  std::vector<std::string> keys;
  const storage::KeyRange range = storage::PartitionRange(partition);
  ASSERT_TRUE(storage::SegmentOrderedObjects(engine_)
                  .Scan(storage::Column::kObjects, range.begin, range.end,
                        [&](std::string_view key, std::string_view) {
                          keys.emplace_back(key);
                          return true;
                        })
                  .ok());
  ASSERT_EQ(keys.size(), 1u);
  auto decoded = storage::DecodeObjectKey(keys[0]);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->id, (ObjectId{"b", "k"}));
}

// ---- identity ---------------------------------------------------------------------------

TEST_F(NodeTest, OpenWritesIdentityDurably) {
  EXPECT_NE(node_->actor_id(), 0u);
  const auto actor = engine_.Get(storage::Column::kMetadata, kActorIdKey);
  ASSERT_TRUE(actor.ok() && actor->has_value());
  EXPECT_EQ((*actor)->size(), 8u);
  engine_.DropUnsyncedWrites();
  EXPECT_TRUE(engine_.Get(storage::Column::kMetadata, kActorIdKey)->has_value());
  EXPECT_TRUE(engine_.Get(storage::Column::kMetadata, kFormatVersionKey)->has_value());
  EXPECT_TRUE(engine_.Get(storage::Column::kMetadata, kPartitionCountKey)->has_value());
}

TEST_F(NodeTest, ReopenWithSameDataKeepsActorId) {
  const ActorId actor = node_->actor_id();
  Put("k", "v1");
  const std::string context = Get("k").context;
  Restart();
  EXPECT_EQ(node_->actor_id(), actor);
  // Contexts issued before the restart still work.
  Put("k", "v2", context);
  EXPECT_EQ(Values(Get("k")), Strings{"v2"});
}

TEST_F(NodeTest, WipedDataGetsNewActorId) {
  const ActorId old_actor = node_->actor_id();
  storage::MemoryEngine wiped;
  Node fresh(config_, Env{&clock_, &random_, &wiped});
  ASSERT_TRUE(fresh.Open().ok());
  EXPECT_NE(fresh.actor_id(), 0u);
  EXPECT_NE(fresh.actor_id(), old_actor);
}

TEST_F(NodeTest, ZeroDrawIsRedrawn) {
  test_support::ScriptedRandom zeros_then_seven({0, 0, 7});
  storage::MemoryEngine empty;
  Node node(config_, Env{&clock_, &zeros_then_seven, &empty});
  ASSERT_TRUE(node.Open().ok());
  EXPECT_EQ(node.actor_id(), 7u);
}

TEST_F(NodeTest, PartitionCountMismatchFailsOpenAndChangesNothing) {
  const auto before = test_support::Snapshot(engine_);
  NodeConfig other = config_;
  other.partition_count = config_.partition_count * 2;
  Node node(other, Env{&clock_, &random_, &engine_});
  const Status status = node.Open();
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("partition_count=256"), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("partition_count=512"), std::string::npos) << status.message();
  EXPECT_EQ(test_support::Snapshot(engine_), before);
}

TEST_F(NodeTest, InvalidPartitionCountFailsOpen) {
  NodeConfig bad = config_;
  bad.partition_count = 100;
  storage::MemoryEngine empty;
  Node node(bad, Env{&clock_, &random_, &empty});
  EXPECT_EQ(node.Open().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(test_support::Snapshot(empty) == test_support::EngineSnapshot(storage::kColumnCount));
}

TEST_F(NodeTest, MalformedIdentityIsCorruptionAndNewerFormatIsRefused) {
  storage::MemoryEngine engine;
  storage::WriteBatch batch;
  batch.Put(storage::Column::kMetadata, std::string(kActorIdKey), "abc");
  ASSERT_TRUE(engine.Write(batch, storage::WriteOptions{}).ok());
  Node short_id(config_, Env{&clock_, &random_, &engine});
  EXPECT_EQ(short_id.Open().code(), StatusCode::kCorruption);

  storage::MemoryEngine newer;
  batch = {};
  batch.Put(storage::Column::kMetadata, std::string(kFormatVersionKey),
            std::string("\x03\0\0\0", 4));
  ASSERT_TRUE(newer.Write(batch, storage::WriteOptions{}).ok());
  Node future(config_, Env{&clock_, &random_, &newer});
  const Status status = future.Open();
  EXPECT_EQ(status.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(status.message().find("storage format version 3, newer than this release"),
            std::string::npos)
      << status.message();
}

// ---- storage format versions (docs/operations.md, "Upgrades") -------------------------------

TEST_F(NodeTest, OpenStampsTheFormatAndTheRelease) {
  const auto version = engine_.Get(storage::Column::kMetadata, kFormatVersionKey);
  ASSERT_TRUE(version.ok() && version->has_value());
  EXPECT_EQ(**version, std::string("\x02\0\0\0", 4));
  const auto release = engine_.Get(storage::Column::kMetadata, kFormatReleaseKey);
  ASSERT_TRUE(release.ok() && release->has_value());
  EXPECT_EQ(**release, MERIDIAN_VERSION);
}

// A data directory of release 0.1.0 (format 1, no release key) opens, gets the release, and
// its objects move to format 2's segment order: the node serves them as before.
TEST_F(NodeTest, ADataDirectoryOfRelease010OpensAndIsMigrated) {
  storage::MemoryEngine old;
  {
    Node writer(config_, Env{&clock_, &random_, &old});
    ASSERT_TRUE(writer.Open().ok());
    ASSERT_TRUE(writer.Close().ok());
  }
  // Make it look as 0.1.0 left it: format 1, no release key, the object in the old column.
  const std::uint32_t partition = PartitionOf(ObjectHash("b", "k"), config_.partition_count);
  const std::string storage_key = storage::EncodeObjectKey(partition, "b", "k");
  DvvSet object;
  object.Update({}, 7, HlcTimestamp::FromParts(1'000, 0), false, "from 0.1.0",
                ConflictPolicy::kSiblings);
  storage::WriteBatch batch;
  batch.Put(storage::Column::kMetadata, std::string(kFormatVersionKey),
            std::string("\x01\0\0\0", 4));
  batch.Delete(storage::Column::kMetadata, std::string(kFormatReleaseKey));
  batch.Put(storage::Column::kObjects, storage_key, EncodeObject(object));
  ASSERT_TRUE(old.Write(batch, storage::WriteOptions{}).ok());

  Node node(config_, Env{&clock_, &random_, &old});
  const Status opened = node.Open();
  ASSERT_TRUE(opened.ok()) << opened.ToString();
  EXPECT_EQ(**old.Get(storage::Column::kMetadata, kFormatReleaseKey), MERIDIAN_VERSION);
  EXPECT_EQ(**old.Get(storage::Column::kMetadata, kFormatVersionKey), std::string("\x02\0\0\0", 4));
  EXPECT_FALSE(old.Get(storage::Column::kObjects, storage_key)->has_value());  // moved
  node.Submit(1, GetRequest{{"b", "k"}});
  std::vector<ClientReply> replies = node.TakeReplies();
  ASSERT_EQ(replies.size(), 1u);
  ASSERT_TRUE(replies[0].status.ok()) << replies[0].status.ToString();
  const auto& got = std::get<GetReply>(replies[0].body);
  ASSERT_EQ(got.values.size(), 1u);
  EXPECT_EQ(got.values[0].value, "from 0.1.0");
}

// A newer format is refused before anything is written, naming both versions, the release that
// wrote it and what to do.
TEST_F(NodeTest, ANewerStorageFormatIsRefusedWithTheReleaseThatWroteIt) {
  storage::MemoryEngine newer;
  storage::WriteBatch batch;
  const std::uint32_t next = kStorageFormatVersion + 1;
  batch.Put(storage::Column::kMetadata, std::string(kFormatVersionKey),
            std::string{static_cast<char>(next), 0, 0, 0});
  batch.Put(storage::Column::kMetadata, std::string(kFormatReleaseKey), "7.0.0");
  ASSERT_TRUE(newer.Write(batch, storage::WriteOptions{}).ok());
  const auto before = test_support::Snapshot(newer);
  Node node(config_, Env{&clock_, &random_, &newer});
  const Status status = node.Open();
  EXPECT_EQ(status.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(status.message(),
            "the data directory has storage format version " + std::to_string(next) +
                ", newer than this release (Meridian " MERIDIAN_VERSION ") reads formats " +
                std::to_string(kMinStorageFormatVersion) + " to " +
                std::to_string(kStorageFormatVersion) +
                "; it was last opened by Meridian 7.0.0. Run that release or a newer one on it: "
                "once a release has written a newer storage format, older releases cannot read "
                "it (docs/operations.md, \"Upgrades\")");
  EXPECT_EQ(test_support::Snapshot(newer), before);
}

TEST_F(NodeTest, AStorageFormatOlderThanAnyReadIsRefused) {
  storage::MemoryEngine older;
  storage::WriteBatch batch;
  batch.Put(storage::Column::kMetadata, std::string(kFormatVersionKey), std::string(4, '\0'));
  ASSERT_TRUE(older.Write(batch, storage::WriteOptions{}).ok());
  Node node(config_, Env{&clock_, &random_, &older});
  const Status status = node.Open();
  EXPECT_EQ(status.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(status.message().find("storage format version 0, older than this release"),
            std::string::npos)
      << status.message();
}

}  // namespace
}  // namespace meridian::node

namespace meridian::node {
namespace {

// The receiving side of the background budget (replication/ack_pacer.h): a hint batch is
// applied at once, but its ack — which lets the sender go on — waits until this node's budget
// has paid for the work.
TEST_F(NodeTest, AnAppliedHintBatchIsAckedOnlyOnceTheBudgetHasPaidForIt) {
  NodeConfig config = config_;
  config.background.bytes_per_second = 1'000;
  config.background.burst_bytes = 1'000;
  config.background.object_cost_bytes = 0;
  config.ack_pacing.hold_max_ms = 4'000;
  Restart(config);

  DvvSet object;
  object.Update(VersionVector{}, 77, HlcTimestamp::FromParts(1, 0), /*tombstone=*/false,
                std::string(2'900, 'v'), ConflictPolicy::kSiblings);
  const std::string storage_key = storage::EncodeObjectKey(0, "b", "hinted");
  proto::PeerMessage message;
  proto::HintBatch* batch = message.mutable_hint_batch();
  batch->set_batch_id(42);
  proto::HandoffEntry* entry = batch->add_entries();
  entry->set_storage_key(storage_key);
  entry->set_encoded_object(EncodeObject(object));
  const std::uint64_t charge = storage_key.size() + entry->encoded_object().size();
  ASSERT_GT(charge, 2'000u);  // more than the bucket: the node goes into debt
  node_->Receive("peer:1", message);

  auto acks = [&] {
    int count = 0;
    for (const cluster::Outbound& out : node_->TakeOutbound()) {
      if (!out.message.has_hint_ack()) continue;
      EXPECT_EQ(out.to_address, "peer:1");
      EXPECT_EQ(out.message.hint_ack().batch_id(), 42u);
      ++count;
    }
    return count;
  };
  // Applied at once (a read sees it) but not acknowledged.
  ASSERT_TRUE(storage::SegmentOrderedObjects(engine_)
                  .Get(storage::Column::kObjects, storage_key)
                  ->has_value());
  EXPECT_EQ(acks(), 0);
  // The debt (charge - 1,000 bytes of burst) is repaid at 1,000 bytes/s.
  const std::uint64_t repaid_ms = (charge - 1'000) * 1'000 / 1'000;
  clock_.Advance(repaid_ms - 100);
  node_->Tick();
  EXPECT_EQ(acks(), 0);
  EXPECT_EQ(node_->Stats().background_acks_waiting, 1u);
  clock_.Advance(200);
  node_->Tick();
  EXPECT_EQ(acks(), 1);
  const NodeStats stats = node_->Stats();
  EXPECT_EQ(stats.background_acks_waiting, 0u);
  EXPECT_EQ(stats.ack_pacing.acks_held, 1u);
  EXPECT_EQ(stats.ack_pacing.acks_expired, 0u);
  EXPECT_EQ(stats.background.of(replication::WorkKind::kHintReplay).objects_granted, 1u);
}

// A node whose disk is below its reserve (or whose storage failed) takes no new data: client
// writes get the condition's status and change nothing, reads go on, and writes resume once
// the condition is OK again (runtime/storage_monitor.h decides it).
TEST_F(NodeTest, ANodeThatRefusesNewDataAnswersWritesWithTheConditionAndServesReads) {
  const WriteReply first = Put("k", "v1");
  const Status full = Status::InsufficientStorage("disk nearly full (test)");
  node_->SetStorageCondition(full);
  const test_support::EngineSnapshot before = test_support::Snapshot(engine_);
  const ClientReply put = PutReply("k", "v2", first.context);
  EXPECT_EQ(put.status.code(), StatusCode::kInsufficientStorage);
  EXPECT_EQ(put.status.message(), full.message());
  const ClientReply del = Call(DeleteRequest{{"b", "k"}, "", RequestOptions{}});
  EXPECT_EQ(del.status.code(), StatusCode::kInsufficientStorage);
  EXPECT_EQ(PutReply("new", "v").status.code(), StatusCode::kInsufficientStorage);
  EXPECT_EQ(test_support::Snapshot(engine_), before);
  EXPECT_EQ(Values(Get("k")), Strings{"v1"});
  EXPECT_EQ(node_->Stats().writes_refused_storage, 3u);

  node_->SetStorageCondition(Status::Ok());
  EXPECT_TRUE(PutReply("k", "v2", first.context).status.ok());
  EXPECT_EQ(Values(Get("k")), Strings{"v2"});
}

// A replica write (and so a hint, a handoff or a repair) reaching a node that takes no new
// data is refused with the condition's status, so its coordinator counts a failed replica.
TEST_F(NodeTest, AReplicaWriteToANodeThatRefusesNewDataIsAckedWithTheCondition) {
  node_->SetStorageCondition(Status::InsufficientStorage("disk nearly full (test)"));
  DvvSet object;
  object.Update(VersionVector{}, 77, HlcTimestamp::FromParts(1, 0), /*tombstone=*/false, "v",
                ConflictPolicy::kSiblings);
  const std::string storage_key = storage::EncodeObjectKey(0, "b", "replica");
  proto::PeerMessage message;
  proto::ReplicaWrite* write = message.mutable_replica_write();
  write->set_request_id(9);
  write->set_storage_key(storage_key);
  write->set_encoded_object(EncodeObject(object));
  node_->Receive("peer:1", message);
  bool acked = false;
  for (const cluster::Outbound& out : node_->TakeOutbound()) {
    if (!out.message.has_replica_write_ack()) continue;
    acked = true;
    EXPECT_EQ(out.message.replica_write_ack().status_code(),
              static_cast<std::uint32_t>(StatusCode::kInsufficientStorage));
  }
  EXPECT_TRUE(acked);
  EXPECT_FALSE(storage::SegmentOrderedObjects(engine_)
                   .Get(storage::Column::kObjects, storage_key)
                   ->has_value());
}

}  // namespace
}  // namespace meridian::node
