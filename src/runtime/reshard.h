// Reshard: `meridian reshard` — changes the shard count of a stopped node's data directory
// (docs/operations.md "Changing the shard count"), so that a node moved to a machine with more
// (or fewer) cores can use them. Offline only: refused while a process holds any of its
// databases (RocksDB's LOCK file).
//
// The new databases are built beside the old ones, in <data_dir>/reshard.staging/
// (node/resharded_data.h says what moves where), synced, and marked complete with
// reshard.staging/READY. Then the old databases are moved aside — renamed into
// <data_dir>.before-reshard-<ms>/, never deleted — and the new ones into their place, shard 0
// last. An interruption before READY leaves the old databases untouched (the next reshard
// discards the staging directory); after it, `meridian serve` refuses to start and the next
// `meridian reshard` finishes the swap. So the disk needs room for a second copy of the data.
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"

namespace meridian::runtime {

struct ReshardOptions {
  std::string data_dir;      // the stopped node's data directory
  std::uint32_t shards = 0;  // the new count, at least 1 (at most the partition count)
};

struct ReshardReport {
  std::string data_dir;
  std::uint32_t from_shards = 0;  // 0 when only an interrupted swap was finished
  std::uint32_t to_shards = 0;
  std::uint64_t objects = 0;
  std::uint64_t hints = 0;
  std::uint64_t strong_records = 0;
  std::uint64_t bytes = 0;
  std::string moved_aside;            // where the old databases went
  bool finished_interrupted = false;  // an interrupted reshard's swap was finished instead
};

// The marker of built databases waiting to be swapped in (see above), under data_dir.
inline constexpr const char* kReshardStagingDirectory = "reshard.staging";
inline constexpr const char* kReshardReadyFile = "READY";

// FailedPrecondition when data_dir is in use, has no node data, already has that many shards,
// or cannot be resharded as it is (node::ReshardData); InvalidArgument for bad options; IoError
// when a file operation failed (the message says what is where).
Result<ReshardReport> ReshardDataDirectory(const ReshardOptions& options);

// Ok unless an interrupted reshard waits in data_dir to be finished (FailedPrecondition saying
// how): `meridian serve` checks it before opening anything.
Status CheckNoReshardPending(const std::string& data_dir);

}  // namespace meridian::runtime
