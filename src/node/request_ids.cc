#include "node/request_ids.h"

#include "core/assert.h"

namespace meridian::node {

std::uint32_t ShardBits(std::uint32_t shard_count) {
  MERIDIAN_CHECK(shard_count >= 1);
  std::uint32_t bits = 0;
  while ((std::uint64_t{1} << bits) < shard_count) ++bits;
  return bits;
}

std::optional<std::uint32_t> ShardOfRequestId(std::uint64_t id, std::uint32_t shard_count) {
  const std::uint32_t bits = ShardBits(shard_count);
  const auto shard = static_cast<std::uint32_t>(id & ((std::uint64_t{1} << bits) - 1));
  if (shard >= shard_count) return std::nullopt;
  return shard;
}

RequestIds::RequestIds(std::uint64_t base, std::uint32_t shard_index, std::uint32_t shard_count)
    : base_(base), shard_index_(shard_index), bits_(ShardBits(shard_count)) {
  MERIDIAN_CHECK(shard_index < shard_count);
  MERIDIAN_CHECK((base & ((std::uint64_t{1} << bits_) - 1)) == 0);
}

std::uint64_t RequestIds::Next() {
  const std::uint64_t id = base_ + (next_ << bits_) + shard_index_;
  ++next_;
  return id;
}

}  // namespace meridian::node
