// TictacTree: the anti-entropy hash tree of one partition (Riak's "tictac" AAE design): a
// two-level Merkle tree of XOR hashes over the (storage key, object version hash) pairs the
// partition holds, maintained incrementally on every write so that no scan is needed in
// steady state. Design: docs/design/anti_entropy.md; wire/disk format: docs/format/tictac.md.
//
//   * Each key contributes KeyContribution(storage key, version hash) to exactly one segment,
//     SegmentOf(storage key) = the top segment_bits bits of xxh3-64(storage key).
//   * A segment's hash is the XOR of its keys' contributions; segments are grouped, in index
//     order, into branch_count branches of equal size; a branch's hash is the XOR of its
//     segments; the root is the XOR of the branches. Adding and removing a contribution are
//     the same XOR, so the tree depends only on the set of pairs, never on the order of the
//     updates.
//   * Two trees of the same shape that hold the same pairs are equal. Trees that differ in a
//     segment's pairs differ in that segment's hash except with probability 2^-64 (an XOR of
//     pseudo-random 64-bit contributions cancelling out).
//
// The tree does not remember keys. The owner must pass, on every write, exactly the version
// hash it previously added for that key (or nullopt if the key was absent); a wrong "old"
// hash corrupts the segment until ReplaceSegment or a rebuild (tictac_rebuild.h) fixes it.
// A tree lost in a crash, or out of step with its data, must be rebuilt.
//
// Default shape: 65,536 segments in 1,024 branches of 64 — 532,480 bytes of hashes per tree
// (520 KiB; 130 MiB for a node holding all 256 partitions of a default ring), about 15 keys
// per segment at 1,000,000 keys per partition. See docs/design/anti_entropy.md for the
// memory/wire trade-off of other shapes. Both sides of an exchange must use the same shape.
//
// ON-WIRE/ON-DISK CONSTANTS: SegmentOf and KeyContribution (and ObjectVersionHash in
// tictac_keys.h) decide what every peer's tree holds; never change them without a format
// version bump (docs/format/tictac.md).
//
// Pure value type: no I/O, clock, randomness or global state. Not thread-safe
// (thread-compatible: concurrent const access is fine).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace meridian::storage {

// Limits of a shape. 2^20 segments are 8 MiB of hashes; a decoder never allocates more.
inline constexpr int kTictacSegmentBitsMax = 20;
inline constexpr int kTictacDefaultSegmentBits = 16;  // 65,536 segments
inline constexpr int kTictacDefaultBranchBits = 10;   // 1,024 branches of 64 segments

// The dimensions of a tree, as powers of two: 2^segment_bits segments in 2^branch_bits
// branches. Valid when 0 <= branch_bits <= segment_bits <= kTictacSegmentBitsMax.
struct TictacShape {
  int segment_bits = kTictacDefaultSegmentBits;
  int branch_bits = kTictacDefaultBranchBits;

  bool valid() const;
  std::uint32_t segment_count() const { return std::uint32_t{1} << segment_bits; }
  std::uint32_t branch_count() const { return std::uint32_t{1} << branch_bits; }
  std::uint32_t segments_per_branch() const {
    return std::uint32_t{1} << (segment_bits - branch_bits);
  }
  friend bool operator==(const TictacShape&, const TictacShape&) = default;
};

// The segment of `storage_key` in a tree of 2^segment_bits segments: the top bits of
// xxh3-64(storage_key), so a key's segment at k bits is the prefix of its segment at k+1.
std::uint32_t TictacSegmentOf(std::string_view storage_key, int segment_bits);

// What the pair (storage_key, version_hash) XORs into its segment: xxh3-64 of the key seeded
// with the version hash.
std::uint64_t TictacKeyContribution(std::string_view storage_key, std::uint64_t version_hash);

// One key of a segment as the last step of an exchange lists it: the storage key and the
// version hash of the object stored under it (ObjectVersionHash, tictac_keys.h).
struct KeyVersionHash {
  std::string key;
  std::uint64_t version_hash = 0;
  friend bool operator==(const KeyVersionHash&, const KeyVersionHash&) = default;
};

// The level sent first in an exchange: the root and every branch hash.
struct TictacBranchLevel {
  TictacShape shape;
  std::uint64_t root = 0;
  std::vector<std::uint64_t> branches;  // shape.branch_count() entries
  friend bool operator==(const TictacBranchLevel&, const TictacBranchLevel&) = default;
};

struct TictacSegmentHash {
  std::uint32_t segment = 0;
  std::uint64_t hash = 0;
  friend bool operator==(const TictacSegmentHash&, const TictacSegmentHash&) = default;
};

// The hashes of selected segments (typically every segment of the dirty branches).
struct TictacSegmentHashes {
  TictacShape shape;
  std::vector<TictacSegmentHash> segments;  // strictly ascending by segment, each < count
  friend bool operator==(const TictacSegmentHashes&, const TictacSegmentHashes&) = default;
};

class TictacTree {
 public:
  // An empty tree (every hash 0). Requires shape.valid().
  explicit TictacTree(TictacShape shape = TictacShape{});

  // Builds a tree from every segment's hash, deriving branches and root (for decoders).
  // InvalidArgument unless shape.valid() and segments.size() == shape.segment_count().
  static Result<TictacTree> FromSegments(TictacShape shape, std::vector<std::uint64_t> segments);

  // Replaces the contribution of `storage_key`: removes (key, old) when `old_version_hash` is
  // set, adds (key, new) when `new_version_hash` is set. A write of a new key passes
  // (nullopt, h); an overwrite (h_old, h_new); a removal from the partition (a reaped
  // tombstone, a handed-off key) (h_old, nullopt).
  void Update(std::string_view storage_key, std::optional<std::uint64_t> old_version_hash,
              std::optional<std::uint64_t> new_version_hash);

  // Sets `segment`'s hash to the XOR of the contributions of `keys` (the authoritative list of
  // the keys stored in that segment, as read from the data), repairing a segment that drifted
  // from the data. InvalidArgument (tree unchanged) when `segment` is out of range or a key
  // does not belong to it.
  Status ReplaceSegment(std::uint32_t segment, std::span<const KeyVersionHash> keys);

  const TictacShape& shape() const { return shape_; }
  std::uint64_t root() const { return root_; }
  // Requires branch < shape().branch_count().
  std::uint64_t branch(std::uint32_t branch) const;
  // Requires segment < shape().segment_count().
  std::uint64_t segment(std::uint32_t segment) const;
  std::uint32_t SegmentOf(std::string_view storage_key) const {
    return TictacSegmentOf(storage_key, shape_.segment_bits);
  }
  std::uint32_t BranchOfSegment(std::uint32_t segment) const;
  // Bytes held by the tree (object plus heap).
  std::size_t memory_bytes() const;

  // Level-by-level comparison with another tree of the same shape (requires equal shapes):
  // the branches whose hashes differ, ascending; then the segments whose hashes differ,
  // found by comparing the segments of the dirty branches only.
  std::vector<std::uint32_t> DirtyBranches(const TictacTree& other) const;
  std::vector<std::uint32_t> DifferingSegments(const TictacTree& other) const;

  // The same comparisons against a peer's levels as received over the wire. InvalidArgument
  // when the shapes differ or `remote` is malformed (wrong branch count, segments not
  // strictly ascending or out of range).
  Result<std::vector<std::uint32_t>> DirtyBranches(const TictacBranchLevel& remote) const;
  Result<std::vector<std::uint32_t>> DifferingSegments(const TictacSegmentHashes& remote) const;

  // The root and branch hashes, for the first step of an exchange.
  TictacBranchLevel BranchLevel() const;
  // The hashes of every segment of `branches` (requires each < branch_count, ascending).
  TictacSegmentHashes SegmentsOfBranches(std::span<const std::uint32_t> branches) const;
  // The hashes of `segments` (requires each < segment_count, strictly ascending).
  TictacSegmentHashes SelectSegments(std::span<const std::uint32_t> segments) const;
  const std::vector<std::uint64_t>& segments() const { return segments_; }

  // Recomputes branches and root from the segments: true when they match (O(segments)).
  bool CheckInvariants() const;

  friend bool operator==(const TictacTree&, const TictacTree&) = default;

 private:
  void XorIntoSegment(std::uint32_t segment, std::uint64_t delta);

  TictacShape shape_;
  std::uint64_t root_ = 0;
  std::vector<std::uint64_t> branches_;  // XOR of each branch's segments
  std::vector<std::uint64_t> segments_;  // XOR of each segment's key contributions
};

}  // namespace meridian::storage
