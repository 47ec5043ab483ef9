// Peer frames: the byte layout and handshake rules of the node-to-node transport
// (docs/format/transport.md), without any I/O, so tests and tools can build and check frames.
//
// A frame is [4-byte big-endian payload length][payload: protobuf bytes]. The length counts
// the payload only; it is never 0 and never above the receiver's limit. Pure functions;
// thread-safe.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"
#include "proto/transport.pb.h"

namespace google::protobuf {
class MessageLite;
}  // namespace google::protobuf

namespace meridian::runtime {

// The transport protocol versions this build speaks: every version from the minimum to the
// maximum (docs/format/transport.md, "Version negotiation"). Raise kPeerProtocolVersion on any
// change of the frame layout, the handshake, or the meaning of a PeerMessage that old nodes
// would misread, and keep the versions of the previous release in the range (raise
// kMinPeerProtocolVersion only when the previous release no longer speaks it), so that a
// cluster can be upgraded one node at a time (docs/operations.md, "Upgrades").
inline constexpr std::uint32_t kPeerProtocolVersion = 1;
inline constexpr std::uint32_t kMinPeerProtocolVersion = 1;
inline constexpr std::size_t kFrameHeaderBytes = 4;
// Limit on handshake frames (both directions), applied before the peer is known, so an
// unidentified connection can never make a node allocate more than this.
inline constexpr std::size_t kHandshakeFrameBytesMax = 4096;

using FrameHeader = std::array<unsigned char, kFrameHeaderBytes>;

// Header plus the serialized message. The caller ensures the message is not empty and fits
// in 32 bits (PeerTransport::Send checks its frame_bytes_max).
std::string EncodeFrame(const google::protobuf::MessageLite& message);
// The header for a payload of `payload_bytes` (tests use it to forge lengths).
FrameHeader EncodeFrameHeader(std::uint32_t payload_bytes);
std::uint32_t DecodeFrameHeader(const FrameHeader& header);
// InvalidArgument for a zero length or one above `payload_bytes_max`.
Status CheckFrameLength(std::uint32_t payload_bytes, std::size_t payload_bytes_max);

// The protocol versions a node speaks: every one from `min` to `max`.
struct ProtocolRange {
  std::uint32_t min = kMinPeerProtocolVersion;
  std::uint32_t max = kPeerProtocolVersion;

  bool Contains(std::uint32_t version) const { return version >= min && version <= max; }
  std::string ToString() const;  // "1" or "1..2"
};

// What a node says about itself in a handshake it dials with: its range (min and max), its
// minimum also as protocol_version (what a node without ranges, release 0.1.0, checks), and its
// release. An accepting reply is the same with protocol_version set to the negotiated version.
proto::Handshake MakeHandshake(std::string_view cluster_name, ProtocolRange protocols,
                               std::string_view node_id, std::string_view listen_address,
                               std::string_view meridian_version = MERIDIAN_VERSION);

// The versions the sender of `handshake` speaks: its min and max fields, or only its
// protocol_version when they are absent (release 0.1.0).
ProtocolRange HandshakeProtocolRange(const proto::Handshake& handshake);

// The highest version that both `own` (of node `own_node_id`) and the peer's range contain.
// InvalidArgument when there is none, naming both nodes, their ranges and releases (when
// known), and which of them must be upgraded first.
Result<std::uint32_t> NegotiateProtocolVersion(
    const proto::Handshake& peer, std::string_view own_node_id, ProtocolRange own,
    std::string_view own_meridian_version = MERIDIAN_VERSION);

// Whether a peer's handshake is acceptable to node `own_node_id` of `cluster_name` speaking
// `own`: same cluster name, a protocol version in common, a valid node id and a HOST:PORT
// listen address. The highest common protocol version, or InvalidArgument with the reason
// (sent to the peer).
Result<std::uint32_t> CheckPeerHandshake(const proto::Handshake& peer,
                                         std::string_view cluster_name,
                                         std::string_view own_node_id, ProtocolRange own);

}  // namespace meridian::runtime
