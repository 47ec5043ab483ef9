#include "cluster/gossip_codec.h"

#include <xxhash.h>

#include <algorithm>

#include "core/bucket_props.h"
#include "core/object_id.h"

namespace meridian::cluster {

void EncodeMember(const Member& member, proto::GossipMember* out) {
  out->set_id(member.id);
  out->set_peer_address(member.peer_address);
  out->set_http_address(member.http_address);
  out->set_zone(member.zone);
  out->set_weight(member.weight);
  out->set_status(static_cast<proto::MemberStatus>(member.status));
  out->set_incarnation(member.incarnation);
  out->set_version(member.version);
  out->set_generation(member.generation);
  if (member.shards > 1) out->set_shards(member.shards);
  if (member.features != 0) out->set_features(member.features);
}

Result<Member> DecodeMember(const proto::GossipMember& message) {
  Member member;
  member.id = message.id();
  member.peer_address = message.peer_address();
  member.http_address = message.http_address();
  member.zone = message.zone();
  member.weight = message.weight();
  const int status = message.status();
  if (status < static_cast<int>(MemberStatus::kJoining) ||
      status > static_cast<int>(MemberStatus::kRemoved)) {
    return Status::InvalidArgument("gossip member has an unknown status");
  }
  member.status = static_cast<MemberStatus>(status);
  member.incarnation = message.incarnation();
  member.version = message.version();
  member.generation = message.generation();
  member.shards = std::max<std::uint32_t>(message.shards(), 1);
  member.features = message.features();
  MERIDIAN_RETURN_IF_ERROR(ValidateMember(member));
  return member;
}

void EncodeRingVersion(const RingVersionKey& key, proto::RingVersion* out) {
  out->set_version(key.version);
  out->set_content_hash(key.content_hash);
  out->set_claimant(key.claimant);
}

Result<RingVersionKey> DecodeRingVersion(const proto::RingVersion& message) {
  RingVersionKey key{message.version(), message.content_hash(), message.claimant()};
  if (!key.claimant.empty()) MERIDIAN_RETURN_IF_ERROR(ValidateNodeId(key.claimant));
  return key;
}

void EncodeRingChanges(const Ring::Delta& delta, proto::RingDelta* out) {
  out->mutable_changes()->Reserve(static_cast<int>(delta.changes.size()));
  for (const Ring::Change& change : delta.changes) {
    proto::RingChange* encoded = out->add_changes();
    encoded->set_partition(change.partition);
    encoded->set_owner(change.owner);
    encoded->set_pending_owner(change.pending_owner);
  }
}

Result<Ring::Delta> DecodeRingChanges(const proto::RingDelta& message) {
  Ring::Delta delta;
  delta.base_version = message.base().version();
  delta.version = message.result().version();
  delta.changes.reserve(static_cast<std::size_t>(message.changes_size()));
  for (const proto::RingChange& change : message.changes()) {
    if (!change.owner().empty()) MERIDIAN_RETURN_IF_ERROR(ValidateNodeId(change.owner()));
    if (!change.pending_owner().empty()) {
      MERIDIAN_RETURN_IF_ERROR(ValidateNodeId(change.pending_owner()));
    }
    delta.changes.push_back({change.partition(), change.owner(), change.pending_owner()});
  }
  return delta;
}

}  // namespace meridian::cluster

namespace meridian::cluster {

void EncodeBucketProps(const ClusterState& state,
                       google::protobuf::RepeatedPtrField<proto::BucketPropsEntry>* out) {
  for (const auto& [bucket, record] : state.bucket_props()) {
    EncodeBucketPropsEntry(bucket, record, out->Add());
  }
}

void EncodeBucketPropsEntry(const std::string& bucket, const BucketPropsRecord& record,
                            proto::BucketPropsEntry* out) {
  out->set_bucket(bucket);
  out->set_props(EncodeBucketProps(record.props));
  out->set_version(record.version);
  out->set_origin(record.origin);
}

Result<BucketPropsRecord> DecodeBucketPropsEntry(const proto::BucketPropsEntry& entry) {
  MERIDIAN_RETURN_IF_ERROR(ValidateBucketName(entry.bucket()));
  MERIDIAN_RETURN_IF_ERROR(ValidateNodeId(entry.origin()));
  auto props = meridian::DecodeBucketProps(entry.props());
  if (!props.ok()) return Status::InvalidArgument("bucket record: " + props.status().message());
  return BucketPropsRecord{*props, entry.version(), entry.origin()};
}

namespace {
// A record's hash; sets are hashed by summing, which does not depend on order.
std::uint64_t RecordHash(std::string_view bucket, std::string_view encoded_props,
                         std::uint64_t version, std::string_view origin) {
  std::string bytes;
  bytes.append(bucket).push_back('\0');
  bytes.append(encoded_props).push_back('\0');
  bytes.append(reinterpret_cast<const char*>(&version), sizeof version);
  bytes.append(origin);
  return XXH3_64bits(bytes.data(), bytes.size());
}
}  // namespace

std::uint64_t BucketPropsHash(const ClusterState& state) {
  std::uint64_t sum = 0;
  for (const auto& [bucket, record] : state.bucket_props()) {
    sum += RecordHash(bucket, EncodeBucketProps(record.props), record.version, record.origin);
  }
  return sum;
}

std::uint64_t BucketPropsHashOf(
    const google::protobuf::RepeatedPtrField<proto::BucketPropsEntry>& entries) {
  std::uint64_t sum = 0;
  for (const proto::BucketPropsEntry& entry : entries) {
    sum += RecordHash(entry.bucket(), entry.props(), entry.version(), entry.origin());
  }
  return sum;
}

}  // namespace meridian::cluster
