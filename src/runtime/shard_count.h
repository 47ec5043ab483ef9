// ShardCount: how many shards a node starts with when `--shards 0` ("as many as the cores")
// is asked for (docs/operations.md "Shards").
#pragma once

#include <cstdint>
#include <string>

namespace meridian::runtime {

// The CPUs this process may run on (its affinity mask, as a container's cpuset limits it),
// or std::thread::hardware_concurrency() when that cannot be read; at least 1.
unsigned AvailableCpus();

// The shard count to start with. `configured` when non-zero. Otherwise the count the data
// directory was created with — shard 0's `db/` and every `db-shard-<s>/` after it, counted up
// to the first missing one (the node then checks that count against the layout recorded in its
// storage, so a lost directory is refused, never recreated empty) — or, for a new data
// directory, `cpus`, at most `partition_count`.
unsigned ResolveShardCount(unsigned configured, const std::string& data_dir,
                           std::uint32_t partition_count, unsigned cpus);

}  // namespace meridian::runtime
