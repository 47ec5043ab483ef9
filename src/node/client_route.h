// The shard of a node that serves a client request, once the node's partitions are split over
// shards (ShardOfPartition): an object request (get, put, delete, locate, local copy) goes to
// the shard of its key's partition, everything else (bucket properties, cluster status and
// administration) to shard 0, which owns the node-wide state. Used by the server's front ends
// (runtime::ShardedKvService) and the simulator's nodes alike.
#pragma once

#include <cstdint>

#include "node/client_request.h"

namespace meridian::node {

std::uint32_t ShardOfClientRequest(const ClientRequest& request, std::uint32_t partition_count,
                                   std::uint32_t shard_count);

}  // namespace meridian::node
