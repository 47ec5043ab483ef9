#include "node/cluster_state_record.h"

#include <memory>

#include "cluster/gossip_codec.h"
#include "core/hash.h"
#include "proto/node_state.pb.h"

namespace meridian::node {

std::string EncodeClusterStateRecord(const cluster::ClusterState& state) {
  proto::PersistedClusterState record;
  record.set_cluster_name(state.cluster_name());
  record.set_partition_count(state.partition_count());
  for (const auto& member : state.members()) cluster::EncodeMember(*member, record.add_members());
  cluster::EncodeRingVersion(state.ring_key(), record.mutable_ring_version());
  const cluster::Ring empty(state.partition_count());
  cluster::EncodeRingChanges(cluster::Ring::Diff(empty, state.ring()), record.mutable_ring());
  record.mutable_ring()->set_full(true);
  cluster::EncodeBucketProps(state, record.mutable_buckets());
  return record.SerializeAsString();
}

Result<cluster::ClusterState> DecodeClusterStateRecord(std::string_view bytes) {
  proto::PersistedClusterState record;
  if (!record.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return Status::Corruption("stored cluster state does not parse");
  }
  if (!IsValidPartitionCount(record.partition_count())) {
    return Status::Corruption("stored cluster state has an invalid partition count");
  }
  cluster::ClusterState state(record.cluster_name(), record.partition_count());
  for (const proto::GossipMember& encoded : record.members()) {
    auto member = cluster::DecodeMember(encoded);
    if (!member.ok()) {
      return Status::Corruption("stored cluster member is invalid: " + member.status().message());
    }
    state.PutMember(*member);
  }
  auto key = cluster::DecodeRingVersion(record.ring_version());
  auto changes = cluster::DecodeRingChanges(record.ring());
  if (!key.ok() || !changes.ok()) return Status::Corruption("stored ring is invalid");
  auto ring = std::make_shared<cluster::Ring>(record.partition_count());
  cluster::Ring::Delta delta = *changes;
  delta.base_version = 0;
  delta.version = key->version;
  if (!ring->Apply(delta).ok()) return Status::Corruption("stored ring does not apply");
  if (cluster::RingContentHash(*ring) != key->content_hash) {
    return Status::Corruption("stored ring does not match its content hash");
  }
  state.PutRing(std::move(ring), key->content_hash, key->claimant);
  for (const proto::BucketPropsEntry& entry : record.buckets()) {
    auto bucket_record = cluster::DecodeBucketPropsEntry(entry);
    if (!bucket_record.ok()) {
      return Status::Corruption("stored bucket properties are invalid: " +
                                bucket_record.status().message());
    }
    state.MergeBucketProps(entry.bucket(), *bucket_record);
  }
  return state;
}

}  // namespace meridian::node
