// NodePeers: the node's failure detector and membership as a PeerDirectory, for the partition
// replicas and reaping (they see a member as reachable when the detector considers it alive).
#pragma once

#include <string>

#include "cluster/cluster_state.h"
#include "node/node.h"
#include "node/partition_replica.h"

namespace meridian::node {

class NodePeers final : public PeerDirectory {
 public:
  // `node` and `state` must outlive this object.
  NodePeers(const Node& node, const cluster::ClusterState& state) : node_(node), state_(state) {}
  bool Reachable(const cluster::NodeId& node) const override { return node_.IsAlive(node); }
  std::string AddressOf(const cluster::NodeId& node) const override {
    const cluster::Member* member = state_.FindMember(node);
    return member == nullptr ? std::string() : member->peer_address;
  }

 private:
  const Node& node_;
  const cluster::ClusterState& state_;
};

}  // namespace meridian::node
