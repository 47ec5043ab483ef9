// Hashing of object ids onto the ring: a 64-bit xxh3 of (bucket, key) and the partition it
// falls in. ON-DISK/ON-WIRE CONSTANT: changing either function relocates every object.
#pragma once

#include <cstdint>
#include <string_view>

namespace meridian {

// xxh3-64 over bucket length (1 byte), bucket bytes, key bytes. Stable across versions.
std::uint64_t ObjectHash(std::string_view bucket, std::string_view key);

// True when `count` is a power of two in [1, 2^20].
bool IsValidPartitionCount(std::uint32_t count);

// The partition of a hash among `partition_count` equal partitions: its top bits.
// Requires IsValidPartitionCount(partition_count).
std::uint32_t PartitionOf(std::uint64_t hash, std::uint32_t partition_count);

}  // namespace meridian
