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

// The transport protocol version this build speaks. Bump it on any change of the frame
// layout, the handshake, or the meaning of a PeerMessage that old nodes would misread.
inline constexpr std::uint32_t kPeerProtocolVersion = 1;
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

// What a node says about itself in its handshake.
proto::Handshake MakeHandshake(std::string_view cluster_name, std::uint32_t protocol_version,
                               std::string_view node_id, std::string_view listen_address);

// Whether a peer's handshake is acceptable to a node of `cluster_name` speaking
// `protocol_version`: same cluster name, same protocol version, a valid node id and a
// HOST:PORT listen address. InvalidArgument with the reason (sent to the peer) otherwise.
Status CheckPeerHandshake(const proto::Handshake& peer, std::string_view cluster_name,
                          std::uint32_t protocol_version);

}  // namespace meridian::runtime
