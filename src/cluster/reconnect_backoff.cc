#include "cluster/reconnect_backoff.h"

#include <algorithm>
#include <string>

#include "core/assert.h"

namespace meridian::cluster {
namespace {

constexpr std::uint64_t kBackoffMaxMs = 3'600'000;

}  // namespace

Status ValidateReconnectBackoffConfig(const ReconnectBackoffConfig& config) {
  if (config.initial_ms == 0 || config.max_ms < config.initial_ms ||
      config.max_ms > kBackoffMaxMs) {
    return Status::InvalidArgument(
        "reconnect backoff: initial must be above 0 and at most the maximum, the maximum at most " +
        std::to_string(kBackoffMaxMs) + " ms (got " + std::to_string(config.initial_ms) + " and " +
        std::to_string(config.max_ms) + ")");
  }
  return Status::Ok();
}

ReconnectBackoff::ReconnectBackoff(const ReconnectBackoffConfig& config)
    : config_(config), backoff_ms_(config.initial_ms) {
  MERIDIAN_CHECK(ValidateReconnectBackoffConfig(config_).ok());
}

std::uint64_t ReconnectBackoff::NextAttemptMs(std::uint64_t attempt_started_ms,
                                              std::uint64_t attempt_ended_ms, Random& random) {
  const std::uint64_t half_ms = backoff_ms_ / 2;
  const std::uint64_t delay_ms = half_ms + random.Uniform(backoff_ms_ - half_ms + 1);
  backoff_ms_ = std::min(backoff_ms_ * 2, config_.max_ms);
  return std::max(attempt_ended_ms, attempt_started_ms + delay_ms);
}

}  // namespace meridian::cluster
