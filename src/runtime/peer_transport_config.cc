#include "runtime/peer_transport_config.h"

#include <cstdint>

#include "api/http_server.h"
#include "cluster/node_id.h"

namespace meridian::runtime {

Status PeerTransportConfig::Validate() const {
  if (cluster_name.empty()) return Status::InvalidArgument("cluster_name is empty");
  if (Status valid = cluster::ValidateNodeId(node_id); !valid.ok()) {
    return Status::InvalidArgument("node_id: " + valid.message());
  }
  if (Result<api::ListenAddress> parsed = api::ParseListenAddress(listen_address); !parsed.ok()) {
    return parsed.status();
  }
  if (!advertised_address.empty()) {
    Result<api::ListenAddress> parsed = api::ParseListenAddress(advertised_address);
    if (!parsed.ok() || parsed->port == 0) {
      return Status::InvalidArgument("advertised_address must be HOST:PORT with a port above 0");
    }
  }
  if (min_protocol_version == 0 || min_protocol_version > protocol_version) {
    return Status::InvalidArgument("min_protocol_version must be 1..protocol_version");
  }
  if (frame_bytes_max < kHandshakeFrameBytesMax || frame_bytes_max > UINT32_MAX) {
    return Status::InvalidArgument("frame_bytes_max must be 4096..4294967295");
  }
  if (pending_handshakes_max == 0 || pending_handshakes_max > inbound_connections_max) {
    return Status::InvalidArgument("pending_handshakes_max must be 1..inbound_connections_max");
  }
  if (send_queue_bytes_max == 0 || send_queue_frames_max == 0) {
    return Status::InvalidArgument("send queue limits must be above 0");
  }
  if (connect_timeout_ms == 0 || handshake_timeout_ms == 0) {
    return Status::InvalidArgument("connect and handshake timeouts must be above 0");
  }
  if (tls != nullptr && tls->node_id() != node_id) {
    return Status::InvalidArgument("the peer TLS certificate is for node '" + tls->node_id() +
                                   "', not '" + node_id + "'");
  }
  MERIDIAN_RETURN_IF_ERROR(cluster::ValidateReconnectBackoffConfig(reconnect_backoff()));
  return cluster::ValidateLinkMonitorConfig(link_monitor());
}

cluster::LinkMonitorConfig PeerTransportConfig::link_monitor() const {
  cluster::LinkMonitorConfig config;
  config.heartbeat_interval_ms = heartbeat_interval_ms;
  config.idle_timeout_ms = idle_timeout_ms;
  config.write_timeout_ms = write_timeout_ms;
  return config;
}

cluster::ReconnectBackoffConfig PeerTransportConfig::reconnect_backoff() const {
  cluster::ReconnectBackoffConfig config;
  config.initial_ms = reconnect_backoff_initial_ms;
  config.max_ms = reconnect_backoff_max_ms;
  return config;
}

}  // namespace meridian::runtime
