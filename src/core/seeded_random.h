// Seeded pseudo-random generators: the one implementation every layer, test and benchmark
// uses. Deterministic for a given seed (what the simulator's replay relies on); not for
// cryptography. Not thread-safe.
#pragma once

#include <array>
#include <cstdint>

#include "core/clock.h"

namespace meridian {

// One SplitMix64 step (Steele, Lea, Flood 2014): advances `state` and returns a well-mixed
// output. Also the standard way to expand one seed into a larger generator state.
std::uint64_t SplitMix64Next(std::uint64_t& state);

// SplitMix64 as a Random: tiny and fast; fine for tests and benchmarks.
class SplitMix64Random final : public Random {
 public:
  explicit SplitMix64Random(std::uint64_t seed) : state_(seed) {}
  std::uint64_t NextU64() override { return SplitMix64Next(state_); }

 private:
  std::uint64_t state_;
};

// xoshiro256** 1.0 (Blackman, Vigna 2018), its 256-bit state expanded from the seed by
// SplitMix64 (never all zeros). The runtime seeds it from the OS, the simulator from the run.
class Xoshiro256Random final : public Random {
 public:
  explicit Xoshiro256Random(std::uint64_t seed);
  std::uint64_t NextU64() override;

 private:
  std::array<std::uint64_t, 4> state_{};
};

}  // namespace meridian
