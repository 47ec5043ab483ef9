// Env: the seams through which protocol code reaches the outside world. Protocol code
// (node/, and later cluster/ and replication/) never includes socket, thread or clock
// headers and never calls rand(): it reads time, randomness and storage only from here.
// Timers: the environment calls Node::Tick() every NodeConfig::tick_interval_ms of its
// clock's monotonic time; components keep deadlines in those terms.
//
// Implementations: runtime/system_env.h (real clock, OS-seeded PRNG, RocksDB) and, from the
// cluster step, sim/ (virtual time, one seeded PRNG, MemoryEngine). The Env's parts must
// outlive the node that uses them.
#pragma once

#include <cstdint>

#include "storage/engine.h"

namespace meridian::node {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock milliseconds since the Unix epoch; may jump (NTP, skew). For HLC timestamps.
  virtual std::uint64_t WallMillis() = 0;
  // Milliseconds from an arbitrary origin; never goes backwards. For deadlines and timers.
  virtual std::uint64_t MonotonicMillis() = 0;
};

class Random {
 public:
  virtual ~Random() = default;
  // Uniformly distributed 64-bit values. Deterministic for a seeded implementation.
  virtual std::uint64_t NextU64() = 0;
};

struct Env {
  Clock* clock = nullptr;
  Random* random = nullptr;
  storage::Engine* engine = nullptr;
};

}  // namespace meridian::node
