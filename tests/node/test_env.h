// Deterministic Env parts for node tests: a clock that moves only when told and a seeded
// SplitMix64 random source, plus a NodeHarness that wires them to a MemoryEngine.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "core/seeded_random.h"
#include "node/env.h"
#include "node/node.h"
#include "storage/memory_engine.h"

namespace meridian::node::test_support {

// Wall and monotonic time advance together, only through Advance/SetWall.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(std::uint64_t wall_ms = 1'700'000'000'000) : wall_ms_(wall_ms) {}
  std::uint64_t WallMillis() override { return wall_ms_; }
  std::uint64_t MonotonicMillis() override { return monotonic_ms_; }

  void Advance(std::uint64_t ms) {
    wall_ms_ += ms;
    monotonic_ms_ += ms;
  }
  // Steps the wall clock (e.g. backwards, as NTP may); monotonic time is unaffected.
  void SetWall(std::uint64_t wall_ms) { wall_ms_ = wall_ms; }

 private:
  std::uint64_t wall_ms_;
  std::uint64_t monotonic_ms_ = 0;
};

// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, and good enough to draw ids in tests.
using SplitMix64 = SplitMix64Random;

// Returns a fixed sequence, then repeats its last value; for forcing specific actor ids.
class ScriptedRandom final : public Random {
 public:
  explicit ScriptedRandom(std::vector<std::uint64_t> values) : values_(std::move(values)) {}
  std::uint64_t NextU64() override {
    const std::uint64_t value = values_[std::min(next_, values_.size() - 1)];
    ++next_;
    return value;
  }

 private:
  std::vector<std::uint64_t> values_;
  std::size_t next_ = 0;
};

}  // namespace meridian::node::test_support
