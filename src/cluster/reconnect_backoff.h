// ReconnectBackoff: when a peer connection's next attempt may start — shared by the real
// transport (runtime/peer_transport.cc) and the simulator's network (sim/link_stall.h), so both
// reconnect on the same schedule. Pure: time comes in as milliseconds of a monotonic clock and
// jitter from the Random handed in.
//
// Rule: attempt *starts* are spaced by a jittered backoff b — uniform in [b/2, b], after which b
// doubles up to max_ms — but an attempt never starts before the previous one ended. So:
//   * a connect that fails slowly (a SYN lost in a partition, bounded by the connect timeout) is
//     followed at once by the next attempt when the backoff has already passed: after a heal the
//     next attempt comes within max(connect timeout, max_ms), not after both added up;
//   * a connection that lived long and then died (a deadline fired, the peer closed) is replaced
//     at once, with a fresh backoff (Reset() on the completed handshake);
//   * a peer that accepts and closes at once still cannot cause a hot loop: attempts stay at
//     least initial_ms / 2 apart.
// Value type; not thread-safe.
#pragma once

#include <cstdint>

#include "core/clock.h"
#include "core/status.h"

namespace meridian::cluster {

struct ReconnectBackoffConfig {
  std::uint64_t initial_ms = 100;
  // Small on purpose: after a long partition the next attempt must come soon after the heal,
  // and an attempt costs one SYN.
  std::uint64_t max_ms = 1000;
};

// InvalidArgument unless 1 <= initial_ms <= max_ms <= 1 hour.
Status ValidateReconnectBackoffConfig(const ReconnectBackoffConfig& config);

class ReconnectBackoff {
 public:
  // Requires a valid config.
  explicit ReconnectBackoff(const ReconnectBackoffConfig& config);

  // The earliest start of the next attempt after one that started at attempt_started_ms and
  // ended (failed, or its connection closed) at attempt_ended_ms. Draws one jitter value and
  // doubles the backoff.
  std::uint64_t NextAttemptMs(std::uint64_t attempt_started_ms, std::uint64_t attempt_ended_ms,
                              Random& random);
  // A connection was established: the next failure starts from initial_ms again.
  void Reset() { backoff_ms_ = config_.initial_ms; }

  std::uint64_t backoff_ms() const { return backoff_ms_; }
  const ReconnectBackoffConfig& config() const { return config_; }

 private:
  ReconnectBackoffConfig config_;
  std::uint64_t backoff_ms_;
};

}  // namespace meridian::cluster
