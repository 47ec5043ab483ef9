// Kernel-level liveness settings of a peer connection's socket, applied by PeerTransport to
// every peer socket, accepted or dialed (docs/design/transport.md, "Heartbeats and deadlines").
// They back up the transport's own heartbeats and deadlines (cluster/link_monitor.h):
//   * TCP_USER_TIMEOUT: the kernel aborts the connection when data it sent stays unacknowledged
//     this long — including the case the heartbeats cannot see: the peer's frames still arrive
//     but ours are lost (a one-way partition);
//   * SO_KEEPALIVE with short TCP_KEEPIDLE / TCP_KEEPINTVL / TCP_KEEPCNT: probes on a connection
//     with no traffic at all (a peer that sends no heartbeats because it predates them);
//   * TCP_NODELAY: frames leave at once.
// Linux socket options on a native descriptor; no other I/O. Thread-safe (no state).
#pragma once

#include <cstdint>

#include "core/status.h"

namespace meridian::runtime {

struct PeerSocketOptions {
  std::uint32_t user_timeout_ms = 5000;  // TCP_USER_TIMEOUT; 0: the kernel default (~15 min)
  std::uint32_t keepalive_idle_s = 2;    // TCP_KEEPIDLE: silence before the first probe
  std::uint32_t keepalive_interval_s = 1;
  std::uint32_t keepalive_probes = 3;  // unanswered probes before the kernel gives up
};

// Applies every option to the socket `native_handle`. IoError naming the first option the
// kernel refused (the caller logs it and keeps the connection: these are a second line of
// defence behind the transport's own deadlines).
Status ApplyPeerSocketOptions(int native_handle, const PeerSocketOptions& options);

}  // namespace meridian::runtime
