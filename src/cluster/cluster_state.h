// ClusterState: what gossip spreads — the cluster's name and partition count, every member's
// record (sorted by id) and the ring with the claimant that published it.
//
// Merge: per member, MergeMembers (member.h); rings are ordered by RingSupersedes (higher
// version; at equal version the smaller claimant id — split-brain claimants — then the smaller
// content hash). Merge is commutative, associative and idempotent in the resulting state.
//
// Sharing: member records and the ring are immutable once stored and held by shared pointers,
// so copies of a ClusterState (one per node in a simulation) share them; changing a record or
// the ring replaces the pointer. The digest hash is cached and recomputed on change.
// Value type; not thread-safe (copies may be used from different threads).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cluster/member.h"
#include "cluster/node_id.h"
#include "cluster/ring.h"
#include "core/bucket_props.h"

namespace meridian::cluster {

// 64-bit hash of a ring's partition count, owners and pending owners (not its version).
std::uint64_t RingContentHash(const Ring& ring);

// Identifies a ring state without its partitions.
struct RingVersionKey {
  std::uint64_t version = 0;
  std::uint64_t content_hash = 0;
  NodeId claimant;
  friend bool operator==(const RingVersionKey&, const RingVersionKey&) = default;
};

// True when a ring with key `candidate` should replace one with key `current`.
bool RingSupersedes(const RingVersionKey& candidate, const RingVersionKey& current);

// Bucket properties are cluster-wide configuration, gossiped with the membership. Of two
// records for a bucket the one with the greater (version, origin) wins; `version` is the HLC
// timestamp of the change at the node that made it.
struct BucketPropsRecord {
  BucketProps props;
  std::uint64_t version = 0;
  NodeId origin;
  friend bool operator==(const BucketPropsRecord&, const BucketPropsRecord&) = default;
};

class ClusterState {
 public:
  using MemberPointer = std::shared_ptr<const Member>;

  // No members and an unowned ring at version 0.
  ClusterState(std::string cluster_name, std::uint32_t partition_count);

  const std::string& cluster_name() const { return cluster_name_; }
  std::uint32_t partition_count() const { return ring_->partition_count(); }

  // Sorted by id.
  const std::vector<MemberPointer>& members() const { return members_; }
  // Null when the id is unknown.
  const Member* FindMember(const NodeId& id) const;
  // Stores `member` if it supersedes the stored record (or the id is new). Returns whether
  // the state changed. Requires ValidateMember(member).ok().
  bool MergeMember(MemberPointer member);
  bool MergeMember(const Member& member) { return MergeMember(std::make_shared<Member>(member)); }
  // Stores `member` unconditionally (a local change; the caller raised its version).
  void PutMember(const Member& member);

  const Ring& ring() const { return *ring_; }
  const std::shared_ptr<const Ring>& shared_ring() const { return ring_; }
  const RingVersionKey& ring_key() const { return ring_key_; }
  const NodeId& ring_claimant() const { return ring_key_.claimant; }
  // Replaces the ring if RingSupersedes; returns whether it did. `content_hash` must be
  // RingContentHash(*ring) (callers usually have it already).
  bool MergeRing(std::shared_ptr<const Ring> ring, std::uint64_t content_hash,
                 const NodeId& claimant);
  // Replaces the ring unconditionally (the claimant's own change).
  void PutRing(std::shared_ptr<const Ring> ring, std::uint64_t content_hash,
               const NodeId& claimant);

  // Every configured bucket, by name. Buckets never configured have the defaults.
  const std::map<std::string, BucketPropsRecord>& bucket_props() const { return bucket_props_; }
  const BucketPropsRecord* FindBucketProps(const std::string& bucket) const;
  // Stores `record` if it supersedes the stored one (or the bucket is new); returns whether
  // the state changed.
  bool MergeBucketProps(const std::string& bucket, const BucketPropsRecord& record);

  // Merges every member, the ring and the bucket properties of `other` (same cluster name and
  // partition count).
  // Returns whether anything changed.
  bool Merge(const ClusterState& other);

  // Hash over (id, incarnation, version) of every member, the ring version, content hash and
  // claimant, and every bucket-properties record: equal digests mean (with overwhelming
  // probability) equal states.
  std::uint64_t DigestHash() const;

  // Same members and ring.
  friend bool operator==(const ClusterState& a, const ClusterState& b);

 private:
  std::string cluster_name_;
  std::vector<MemberPointer> members_;
  std::shared_ptr<const Ring> ring_;
  RingVersionKey ring_key_;
  std::map<std::string, BucketPropsRecord> bucket_props_;
  mutable std::uint64_t digest_hash_ = 0;
  mutable bool digest_hash_valid_ = false;
};

}  // namespace meridian::cluster
