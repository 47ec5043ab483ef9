// ReshardData: moves a stopped node's data from the databases of one shard count to the
// databases of another (docs/operations.md "Changing the shard count"). `meridian reshard`
// (runtime/reshard.h) runs it on the RocksDB databases of a data directory; tests run it on
// memory engines.
//
// Every record of the data columns — objects (their physical, segment-ordered keys), hints and
// strong records — begins with its partition (4 bytes BE) and goes to that partition's shard
// under the new count (ShardOfPartition), unchanged. The metadata, record by record
// (node/metadata_keys.h):
//   * format version, format release and partition count: the same in every old shard
//     (checked), copied to every new one;
//   * shard layout: checked (old shard s of S), written anew (new shard i of N);
//   * cluster state: shard 0's, copied to every new shard (every shard of a node holds the
//     shell's view; the followers refresh theirs from the shell within a tick);
//   * incarnation: every new shard gets the highest of any old shard, and the "node open"
//     marker (node/restored_data.h), so its first start draws a fresh actor id and fresh
//     partition actors (no dot minted before can be minted again) and runs a newer incarnation
//     than any life of any old shard;
//   * actor id, saved partition actors, open marker: not copied (drawn afresh, above);
//   * stored buckets: not copied; each new shard lists its own by one scan at its first start
//     (node/stored_buckets.h), so a bucket whose data moved away is forgotten;
//   * forwarding and completed incoming partitions (transfers under way, or finished and
//     not yet cleared): each entry to the new shard of its partition (node/transfer_records.h);
//   * anything else: refused, naming the record (a newer release's, or damage).
// Format 1 leftovers (the logical objects column, the anti-entropy index) must be empty: a
// format 1 directory is migrated by its first start with this release, before a reshard.
//
// `to` must be empty databases; on an error they hold a partial copy (the caller discards
// them). `from` is only read. Only on engines no Node has open.
#pragma once

#include <cstdint>
#include <vector>

#include "core/status.h"
#include "storage/engine.h"

namespace meridian::node {

struct ReshardCounts {
  std::uint64_t objects = 0;
  std::uint64_t hints = 0;
  std::uint64_t strong_records = 0;
  std::uint64_t bytes = 0;  // keys and values of the data columns
  std::uint32_t partition_count = 0;
  std::uint64_t stored_incarnation = 0;  // of every new shard; its next start runs one higher
};

// FailedPrecondition naming the reason when `from` cannot be resharded as it is (another
// format, an unknown or malformed record, a layout that does not match its position).
Result<ReshardCounts> ReshardData(const std::vector<storage::Engine*>& from,
                                  const std::vector<storage::Engine*>& to);

}  // namespace meridian::node
