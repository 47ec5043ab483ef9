// RequestIds: the ids a node (one shard of it) gives its requests to peers — forwarded client
// requests, replica calls, strong rounds, transfers. A peer echoes the id in its answer, and
// once a node's partitions are split over shards (docs/design/write_path.md) the answer must
// find the shard that asked: the id's low ShardBits(shard_count) bits name that shard.
//
// An id is base + (k << ShardBits) + shard_index for k = 1, 2, ...: unique per (base, shard),
// never 0. With one shard the ids are base + 1, base + 2, ... exactly as before shards existed,
// so no simulator seed's replay changes. `base` must have its low ShardBits bits clear (the
// node uses incarnation << 40, so answers to an earlier incarnation's requests match nothing).
// Not thread-safe; deterministic.
#pragma once

#include <cstdint>
#include <optional>

namespace meridian::node {

// The number of low bits that name a shard among `shard_count` (0 for one shard).
std::uint32_t ShardBits(std::uint32_t shard_count);

// The shard an id minted by RequestIds(…, shard_count) names; nullopt when its low bits name
// no shard of `shard_count` (an answer to a request this node never made).
std::optional<std::uint32_t> ShardOfRequestId(std::uint64_t id, std::uint32_t shard_count);

class RequestIds {
 public:
  RequestIds(std::uint64_t base, std::uint32_t shard_index, std::uint32_t shard_count);

  // A fresh id.
  std::uint64_t Next();
  // The distance between two consecutive ids (so a caller that reserves several with Next()
  // in a row can compute the k-th from the first).
  std::uint64_t stride() const { return std::uint64_t{1} << bits_; }

 private:
  std::uint64_t base_;
  std::uint32_t shard_index_;
  std::uint32_t bits_;
  std::uint64_t next_ = 1;
};

}  // namespace meridian::node
