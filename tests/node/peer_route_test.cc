// RequestIds and RoutePeerMessage: how a node split into shards finds, for each message from a
// peer, the shard it is for (docs/design/write_path.md, "What a clustered node needs", step 1).
#include "node/peer_route.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "core/hash.h"
#include "node/request_ids.h"
#include "storage/key_encoding.h"

namespace meridian::node {
namespace {

constexpr std::uint32_t kPartitions = 64;

TEST(RequestIdsTest, OneShardMintsTheIdsItAlwaysDid) {
  RequestIds ids(std::uint64_t{3} << 40, 0, 1);
  EXPECT_EQ(ids.Next(), (std::uint64_t{3} << 40) + 1);
  EXPECT_EQ(ids.Next(), (std::uint64_t{3} << 40) + 2);
  EXPECT_EQ(ids.stride(), 1u);
  EXPECT_EQ(ShardBits(1), 0u);
  EXPECT_EQ(ShardOfRequestId(12345, 1), 0u);
}

TEST(RequestIdsTest, EachShardsIdsNameItAndNeverMeetAnotherShards) {
  for (std::uint32_t shards : {2u, 3u, 4u, 5u, 8u}) {
    std::set<std::uint64_t> seen;
    for (std::uint32_t s = 0; s < shards; ++s) {
      RequestIds ids(std::uint64_t{7} << 40, s, shards);
      for (int i = 0; i < 100; ++i) {
        const std::uint64_t id = ids.Next();
        EXPECT_NE(id, 0u);
        EXPECT_EQ(id >> 40, 7u) << "the incarnation stays in the high bits";
        EXPECT_EQ(ShardOfRequestId(id, shards), s) << shards << " shards, id " << id;
        EXPECT_TRUE(seen.insert(id).second) << "id " << id << " minted twice";
      }
    }
  }
  EXPECT_EQ(ShardBits(2), 1u);
  EXPECT_EQ(ShardBits(3), 2u);
  EXPECT_EQ(ShardBits(4), 2u);
  EXPECT_EQ(ShardBits(5), 3u);
  // Low bits naming a shard that does not exist: an answer to no request.
  EXPECT_FALSE(ShardOfRequestId(3, 3).has_value());
  EXPECT_FALSE(ShardOfRequestId((std::uint64_t{1} << 40) + 7, 5).has_value());
}

TEST(RequestIdsTest, ConsecutiveIdsAreAStrideApart) {
  RequestIds ids(0, 2, 3);
  const std::uint64_t first = ids.Next();
  EXPECT_EQ(ids.Next(), first + ids.stride());
  EXPECT_EQ(ids.stride(), 4u);
}

proto::PeerMessage ReplicaWriteFor(std::uint32_t partition) {
  proto::PeerMessage message;
  message.mutable_replica_write()->set_storage_key(storage::EncodeObjectKey(partition, "b", "k"));
  return message;
}

TEST(PeerRouteTest, EveryBodyHasARouteAndNodeWideOnesGoToTheShell) {
  // Walks the oneof by reflection, so a body added to peer.proto is covered without editing
  // this test (the router's switch has no default: it also fails to compile without a route).
  const google::protobuf::OneofDescriptor* body =
      proto::PeerMessage::descriptor()->FindOneofByName("body");
  ASSERT_NE(body, nullptr);
  const std::set<std::string> node_wide = {
      "gossip_syn",        "gossip_digest",         "gossip_delta",       "join_request",
      "transfer_complete", "bucket_check_request",  "bucket_check_reply", "heartbeat_ping",
      "heartbeat_pong",    "member_report_request", "member_report_reply"};
  int partition_or_requester = 0;
  for (int i = 0; i < body->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* field = body->field(i);
    proto::PeerMessage message;
    message.GetReflection()->MutableMessage(&message, field);  // sets the body, all defaults
    ASSERT_EQ(static_cast<int>(message.body_case()), field->number());
    const PeerRoute route = RoutePeerMessage(message, kPartitions, 4);
    if (node_wide.count(field->name()) != 0) {
      EXPECT_EQ(route, (PeerRoute{PeerRoute::To::kShell, 0})) << field->name();
    } else if (field->name() == "link_heartbeat") {
      EXPECT_EQ(route.to, PeerRoute::To::kNowhere) << "the transport's own";
    } else {
      // Defaults: partition 0, request id 0, a storage key too short (shard 0's), or the empty
      // bucket and key (whose partition's shard).
      const std::uint32_t want =
          field->name() == "kv_request"
              ? ShardOfPartition(PartitionOf(ObjectHash("", ""), kPartitions), kPartitions, 4)
              : 0;
      EXPECT_EQ(route, (PeerRoute{PeerRoute::To::kShard, want})) << field->name();
      ++partition_or_requester;
    }
  }
  EXPECT_EQ(partition_or_requester, body->field_count() - 12);
  EXPECT_EQ(RoutePeerMessage(proto::PeerMessage{}, kPartitions, 4).to, PeerRoute::To::kNowhere);
}

TEST(PeerRouteTest, MessagesAboutAPartitionGoToItsShard) {
  for (std::uint32_t shards : {1u, 2u, 3u, 4u}) {
    for (std::uint32_t p = 0; p < kPartitions; ++p) {
      const PeerRoute want{PeerRoute::To::kShard, p * shards / kPartitions};
      EXPECT_EQ(RoutePeerMessage(ReplicaWriteFor(p), kPartitions, shards), want);

      proto::PeerMessage read;
      read.mutable_replica_read()->set_storage_key(storage::EncodeObjectKey(p, "x", "y"));
      EXPECT_EQ(RoutePeerMessage(read, kPartitions, shards), want);

      proto::PeerMessage strong;
      strong.mutable_strong_request()->set_storage_key(storage::EncodeObjectKey(p, "x", "y"));
      EXPECT_EQ(RoutePeerMessage(strong, kPartitions, shards), want);

      proto::PeerMessage hints;
      hints.mutable_hint_batch()->set_partition(p);
      EXPECT_EQ(RoutePeerMessage(hints, kPartitions, shards), want);

      proto::PeerMessage handoff;
      handoff.mutable_handoff_batch()->set_partition(p);
      EXPECT_EQ(RoutePeerMessage(handoff, kPartitions, shards), want);

      proto::PeerMessage ack;
      ack.mutable_handoff_ack()->set_partition(p);
      EXPECT_EQ(RoutePeerMessage(ack, kPartitions, shards), want);

      proto::PeerMessage aae;
      aae.mutable_aae_repair()->set_partition(p);
      EXPECT_EQ(RoutePeerMessage(aae, kPartitions, shards), want);

      proto::PeerMessage reap;
      reap.mutable_reap_commit()->set_partition(p);
      EXPECT_EQ(RoutePeerMessage(reap, kPartitions, shards), want);

      proto::PeerMessage install;
      install.mutable_strong_install_request()->set_partition(p);
      EXPECT_EQ(RoutePeerMessage(install, kPartitions, shards), want);

      // A reaping round's messages: by its first partition.
      proto::PeerMessage prepare;
      prepare.mutable_reap_prepare()->add_partitions()->set_partition(p);
      prepare.mutable_reap_prepare()->add_partitions()->set_partition(kPartitions - 1 - p);
      EXPECT_EQ(RoutePeerMessage(prepare, kPartitions, shards), want);
      proto::PeerMessage prepared;
      prepared.mutable_reap_prepared()->set_route_partition(p);
      EXPECT_EQ(RoutePeerMessage(prepared, kPartitions, shards), want);
      proto::PeerMessage marker;
      marker.mutable_reap_marker()->set_route_partition(p);
      EXPECT_EQ(RoutePeerMessage(marker, kPartitions, shards), want);
      proto::PeerMessage answer;
      answer.mutable_reap_answer()->set_route_partition(p);
      EXPECT_EQ(RoutePeerMessage(answer, kPartitions, shards), want);
    }
  }
}

TEST(PeerRouteTest, AForwardedRequestGoesToTheShardOfItsKeysPartition) {
  constexpr std::uint32_t kShards = 3;
  for (int i = 0; i < 200; ++i) {
    const std::string key = "key-" + std::to_string(i);
    proto::PeerMessage message;
    message.mutable_kv_request()->set_bucket("photos");
    message.mutable_kv_request()->set_key(key);
    const PeerRoute route = RoutePeerMessage(message, kPartitions, kShards);
    ASSERT_EQ(route.to, PeerRoute::To::kShard);
    EXPECT_EQ(route.shard, ShardOfPartition(PartitionOf(ObjectHash("photos", key), kPartitions),
                                            kPartitions, kShards));
  }
}

TEST(PeerRouteTest, AnswersGoToTheShardThatAskedAndAnswersToNoOneAreDropped) {
  constexpr std::uint32_t kShards = 3;
  for (std::uint32_t s = 0; s < kShards; ++s) {
    RequestIds ids(std::uint64_t{2} << 40, s, kShards);
    proto::PeerMessage ack;
    ack.mutable_replica_write_ack()->set_request_id(ids.Next());
    EXPECT_EQ(RoutePeerMessage(ack, kPartitions, kShards), (PeerRoute{PeerRoute::To::kShard, s}));
    proto::PeerMessage reply;
    reply.mutable_kv_reply()->set_request_id(ids.Next());
    EXPECT_EQ(RoutePeerMessage(reply, kPartitions, kShards), (PeerRoute{PeerRoute::To::kShard, s}));
    proto::PeerMessage read;
    read.mutable_replica_read_reply()->set_request_id(ids.Next());
    EXPECT_EQ(RoutePeerMessage(read, kPartitions, kShards), (PeerRoute{PeerRoute::To::kShard, s}));
    proto::PeerMessage strong;
    strong.mutable_strong_reply()->set_request_id(ids.Next());
    EXPECT_EQ(RoutePeerMessage(strong, kPartitions, kShards),
              (PeerRoute{PeerRoute::To::kShard, s}));
  }
  proto::PeerMessage stray;
  stray.mutable_replica_write_ack()->set_request_id((std::uint64_t{2} << 40) + 3);  // "shard 3"
  EXPECT_EQ(RoutePeerMessage(stray, kPartitions, kShards).to, PeerRoute::To::kNowhere);
}

TEST(PeerRouteTest, AMalformedMessageGoesToShardZeroWhichRefusesIt) {
  proto::PeerMessage outside;
  outside.mutable_handoff_batch()->set_partition(kPartitions);  // outside the ring
  EXPECT_EQ(RoutePeerMessage(outside, kPartitions, 4), (PeerRoute{PeerRoute::To::kShard, 0}));
  proto::PeerMessage short_key;
  short_key.mutable_replica_write()->set_storage_key("ab");
  EXPECT_EQ(RoutePeerMessage(short_key, kPartitions, 4), (PeerRoute{PeerRoute::To::kShard, 0}));
  proto::PeerMessage beyond;
  beyond.mutable_replica_read()->set_storage_key(
      storage::EncodeObjectKey(kPartitions + 5, "b", "k"));
  EXPECT_EQ(RoutePeerMessage(beyond, kPartitions, 4), (PeerRoute{PeerRoute::To::kShard, 0}));
}

}  // namespace
}  // namespace meridian::node
