// Storage key layout. Object and hint keys start with the partition number (4 bytes,
// big-endian) so one partition is one contiguous key range that can be streamed or dropped.
//   object key = partition (4, BE) | bucket length (1) | bucket | key
// ON-DISK FORMAT: see docs/format/storage.md; never change without a version bump.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/object_id.h"
#include "core/status.h"

namespace meridian::storage {

std::string EncodeObjectKey(std::uint32_t partition, std::string_view bucket, std::string_view key);

// The reserved key of a partition's strong configuration record in Column::kStrong:
// partition | 0 (a bucket length no object key has). Sorts before the partition's objects.
std::string EncodeStrongConfigKey(std::uint32_t partition);
bool IsStrongConfigKey(std::string_view encoded);
// The partition of any partition-prefixed key (object keys, strong configuration keys);
// requires at least 4 bytes.
std::uint32_t PartitionOfKey(std::string_view encoded);

struct DecodedObjectKey {
  std::uint32_t partition = 0;
  ObjectId id;
};
// Corruption when `encoded` is not a well-formed object key.
Result<DecodedObjectKey> DecodeObjectKey(std::string_view encoded);
// The bucket of `encoded` (a view into it) when DecodeObjectKey would accept it; nullopt
// otherwise. Copies nothing, for paths that look at every write.
std::optional<std::string_view> BucketOfObjectKey(std::string_view encoded);

// [begin, end) covering every key of `partition`; end is empty for the last partition.
struct KeyRange {
  std::string begin;
  std::string end;
};
KeyRange PartitionRange(std::uint32_t partition);

// The end of a scan of every key that starts with `prefix` (exclusive): the shortest key above
// all of them; "" (no end: the rest of the column) when `prefix` is empty or all 0xff bytes.
std::string PrefixScanEnd(std::string_view prefix);

// Anti-entropy index (Column::kAntiEntropy): one entry per stored object, ordered by
// partition and tictac segment so that the keys of one segment are one range.
//   index key = partition (4, BE) | segment (4, BE) | object storage key
// The value is the object's version hash (storage::ObjectVersionHash, 8 bytes LE).
std::string EncodeAaeIndexKey(std::uint32_t partition, std::uint32_t segment,
                              std::string_view storage_key);
// The object storage key inside an index key; Corruption when shorter than its header.
Result<std::string_view> AaeIndexStorageKey(std::string_view index_key);
// [begin, end) of the index entries of one segment, and of a whole partition.
KeyRange AaeSegmentRange(std::uint32_t partition, std::uint32_t segment);
KeyRange AaePartitionRange(std::uint32_t partition);

}  // namespace meridian::storage
