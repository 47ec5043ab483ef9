#include "cluster/phi_accrual.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/assert.h"

namespace meridian::cluster {
namespace {

// Intervals are stored as 32-bit milliseconds and capped at an hour: enough for any interval
// that is recorded (longer silences are outages), and it keeps the square sum far from overflow
// (1000 * (3.6e6)^2 < 2^64).
constexpr std::uint64_t kIntervalCapMs = 3'600'000;

}  // namespace

Status ValidatePhiAccrualConfig(const PhiAccrualConfig& config) {
  if (!(config.threshold > 0.0)) return Status::InvalidArgument("phi threshold must be > 0");
  if (config.max_sample_size < 2) {
    return Status::InvalidArgument("phi max_sample_size must be >= 2");
  }
  if (!(config.min_std_deviation_ms > 0.0)) {
    return Status::InvalidArgument("phi min_std_deviation_ms must be > 0");
  }
  if (config.acceptable_heartbeat_pause_ms > kIntervalCapMs) {
    return Status::InvalidArgument("phi acceptable_heartbeat_pause_ms must be <= " +
                                   std::to_string(kIntervalCapMs));
  }
  if (config.first_heartbeat_estimate_ms == 0 ||
      config.first_heartbeat_estimate_ms > kIntervalCapMs) {
    return Status::InvalidArgument("phi first_heartbeat_estimate_ms must be in [1, " +
                                   std::to_string(kIntervalCapMs) + "]");
  }
  return Status::Ok();
}

PhiAccrualDetector::PhiAccrualDetector(const PhiAccrualConfig& config) : config_(config) {
  MERIDIAN_CHECK(ValidatePhiAccrualConfig(config).ok());
}

void PhiAccrualDetector::Heartbeat(std::uint64_t now_ms) {
  if (!heard_) {
    // First heartbeat: seed the window with estimate -/+ estimate/4 (Akka), so mean is the
    // estimate and the standard deviation a quarter of it.
    intervals_ms_.clear();
    next_slot_ = 0;
    interval_sum_ms_ = 0;
    interval_square_sum_ = 0;
    const std::uint64_t estimate_ms = config_.first_heartbeat_estimate_ms;
    const std::uint64_t deviation_ms = estimate_ms / 4;
    RecordInterval(estimate_ms - deviation_ms);
    RecordInterval(estimate_ms + deviation_ms);
    heard_ = true;
    silence_start_ms_ = now_ms;
    return;
  }
  const std::uint64_t last_ms = *silence_start_ms_;
  if (now_ms <= last_ms) return;  // same instant (or an out-of-order input): nothing to learn
  const bool ends_outage = !IsAvailable(now_ms);
  const std::uint64_t interval_ms = now_ms - last_ms;
  const bool too_long =
      config_.max_learned_interval_ms != 0 && interval_ms > config_.max_learned_interval_ms;
  if (!ends_outage && !too_long) RecordInterval(interval_ms);
  silence_start_ms_ = now_ms;
}

void PhiAccrualDetector::ExpectHeartbeatFrom(std::uint64_t now_ms) {
  if (heard_) return;
  silence_start_ms_ = now_ms;
}

void PhiAccrualDetector::Reset() {
  intervals_ms_.clear();
  next_slot_ = 0;
  interval_sum_ms_ = 0;
  interval_square_sum_ = 0;
  silence_start_ms_.reset();
  heard_ = false;
}

void PhiAccrualDetector::RecordInterval(std::uint64_t interval_ms) {
  const std::uint64_t capped_ms = std::min(interval_ms, kIntervalCapMs);
  if (intervals_ms_.size() < config_.max_sample_size) {
    intervals_ms_.push_back(static_cast<std::uint32_t>(capped_ms));
  } else {
    const std::uint64_t oldest_ms = intervals_ms_[next_slot_];
    interval_sum_ms_ -= oldest_ms;
    interval_square_sum_ -= oldest_ms * oldest_ms;
    intervals_ms_[next_slot_] = static_cast<std::uint32_t>(capped_ms);
    next_slot_ = (next_slot_ + 1) % config_.max_sample_size;
  }
  interval_sum_ms_ += capped_ms;
  interval_square_sum_ += capped_ms * capped_ms;
}

double PhiAccrualDetector::mean_interval_ms() const {
  if (intervals_ms_.empty()) return 0.0;
  return static_cast<double>(interval_sum_ms_) / static_cast<double>(intervals_ms_.size());
}

double PhiAccrualDetector::std_deviation_ms() const {
  if (intervals_ms_.empty()) return 0.0;
  const double count = static_cast<double>(intervals_ms_.size());
  const double mean_ms = mean_interval_ms();
  const double variance = static_cast<double>(interval_square_sum_) / count - mean_ms * mean_ms;
  return variance > 0.0 ? std::sqrt(variance) : 0.0;  // rounding can make it slightly negative
}

std::optional<std::uint64_t> PhiAccrualDetector::last_heartbeat_ms() const {
  if (!heard_) return std::nullopt;
  return silence_start_ms_;
}

double PhiAccrualDetector::PhiOf(double time_since_last_ms, double mean_ms,
                                 double std_deviation_ms) {
  MERIDIAN_DCHECK(std_deviation_ms > 0.0);
  // Akka's logistic approximation of the normal CDF: 1 / (1 + e^(-y(1.5976 + 0.070566 y^2))).
  const double y = (time_since_last_ms - mean_ms) / std_deviation_ms;
  const double e = std::exp(-y * (1.5976 + 0.070566 * y * y));
  if (time_since_last_ms > mean_ms) {
    // -log10 of the upper tail e / (1 + e); for a long silence e underflows to 0, so cap phi.
    const double tail = e / (1.0 + e);
    return tail > 0.0 ? -std::log10(tail) : 324.0;
  }
  return -std::log10(1.0 - 1.0 / (1.0 + e));
}

double PhiAccrualDetector::Phi(std::uint64_t now_ms) const {
  if (!silence_start_ms_.has_value()) return 0.0;
  const double silence_ms =
      now_ms > *silence_start_ms_ ? static_cast<double>(now_ms - *silence_start_ms_) : 0.0;
  double mean_ms = 0.0;
  double deviation_ms = 0.0;
  if (heard_) {
    mean_ms = mean_interval_ms();
    deviation_ms = std_deviation_ms();
  } else {
    // Waiting for a first heartbeat (ExpectHeartbeatFrom): judge by the first estimate.
    mean_ms = static_cast<double>(config_.first_heartbeat_estimate_ms);
    deviation_ms = mean_ms / 4.0;
  }
  mean_ms += static_cast<double>(config_.acceptable_heartbeat_pause_ms);
  deviation_ms = std::max(deviation_ms, config_.min_std_deviation_ms);
  return PhiOf(silence_ms, mean_ms, deviation_ms);
}

bool PhiAccrualDetector::IsAvailable(std::uint64_t now_ms) const {
  return Phi(now_ms) < config_.threshold;
}

}  // namespace meridian::cluster
