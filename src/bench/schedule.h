// OpenLoopSchedule: the intended start times of an open-loop (--target-rate) run. Operation
// i is due i / rate seconds after the start, computed from i directly so that no rounding
// accumulates. Latency is measured from this intended time, not from when a connection got
// round to sending it, so a stalled server shows up in the latencies instead of silently
// lowering the offered load (no coordinated omission).
#pragma once

#include <chrono>
#include <cstdint>

namespace meridian::bench {

class OpenLoopSchedule {
 public:
  // `ops_per_second` > 0.
  explicit OpenLoopSchedule(double ops_per_second);

  double rate() const { return rate_; }
  // When operation `index` (0-based) is due, after the start.
  std::chrono::nanoseconds Offset(std::uint64_t index) const;
  // How many operations are due at or before `elapsed` after the start.
  std::uint64_t DueBy(std::chrono::nanoseconds elapsed) const;
  // How many operations are due strictly before `length` after the start: a run of that length
  // issues this many.
  std::uint64_t CountWithin(std::chrono::nanoseconds length) const;

 private:
  double rate_;
  long double interval_ns_;
};

}  // namespace meridian::bench
