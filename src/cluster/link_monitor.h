// LinkMonitor: the liveness decisions of one established peer connection — when to send a
// heartbeat on it and when to give up on it — taken from what the connection did and when, with
// no socket and no clock (times come in as now_ms of a monotonic clock). The real transport
// (runtime/peer_transport.cc) runs one per connection, both directions; the simulator's network
// (sim/link_stall.h) runs one per simulated connection, so the simulator exercises the very
// decisions the transport takes. See docs/design/transport.md ("Heartbeats and deadlines").
//
// Why: TCP alone does not notice a peer that went silent. A connection through a partition keeps
// retransmitting with exponential backoff (an RTO of tens of seconds after a minute) and is only
// abandoned after ~15 minutes, so after a heal it stays stuck until its next retransmission. The
// monitor declares such a connection dead within idle_timeout_ms so that it is replaced.
//
// Rules (each tested in tests/cluster/link_monitor_test.cc):
//   * Heartbeat: HeartbeatDue() once nothing was written for heartbeat_interval_ms and no write
//     is in progress — but never to a peer that announced no heartbeat interval (a node that
//     predates heartbeats would hand them to its upper layers).
//   * Idle: Check() is kIdleTimeout once nothing was received (heartbeats count; any bytes count)
//     for the idle timeout: max(idle_timeout_ms, 2 * the peer's announced heartbeat interval),
//     so a peer configured with slower heartbeats is not cut off. A peer that announced no
//     interval sends no heartbeats: its silence is no evidence and never times out.
//   * Write: Check() is kWriteTimeout once one write has been in progress for write_timeout_ms.
//   * The connection counts as having received and written at construction (its handshake).
// Inputs with now_ms earlier than an earlier input are treated as that earlier time.
//
// Value type; not thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "core/status.h"

namespace meridian::cluster {

struct LinkMonitorConfig {
  // A connection on which nothing was written for this long gets a heartbeat frame.
  std::uint64_t heartbeat_interval_ms = 500;
  // A connection on which nothing arrived for this long is dead: five missed heartbeats.
  std::uint64_t idle_timeout_ms = 2500;
  // A connection whose current write has not completed for this long is dead. One write is at
  // most 1 MiB, so this allows a peer down to ~200 KiB/s.
  std::uint64_t write_timeout_ms = 5000;
};

// InvalidArgument naming the setting out of range: every value in [1, 1 hour], and
// idle_timeout_ms at least twice heartbeat_interval_ms (one late heartbeat is no failure).
Status ValidateLinkMonitorConfig(const LinkMonitorConfig& config);

enum class LinkVerdict { kAlive, kIdleTimeout, kWriteTimeout };
std::string_view LinkVerdictName(LinkVerdict verdict);

class LinkMonitor {
 public:
  // A connection whose handshake completed at now_ms. peer_heartbeat_interval_ms is what the peer
  // announced in its handshake; 0: it sends none. Requires a valid config.
  LinkMonitor(const LinkMonitorConfig& config, std::uint64_t peer_heartbeat_interval_ms,
              std::uint64_t now_ms);

  // Bytes (part of a frame, a frame, a heartbeat) arrived.
  void Received(std::uint64_t now_ms);
  // A write was handed to the socket / completed. At most one write is in progress.
  void WriteStarted(std::uint64_t now_ms);
  void WriteFinished(std::uint64_t now_ms);

  // Whether the owner should write a heartbeat frame now.
  bool HeartbeatDue(std::uint64_t now_ms) const;
  // Whether the connection is still worth waiting on.
  LinkVerdict Check(std::uint64_t now_ms) const;
  // The earliest time at which Check() turns dead if nothing else happens; nullopt when it never
  // does (a peer without heartbeats and no write in progress).
  std::optional<std::uint64_t> DeadlineMs() const;
  // The earliest time at which HeartbeatDue() or Check() may change without another input: when
  // the owner should look again. At most heartbeat_interval_ms after the last write activity.
  std::uint64_t NextWakeMs() const;

  // The idle timeout in force (see above); 0 when silence never times out.
  std::uint64_t idle_timeout_ms() const { return idle_timeout_ms_; }
  bool write_in_progress() const { return write_started_ms_.has_value(); }
  std::uint64_t last_received_ms() const { return last_received_ms_; }
  std::uint64_t last_write_ms() const { return last_write_ms_; }

 private:
  std::uint64_t Clamp(std::uint64_t now_ms);

  LinkMonitorConfig config_;
  bool send_heartbeats_;
  std::uint64_t idle_timeout_ms_;
  std::uint64_t latest_input_ms_;
  std::uint64_t last_received_ms_;
  std::uint64_t last_write_ms_;  // start or end of the latest write
  std::optional<std::uint64_t> write_started_ms_;
};

}  // namespace meridian::cluster
