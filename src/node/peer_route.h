// PeerRoute: which part of a node a message from a peer is for, once the node's partitions are
// split over shards (docs/design/write_path.md, "What a clustered node needs before it can have
// shards", step 1). Each shard owns one contiguous range of partitions (ShardOfPartition);
// shard 0 is also the node shell: membership and gossip, failure detection, bucket checks and
// member reports. A reaping round's messages go to the shard of the round's first partition
// (every partition of a round belongs to one shard of each member).
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

// The shard that owns `partition` among `shard_count`: shard s owns the s-th of shard_count
// contiguous, equal ranges of the ring's partitions. Ranges rather than `partition mod
// shard_count`: the ring gives a node every N-th partition (claim stripes them over the N
// members), and with modulo one shard of a node could own every partition it owns and the
// others none (two nodes, two shards: the even partitions are all shard 0's). A stripe meets
// every range nearly equally (spread within 8 % at 1,024 partitions and 8 shards).
inline std::uint32_t ShardOfPartition(std::uint32_t partition, std::uint32_t partition_count,
                                      std::uint32_t shard_count) {
  return static_cast<std::uint32_t>(std::uint64_t{partition} * shard_count / partition_count);
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
