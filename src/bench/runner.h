// Running one phase of a benchmark: `threads` event loops, each with a driver and its share
// of the connections, each connection carrying `pipeline` workers. A worker runs one
// operation at a time: closed loop, it starts the next as soon as the last completes; open
// loop (--target-rate), it takes the next slot of a global schedule and starts it at its
// intended time (at once when late). Latency is measured from the intended start (closed
// loop: the actual start), in nanoseconds.
#pragma once

#include <array>
#include <cstdint>
#include <cstdio>
#include <string>

#include "bench/config.h"
#include "bench/keyspace.h"
#include "bench/latency_histogram.h"
#include "bench/workload.h"
#include "meridian/result.h"

namespace meridian::bench {

// What one operation type did in a phase.
struct OpStats {
  std::uint64_t count = 0;      // operations that succeeded (their latencies are recorded)
  std::uint64_t errors = 0;     // operations that failed
  std::uint64_t not_found = 0;  // of `count`, reads of a missing key (not errors)
  // Of `count`, conditional writes the store refused because the version read was no longer
  // the current one (412: answered, not an error; workload "cas").
  std::uint64_t conflicts = 0;
  LatencyHistogram latency;  // nanoseconds
  std::string first_error;   // the first failure's reason, if any

  void Merge(const OpStats& other);
  void Reset();
};

struct PhaseResult {
  std::string name;  // "load" or "run"
  double elapsed_s = 0;
  std::array<OpStats, kOpTypeCount> ops;  // indexed by OpType

  const OpStats& Of(OpType type) const { return ops[static_cast<std::size_t>(type)]; }
  // All operation types together.
  OpStats Total() const;
  // Failed operations over all operations; 0 when there were none.
  double ErrorRate() const;
};

// Runs the load phase (`load`: inserts of every record) or the run phase of `config`.
// Progress lines go to `progress` once a second (nullptr: none). Fails only when a driver
// cannot be created; failed operations are counted, not returned.
client::Result<PhaseResult> RunPhase(const BenchConfig& config, bool load, Keyspace& keyspace,
                                     std::FILE* progress);

// The blocking set-up of the driver (Driver::Setup) and one probe read, so that an
// unreachable store fails at once with one message instead of a run full of errors.
client::Result<void> PrepareStore(const BenchConfig& config);

}  // namespace meridian::bench
