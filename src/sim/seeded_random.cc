#include "sim/seeded_random.h"

#include <xxhash.h>

#include "core/assert.h"

namespace meridian::sim {
namespace {

std::uint64_t SplitMix64Next(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

std::uint64_t RotateLeft(std::uint64_t value, int bits) {
  return (value << bits) | (value >> (64 - bits));
}

}  // namespace

SeededRandom::SeededRandom(std::uint64_t seed) : seed_(seed) {
  // SplitMix64 expands the 64-bit seed into the 256-bit state; it never yields all zeros
  // for four consecutive outputs, which xoshiro requires.
  std::uint64_t expander = seed;
  for (std::uint64_t& word : state_) word = SplitMix64Next(expander);
}

std::uint64_t SeededRandom::NextU64() {
  const std::uint64_t result = RotateLeft(state_[1] * 5, 7) * 9;
  const std::uint64_t shifted = state_[1] << 17;
  state_[2] ^= state_[0];
  state_[3] ^= state_[1];
  state_[1] ^= state_[2];
  state_[0] ^= state_[3];
  state_[2] ^= shifted;
  state_[3] = RotateLeft(state_[3], 45);
  return result;
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
