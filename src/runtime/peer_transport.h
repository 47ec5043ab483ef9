// PeerTransport: the node-to-node transport — TCP connections carrying length-prefixed
// protobuf frames (docs/format/transport.md, docs/design/transport.md).
//
// Contract:
//   * Listen() accepts connections from any peer. Each connection starts with a handshake
//     (cluster name, protocol versions, node id, listen address, release); a peer of another
//     cluster, or with no protocol version in common, is answered with a HandshakeRejection
//     and closed (logged, counted). A connection speaks the highest common protocol version.
//   * Send(address, message) queues the message on the one persistent outbound connection to
//     that address, opened on the first Send. While messages are queued and the connection is
//     down, it reconnects with exponential backoff and jitter; queued messages go out, in
//     order, once it is back. Delivery is at most once: frames being written when a connection
//     drops, and frames queued when a peer rejects the handshake or when Stop() runs, are lost
//     (counted as dropped). Upper layers retry.
//   * Backpressure: each peer's queue is bounded in bytes and frames; Send returns Unavailable
//     when the message does not fit, and InvalidArgument when it can never be sent (over
//     frame_bytes_max, empty, or a bad address).
//   * A connection that breaks the protocol (bad length, unparseable frame, handshake
//     timeout) is closed alone; the node keeps serving its other connections.
//   * Liveness: both ends of every connection write a heartbeat frame when they wrote nothing
//     for heartbeat_interval_ms (to peers that announced heartbeats in their handshake), and a
//     connection on which nothing arrived for idle_timeout_ms, or whose write is stuck for
//     write_timeout_ms, is closed at once (cluster::LinkMonitor decides); an outbound one is
//     replaced by a new connection without waiting. Peer sockets also carry TCP_USER_TIMEOUT
//     and short keepalives (peer_socket.h). Connect attempts are bounded by
//     connect_timeout_ms and spaced by cluster::ReconnectBackoff.
//   * Outbound sockets bind to the listen address's IP unless it is a wildcard (0.0.0.0, ::),
//     so a node's peer traffic always comes from its own address (firewall rules, partitions
//     in tests).
//   * Received messages are handed to the handler on the io_context's thread, in the order
//     they were sent on their connection. A node may hold an inbound and an outbound
//     connection to the same peer; its own messages always leave on the outbound one.
//
// Thread-safety: none. Construct, call and destroy on the thread that runs the io_context
// (one thread, no locks), or before it runs. Never blocks. The handler is never called after
// Stop(). Connections keep the transport's shared state alive, so destroying the transport
// while their handlers are pending is safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/byte_budget.h"
#include "core/status.h"
#include "proto/peer.pb.h"
#include "runtime/peer_frame.h"
#include "runtime/peer_tls.h"
#include "runtime/peer_transport_config.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace meridian::runtime {

// Receives every message from every peer, on the io thread. `from_node_id` and `from_address`
// come from the sender's handshake. Exceptions thrown by it are logged and swallowed.
using PeerMessageHandler = std::function<void(
    const std::string& from_node_id, const std::string& from_address, proto::PeerMessage message)>;

// Counters of one peer address (outbound connection; frames_received also counts frames from
// inbound connections whose handshake names this address).
struct PeerStats {
  std::string address;
  bool connected = false;        // outbound connection established (handshake done)
  std::size_t queued_bytes = 0;  // frames queued or being written, headers included
  std::size_t queued_frames = 0;
  std::uint64_t frames_sent = 0;
  std::uint64_t frames_received = 0;
  std::uint64_t frames_dropped = 0;         // lost: write failed, rejected handshake, Stop()
  std::uint64_t sends_rejected = 0;         // Send() returned Unavailable: queue full
  std::uint64_t connects = 0;               // outbound handshakes completed
  std::uint64_t reconnects = 0;             // connection attempts after the first
  std::uint64_t handshakes_rejected = 0;    // outbound handshakes refused (by either side)
  std::uint64_t connections_timed_out = 0;  // outbound connections closed by a deadline
  std::uint64_t connect_failures = 0;       // outbound attempts that ended without a connection
  std::uint64_t early_redials = 0;          // backoffs cut short: the peer connected to this node
};

// Transport-wide counters: the listening side (where peers are not identified yet) and the
// frames received or rejected on every connection.
struct TransportStats {
  std::uint64_t connections_accepted = 0;
  std::uint64_t connections_refused = 0;  // over inbound_connections_max
  std::size_t connections_open = 0;
  std::uint64_t handshakes_completed = 0;
  std::uint64_t handshakes_rejected = 0;  // other cluster, protocol version, bad identity
  std::uint64_t handshake_timeouts = 0;
  // Unauthenticated connections closed to make room for a newer one (pending_handshakes_max).
  std::uint64_t pending_evicted = 0;
  std::size_t pending_handshakes = 0;  // inbound connections not yet through their handshakes
  // Inbound TLS handshakes that failed or presented no node certificate of the cluster's CA
  // (the connection is closed before any frame is read).
  std::uint64_t tls_handshakes_failed = 0;
  std::uint64_t frames_received = 0;  // PeerMessages handed to the handler
  std::uint64_t frames_rejected = 0;  // zero/oversized length or unparseable protobuf
  // PeerMessages of a kind this release does not know (from a newer release: no body set once
  // parsed). Handed to the handler, which ignores them; the connection stays open.
  std::uint64_t messages_unknown = 0;
  // Large frames whose link waited for room in the input budget before reading them.
  std::uint64_t frames_budget_waits = 0;
  std::uint64_t heartbeats_sent = 0;  // both directions, every connection
  std::uint64_t heartbeats_received = 0;
  std::uint64_t idle_timeouts = 0;   // connections closed: nothing received for the idle timeout
  std::uint64_t write_timeouts = 0;  // connections closed: a write stuck for the write timeout
};

class PeerTransport {
 public:
  PeerTransport(boost::asio::io_context& io, PeerTransportConfig config,
                PeerMessageHandler handler);
  ~PeerTransport();  // Stop()
  PeerTransport(const PeerTransport&) = delete;
  PeerTransport& operator=(const PeerTransport&) = delete;

  // Validates the config, binds listen_address and starts accepting. InvalidArgument for a
  // bad config, IoError when binding fails, Internal when called twice.
  Status Listen();
  // Queues `message` for `to_address` ("IP:PORT"). Unavailable when that peer's queue is
  // full or the transport is stopped; InvalidArgument when the message is empty or over
  // frame_bytes_max, the address is not IP:PORT, or the config is invalid; Internal before
  // Listen() unless advertised_address is set (peers need an address to answer to).
  Status Send(const std::string& to_address, const proto::PeerMessage& message);
  // Closes the listener and every connection, drops queued frames (counted) and stops the
  // reconnect timers. Idempotent. Pending operations finish with errors on the io thread.
  void Stop();
  // Replaces the TLS context of new connections (certificate rotation; open connections keep
  // theirs). InvalidArgument when the transport runs plaintext, `tls` is null, or it is for
  // another node id.
  Status ReloadTls(std::shared_ptr<PeerTlsContext> tls);
  bool uses_tls() const;
  // Frames larger than a read chunk are held under `budget` (shared with the node's front ends)
  // while they arrive; a link whose next frame does not fit stops reading until it does.
  void SetInputBudget(std::shared_ptr<ByteBudget> budget);

  std::uint16_t bound_port() const;               // 0 before Listen()
  const std::string& advertised_address() const;  // as sent in handshakes
  std::vector<PeerStats> peer_stats() const;      // sorted by address
  std::optional<PeerStats> peer_stats(const std::string& address) const;
  TransportStats stats() const;

  // Defined in peer_transport.cc; public only so the connection code there can name it.
  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace meridian::runtime
