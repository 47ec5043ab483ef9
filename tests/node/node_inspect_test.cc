// Read-only inspection of one key (ClusterLocateRequest, ClusterLocalRequest): where the key
// lives in this node's ring, and this node's own stored copy of it — the objects column and
// any hint record, each as stored, never merged, and nothing written.
#include <gtest/gtest.h>

#include "node/node.h"
#include "node/node_test_util.h"
#include "replication/hinted_handoff.h"
#include "storage/key_encoding.h"

namespace meridian::node {
namespace {

using test_support::NodeFixture;
using test_support::Snapshot;

class NodeInspectTest : public NodeFixture {
 protected:
  LocateReply Locate(const std::string& key, const std::string& bucket = "b") {
    ClientReply reply = Call(ClusterLocateRequest{{bucket, key}});
    EXPECT_TRUE(reply.status.ok()) << reply.status.ToString();
    return std::get<LocateReply>(reply.body);
  }
  LocalCopyReply Local(const std::string& key, const std::string& bucket = "b") {
    ClientReply reply = Call(ClusterLocalRequest{{bucket, key}});
    EXPECT_TRUE(reply.status.ok()) << reply.status.ToString();
    return std::get<LocalCopyReply>(reply.body);
  }
};

TEST_F(NodeInspectTest, LocateNamesThePartitionItsOwnerAndTheBucketsPrimaries) {
  const LocateReply location = Locate("k");
  EXPECT_EQ(location.id.bucket, "b");
  EXPECT_EQ(location.id.key, "k");
  EXPECT_LT(location.partition, config_.partition_count);
  EXPECT_EQ(location.n, 3u);  // the default bucket n; a standalone node is its only replica
  EXPECT_EQ(location.owner, config_.node_id);
  EXPECT_FALSE(location.pending_owner.has_value());
  EXPECT_EQ(location.primaries, std::vector<std::string>{config_.node_id});
  EXPECT_TRUE(location.fallbacks.empty());

  BucketPropsPatch one;
  one.n = 1;
  SetBucket("single", one);
  EXPECT_EQ(Locate("k", "single").n, 1u);
  // The partition depends on bucket and key (the local copy reports the same one).
  EXPECT_EQ(Local("k").partition, location.partition);
}

TEST_F(NodeInspectTest, LocalCopyShowsEveryStoredSiblingWithItsDotAndWritesNothing) {
  EXPECT_FALSE(Local("k").object.has_value());
  Put("k", "first");
  Put("k", "second");  // blind: a sibling
  Delete("gone");

  const auto before = Snapshot(engine_);
  const LocalCopyReply copy = Local("k");
  EXPECT_EQ(Snapshot(engine_), before) << "a local read changed the engine";
  EXPECT_EQ(copy.node, config_.node_id);
  EXPECT_TRUE(copy.holds_replica);
  EXPECT_FALSE(copy.hint.has_value());
  ASSERT_TRUE(copy.object.has_value());
  const auto& siblings = copy.object->siblings();
  ASSERT_EQ(siblings.size(), 2u);
  EXPECT_EQ(siblings[0].value, "first");
  EXPECT_EQ(siblings[1].value, "second");
  EXPECT_EQ(siblings[0].dot.actor, siblings[1].dot.actor);  // one partition actor minted both
  EXPECT_EQ(siblings[0].dot.counter + 1, siblings[1].dot.counter);
  EXPECT_EQ(copy.object->clock().Get(siblings[1].dot.actor), siblings[1].dot.counter);

  const LocalCopyReply deleted = Local("gone");  // a tombstone is a stored version too
  ASSERT_TRUE(deleted.object.has_value());
  ASSERT_EQ(deleted.object->siblings().size(), 1u);
  EXPECT_TRUE(deleted.object->siblings()[0].tombstone);
}

// A hint is reported apart from the replica copy, with the primaries it is owed to; a replica
// read (GET) merges the two, the local copy does not.
TEST_F(NodeInspectTest, LocalCopyReportsAHintRecordApartFromTheReplicaCopy) {
  Put("k", "replica-copy");
  const std::uint32_t partition = Local("k").partition;
  DvvSet hinted;
  VersionVector empty;
  hinted.Update(empty, /*actor=*/77, HlcTimestamp::FromParts(1'700'000'000'000, 0),
                /*tombstone=*/false, "hinted-copy", ConflictPolicy::kSiblings);
  replication::HintRecord record{{"node2", "node3"}, hinted};
  storage::WriteBatch batch;
  batch.Put(storage::Column::kHints, storage::EncodeObjectKey(partition, "b", "k"),
            replication::EncodeHintRecord(record));
  ASSERT_TRUE(engine_.Write(batch, storage::WriteOptions{}).ok());

  const LocalCopyReply copy = Local("k");
  ASSERT_TRUE(copy.object.has_value());
  ASSERT_EQ(copy.object->siblings().size(), 1u);
  EXPECT_EQ(copy.object->siblings()[0].value, "replica-copy");
  ASSERT_TRUE(copy.hint.has_value());
  EXPECT_EQ(copy.hint->targets, (std::vector<std::string>{"node2", "node3"}));
  EXPECT_EQ(copy.hint->object, hinted);
  EXPECT_EQ(Get("k").values.size(), 2u);  // a read sees both copies merged
}

TEST_F(NodeInspectTest, InvalidObjectIdsAreRefusedAsForObjectRequests) {
  for (const ClientRequest& request : {ClientRequest(ClusterLocateRequest{{"bad bucket", "k"}}),
                                       ClientRequest(ClusterLocalRequest{{"b", ""}})}) {
    EXPECT_EQ(Call(request).status.code(), StatusCode::kInvalidArgument);
  }
  const std::string long_key(config_.key_bytes_max + 1, 'k');
  EXPECT_EQ(Call(ClusterLocateRequest{{"b", long_key}}).status.code(), StatusCode::kTooLarge);
  EXPECT_EQ(Call(ClusterLocalRequest{{"b", long_key}}).status.code(), StatusCode::kTooLarge);
}

TEST_F(NodeInspectTest, AnUnreadableStoredCopyIsCorruption) {
  const std::uint32_t partition = Local("k").partition;
  storage::WriteBatch batch;
  batch.Put(storage::Column::kHints, storage::EncodeObjectKey(partition, "b", "k"), "garbage");
  ASSERT_TRUE(engine_.Write(batch, storage::WriteOptions{}).ok());
  EXPECT_EQ(Call(ClusterLocalRequest{{"b", "k"}}).status.code(), StatusCode::kCorruption);
}

}  // namespace
}  // namespace meridian::node
