#include "sim/sim_clock.h"

#include "core/assert.h"

namespace meridian::sim {

void VirtualTime::AdvanceTo(std::uint64_t time_ms) {
  MERIDIAN_CHECK(time_ms >= now_ms_);
  now_ms_ = time_ms;
}

std::uint64_t SimClock::WallMillis() {
  const auto now_ms = static_cast<std::int64_t>(time_.now_ms());
  // Virtual runs last hours at most, so now_ms * drift_ppm stays far inside int64.
  const std::int64_t drift_ms = now_ms * skew_.drift_ppm / 1'000'000;
  const std::int64_t wall_ms =
      static_cast<std::int64_t>(kWallClockOriginMs) + now_ms + skew_.offset_ms + drift_ms;
  return wall_ms < 0 ? 0 : static_cast<std::uint64_t>(wall_ms);
}

}  // namespace meridian::sim
