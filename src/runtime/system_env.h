// The real clock and randomness behind node/env.h, for the production runtime.
//
// SystemClock reads std::chrono::system_clock (wall time, may jump) and steady_clock
// (monotonic). SystemRandom is xoshiro256** seeded once from std::random_device through
// splitmix64; it is NOT for cryptography. Neither is thread-safe: like the node they serve,
// they are used from the event-loop thread only.
#pragma once

#include <array>
#include <cstdint>

#include "core/seeded_random.h"
#include "node/env.h"

namespace meridian::runtime {

class SystemClock final : public node::Clock {
 public:
  std::uint64_t WallMillis() override;
  std::uint64_t MonotonicMillis() override;
};

class SystemRandom final : public node::Random {
 public:
  SystemRandom();                             // seeded from std::random_device
  explicit SystemRandom(std::uint64_t seed);  // reproducible sequence (tests)
  std::uint64_t NextU64() override;

 private:
  Xoshiro256Random generator_{0};
};

}  // namespace meridian::runtime
