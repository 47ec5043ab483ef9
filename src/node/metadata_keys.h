// Keys of the metadata column family and the encodings of their values.
// ON-DISK FORMAT: docs/format/storage.md; never change without a format version bump.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace meridian::node {

// The storage format of the data directory (4 bytes LE). Written on first start.
// kStorageFormatVersion is what this build writes; it reads every format from
// kMinStorageFormatVersion up (an older one is migrated by Open, then stamped with this one).
// A newer format is refused: a data directory never goes back to an older release once a
// newer one has written its format (docs/operations.md, "Upgrades").
inline constexpr std::string_view kFormatVersionKey = "format/version";
// Format 2 (0.2.0) keeps the objects in anti-entropy segment order with each version hash in
// front (storage::SegmentOrderedObjects) and has no anti-entropy index; format 1 (0.1.0) is
// migrated to it at the first start (node/storage_format_migration.h).
inline constexpr std::uint32_t kStorageFormatVersion = 2;
inline constexpr std::uint32_t kMinStorageFormatVersion = 1;

// The Meridian release that last opened the data directory ("0.2.0"; bytes of text), written
// by every Open from release 0.2.0 on; absent: release 0.1.0 (or none) opened it last. Named in
// the refusal of a storage format newer than the release reading it.
inline constexpr std::string_view kFormatReleaseKey = "format/release";

// This node's identity for its data directory (8 bytes LE, never 0), reported to peers (e.g.
// as a handoff receiver's incarnation). Drawn at random when absent or after an unclean stop.
// (Storage format 1 also minted dots under it; dots are now minted under partition actors.)
inline constexpr std::string_view kActorIdKey = "node/actor_id";

// The partition actors (node/partition_actors.h) saved by a clean Close, so the next Open
// keeps minting under them; deleted by that Open. Present only between a clean Close and the
// next Open. Encoding: PartitionActors::Encode.
inline constexpr std::string_view kPartitionActorsKey = "node/partition_actors";

// Present while a Node has the data open (written by Open, removed by Close, both synced).
// Found by Open, it means the previous run ended without Close (a crash): unsynced writes
// may have been lost together with the dots they used, so the node takes a new actor id and
// fresh partition actors rather than risk minting one of those dots again for another value.
inline constexpr std::string_view kOpenMarkerKey = "node/open";

// Raised and synced by every Node::Open (8 bytes LE): peers tell a restarted node's messages
// from those of its previous life, and a stale "down" opinion is refuted at once.
inline constexpr std::string_view kIncarnationKey = "node/incarnation";

// The partition count the data was written with (4 bytes LE). Object keys are prefixed
// with partitions of this count, so it can never change for an existing data directory.
inline constexpr std::string_view kPartitionCountKey = "node/partition_count";

// The shard of the node this data directory is (docs/design/write_path.md, "The shards"):
// its index and the node's shard count (4 + 4 bytes LE). Written on first start; absent in a
// data directory written before shards existed, which is shard 0 of 1. Partitions are split
// over the shards in contiguous ranges (node::ShardOfPartition), so the count can never change for
// an existing data directory.
inline constexpr std::string_view kShardLayoutKey = "node/shard_layout";

// Partitions whose outgoing handoff completed, with the address of the new owner: requests
// for them are forwarded there until the ring flips. varint count, then per entry
// partition (4 bytes LE) and a length-prefixed address. Written synced.
inline constexpr std::string_view kForwardingKey = "node/forwarding";

// Partitions this node received in full as their pending owner, reported complete to the
// claimant until the ring flips: varint count, then partitions (4 bytes LE). Written synced.
inline constexpr std::string_view kCompletedIncomingKey = "node/completed_incoming";

// Format 1 only: the anti-entropy index's tree shape (segment bits, 4 bytes LE). Deleted by the
// migration to format 2, which has no index.
inline constexpr std::string_view kAntiEntropyIndexKey = "aae/index_segment_bits";

// The buckets this storage has ever held data of (node/stored_buckets.h): one key per bucket,
// this prefix then the bucket's name, with an empty value; and the completion record (empty),
// present once the set is complete (a directory written before it existed is scanned once).
inline constexpr std::string_view kStoredBucketPrefix = "buckets/stored/";
inline constexpr std::string_view kStoredBucketsCompleteKey = "buckets/complete";

// The cluster state this node last knew (members, ring, bucket properties):
// "cluster/state" -> proto::PersistedClusterState (node/cluster_state_record.h).

}  // namespace meridian::node
