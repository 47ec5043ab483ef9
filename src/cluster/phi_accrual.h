// PhiAccrualDetector: the phi-accrual failure detector of Hayashibara et al. (2004) in Akka's
// variant, for one monitored peer. It records heartbeat arrival times, keeps a bounded window of
// the intervals between them, and turns the silence since the last heartbeat into a suspicion
// level phi = -log10(P(a heartbeat arrives later than now)), with the interval distribution
// approximated by a normal distribution (Akka's logistic approximation of its CDF).
//
// Akka's adjustments, kept here: the mean is raised by acceptable_heartbeat_pause_ms (a pause
// the peer may take without being suspected: GC, a lost heartbeat), the standard deviation is
// at least min_std_deviation_ms (a perfectly regular stream would otherwise make phi jump from 0
// to infinity), and the first heartbeat seeds the window with first_heartbeat_estimate_ms so phi
// is meaningful from the start. One addition, after Cassandra: a heartbeat that arrives after
// phi had reached the threshold ends an outage; that interval is not a sample of the healthy
// distribution and is not recorded (a restart or a healed partition would otherwise inflate the
// mean for the next max_sample_size heartbeats and slow every later detection).
//
// With the defaults and one heartbeat per second (regular, so the deviation floor applies),
// phi reaches 8 after mean + pause + 5.23 * std = 1000 + 3000 + 523 = about 4.5 s of silence.
//
// Pure: time comes in as now_ms arguments (a monotonic clock, milliseconds), nothing else is
// read. Value type; not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "core/status.h"

namespace meridian::cluster {

struct PhiAccrualConfig {
  // Phi at or above which the peer is considered down. 8 means the detector is wrong about
  // once in 10^8 judgements if intervals are normally distributed as sampled.
  double threshold = 8.0;
  // Intervals kept; older ones are forgotten. Memory is 4 bytes per interval.
  std::size_t max_sample_size = 1000;
  // Floor of the standard deviation used in phi.
  double min_std_deviation_ms = 100.0;
  // Added to the mean interval: silence the peer may keep without being suspected.
  std::uint64_t acceptable_heartbeat_pause_ms = 3000;
  // Assumed interval before any was measured (mean; std is a quarter of it). Usually the
  // heartbeat interval.
  std::uint64_t first_heartbeat_estimate_ms = 1000;
  // Intervals longer than this are not learnt (Cassandra's MAX_INTERVAL): gaps from lost
  // heartbeats would otherwise widen the distribution and slow every later detection.
  // 0: learn every interval.
  std::uint64_t max_learned_interval_ms = 2000;
};

// InvalidArgument naming the setting out of range.
Status ValidatePhiAccrualConfig(const PhiAccrualConfig& config);

class PhiAccrualDetector {
 public:
  // Requires ValidatePhiAccrualConfig(config).ok().
  explicit PhiAccrualDetector(const PhiAccrualConfig& config = {});

  // A heartbeat arrived at now_ms. The first one seeds the window with the first estimate; a
  // later one records the interval since the previous one (unless it ends an outage, see
  // above). now_ms earlier than the previous heartbeat is treated as equal to it.
  void Heartbeat(std::uint64_t now_ms);

  // Starts the clock for a peer never heard from, as if it had been heard from at now_ms, so a
  // peer that never answers is eventually declared down. Records nothing: the first real
  // Heartbeat() then behaves as a first heartbeat. No effect once a heartbeat was recorded.
  void ExpectHeartbeatFrom(std::uint64_t now_ms);

  // Forgets everything: the state of a new detector.
  void Reset();

  // Suspicion level at now_ms: 0 with no heartbeat yet (and no ExpectHeartbeatFrom), about 0
  // right after a heartbeat, growing with silence. Finite (capped near 300 by double range).
  double Phi(std::uint64_t now_ms) const;
  // Phi(now_ms) < threshold.
  bool IsAvailable(std::uint64_t now_ms) const;

  // Phi of a silence of time_since_last_ms against an interval distribution with the given
  // mean and standard deviation (already adjusted: pause added, floor applied). Requires
  // std_deviation_ms > 0.
  static double PhiOf(double time_since_last_ms, double mean_ms, double std_deviation_ms);

  // Intervals currently in the window (including the two seeded by the first heartbeat).
  std::size_t sample_count() const { return intervals_ms_.size(); }
  // Mean and standard deviation of the window, without Akka's adjustments; 0 when empty.
  double mean_interval_ms() const;
  double std_deviation_ms() const;
  // When the last heartbeat arrived, if one did.
  std::optional<std::uint64_t> last_heartbeat_ms() const;
  const PhiAccrualConfig& config() const { return config_; }

 private:
  void RecordInterval(std::uint64_t interval_ms);

  PhiAccrualConfig config_;
  // Ring buffer of intervals: grows to max_sample_size, then next_slot_ overwrites the oldest.
  std::vector<std::uint32_t> intervals_ms_;
  std::size_t next_slot_ = 0;
  std::uint64_t interval_sum_ms_ = 0;
  std::uint64_t interval_square_sum_ = 0;  // ms^2
  // Time phi is measured from: the last heartbeat, or the ExpectHeartbeatFrom() time.
  std::optional<std::uint64_t> silence_start_ms_;
  bool heard_ = false;  // a real heartbeat has been recorded since the last Reset()
};

}  // namespace meridian::cluster
