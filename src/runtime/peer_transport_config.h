// PeerTransportConfig: the settings of runtime::PeerTransport (peer_transport.h), in a header of
// their own so that configuration code (ServerConfig, `meridian serve`) need not include the
// transport. Value type.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "cluster/link_monitor.h"
#include "cluster/reconnect_backoff.h"
#include "core/status.h"
#include "runtime/peer_frame.h"
#include "runtime/peer_tls.h"

namespace meridian::runtime {

struct PeerTransportConfig {
  std::string cluster_name = "meridian";
  std::string node_id;                         // cluster::NodeId; must be valid
  std::string listen_address = "127.0.0.1:0";  // HOST:PORT; port 0 picks a free port
  std::string advertised_address;  // sent in handshakes; empty: listen host + bound port
  // The peer protocol versions this node speaks (peer_frame.h) and its release, as announced
  // in handshakes. Other values: tests only.
  std::uint32_t protocol_version = kPeerProtocolVersion;         // the highest
  std::uint32_t min_protocol_version = kMinPeerProtocolVersion;  // the lowest
  std::string meridian_version = MERIDIAN_VERSION;
  std::size_t frame_bytes_max = 16 << 20;       // payload bytes per frame, both directions
  std::size_t send_queue_bytes_max = 64 << 20;  // per peer, frames queued or being written
  std::size_t send_queue_frames_max = 65536;    // per peer
  std::size_t inbound_connections_max = 1024;   // more are accepted and closed at once
  // Inbound connections not yet through their handshakes (TLS and Meridian's): unauthenticated,
  // so strangers can hold them. Over this, the oldest is closed to make room; each lasts at most
  // handshake_timeout_ms.
  std::size_t pending_handshakes_max = 64;
  // One connect attempt (SYN to established), also when SYNs are lost in a partition.
  std::uint32_t connect_timeout_ms = 2000;
  std::uint32_t handshake_timeout_ms = 2000;  // from connect/accept to the handshake reply
  // Spacing of connect attempt starts (cluster/reconnect_backoff.h): doubles up to the maximum.
  std::uint32_t reconnect_backoff_initial_ms = cluster::ReconnectBackoffConfig{}.initial_ms;
  std::uint32_t reconnect_backoff_max_ms = cluster::ReconnectBackoffConfig{}.max_ms;
  // Connection liveness (cluster/link_monitor.h): a heartbeat after this much write silence,
  // dead after this much read silence or a write stuck this long. The idle and write timeouts
  // are also the sockets' TCP_USER_TIMEOUT (the larger of the two) and keepalive idle time.
  std::uint32_t heartbeat_interval_ms = cluster::LinkMonitorConfig{}.heartbeat_interval_ms;
  std::uint32_t idle_timeout_ms = cluster::LinkMonitorConfig{}.idle_timeout_ms;
  std::uint32_t write_timeout_ms = cluster::LinkMonitorConfig{}.write_timeout_ms;
  std::uint64_t random_seed = 0;  // backoff jitter; 0: seeded from the OS
  // Mutual TLS 1.3 on every connection, both directions (runtime/peer_tls.h); its node id must
  // be node_id. Null: plaintext, which lets anyone who reaches the port act as a node.
  std::shared_ptr<PeerTlsContext> tls;

  // InvalidArgument naming the first bad field.
  Status Validate() const;
  cluster::LinkMonitorConfig link_monitor() const;
  cluster::ReconnectBackoffConfig reconnect_backoff() const;
};

}  // namespace meridian::runtime
