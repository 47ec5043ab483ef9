// A strong bucket on one node: the coordinator side over its own acceptor, the bucket
// property's rules, and the fast path counted in the node's stats.
#include <gtest/gtest.h>

#include "node/node_test_util.h"
#include "proto/peer.pb.h"
#include "storage/key_encoding.h"
#include "storage/segment_ordered_objects.h"

namespace meridian::node {
namespace {

using test_support::NodeFixture;

class StrongBucketTest : public NodeFixture {
 protected:
  void MakeStrong(const std::string& bucket = "b") {
    EXPECT_EQ(SetBucket(bucket, BucketPropsPatch{.consistency = Consistency::kStrong}).consistency,
              Consistency::kStrong);
  }
};

TEST_F(StrongBucketTest, PutGetDeleteWithOneValueAndAContextPerWrite) {
  MakeStrong();
  EXPECT_FALSE(Get("k").found);
  const WriteReply first = Put("k", "v1");
  EXPECT_EQ(first.context.substr(0, 2), "s.");
  EXPECT_TRUE(first.durable);
  GetReply got = Get("k");
  ASSERT_TRUE(got.found);
  ASSERT_EQ(got.values.size(), 1u);
  EXPECT_EQ(got.values[0].value, "v1");
  EXPECT_EQ(got.context, first.context);

  const WriteReply second = Put("k", "v2");
  EXPECT_NE(second.context, first.context);
  got = Get("k");
  ASSERT_EQ(got.values.size(), 1u);  // never siblings
  EXPECT_EQ(got.values[0].value, "v2");

  const WriteReply deleted = Delete("k");
  got = Get("k");
  EXPECT_FALSE(got.found);
  EXPECT_EQ(got.context, deleted.context);  // the delete's version

  // The first write took two round trips, every other operation one.
  const NodeStats stats = node_->Stats();
  EXPECT_EQ(stats.strong_operations, 7u);
  EXPECT_EQ(stats.strong_one_round_trip, 6u);
  EXPECT_EQ(stats.strong_round_trips, 8u);
  EXPECT_EQ(stats.strong_in_flight, 0u);
}

TEST_F(StrongBucketTest, ValuesSurviveARestartAndACrash) {
  MakeStrong();
  Put("k", "v1");
  Restart();
  EXPECT_EQ(Get("k").values.at(0).value, "v1");
  Put("k", "v2");  // from a cold fast path: a full round again
  Crash();
  EXPECT_EQ(Get("k").values.at(0).value, "v2");
}

// A coordinator that has not yet heard that a bucket is strong would replicate and read it as
// eventual: a node that knows refuses that traffic, so nothing lands beside the acceptor state
// and no stale "not found" is answered.
TEST_F(StrongBucketTest, EventualReplicaTrafficForAStrongBucketIsRefused) {
  Put("k", "v");  // an eventual object, whose encoding the forged replica write reuses
  const auto located = std::get<LocateReply>(Call(ClusterLocateRequest{{"b", "k"}}).body);
  const std::string eventual_key = storage::EncodeObjectKey(located.partition, "b", "k");
  auto encoded =
      storage::SegmentOrderedObjects(engine_).Get(storage::Column::kObjects, eventual_key);
  ASSERT_TRUE(encoded.ok() && encoded->has_value());
  MakeStrong("s");
  const auto strong_located = std::get<LocateReply>(Call(ClusterLocateRequest{{"s", "k"}}).body);
  const std::string strong_key = storage::EncodeObjectKey(strong_located.partition, "s", "k");

  proto::PeerMessage write;
  write.mutable_replica_write()->set_request_id(7);
  write.mutable_replica_write()->set_storage_key(strong_key);
  write.mutable_replica_write()->set_encoded_object(**encoded);
  proto::PeerMessage read;
  read.mutable_replica_read()->set_request_id(8);
  read.mutable_replica_read()->set_storage_key(strong_key);
  node_->Receive("127.0.0.2:7001", write);
  node_->Receive("127.0.0.2:7001", read);
  int refused = 0;
  for (const cluster::Outbound& out : node_->TakeOutbound()) {
    std::uint32_t code = 0;
    std::string message;
    if (out.message.has_replica_write_ack()) {
      code = out.message.replica_write_ack().status_code();
      message = out.message.replica_write_ack().status_message();
    } else if (out.message.has_replica_read_reply()) {
      code = out.message.replica_read_reply().status_code();
      message = out.message.replica_read_reply().status_message();
      EXPECT_FALSE(out.message.replica_read_reply().found());
    } else {
      continue;
    }
    ++refused;
    EXPECT_EQ(code, static_cast<std::uint32_t>(StatusCode::kUnavailable));
    EXPECT_NE(message.find("is strong on this node"), std::string::npos) << message;
  }
  EXPECT_EQ(refused, 2);
  auto stored = storage::SegmentOrderedObjects(engine_).Get(storage::Column::kObjects, strong_key);
  ASSERT_TRUE(stored.ok());
  EXPECT_FALSE(stored->has_value()) << "the forged eventual copy must not land";
}

TEST_F(StrongBucketTest, QuorumOverridesAreRefused) {
  MakeStrong();
  RequestOptions options;
  options.w = QuorumValue::Number(1);
  ClientReply reply = Call(PutRequest{{"b", "k"}, "v", "", options});
  EXPECT_EQ(reply.status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(reply.status.message().find("do not apply to a strong bucket"), std::string::npos);
  EXPECT_FALSE(Get("k").found);
}

TEST_F(StrongBucketTest, ConsistencyChangesOnlyWhileTheBucketHoldsNoData) {
  Put("k", "eventual");  // bucket b has data
  ClientReply reply =
      Call(SetBucketRequest{"b", BucketPropsPatch{.consistency = Consistency::kStrong}});
  EXPECT_EQ(reply.status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(reply.status.message().find("holds data"), std::string::npos);

  MakeStrong("s");
  ClientReply put = Call(PutRequest{{"s", "k"}, "v", "", {}});
  ASSERT_TRUE(put.status.ok()) << put.status.ToString();
  reply = Call(SetBucketRequest{"s", BucketPropsPatch{.consistency = Consistency::kEventual}});
  EXPECT_EQ(reply.status.code(), StatusCode::kInvalidArgument);
  reply = Call(SetBucketRequest{"s", BucketPropsPatch{.n = 1}});
  EXPECT_EQ(reply.status.code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace meridian::node
