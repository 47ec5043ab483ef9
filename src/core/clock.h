// Clock and Random: the time and randomness seams of protocol code. Protocol code (node,
// cluster, replication) reads time and randomness only through these interfaces, so the real
// runtime and the deterministic simulator can both drive it (see node/env.h).
#pragma once

#include <cstdint>

namespace meridian {

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
  // Uniform in [0, bound); requires bound > 0. (Lemire's multiply-shift; negligible bias.)
  std::uint64_t Uniform(std::uint64_t bound) {
    __extension__ using Wide = unsigned __int128;  // GCC/Clang extension, silences -Wpedantic
    return static_cast<std::uint64_t>((static_cast<Wide>(NextU64()) * bound) >> 64);
  }
};

}  // namespace meridian
