// Virtual time and the per-process simulated clock.
//
// VirtualTime is the simulation's single notion of "now" in milliseconds; only the
// Simulation advances it (to the time of the event it is about to run). SimClock is one
// simulated machine's meridian::Clock: MonotonicMillis() is virtual time itself, and
// WallMillis() is virtual time shifted by the machine's skew — a fixed offset plus a drift in
// parts per million of elapsed virtual time — so skew is visible only through the wall clock,
// as with a badly synchronised NTP client. Changing the skew may make the wall clock jump,
// also backwards (Clock allows that). Integer arithmetic only. Not thread-safe.
#pragma once

#include <cstdint>

#include "core/clock.h"

namespace meridian::sim {

class VirtualTime {
 public:
  std::uint64_t now_ms() const { return now_ms_; }
  // Moves time to `time_ms`; time never goes backwards.
  void AdvanceTo(std::uint64_t time_ms);

 private:
  std::uint64_t now_ms_ = 0;
};

// Virtual time 0 is this wall-clock instant (2023-11-14T22:13:20Z), so HLC timestamps and
// logs look like real ones.
inline constexpr std::uint64_t kWallClockOriginMs = 1'700'000'000'000;

struct ClockSkew {
  std::int64_t offset_ms = 0;  // added to the wall clock
  std::int32_t drift_ppm = 0;  // the wall clock gains drift_ppm ms per 1,000,000 ms elapsed
  bool operator==(const ClockSkew&) const = default;
};

class SimClock final : public Clock {
 public:
  // `time` must outlive the clock.
  explicit SimClock(const VirtualTime& time) : time_(time) {}

  std::uint64_t WallMillis() override;
  std::uint64_t MonotonicMillis() override { return time_.now_ms(); }

  void set_skew(ClockSkew skew) { skew_ = skew; }
  const ClockSkew& skew() const { return skew_; }

 private:
  const VirtualTime& time_;
  ClockSkew skew_;
};

}  // namespace meridian::sim
