#include "sim/seeded_random.h"

#include <xxhash.h>

#include "core/assert.h"

namespace meridian::sim {
namespace {}  // namespace

SeededRandom::SeededRandom(std::uint64_t seed) : seed_(seed), generator_(seed) {}

std::uint64_t SeededRandom::NextU64() {
  return generator_.NextU64();
}

SeededRandom SeededRandom::Derive(std::string_view label) const {
  return SeededRandom(XXH3_64bits_withSeed(label.data(), label.size(), seed_));
}

bool ChancePpm(Random& random, std::uint32_t ppm) {
  if (ppm == 0) return false;
  return random.Uniform(kPartsPerMillion) < ppm;
}

std::uint64_t UniformBetween(Random& random, std::uint64_t low, std::uint64_t high) {
  MERIDIAN_CHECK(low <= high);
  const std::uint64_t span = high - low;
  if (span == UINT64_MAX) return random.NextU64();
  return low + random.Uniform(span + 1);
}

}  // namespace meridian::sim
