#include "node/peer_route.h"

#include <string_view>

#include "core/assert.h"
#include "core/hash.h"
#include "node/request_ids.h"
#include "storage/key_encoding.h"

namespace meridian::node {
namespace {

PeerRoute ToPartition(std::uint32_t partition, std::uint32_t partition_count,
                      std::uint32_t shard_count) {
  // Outside the ring: shard 0's handler refuses it.
  if (partition >= partition_count) return {PeerRoute::To::kShard, 0};
  return {PeerRoute::To::kShard, ShardOfPartition(partition, partition_count, shard_count)};
}

PeerRoute ToStorageKey(std::string_view storage_key, std::uint32_t partition_count,
                       std::uint32_t shard_count) {
  if (storage_key.size() < 4) return {PeerRoute::To::kShard, 0};  // malformed: refused there
  return ToPartition(storage::PartitionOfKey(storage_key), partition_count, shard_count);
}

PeerRoute ToRequester(std::uint64_t request_id, std::uint32_t shard_count) {
  const auto shard = ShardOfRequestId(request_id, shard_count);
  if (!shard) return {PeerRoute::To::kNowhere, 0};
  return {PeerRoute::To::kShard, *shard};
}

constexpr PeerRoute kShell{PeerRoute::To::kShell, 0};

}  // namespace

PeerRoute RoutePeerMessage(const proto::PeerMessage& message, std::uint32_t partition_count,
                           std::uint32_t shard_count) {
  MERIDIAN_CHECK(shard_count >= 1 && partition_count >= shard_count);
  using M = proto::PeerMessage;
  switch (message.body_case()) {
    // Requests about one partition.
    case M::kKvRequest: {
      const proto::KvRequest& request = message.kv_request();
      return ToPartition(PartitionOf(ObjectHash(request.bucket(), request.key()), partition_count),
                         partition_count, shard_count);
    }
    case M::kReplicaWrite:
      return ToStorageKey(message.replica_write().storage_key(), partition_count, shard_count);
    case M::kReplicaRead:
      return ToStorageKey(message.replica_read().storage_key(), partition_count, shard_count);
    case M::kStrongRequest:
      return ToStorageKey(message.strong_request().storage_key(), partition_count, shard_count);
    case M::kHandoffBatch:
      return ToPartition(message.handoff_batch().partition(), partition_count, shard_count);
    case M::kHandoffAck:
      return ToPartition(message.handoff_ack().partition(), partition_count, shard_count);
    case M::kHandoffMirror:
      return ToPartition(message.handoff_mirror().partition(), partition_count, shard_count);
    case M::kHintBatch:
      return ToPartition(message.hint_batch().partition(), partition_count, shard_count);
    case M::kHintAck:
      return ToPartition(message.hint_ack().partition(), partition_count, shard_count);
    case M::kReplicaFillRequest:
      return ToPartition(message.replica_fill_request().partition(), partition_count, shard_count);
    case M::kAaeExchangeStart:
      return ToPartition(message.aae_exchange_start().partition(), partition_count, shard_count);
    case M::kAaeSegmentHashes:
      return ToPartition(message.aae_segment_hashes().partition(), partition_count, shard_count);
    case M::kAaeKeyHashes:
      return ToPartition(message.aae_key_hashes().partition(), partition_count, shard_count);
    case M::kAaeRepair:
      return ToPartition(message.aae_repair().partition(), partition_count, shard_count);
    case M::kReapCommit:
      return ToPartition(message.reap_commit().partition(), partition_count, shard_count);
    // A reaping round's partitions all belong to one shard of every member: the shard of its
    // first partition (docs/design/tombstones.md, "Shards").
    case M::kReapPrepare: {
      const proto::ReapPrepare& prepare = message.reap_prepare();
      if (prepare.partitions_size() == 0) return {PeerRoute::To::kShard, 0};
      return ToPartition(prepare.partitions(0).partition(), partition_count, shard_count);
    }
    case M::kReapPrepared:
      return ToPartition(message.reap_prepared().route_partition(), partition_count, shard_count);
    case M::kReapMarker:
      return ToPartition(message.reap_marker().route_partition(), partition_count, shard_count);
    case M::kReapAnswer:
      return ToPartition(message.reap_answer().route_partition(), partition_count, shard_count);
    case M::kStrongScanRequest:
      return ToPartition(message.strong_scan_request().partition(), partition_count, shard_count);
    case M::kStrongInstallRequest:
      return ToPartition(message.strong_install_request().partition(), partition_count,
                         shard_count);

    // Answers to requests this node made: the shard that made them.
    case M::kKvReply:
      return ToRequester(message.kv_reply().request_id(), shard_count);
    case M::kReplicaWriteAck:
      return ToRequester(message.replica_write_ack().request_id(), shard_count);
    case M::kReplicaReadReply:
      return ToRequester(message.replica_read_reply().request_id(), shard_count);
    case M::kStrongReply:
      return ToRequester(message.strong_reply().request_id(), shard_count);
    case M::kStrongScanReply:
      return ToRequester(message.strong_scan_reply().request_id(), shard_count);
    case M::kStrongInstallReply:
      return ToRequester(message.strong_install_reply().request_id(), shard_count);

    // Node-wide.
    case M::kGossipSyn:
    case M::kGossipDigest:
    case M::kGossipDelta:
    case M::kJoinRequest:
    case M::kTransferComplete:
    case M::kBucketCheckRequest:
    case M::kBucketCheckReply:
    case M::kHeartbeatPing:
    case M::kHeartbeatPong:
    case M::kMemberReportRequest:
    case M::kMemberReportReply:
      return kShell;

    // The transport's own (never delivered upwards), or nothing.
    case M::kLinkHeartbeat:
    case M::BODY_NOT_SET:
      return {PeerRoute::To::kNowhere, 0};
  }
  return {PeerRoute::To::kNowhere, 0};  // an out-of-range body case (not a known enumerator)
}

}  // namespace meridian::node
