#include "cluster/cluster_state.h"

#include <xxhash.h>

#include <algorithm>
#include <tuple>

#include "core/assert.h"

namespace meridian::cluster {

std::uint64_t RingContentHash(const Ring& ring) {
  XXH3_state_t* state = XXH3_createState();
  MERIDIAN_CHECK(state != nullptr);
  XXH3_64bits_reset(state);
  const std::uint32_t partition_count = ring.partition_count();
  XXH3_64bits_update(state, &partition_count, sizeof partition_count);
  const char separator = '\0';
  for (std::uint32_t partition = 0; partition < partition_count; ++partition) {
    const NodeId& owner = ring.Owner(partition);
    XXH3_64bits_update(state, owner.data(), owner.size());
    XXH3_64bits_update(state, &separator, 1);
    const NodeId& future_owner = ring.FutureOwner(partition);
    if (future_owner != owner) XXH3_64bits_update(state, future_owner.data(), future_owner.size());
    XXH3_64bits_update(state, &separator, 1);
  }
  const std::uint64_t hash = XXH3_64bits_digest(state);
  XXH3_freeState(state);
  return hash;
}

bool RingSupersedes(const RingVersionKey& candidate, const RingVersionKey& current) {
  if (candidate.version != current.version) return candidate.version > current.version;
  // Equal versions from different claimants (split brain): the smaller claimant id wins.
  if (candidate.claimant != current.claimant) return candidate.claimant < current.claimant;
  return candidate.content_hash < current.content_hash;
}

ClusterState::ClusterState(std::string cluster_name, std::uint32_t partition_count)
    : cluster_name_(std::move(cluster_name)), ring_(std::make_shared<const Ring>(partition_count)) {
  ring_key_.content_hash = RingContentHash(*ring_);
}

namespace {

template <typename Members>
auto LowerBound(Members& members, const NodeId& id) {
  return std::lower_bound(members.begin(), members.end(), id,
                          [](const ClusterState::MemberPointer& member, const NodeId& key) {
                            return member->id < key;
                          });
}

}  // namespace

const Member* ClusterState::FindMember(const NodeId& id) const {
  const auto it = LowerBound(members_, id);
  if (it == members_.end() || (*it)->id != id) return nullptr;
  return it->get();
}

bool ClusterState::MergeMember(MemberPointer member) {
  MERIDIAN_DCHECK(ValidateMember(*member).ok());
  auto it = LowerBound(members_, member->id);
  if (it != members_.end() && (*it)->id == member->id) {
    Member merged = MergeMembers(*member, **it);
    if (merged == **it) return false;
    *it = merged == *member ? std::move(member) : std::make_shared<const Member>(std::move(merged));
  } else {
    members_.insert(it, std::move(member));
  }
  digest_hash_valid_ = false;
  return true;
}

void ClusterState::PutMember(const Member& member) {
  MERIDIAN_CHECK(ValidateMember(member).ok());
  auto pointer = std::make_shared<const Member>(member);
  auto it = LowerBound(members_, member.id);
  if (it != members_.end() && (*it)->id == member.id) {
    *it = std::move(pointer);
  } else {
    members_.insert(it, std::move(pointer));
  }
  digest_hash_valid_ = false;
}

bool ClusterState::MergeRing(std::shared_ptr<const Ring> ring, std::uint64_t content_hash,
                             const NodeId& claimant) {
  const RingVersionKey key{ring->version(), content_hash, claimant};
  if (!RingSupersedes(key, ring_key_)) return false;
  PutRing(std::move(ring), content_hash, claimant);
  return true;
}

void ClusterState::PutRing(std::shared_ptr<const Ring> ring, std::uint64_t content_hash,
                           const NodeId& claimant) {
  MERIDIAN_CHECK(ring->partition_count() == ring_->partition_count());
  MERIDIAN_DCHECK(content_hash == RingContentHash(*ring));
  ring_key_ = RingVersionKey{ring->version(), content_hash, claimant};
  ring_ = std::move(ring);
  digest_hash_valid_ = false;
}

const BucketPropsRecord* ClusterState::FindBucketProps(const std::string& bucket) const {
  auto it = bucket_props_.find(bucket);
  return it == bucket_props_.end() ? nullptr : &it->second;
}

bool ClusterState::MergeBucketProps(const std::string& bucket, const BucketPropsRecord& record) {
  auto [it, inserted] = bucket_props_.emplace(bucket, record);
  if (!inserted) {
    if (std::tie(record.version, record.origin) <=
        std::tie(it->second.version, it->second.origin)) {
      return false;
    }
    it->second = record;
  }
  digest_hash_valid_ = false;
  return true;
}

bool ClusterState::Merge(const ClusterState& other) {
  MERIDIAN_CHECK(other.partition_count() == partition_count());
  bool changed = false;
  for (const MemberPointer& member : other.members_) changed |= MergeMember(member);
  for (const auto& [bucket, record] : other.bucket_props_) {
    changed |= MergeBucketProps(bucket, record);
  }
  changed |= MergeRing(other.ring_, other.ring_key_.content_hash, other.ring_key_.claimant);
  return changed;
}

std::uint64_t ClusterState::DigestHash() const {
  if (digest_hash_valid_) return digest_hash_;
  XXH3_state_t* state = XXH3_createState();
  MERIDIAN_CHECK(state != nullptr);
  XXH3_64bits_reset(state);
  const char separator = '\0';
  for (const MemberPointer& member : members_) {
    XXH3_64bits_update(state, member->id.data(), member->id.size());
    XXH3_64bits_update(state, &separator, 1);
    XXH3_64bits_update(state, &member->incarnation, sizeof member->incarnation);
    XXH3_64bits_update(state, &member->version, sizeof member->version);
  }
  XXH3_64bits_update(state, &ring_key_.version, sizeof ring_key_.version);
  XXH3_64bits_update(state, &ring_key_.content_hash, sizeof ring_key_.content_hash);
  XXH3_64bits_update(state, ring_key_.claimant.data(), ring_key_.claimant.size());
  for (const auto& [bucket, record] : bucket_props_) {
    XXH3_64bits_update(state, bucket.data(), bucket.size());
    XXH3_64bits_update(state, &separator, 1);
    XXH3_64bits_update(state, &record.version, sizeof record.version);
    XXH3_64bits_update(state, record.origin.data(), record.origin.size());
    XXH3_64bits_update(state, &separator, 1);
  }
  digest_hash_ = XXH3_64bits_digest(state);
  XXH3_freeState(state);
  digest_hash_valid_ = true;
  return digest_hash_;
}

bool operator==(const ClusterState& a, const ClusterState& b) {
  if (a.cluster_name_ != b.cluster_name_) return false;
  if (a.ring_key_ != b.ring_key_) return false;
  if (a.ring_ != b.ring_ && !(*a.ring_ == *b.ring_)) return false;
  if (a.bucket_props_ != b.bucket_props_) return false;
  return std::equal(a.members_.begin(), a.members_.end(), b.members_.begin(), b.members_.end(),
                    [](const ClusterState::MemberPointer& x, const ClusterState::MemberPointer& y) {
                      return x == y || *x == *y;
                    });
}

}  // namespace meridian::cluster
