// ShellView: what the shell of a clustered node split into shards (shard 0) publishes to its
// other shards (docs/design/write_path.md, "What a clustered node needs before it can have
// shards", step 2). The shell alone gossips, runs the failure detector and hears node-wide
// messages (node/peer_route.h); the other shards never gossip or ping, and route with the
// shell's membership and opinions instead:
//   * the cluster state (members, ring, bucket properties), when it changed;
//   * the members the shell's failure detector finds down;
//   * when the shell last heard anything from each peer, which clears a shard's own suspicion
//     of a peer it sent a request to before then (node/peer_suspicion.h): pongs to the
//     shell's heartbeats reach only the shell;
//   * the peers the shell suspects (its heartbeats went unanswered): a shard that has sent a
//     peer nothing yet routes around it too, instead of finding out with a request of its own
//     that then waits out its deadline.
// Immutable once made; the state's members and ring are shared, read-only, between threads.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "cluster/cluster_state.h"
#include "cluster/node_id.h"

namespace meridian::node {

// For MakeShellView: the shard has applied no view yet, so the state is always included. (Not
// 0: a shell's state version starts at 0 at every start, so a follower that asked with 0 after
// a restart got no state, and kept the ring it had persisted before: found by the simulator
// once its shards lagged their shell, a removed node's follower kept data for ever.)
constexpr std::uint64_t kNoStateVersion = ~std::uint64_t{0};

struct ShellView {
  std::optional<cluster::ClusterState> state;  // unset: unchanged since the shard's last view
  std::uint64_t state_version = 0;             // the shell's, for the next MakeShellView
  std::set<cluster::NodeId> down;
  std::map<std::string, std::uint64_t> heard_ms;  // by peer address
  std::set<std::string> suspected;                // peer addresses
};

}  // namespace meridian::node
