// ConsistencyReceipt: what one request actually achieved — how many replicas answered, how
// many of them were primaries, whether fallbacks and hints were used. Every object reply
// carries one (HTTP: the X-Meridian-Consistency header; CLI: -v).
#pragma once

#include <cstdint>

namespace meridian::replication {

struct ConsistencyReceipt {
  std::uint32_t n = 0;          // replicas of the key (the bucket's n, capped by the node count)
  std::uint32_t required = 0;   // r for a get, w for a write
  std::uint32_t replies = 0;    // replicas that answered (get) or acknowledged (write) in time
  std::uint32_t primaries = 0;  // of `replies`, primaries
  std::uint32_t fallbacks = 0;  // of `replies`, fallbacks standing in for unreachable primaries
  std::uint32_t durable = 0;    // writes: of `replies`, synced to disk
  std::uint32_t hinted = 0;     // writes: of `replies`, stored with a hint for a primary
  std::uint32_t behind = 0;     // gets: of `replies`, copies older than the answer (repaired)

  friend bool operator==(const ConsistencyReceipt&, const ConsistencyReceipt&) = default;
};

}  // namespace meridian::replication
