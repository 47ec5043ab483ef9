// SeededRandom: the simulator's only source of randomness. xoshiro256** (Blackman and Vigna
// 2018) seeded through SplitMix64, implementing meridian::Random. A run has one root seed;
// every consumer (each process incarnation, the network, the nemesis, the workload) gets its
// own stream from Derive(label), which depends only on the root seed and the label — never on
// how many numbers other streams drew or in which order streams were created. So adding a
// draw in one subsystem does not perturb the others, and a seed replays exactly.
// Not thread-safe (the simulator is single-threaded).
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "core/clock.h"
#include "core/seeded_random.h"

namespace meridian::sim {

class SeededRandom final : public Random {
 public:
  explicit SeededRandom(std::uint64_t seed);

  std::uint64_t NextU64() override;

  // An independent stream for `label`, a function of (this stream's seed, label) only.
  SeededRandom Derive(std::string_view label) const;

  std::uint64_t seed() const { return seed_; }

 private:
  std::uint64_t seed_;
  Xoshiro256Random generator_;
};

// Probabilities are integers in parts per million, so no floating-point rounding (or libm
// difference between machines) can change a run. True with probability ppm / 1,000,000.
inline constexpr std::uint32_t kPartsPerMillion = 1'000'000;
bool ChancePpm(Random& random, std::uint32_t ppm);

// Uniform in [low, high]; requires low <= high.
std::uint64_t UniformBetween(Random& random, std::uint64_t low, std::uint64_t high);

}  // namespace meridian::sim
