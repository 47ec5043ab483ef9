#include "runtime/peer_frame.h"

#include <google/protobuf/message_lite.h>

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

proto::Handshake MakeHandshake(std::string_view cluster_name, std::uint32_t protocol_version,
                               std::string_view node_id, std::string_view listen_address) {
  proto::Handshake handshake;
  handshake.set_cluster_name(std::string(cluster_name));
  handshake.set_protocol_version(protocol_version);
  handshake.set_node_id(std::string(node_id));
  handshake.set_listen_address(std::string(listen_address));
  return handshake;
}

Status CheckPeerHandshake(const proto::Handshake& peer, std::string_view cluster_name,
                          std::uint32_t protocol_version) {
  if (peer.cluster_name() != cluster_name) {
    return Status::InvalidArgument("cluster name mismatch: this node is in cluster '" +
                                   std::string(cluster_name) + "', the peer in '" +
                                   peer.cluster_name() + "'");
  }
  if (peer.protocol_version() != protocol_version) {
    return Status::InvalidArgument("incompatible protocol version: this node speaks " +
                                   std::to_string(protocol_version) + ", the peer " +
                                   std::to_string(peer.protocol_version()));
  }
  if (Status valid = cluster::ValidateNodeId(peer.node_id()); !valid.ok()) {
    return Status::InvalidArgument("invalid peer node id: " + valid.message());
  }
  Result<api::ListenAddress> address = api::ParseListenAddress(peer.listen_address());
  if (!address.ok() || address->port == 0) {
    return Status::InvalidArgument("invalid peer listen address '" + peer.listen_address() +
                                   "': must be HOST:PORT with a port above 0");
  }
  return Status::Ok();
}

}  // namespace meridian::runtime
