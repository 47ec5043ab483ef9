#include "storage/tictac_tree.h"

#include <xxhash.h>

#include <string>

#include "core/assert.h"

namespace meridian::storage {

bool TictacShape::valid() const {
  return branch_bits >= 0 && branch_bits <= segment_bits && segment_bits <= kTictacSegmentBitsMax;
}

std::uint32_t TictacSegmentOf(std::string_view storage_key, int segment_bits) {
  MERIDIAN_DCHECK(segment_bits >= 0 && segment_bits <= kTictacSegmentBitsMax);
  // Shifting a 64-bit value by 64 is undefined: a one-segment tree has only segment 0.
  if (segment_bits == 0) return 0;
  const std::uint64_t key_hash = XXH3_64bits(storage_key.data(), storage_key.size());
  return static_cast<std::uint32_t>(key_hash >> (64 - segment_bits));
}

std::uint64_t TictacKeyContribution(std::string_view storage_key, std::uint64_t version_hash) {
  return XXH3_64bits_withSeed(storage_key.data(), storage_key.size(), version_hash);
}

TictacTree::TictacTree(TictacShape shape)
    : shape_(shape), branches_(shape.branch_count()), segments_(shape.segment_count()) {
  MERIDIAN_CHECK(shape.valid());
}

Result<TictacTree> TictacTree::FromSegments(TictacShape shape,
                                            std::vector<std::uint64_t> segments) {
  if (!shape.valid()) return Status::InvalidArgument("tictac tree shape is not valid");
  if (segments.size() != shape.segment_count()) {
    return Status::InvalidArgument("tictac tree needs " + std::to_string(shape.segment_count()) +
                                   " segment hashes, got " + std::to_string(segments.size()));
  }
  TictacTree tree(shape);
  tree.segments_ = std::move(segments);
  const std::uint32_t per_branch = shape.segments_per_branch();
  for (std::uint32_t segment = 0; segment < shape.segment_count(); ++segment) {
    tree.branches_[segment / per_branch] ^= tree.segments_[segment];
    tree.root_ ^= tree.segments_[segment];
  }
  MERIDIAN_DCHECK(tree.CheckInvariants());
  return tree;
}

void TictacTree::XorIntoSegment(std::uint32_t segment, std::uint64_t delta) {
  MERIDIAN_CHECK(segment < segments_.size());
  segments_[segment] ^= delta;
  branches_[BranchOfSegment(segment)] ^= delta;
  root_ ^= delta;
}

void TictacTree::Update(std::string_view storage_key, std::optional<std::uint64_t> old_version_hash,
                        std::optional<std::uint64_t> new_version_hash) {
  if (old_version_hash == new_version_hash) return;  // the XORs would cancel out
  std::uint64_t delta = 0;
  if (old_version_hash) delta ^= TictacKeyContribution(storage_key, *old_version_hash);
  if (new_version_hash) delta ^= TictacKeyContribution(storage_key, *new_version_hash);
  XorIntoSegment(SegmentOf(storage_key), delta);
}

Status TictacTree::ReplaceSegment(std::uint32_t segment, std::span<const KeyVersionHash> keys) {
  if (segment >= segments_.size()) {
    return Status::InvalidArgument("segment " + std::to_string(segment) + " is out of range");
  }
  std::uint64_t hash = 0;
  for (const KeyVersionHash& entry : keys) {
    if (SegmentOf(entry.key) != segment) {
      return Status::InvalidArgument("a key listed for segment " + std::to_string(segment) +
                                     " belongs to segment " + std::to_string(SegmentOf(entry.key)));
    }
    hash ^= TictacKeyContribution(entry.key, entry.version_hash);
  }
  XorIntoSegment(segment, segments_[segment] ^ hash);
  return Status::Ok();
}

std::uint64_t TictacTree::branch(std::uint32_t branch) const {
  MERIDIAN_CHECK(branch < branches_.size());
  return branches_[branch];
}

std::uint64_t TictacTree::segment(std::uint32_t segment) const {
  MERIDIAN_CHECK(segment < segments_.size());
  return segments_[segment];
}

std::uint32_t TictacTree::BranchOfSegment(std::uint32_t segment) const {
  MERIDIAN_DCHECK(segment < segments_.size());
  return segment >> (shape_.segment_bits - shape_.branch_bits);
}

std::size_t TictacTree::memory_bytes() const {
  return sizeof(*this) + (branches_.capacity() + segments_.capacity()) * sizeof(std::uint64_t);
}

std::vector<std::uint32_t> TictacTree::DirtyBranches(const TictacTree& other) const {
  MERIDIAN_CHECK(shape_ == other.shape_);
  std::vector<std::uint32_t> dirty;
  for (std::uint32_t branch = 0; branch < branches_.size(); ++branch) {
    if (branches_[branch] != other.branches_[branch]) dirty.push_back(branch);
  }
  return dirty;
}

std::vector<std::uint32_t> TictacTree::DifferingSegments(const TictacTree& other) const {
  MERIDIAN_CHECK(shape_ == other.shape_);
  std::vector<std::uint32_t> differing;
  if (root_ == other.root_) return differing;
  const std::uint32_t per_branch = shape_.segments_per_branch();
  for (std::uint32_t branch : DirtyBranches(other)) {
    const std::uint32_t first = branch * per_branch;
    for (std::uint32_t segment = first; segment < first + per_branch; ++segment) {
      if (segments_[segment] != other.segments_[segment]) differing.push_back(segment);
    }
  }
  return differing;
}

Result<std::vector<std::uint32_t>> TictacTree::DirtyBranches(
    const TictacBranchLevel& remote) const {
  if (remote.shape != shape_) {
    return Status::InvalidArgument("tictac trees of different shapes cannot be compared");
  }
  if (remote.branches.size() != branches_.size()) {
    return Status::InvalidArgument("remote branch level has " +
                                   std::to_string(remote.branches.size()) + " branches, not " +
                                   std::to_string(branches_.size()));
  }
  std::vector<std::uint32_t> dirty;
  for (std::uint32_t branch = 0; branch < branches_.size(); ++branch) {
    if (branches_[branch] != remote.branches[branch]) dirty.push_back(branch);
  }
  return dirty;
}

Result<std::vector<std::uint32_t>> TictacTree::DifferingSegments(
    const TictacSegmentHashes& remote) const {
  if (remote.shape != shape_) {
    return Status::InvalidArgument("tictac trees of different shapes cannot be compared");
  }
  std::vector<std::uint32_t> differing;
  std::optional<std::uint32_t> previous;
  for (const TictacSegmentHash& entry : remote.segments) {
    if (entry.segment >= segments_.size()) {
      return Status::InvalidArgument("remote segment " + std::to_string(entry.segment) +
                                     " is out of range");
    }
    if (previous && entry.segment <= *previous) {
      return Status::InvalidArgument("remote segments are not strictly ascending");
    }
    previous = entry.segment;
    if (segments_[entry.segment] != entry.hash) differing.push_back(entry.segment);
  }
  return differing;
}

TictacBranchLevel TictacTree::BranchLevel() const {
  return TictacBranchLevel{shape_, root_, branches_};
}

TictacSegmentHashes TictacTree::SegmentsOfBranches(std::span<const std::uint32_t> branches) const {
  TictacSegmentHashes out{shape_, {}};
  const std::uint32_t per_branch = shape_.segments_per_branch();
  out.segments.reserve(branches.size() * per_branch);
  for (std::size_t i = 0; i < branches.size(); ++i) {
    MERIDIAN_CHECK(branches[i] < branches_.size());
    MERIDIAN_CHECK(i == 0 || branches[i - 1] < branches[i]);
    const std::uint32_t first = branches[i] * per_branch;
    for (std::uint32_t segment = first; segment < first + per_branch; ++segment) {
      out.segments.push_back({segment, segments_[segment]});
    }
  }
  return out;
}

TictacSegmentHashes TictacTree::SelectSegments(std::span<const std::uint32_t> segments) const {
  TictacSegmentHashes out{shape_, {}};
  out.segments.reserve(segments.size());
  for (std::size_t i = 0; i < segments.size(); ++i) {
    MERIDIAN_CHECK(segments[i] < segments_.size());
    MERIDIAN_CHECK(i == 0 || segments[i - 1] < segments[i]);
    out.segments.push_back({segments[i], segments_[segments[i]]});
  }
  return out;
}

bool TictacTree::CheckInvariants() const {
  if (!shape_.valid()) return false;
  if (segments_.size() != shape_.segment_count()) return false;
  if (branches_.size() != shape_.branch_count()) return false;
  std::vector<std::uint64_t> branches(branches_.size());
  std::uint64_t root = 0;
  for (std::uint32_t segment = 0; segment < segments_.size(); ++segment) {
    branches[BranchOfSegment(segment)] ^= segments_[segment];
    root ^= segments_[segment];
  }
  return branches == branches_ && root == root_;
}

}  // namespace meridian::storage
