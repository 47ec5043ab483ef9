#include "core/hash.h"

#define XXH_STATIC_LINKING_ONLY  // exposes XXH3_state_t for stack allocation
#include <xxhash.h>

#include <bit>

#include "core/assert.h"

namespace meridian {

std::uint64_t ObjectHash(std::string_view bucket, std::string_view key) {
  MERIDIAN_CHECK(bucket.size() <= 255);
  XXH3_state_t state;
  XXH3_64bits_reset(&state);
  const auto bucket_length = static_cast<unsigned char>(bucket.size());
  XXH3_64bits_update(&state, &bucket_length, 1);
  XXH3_64bits_update(&state, bucket.data(), bucket.size());
  XXH3_64bits_update(&state, key.data(), key.size());
  return XXH3_64bits_digest(&state);
}

bool IsValidPartitionCount(std::uint32_t count) {
  return count >= 1 && count <= (1u << 20) && std::has_single_bit(count);
}

std::uint32_t PartitionOf(std::uint64_t hash, std::uint32_t partition_count) {
  MERIDIAN_CHECK(IsValidPartitionCount(partition_count));
  const int bits = std::countr_zero(partition_count);
  if (bits == 0) return 0;
  return static_cast<std::uint32_t>(hash >> (64 - bits));
}

}  // namespace meridian
