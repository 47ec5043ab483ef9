// PeerTransport: the node-to-node transport — TCP connections carrying length-prefixed
// protobuf frames (docs/format/transport.md, docs/design/transport.md).
//
// Contract:
//   * Listen() accepts connections from any peer. Each connection starts with a handshake
//     (cluster name, protocol version, node id, listen address); a peer of another cluster or
//     protocol version is answered with a HandshakeRejection and closed (logged, counted).
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

#include "core/status.h"
#include "proto/peer.pb.h"
#include "runtime/peer_frame.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace meridian::runtime {

struct PeerTransportConfig {
  std::string cluster_name = "meridian";
  std::string node_id;                         // cluster::NodeId; must be valid
  std::string listen_address = "127.0.0.1:0";  // HOST:PORT; port 0 picks a free port
  std::string advertised_address;  // sent in handshakes; empty: listen host + bound port
  std::uint32_t protocol_version = kPeerProtocolVersion;  // other values: tests only
  std::size_t frame_bytes_max = 16 << 20;       // payload bytes per frame, both directions
  std::size_t send_queue_bytes_max = 64 << 20;  // per peer, frames queued or being written
  std::size_t send_queue_frames_max = 65536;    // per peer
  std::size_t inbound_connections_max = 1024;   // more are accepted and closed at once
  std::uint32_t connect_timeout_ms = 2000;
  std::uint32_t handshake_timeout_ms = 2000;  // from connect/accept to the handshake reply
  std::uint32_t reconnect_backoff_initial_ms = 100;
  std::uint32_t reconnect_backoff_max_ms = 5000;  // the delay doubles up to this
  std::uint64_t random_seed = 0;                  // backoff jitter; 0: seeded from the OS

  // InvalidArgument naming the first bad field.
  Status Validate() const;
};

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
  std::uint64_t frames_dropped = 0;       // lost: write failed, rejected handshake, Stop()
  std::uint64_t sends_rejected = 0;       // Send() returned Unavailable: queue full
  std::uint64_t connects = 0;             // outbound handshakes completed
  std::uint64_t reconnects = 0;           // connection attempts after the first
  std::uint64_t handshakes_rejected = 0;  // outbound handshakes refused (by either side)
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
  std::uint64_t frames_received = 0;  // PeerMessages handed to the handler
  std::uint64_t frames_rejected = 0;  // zero/oversized length or unparseable protobuf
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
