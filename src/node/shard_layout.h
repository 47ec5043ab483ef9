// The shard layout record of a data directory (metadata key "node/shard_layout",
// node/metadata_keys.h): which shard of how many the directory's database is.
// ON-DISK FORMAT (docs/format/storage.md): 8 bytes LE, count << 32 | index, with bit 31 set
// when count > 1 (partitions placed by contiguous ranges, node::ShardOfPartition; development
// builds of 0.2.0 before it placed them modulo the count and left it clear).
#pragma once

#include <cstdint>

namespace meridian::node {

inline constexpr std::uint64_t kShardLayoutRangePlacement = std::uint64_t{1} << 31;

// The layout value of shard `index` of `count` (index < count).
inline std::uint64_t ShardLayoutValue(std::uint32_t index, std::uint32_t count) {
  return (std::uint64_t{count} << 32) | index | (count > 1 ? kShardLayoutRangePlacement : 0);
}
inline std::uint32_t ShardLayoutCount(std::uint64_t value) {
  return static_cast<std::uint32_t>(value >> 32);
}
inline std::uint32_t ShardLayoutIndex(std::uint64_t value) {
  return static_cast<std::uint32_t>(value & 0x7fffffffu);
}

}  // namespace meridian::node
