#include "cluster/link_monitor.h"

#include <algorithm>
#include <string>

#include "core/assert.h"

namespace meridian::cluster {
namespace {

// Upper bound of every setting: larger values are typos, and the bound keeps sums far from
// overflow.
constexpr std::uint64_t kSettingMaxMs = 3'600'000;

Status CheckRange(std::string_view name, std::uint64_t value_ms) {
  if (value_ms == 0 || value_ms > kSettingMaxMs) {
    return Status::InvalidArgument(std::string(name) + " must be in [1, " +
                                   std::to_string(kSettingMaxMs) + "], got " +
                                   std::to_string(value_ms));
  }
  return Status::Ok();
}

}  // namespace

Status ValidateLinkMonitorConfig(const LinkMonitorConfig& config) {
  MERIDIAN_RETURN_IF_ERROR(CheckRange("heartbeat_interval_ms", config.heartbeat_interval_ms));
  MERIDIAN_RETURN_IF_ERROR(CheckRange("idle_timeout_ms", config.idle_timeout_ms));
  MERIDIAN_RETURN_IF_ERROR(CheckRange("write_timeout_ms", config.write_timeout_ms));
  if (config.idle_timeout_ms < 2 * config.heartbeat_interval_ms) {
    return Status::InvalidArgument("idle_timeout_ms (" + std::to_string(config.idle_timeout_ms) +
                                   ") must be at least twice heartbeat_interval_ms (" +
                                   std::to_string(config.heartbeat_interval_ms) +
                                   "): one late heartbeat is no failure");
  }
  return Status::Ok();
}

std::string_view LinkVerdictName(LinkVerdict verdict) {
  switch (verdict) {
    case LinkVerdict::kAlive:
      return "alive";
    case LinkVerdict::kIdleTimeout:
      return "idle timeout";
    case LinkVerdict::kWriteTimeout:
      return "write timeout";
  }
  return "unknown";
}

LinkMonitor::LinkMonitor(const LinkMonitorConfig& config, std::uint64_t peer_heartbeat_interval_ms,
                         std::uint64_t now_ms)
    : config_(config),
      send_heartbeats_(peer_heartbeat_interval_ms > 0),
      idle_timeout_ms_(0),
      latest_input_ms_(now_ms),
      last_received_ms_(now_ms),
      last_write_ms_(now_ms) {
  MERIDIAN_CHECK(ValidateLinkMonitorConfig(config_).ok());
  if (peer_heartbeat_interval_ms > 0) {
    // A peer's announcement is bounded like our own settings, so the product cannot overflow.
    const std::uint64_t peer_interval_ms = std::min(peer_heartbeat_interval_ms, kSettingMaxMs);
    idle_timeout_ms_ = std::max(config_.idle_timeout_ms, 2 * peer_interval_ms);
  }
}

std::uint64_t LinkMonitor::Clamp(std::uint64_t now_ms) {
  latest_input_ms_ = std::max(latest_input_ms_, now_ms);
  return latest_input_ms_;
}

void LinkMonitor::Received(std::uint64_t now_ms) {
  last_received_ms_ = Clamp(now_ms);
}

void LinkMonitor::WriteStarted(std::uint64_t now_ms) {
  MERIDIAN_DCHECK(!write_started_ms_.has_value());
  const std::uint64_t at_ms = Clamp(now_ms);
  write_started_ms_ = at_ms;
  last_write_ms_ = at_ms;
}

void LinkMonitor::WriteFinished(std::uint64_t now_ms) {
  last_write_ms_ = Clamp(now_ms);
  write_started_ms_.reset();
}

bool LinkMonitor::HeartbeatDue(std::uint64_t now_ms) const {
  if (!send_heartbeats_ || write_started_ms_.has_value()) return false;
  return now_ms >= last_write_ms_ + config_.heartbeat_interval_ms;
}

LinkVerdict LinkMonitor::Check(std::uint64_t now_ms) const {
  if (write_started_ms_.has_value() && now_ms >= *write_started_ms_ + config_.write_timeout_ms) {
    return LinkVerdict::kWriteTimeout;
  }
  if (idle_timeout_ms_ > 0 && now_ms >= last_received_ms_ + idle_timeout_ms_) {
    return LinkVerdict::kIdleTimeout;
  }
  return LinkVerdict::kAlive;
}

std::optional<std::uint64_t> LinkMonitor::DeadlineMs() const {
  std::optional<std::uint64_t> deadline_ms;
  if (idle_timeout_ms_ > 0) deadline_ms = last_received_ms_ + idle_timeout_ms_;
  if (write_started_ms_.has_value()) {
    const std::uint64_t write_deadline_ms = *write_started_ms_ + config_.write_timeout_ms;
    deadline_ms = deadline_ms ? std::min(*deadline_ms, write_deadline_ms) : write_deadline_ms;
  }
  return deadline_ms;
}

std::uint64_t LinkMonitor::NextWakeMs() const {
  // Without a write in progress the next heartbeat is due then; with one, the write's end is an
  // input, so looking again one interval later is enough.
  std::uint64_t wake_ms = write_started_ms_.has_value()
                              ? latest_input_ms_ + config_.heartbeat_interval_ms
                              : last_write_ms_ + config_.heartbeat_interval_ms;
  if (std::optional<std::uint64_t> deadline_ms = DeadlineMs()) {
    wake_ms = std::min(wake_ms, *deadline_ms);
  }
  return wake_ms;
}

}  // namespace meridian::cluster
