// PeerRoute: which part of a node a message from a peer is for, once the node's partitions are
// split over shards (docs/design/write_path.md, "What a clustered node needs before it can have
// shards", step 1). Shard s owns the partitions p with p % shard_count == s (ShardOfPartition);
// shard 0 is also the node shell: membership and gossip, failure detection, bucket checks,
// member reports and the reaping rounds' snapshot messages.
//   * A message about one partition — it names the partition, carries a storage key, or is a
//     forwarded client request whose key hashes to it — goes to that partition's shard.
//   * An answer to a request this node made goes to the shard named by the id it echoes
//     (node/request_ids.h); an id that names no shard is an answer to nothing: dropped.
//   * Everything node-wide goes to the shell.
//   * A malformed message (a partition outside the ring, a storage key too short to name one)
//     goes to shard 0, whose handler refuses it as a single-shard node does.
// Pure and deterministic; every body of proto::PeerMessage has a route (a new body without one
// does not compile: the switch has no default).
#pragma once

#include <cstdint>

#include "proto/peer.pb.h"

namespace meridian::node {

// The shard that owns `partition` among `shard_count`.
inline std::uint32_t ShardOfPartition(std::uint32_t partition, std::uint32_t shard_count) {
  return partition % shard_count;
}

struct PeerRoute {
  enum class To {
    kShard,    // a partition's shard, or the shard that made the request answered
    kShell,    // node-wide (shard 0)
    kNowhere,  // an answer to no request of this node, or no body: dropped
  };
  To to = To::kNowhere;
  std::uint32_t shard = 0;  // kShard: which; kShell: 0

  friend bool operator==(const PeerRoute&, const PeerRoute&) = default;
};

PeerRoute RoutePeerMessage(const proto::PeerMessage& message, std::uint32_t partition_count,
                           std::uint32_t shard_count);

}  // namespace meridian::node
