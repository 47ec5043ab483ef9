// The durable copy of this node's cluster state (members and ring), kept in the metadata
// column under "cluster/state" so a restarted node routes requests correctly before gossip
// brings it up to date. Format: proto::PersistedClusterState (src/proto/node_state.proto).
#pragma once

#include <string>
#include <string_view>

#include "cluster/cluster_state.h"
#include "core/status.h"

namespace meridian::node {

inline constexpr std::string_view kClusterStateKey = "cluster/state";

std::string EncodeClusterStateRecord(const cluster::ClusterState& state);
// Corruption when the bytes do not parse or hold invalid records.
Result<cluster::ClusterState> DecodeClusterStateRecord(std::string_view bytes);

}  // namespace meridian::node
