#include "sim/link_stall.h"

#include <algorithm>

#include "core/assert.h"

namespace meridian::sim {
namespace {

// Bound on the simulated connect attempts of one stall, so a model bug cannot loop forever:
// attempts are at least min(connect timeout, backoff initial / 2) apart, and no scenario cuts a
// link for anywhere near this many of them.
constexpr int kAttemptsPerHealMax = 1'000'000;

}  // namespace

LinkStallConfig LinkStallConfig::WithoutTransportDeadlines() {
  LinkStallConfig config;
  config.deadline.reset();
  config.kernel_abort_ms = 924'600;  // tcp_retries2 = 15 with a 200 ms minimum RTO
  config.reconnect.max_ms = 5'000;
  return config;
}

LinkStalls::LinkStalls(LinkStallConfig config) : config_(std::move(config)) {
  MERIDIAN_CHECK(config_.rto_initial_ms > 0);
  MERIDIAN_CHECK(config_.rto_max_ms >= config_.rto_initial_ms);
  MERIDIAN_CHECK(config_.syn_rto_initial_ms > 0);
  MERIDIAN_CHECK(config_.connect_timeout_ms > 0);
  MERIDIAN_CHECK(cluster::ValidateReconnectBackoffConfig(config_.reconnect).ok());
  if (config_.deadline) MERIDIAN_CHECK(cluster::ValidateLinkMonitorConfig(*config_.deadline).ok());
}

void LinkStalls::OnCut(const std::string& from, const std::string& to, std::uint64_t now_ms) {
  if (!config_.enabled) return;
  const auto key = std::make_pair(from, to);
  auto it = stalls_.find(key);
  if (it != stalls_.end() && it->second.recovered_at_ms && *it->second.recovered_at_ms <= now_ms) {
    stalls_.erase(it);  // it recovered before this cut: a new stall starts now
    it = stalls_.end();
  }
  if (it != stalls_.end()) {
    // Cut again before it recovered: the retransmission clock and the dead connection's
    // replacement attempts go on.
    it->second.healed_at_ms.reset();
    it->second.recovered_at_ms.reset();
    return;
  }
  Stall stall;
  stall.cut_at_ms = now_ms;
  if (config_.deadline) {
    // Every node's transport announces the same heartbeat interval.
    stall.monitor.emplace(*config_.deadline, config_.deadline->heartbeat_interval_ms, now_ms);
  }
  stalls_.emplace(key, std::move(stall));
}

bool LinkStalls::Blocks(const std::string& from, const std::string& to, bool cut,
                        std::uint64_t now_ms) {
  if (!config_.enabled) return cut;
  const auto it = stalls_.find(std::make_pair(from, to));
  if (it == stalls_.end()) return cut;
  Stall& stall = it->second;
  if (cut) {
    if (!stall.first_unacked_ms) stall.first_unacked_ms = now_ms;
    return true;
  }
  MERIDIAN_CHECK(stall.recovered_at_ms.has_value());  // healed links are settled in Heal()
  if (now_ms < *stall.recovered_at_ms) {
    return true;
  }
  stalls_.erase(it);
  return false;
}

bool LinkStalls::AnyBlockingAt(std::uint64_t now_ms) const {
  return std::any_of(stalls_.begin(), stalls_.end(), [now_ms](const auto& entry) {
    const Stall& stall = entry.second;
    return !stall.recovered_at_ms.has_value() || now_ms < *stall.recovered_at_ms;
  });
}

void LinkStalls::Heal(Stall& stall, std::uint64_t healed_at_ms, Random& random) {
  stall.healed_at_ms = healed_at_ms;
  if (!stall.first_unacked_ms) {
    // Nothing was in flight: TCP never noticed the partition.
    stall.recovered_at_ms = healed_at_ms;
    return;
  }
  std::uint64_t recovered_ms =
      NextRetransmissionMs(*stall.first_unacked_ms, config_.rto_initial_ms, healed_at_ms);
  if (std::optional<std::uint64_t> dead_at_ms = DeadAtMs(stall)) {
    if (*dead_at_ms < recovered_ms) {
      recovered_ms =
          std::min(recovered_ms, ReconnectedAtMs(stall, *dead_at_ms, healed_at_ms, random));
    }
  }
  stall.recovered_at_ms = recovered_ms;
}

std::optional<std::uint64_t> LinkStalls::DeadAtMs(const Stall& stall) const {
  std::optional<std::uint64_t> dead_at_ms;
  if (stall.first_unacked_ms) dead_at_ms = *stall.first_unacked_ms + config_.kernel_abort_ms;
  if (stall.monitor) {
    // What the real transport's watchdog sees: nothing received since the cut.
    const std::optional<std::uint64_t> deadline_ms = stall.monitor->DeadlineMs();
    MERIDIAN_CHECK(deadline_ms.has_value());
    MERIDIAN_CHECK(stall.monitor->Check(*deadline_ms) != cluster::LinkVerdict::kAlive);
    dead_at_ms = dead_at_ms ? std::min(*dead_at_ms, *deadline_ms) : *deadline_ms;
  }
  return dead_at_ms;
}

std::uint64_t LinkStalls::NextRetransmissionMs(std::uint64_t first_ms, std::uint64_t initial_ms,
                                               std::uint64_t at_ms) const {
  std::uint64_t time_ms = first_ms;
  std::uint64_t gap_ms = initial_ms;
  // Bounded: the gap doubles to rto_max_ms, after which each pass covers at least that much.
  while (time_ms < at_ms) {
    time_ms += gap_ms;
    gap_ms = std::min(gap_ms * 2, config_.rto_max_ms);
  }
  return time_ms;
}

std::uint64_t LinkStalls::ReconnectedAtMs(Stall& stall, std::uint64_t dead_at_ms,
                                          std::uint64_t healed_at_ms, Random& random) {
  if (!stall.backoff) {
    // The dead connection had lived since before the cut: it is replaced at once, with a fresh
    // backoff (ReconnectBackoff's rule for a connection that lived and died).
    stall.backoff.emplace(config_.reconnect);
    stall.next_attempt_ms = dead_at_ms;
  }
  for (int attempt = 0; attempt < kAttemptsPerHealMax; ++attempt) {
    const std::uint64_t start_ms = stall.next_attempt_ms;
    if (start_ms >= healed_at_ms) return start_ms;  // the SYN gets through
    const std::uint64_t timeout_ms = start_ms + config_.connect_timeout_ms;
    // Healed while this attempt still retransmits its SYN: the next retransmission connects.
    const std::uint64_t syn_ms =
        NextRetransmissionMs(start_ms, config_.syn_rto_initial_ms, healed_at_ms);
    if (syn_ms < timeout_ms) return syn_ms;
    stall.next_attempt_ms = stall.backoff->NextAttemptMs(start_ms, timeout_ms, random);
  }
  MERIDIAN_CHECK(false && "LinkStalls: connect attempts unbounded");
  return healed_at_ms;
}

}  // namespace meridian::sim
