#include "core/hlc.h"

#include <algorithm>

#include "core/assert.h"

namespace meridian {

namespace {
constexpr std::uint64_t kPhysicalMax = (std::uint64_t{1} << 48) - 1;

// The successor of `ts` at physical time >= `physical_ms`.
HlcTimestamp Advance(HlcTimestamp ts, std::uint64_t physical_ms) {
  physical_ms = std::min(physical_ms, kPhysicalMax);
  if (physical_ms > ts.physical_ms()) return HlcTimestamp::FromParts(physical_ms, 0);
  // Logical overflow borrows from the physical part, keeping timestamps strictly increasing.
  return HlcTimestamp{ts.value + 1};
}
}  // namespace

HlcTimestamp HybridLogicalClock::Now(std::uint64_t physical_now_ms) {
  const HlcTimestamp next = Advance(last_, physical_now_ms);
  MERIDIAN_CHECK(next > last_);
  last_ = next;
  return next;
}

void HybridLogicalClock::Observe(HlcTimestamp remote, std::uint64_t physical_now_ms) {
  last_ = std::max(last_, remote);
  (void)physical_now_ms;  // the next Now() compares against physical time itself
}

}  // namespace meridian
