// LinkStalls: the simulated network's model of what a partition does to a TCP connection, which
// the plain message-level model (a cut drops messages; a heal lets them through at once) misses.
// A real connection through a partition keeps retransmitting its unacknowledged data with an
// exponential backoff; after the heal nothing gets through until its next retransmission — tens
// of seconds after a long partition — unless the transport gives up on the connection first and
// replaces it. That is the bug of issue 10 item 3, and this model is what lets the simulator see
// it.
//
// Model, per directed link (sender, receiver) — the sender's outbound connection:
//   * Stall: when the link is cut, its connection stalls (from the cut's time). Messages sent
//     into the cut are dropped (kDropPartition); the first one starts TCP's retransmission clock:
//     retransmissions at first + rto, + 2 rto, + 4 rto, ... (each gap capped at rto_max_ms).
//   * The sender's transport watches the connection with the same cluster::LinkMonitor the real
//     transport uses: nothing arrives on a stalled connection, so the monitor declares it dead at
//     its idle deadline; the kernel also aborts it once data stayed unacknowledged for
//     kernel_abort_ms (TCP_USER_TIMEOUT, or tcp_retries2 without one).
//   * A dead connection is replaced: attempts start at once and are spaced by the same
//     cluster::ReconnectBackoff as the real transport. An attempt while the link is cut fails
//     after connect_timeout_ms unless the heal comes while its SYN is still being retransmitted
//     (at +syn_rto, +3 syn_rto, ...) within that timeout; an attempt after the heal succeeds.
//   * After the heal, the stalled connection delivers again at the earliest of: its next
//     retransmission, the replacement connecting. Until then messages on the link are dropped
//     (kDropStalled). Nothing sent into the cut ever arrives (a simplification: TCP would deliver
//     the buffered data late; the liveness effect — nothing arrives before recovery — is the
//     same). A link on which nothing was sent during the cut recovers at the heal (TCP had
//     nothing to retransmit).
//   * Only the data direction counts: a connection stalls when its own direction is cut, as the
//     message-level one-way partitions of SimNetwork assume (a real connection would also stall
//     when only its acknowledgements are cut).
// Decisions use only the config, the times given and the random stream handed in, so a seed
// replays exactly. Not thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "cluster/link_monitor.h"
#include "cluster/reconnect_backoff.h"
#include "core/clock.h"

namespace meridian::sim {

struct LinkStallConfig {
  bool enabled = true;
  std::uint64_t rto_initial_ms = 200;        // Linux TCP_RTO_MIN: loopback and LAN round trips
  std::uint64_t rto_max_ms = 120'000;        // TCP_RTO_MAX
  std::uint64_t syn_rto_initial_ms = 1'000;  // TCP_TIMEOUT_INIT
  // The transport's deadlines, as runtime::PeerTransportConfig's defaults; nullopt: none (the
  // transport before issue 10 item 3).
  std::optional<cluster::LinkMonitorConfig> deadline = cluster::LinkMonitorConfig{};
  // Unacknowledged data for this long makes the kernel abort the connection: TCP_USER_TIMEOUT
  // (the transport sets the larger of its idle and write timeouts), or ~15 minutes of
  // tcp_retries2 = 15 without it.
  std::uint64_t kernel_abort_ms = 5'000;
  cluster::ReconnectBackoffConfig reconnect;
  std::uint64_t connect_timeout_ms = 2'000;

  // The transport before heartbeats and deadlines: no monitor, no TCP_USER_TIMEOUT, reconnect
  // backoff up to 5 s. For the scenario that shows the bug.
  static LinkStallConfig WithoutTransportDeadlines();
};

class LinkStalls {
 public:
  explicit LinkStalls(LinkStallConfig config);

  // The link from -> to was cut at now_ms (it was not cut before).
  void OnCut(const std::string& from, const std::string& to, std::uint64_t now_ms);
  // Every cut was lifted at now_ms, except links for which `still_cut(from, to)` holds. Draws
  // reconnect jitter from `random` (in link order).
  template <typename StillCut>
  void OnHeal(std::uint64_t now_ms, Random& random, const StillCut& still_cut) {
    for (auto& [link, stall] : stalls_) {
      if (!stall.healed_at_ms.has_value() && !still_cut(link.first, link.second)) {
        Heal(stall, now_ms, random);
      }
    }
  }
  // A message from -> to is sent at now_ms over a link that is cut (`cut`) or not. True when the
  // connection cannot carry it (stalled, or cut); false when it flows (the stall, if any, is
  // over and forgotten).
  bool Blocks(const std::string& from, const std::string& to, bool cut, std::uint64_t now_ms);

  const LinkStallConfig& config() const { return config_; }
  // Links with a stall on record, including ones that have recovered but carried nothing since.
  std::size_t stalled_link_count() const { return stalls_.size(); }
  // Whether some link would block a message sent at now_ms: still cut, or healed but its
  // connection not yet recovered.
  bool AnyBlockingAt(std::uint64_t now_ms) const;

 private:
  struct Stall {
    std::uint64_t cut_at_ms = 0;
    std::optional<cluster::LinkMonitor>
        monitor;  // the sender's (with deadlines): silent since cut_at_ms
    std::optional<std::uint64_t> first_unacked_ms;  // first message sent into the cut
    std::optional<std::uint64_t> healed_at_ms;      // nullopt while cut
    std::optional<std::uint64_t> recovered_at_ms;   // computed at the heal
    // The replacement connection's attempts, once the old one is dead.
    std::optional<cluster::ReconnectBackoff> backoff;
    std::uint64_t next_attempt_ms = 0;
  };

  void Heal(Stall& stall, std::uint64_t healed_at_ms, Random& random);
  // When the stalled connection is given up (monitor or kernel); nullopt: never.
  std::optional<std::uint64_t> DeadAtMs(const Stall& stall) const;
  // The first retransmission at or after `at_ms` of data first sent at first_ms.
  std::uint64_t NextRetransmissionMs(std::uint64_t first_ms, std::uint64_t initial_ms,
                                     std::uint64_t at_ms) const;
  // When a replacement connects, the link being cut until healed_at_ms and open afterwards.
  std::uint64_t ReconnectedAtMs(Stall& stall, std::uint64_t dead_at_ms, std::uint64_t healed_at_ms,
                                Random& random);

  LinkStallConfig config_;
  // Stalled links by (from, to); ordered, so heals draw randomness in a fixed order.
  std::map<std::pair<std::string, std::string>, Stall> stalls_;
};

}  // namespace meridian::sim
