#include "runtime/system_env.h"

#include <chrono>
#include <random>

#include "core/assert.h"

namespace meridian::runtime {

namespace {

// splitmix64 (Steele, Lea, Flood 2014): expands one seed into well-mixed state words, as the
// xoshiro authors recommend; it never yields an all-zero xoshiro state from distinct outputs.
std::uint64_t SplitMix64(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

std::uint64_t RotateLeft(std::uint64_t x, int k) {
  return (x << k) | (x >> (64 - k));
}

}  // namespace

std::uint64_t SystemClock::WallMillis() {
  auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch).count());
}

std::uint64_t SystemClock::MonotonicMillis() {
  auto since_origin = std::chrono::steady_clock::now().time_since_epoch();
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(since_origin).count());
}

SystemRandom::SystemRandom() {
  std::random_device device;
  std::uint64_t seed = (static_cast<std::uint64_t>(device()) << 32) ^ device();
  *this = SystemRandom(seed);
}

SystemRandom::SystemRandom(std::uint64_t seed) {
  for (std::uint64_t& word : state_) word = SplitMix64(seed);
  MERIDIAN_CHECK((state_[0] | state_[1] | state_[2] | state_[3]) != 0);
}

// xoshiro256** 1.0 (Blackman, Vigna 2018).
std::uint64_t SystemRandom::NextU64() {
  const std::uint64_t result = RotateLeft(state_[1] * 5, 7) * 9;
  const std::uint64_t t = state_[1] << 17;
  state_[2] ^= state_[0];
  state_[3] ^= state_[1];
  state_[1] ^= state_[2];
  state_[0] ^= state_[3];
  state_[2] ^= t;
  state_[3] = RotateLeft(state_[3], 45);
  return result;
}

}  // namespace meridian::runtime
