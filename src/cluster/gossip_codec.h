// Gossip codec: conversions between the membership types (Member, RingVersionKey, Ring::Delta)
// and their wire messages (proto/gossip.proto). Decoding validates what arrives from the
// network and reports malformed input as InvalidArgument. Pure functions.
#pragma once

#include "cluster/cluster_state.h"
#include "cluster/member.h"
#include "cluster/ring.h"
#include "core/status.h"
#include "proto/gossip.pb.h"

namespace meridian::cluster {

void EncodeMember(const Member& member, proto::GossipMember* out);
Result<Member> DecodeMember(const proto::GossipMember& message);

void EncodeRingVersion(const RingVersionKey& key, proto::RingVersion* out);
Result<RingVersionKey> DecodeRingVersion(const proto::RingVersion& message);

// Changes only; the caller fills base/result/full.
void EncodeRingChanges(const Ring::Delta& delta, proto::RingDelta* out);
// A Ring::Delta with base/result versions taken from the message's keys. Checks the ids.
Result<Ring::Delta> DecodeRingChanges(const proto::RingDelta& message);

// Every bucket record of `state`, in bucket order.
void EncodeBucketProps(const ClusterState& state,
                       google::protobuf::RepeatedPtrField<proto::BucketPropsEntry>* out);
// One bucket's record.
void EncodeBucketPropsEntry(const std::string& bucket, const BucketPropsRecord& record,
                            proto::BucketPropsEntry* out);
// InvalidArgument for a bad bucket name, origin or properties.
Result<BucketPropsRecord> DecodeBucketPropsEntry(const proto::BucketPropsEntry& entry);
// Order-independent hash of bucket records, equal for equal sets (to skip needless resends).
std::uint64_t BucketPropsHash(const ClusterState& state);
std::uint64_t BucketPropsHashOf(
    const google::protobuf::RepeatedPtrField<proto::BucketPropsEntry>& entries);

}  // namespace meridian::cluster
