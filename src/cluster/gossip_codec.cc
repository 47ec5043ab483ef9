#include "cluster/gossip_codec.h"

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
