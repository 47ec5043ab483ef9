#include "core/seeded_random.h"

#include "core/assert.h"

namespace meridian {

namespace {
std::uint64_t RotateLeft(std::uint64_t value, int bits) {
  return (value << bits) | (value >> (64 - bits));
}
}  // namespace

std::uint64_t SplitMix64Next(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

Xoshiro256Random::Xoshiro256Random(std::uint64_t seed) {
  for (std::uint64_t& word : state_) word = SplitMix64Next(seed);
  MERIDIAN_CHECK((state_[0] | state_[1] | state_[2] | state_[3]) != 0);
}

std::uint64_t Xoshiro256Random::NextU64() {
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

}  // namespace meridian
