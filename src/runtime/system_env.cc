#include "runtime/system_env.h"

#include <chrono>
#include <random>

namespace meridian::runtime {

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
  generator_ = Xoshiro256Random((static_cast<std::uint64_t>(device()) << 32) ^ device());
}

SystemRandom::SystemRandom(std::uint64_t seed) : generator_(seed) {}

std::uint64_t SystemRandom::NextU64() {
  return generator_.NextU64();
}

}  // namespace meridian::runtime
