#include "storage/tictac_keys.h"

#include <xxhash.h>

#include "core/assert.h"
#include "core/byte_codec.h"
#include "core/object_codec.h"

namespace meridian::storage {
namespace {

// Bytes of the canonical form per clock entry and per sibling (docs/format/tictac.md).
constexpr std::size_t kClockEntryBytes = 16;
constexpr std::size_t kSiblingBytes = 33;
constexpr std::uint8_t kFlagTombstone = 0x01;

bool StrictlyAscending(std::span<const KeyVersionHash> keys) {
  for (std::size_t i = 1; i < keys.size(); ++i) {
    if (!(keys[i - 1].key < keys[i].key)) return false;
  }
  return true;
}

}  // namespace

std::uint64_t ObjectVersionHash(const DvvSet& object) {
  // Fixed-width fields only, values replaced by their own hash, so the form is canonical by
  // construction and independent of the object record format (docs/format/object.md).
  std::string canonical;
  canonical.reserve(16 + kClockEntryBytes * object.clock().entries().size() +
                    kSiblingBytes * object.siblings().size());
  PutFixed64(canonical, object.clock().entries().size());
  for (const auto& [actor, counter] : object.clock().entries()) {
    PutFixed64(canonical, actor);
    PutFixed64(canonical, counter);
  }
  PutFixed64(canonical, object.siblings().size());
  for (const Sibling& sibling : object.siblings()) {
    PutFixed64(canonical, sibling.dot.actor);
    PutFixed64(canonical, sibling.dot.counter);
    PutFixed64(canonical, sibling.timestamp.value);
    canonical.push_back(static_cast<char>(sibling.tombstone ? kFlagTombstone : 0));
    PutFixed64(canonical, XXH3_64bits(sibling.value.data(), sibling.value.size()));
  }
  return XXH3_64bits(canonical.data(), canonical.size());
}

Result<std::uint64_t> EncodedObjectVersionHash(std::string_view encoded_object) {
  auto object = DecodeObject(encoded_object);
  if (!object.ok()) return object.status();
  return ObjectVersionHash(*object);
}

Result<std::uint64_t> PutObjectVersionHash(const WriteBatch::Op& op) {
  MERIDIAN_CHECK(op.column == Column::kObjects && op.value.has_value());
  if (!op.object_hash.has_value()) return EncodedObjectVersionHash(*op.value);
#ifndef NDEBUG
  auto taken = EncodedObjectVersionHash(*op.value);
  MERIDIAN_CHECK(taken.ok() && *taken == *op.object_hash);
#endif
  return *op.object_hash;
}

Result<std::vector<KeyDifference>> DiffSegmentKeys(std::span<const KeyVersionHash> local,
                                                   std::span<const KeyVersionHash> remote) {
  if (!StrictlyAscending(local)) {
    return Status::InvalidArgument("local segment keys are not strictly ascending");
  }
  if (!StrictlyAscending(remote)) {
    return Status::InvalidArgument("remote segment keys are not strictly ascending");
  }
  std::vector<KeyDifference> differences;
  std::size_t l = 0;
  std::size_t r = 0;
  while (l < local.size() || r < remote.size()) {
    if (r == remote.size() || (l < local.size() && local[l].key < remote[r].key)) {
      differences.push_back({local[l].key, local[l].version_hash, std::nullopt});
      ++l;
    } else if (l == local.size() || remote[r].key < local[l].key) {
      differences.push_back({remote[r].key, std::nullopt, remote[r].version_hash});
      ++r;
    } else {
      if (local[l].version_hash != remote[r].version_hash) {
        differences.push_back({local[l].key, local[l].version_hash, remote[r].version_hash});
      }
      ++l;
      ++r;
    }
  }
  return differences;
}

}  // namespace meridian::storage
