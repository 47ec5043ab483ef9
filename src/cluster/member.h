// Member: one node's record in the cluster state — addresses, zone, weight, status — and the
// version key that orders records of the same node across the cluster.
//
// Ordering: of two records for the same id the one with the higher (version, incarnation) wins;
// the member itself raises `incarnation` on every restart, whoever changes the record raises
// `version`. Equal keys with different content (two nodes changed the record concurrently)
// are ordered by a hash of the encoded record, so every node picks the same winner and merge is
// commutative, associative and idempotent.
// Value type; not thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "cluster/node_id.h"
#include "core/status.h"

namespace meridian::cluster {

enum class MemberStatus : std::uint8_t {
  kJoining = 1,  // asked to join; the claimant gives it partitions and moves it to up
  kUp = 2,       // a full member; may own partitions
  kLeaving = 3,  // its partitions are moving away; removed once it owns nothing
  kRemoved = 4,  // no longer a member (kept as a tombstone so the removal spreads)
};

std::string_view MemberStatusName(MemberStatus status);

struct Member {
  NodeId id;
  std::string peer_address;  // "host:port" of the peer transport
  std::string http_address;  // "host:port" of the client API
  std::string zone;          // rack / data centre; "" when unknown
  std::uint32_t weight = 1;  // relative capacity; > 0
  MemberStatus status = MemberStatus::kJoining;
  std::uint64_t incarnation = 0;  // raised by the member on every restart
  std::uint64_t version = 0;      // raised by whoever changes the record
  // Raised when a removed member joins again: a new membership, whose status starts over.
  std::uint64_t generation = 0;
  // The shards its partitions are split over (fixed when its data was created; reaping rounds
  // are grouped by it, docs/design/tombstones.md "Shards"). 1 for nodes that predate it.
  std::uint32_t shards = 1;
  // What its software can do that earlier releases could not (kMemberFeature* bits), so that
  // others use it only with members that have it. 0 for nodes that predate it.
  std::uint64_t features = 0;

  friend bool operator==(const Member&, const Member&) = default;
};

// Applies a forwarded write under the version its forwarder fixed (node::FixedVersion).
inline constexpr std::uint64_t kMemberFeatureFixedVersions = 1;
// Every feature of this release.
inline constexpr std::uint64_t kMemberFeaturesOfThisRelease = kMemberFeatureFixedVersions;

// The most shards a member may name (a sanity bound on gossiped records).
inline constexpr std::uint32_t kMemberShardsMax = 4096;

// InvalidArgument unless the id is valid, the weight positive, the shard count between 1 and
// kMemberShardsMax and the status known.
Status ValidateMember(const Member& member);

// A 64-bit hash of every field (the tie-break between equal version keys).
std::uint64_t MemberContentHash(const Member& member);

// What two records of one member (same id) merge to. A higher generation wins whole. Within a
// generation the status never moves back in its lifecycle (joining, up, leaving, removed: the
// order of MemberStatus), whatever record it came from, and every other field comes from the
// record with the higher (version, incarnation), ties broken by a hash of those fields. So two
// changes made at once from different records both survive where they can: a leave asked of
// a joiner that had not yet heard it is up keeps it leaving, although the claimant's move to
// up was made from a newer record. Commutative, associative and idempotent: every node ends
// with the same record whatever order the records arrive in.
Member MergeMembers(const Member& a, const Member& b);

// True when merging `candidate` into `current` (same id) changes it. False for identical
// records.
bool MemberSupersedes(const Member& candidate, const Member& current);

// True for the statuses that take part in ownership (claim) and gossip.
inline bool IsActive(MemberStatus status) {
  return status == MemberStatus::kJoining || status == MemberStatus::kUp;
}

}  // namespace meridian::cluster
