#include "bench/schedule.h"

#include <cmath>

namespace meridian::bench {

OpenLoopSchedule::OpenLoopSchedule(double ops_per_second)
    : rate_(ops_per_second), interval_ns_(1e9L / static_cast<long double>(ops_per_second)) {}

std::chrono::nanoseconds OpenLoopSchedule::Offset(std::uint64_t index) const {
  // Rounded to the nearest nanosecond so that exact multiples (1000 ops at 1000/s = 1 s) are
  // exact despite the binary fraction of the interval.
  return std::chrono::nanoseconds(
      static_cast<std::int64_t>(std::llround(static_cast<long double>(index) * interval_ns_)));
}

std::uint64_t OpenLoopSchedule::DueBy(std::chrono::nanoseconds elapsed) const {
  if (elapsed.count() < 0) return 0;
  // Estimate, then correct by the exact Offset so the answer agrees with it.
  auto count = static_cast<std::uint64_t>(
                   std::floor(static_cast<long double>(elapsed.count()) / interval_ns_)) +
               1;
  while (count > 0 && Offset(count - 1) > elapsed) --count;
  while (Offset(count) <= elapsed) ++count;
  return count;
}

std::uint64_t OpenLoopSchedule::CountWithin(std::chrono::nanoseconds length) const {
  if (length.count() <= 0) return 0;
  return DueBy(length - std::chrono::nanoseconds(1));
}

}  // namespace meridian::bench
