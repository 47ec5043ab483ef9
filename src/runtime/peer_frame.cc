#include "runtime/peer_frame.h"

#include <google/protobuf/message_lite.h>

#include <algorithm>

#include "api/http_server.h"
#include "cluster/node_id.h"
#include "core/assert.h"

namespace meridian::runtime {

std::string EncodeFrame(const google::protobuf::MessageLite& message) {
  const std::size_t payload_bytes = message.ByteSizeLong();
  MERIDIAN_CHECK(payload_bytes > 0);
  MERIDIAN_CHECK(payload_bytes <= UINT32_MAX);
  FrameHeader header = EncodeFrameHeader(static_cast<std::uint32_t>(payload_bytes));
  std::string frame(header.begin(), header.end());
  frame.resize(kFrameHeaderBytes + payload_bytes);
  MERIDIAN_CHECK(
      message.SerializeToArray(frame.data() + kFrameHeaderBytes, static_cast<int>(payload_bytes)));
  return frame;
}

FrameHeader EncodeFrameHeader(std::uint32_t payload_bytes) {
  return {static_cast<unsigned char>(payload_bytes >> 24),
          static_cast<unsigned char>(payload_bytes >> 16),
          static_cast<unsigned char>(payload_bytes >> 8),
          static_cast<unsigned char>(payload_bytes)};
}

std::uint32_t DecodeFrameHeader(const FrameHeader& header) {
  return (std::uint32_t{header[0]} << 24) | (std::uint32_t{header[1]} << 16) |
         (std::uint32_t{header[2]} << 8) | std::uint32_t{header[3]};
}

Status CheckFrameLength(std::uint32_t payload_bytes, std::size_t payload_bytes_max) {
  if (payload_bytes == 0) return Status::InvalidArgument("frame length is 0");
  if (payload_bytes > payload_bytes_max) {
    return Status::InvalidArgument("frame length " + std::to_string(payload_bytes) +
                                   " exceeds the limit of " + std::to_string(payload_bytes_max) +
                                   " bytes");
  }
  return Status::Ok();
}

std::string ProtocolRange::ToString() const {
  if (min == max) return std::to_string(min);
  return std::to_string(min) + ".." + std::to_string(max);
}

proto::Handshake MakeHandshake(std::string_view cluster_name, ProtocolRange protocols,
                               std::string_view node_id, std::string_view listen_address,
                               std::string_view meridian_version) {
  proto::Handshake handshake;
  handshake.set_cluster_name(std::string(cluster_name));
  handshake.set_protocol_version(protocols.min);
  handshake.set_min_protocol_version(protocols.min);
  handshake.set_max_protocol_version(protocols.max);
  handshake.set_node_id(std::string(node_id));
  handshake.set_listen_address(std::string(listen_address));
  handshake.set_meridian_version(std::string(meridian_version));
  return handshake;
}

ProtocolRange HandshakeProtocolRange(const proto::Handshake& handshake) {
  if (handshake.min_protocol_version() == 0 && handshake.max_protocol_version() == 0) {
    return {handshake.protocol_version(), handshake.protocol_version()};  // release 0.1.0
  }
  return {handshake.min_protocol_version(), handshake.max_protocol_version()};
}

namespace {
std::string Speaker(std::string_view node_id, std::string_view meridian_version) {
  return "node '" + std::string(node_id) + "' (Meridian " +
         (meridian_version.empty() ? std::string("0.1.0 or older")
                                   : std::string(meridian_version)) +
         ")";
}
}  // namespace

Result<std::uint32_t> NegotiateProtocolVersion(const proto::Handshake& peer,
                                               std::string_view own_node_id, ProtocolRange own,
                                               std::string_view own_meridian_version) {
  const ProtocolRange theirs = HandshakeProtocolRange(peer);
  const std::uint32_t low = std::max(own.min, theirs.min);
  const std::uint32_t high = std::min(own.max, theirs.max);
  if (theirs.min <= theirs.max && low <= high) return high;
  std::string reason =
      "no common peer protocol version: " + Speaker(own_node_id, own_meridian_version) +
      " speaks " + own.ToString() + ", " + Speaker(peer.node_id(), peer.meridian_version()) +
      " speaks " + theirs.ToString();
  if (theirs.min > theirs.max) return Status::InvalidArgument(reason + " (an empty range)");
  // The side with the older versions is upgraded, one release at a time, until they overlap.
  const bool peer_newer = theirs.min > own.max;
  reason += "; upgrade node '" + std::string(peer_newer ? own_node_id : peer.node_id()) +
            "' to a release that speaks protocol version " +
            std::to_string(peer_newer ? theirs.min : own.min) +
            " first: a cluster is upgraded one release at a time (docs/operations.md, "
            "\"Upgrades\")";
  return Status::InvalidArgument(reason);
}

Result<std::uint32_t> CheckPeerHandshake(const proto::Handshake& peer,
                                         std::string_view cluster_name,
                                         std::string_view own_node_id, ProtocolRange own) {
  if (peer.cluster_name() != cluster_name) {
    return Status::InvalidArgument("cluster name mismatch: this node is in cluster '" +
                                   std::string(cluster_name) + "', the peer in '" +
                                   peer.cluster_name() + "'");
  }
  Result<std::uint32_t> version = NegotiateProtocolVersion(peer, own_node_id, own);
  if (!version.ok()) return version.status();
  if (Status valid = cluster::ValidateNodeId(peer.node_id()); !valid.ok()) {
    return Status::InvalidArgument("invalid peer node id: " + valid.message());
  }
  Result<api::ListenAddress> address = api::ParseListenAddress(peer.listen_address());
  if (!address.ok() || address->port == 0) {
    return Status::InvalidArgument("invalid peer listen address '" + peer.listen_address() +
                                   "': must be HOST:PORT with a port above 0");
  }
  return *version;
}

}  // namespace meridian::runtime
