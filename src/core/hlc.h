// Hybrid logical clock (Kulkarni et al., 2014): timestamps that follow physical time but
// never go backwards and order causally related events even under clock skew.
//
// A timestamp packs 48 bits of physical milliseconds since the Unix epoch and a 16-bit
// logical counter into one uint64 so it compares as an integer. The clock is pure: the
// caller passes the physical time it read from its Env clock. Not thread-safe.
#pragma once

#include <compare>
#include <cstdint>

namespace meridian {

struct HlcTimestamp {
  std::uint64_t value = 0;

  static HlcTimestamp FromParts(std::uint64_t physical_ms, std::uint16_t logical) {
    return HlcTimestamp{(physical_ms << 16) | logical};
  }
  std::uint64_t physical_ms() const { return value >> 16; }
  std::uint16_t logical() const { return static_cast<std::uint16_t>(value & 0xffff); }
  friend auto operator<=>(const HlcTimestamp&, const HlcTimestamp&) = default;
};

class HybridLogicalClock {
 public:
  // A timestamp for a local event, strictly greater than every timestamp returned or
  // observed before. `physical_now_ms` is the wall clock as read from the Env.
  HlcTimestamp Now(std::uint64_t physical_now_ms);
  // Folds in a timestamp received from elsewhere so later Now() results exceed it.
  void Observe(HlcTimestamp remote, std::uint64_t physical_now_ms);
  HlcTimestamp last() const { return last_; }

 private:
  HlcTimestamp last_;
};

}  // namespace meridian
