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

#include "core/clock.h"
#include "storage/engine.h"

namespace meridian::node {

// The interfaces live in core so every protocol layer (cluster, replication) can use them.
using Clock = ::meridian::Clock;
using Random = ::meridian::Random;

struct Env {
  Clock* clock = nullptr;
  Random* random = nullptr;
  storage::Engine* engine = nullptr;
};

}  // namespace meridian::node
