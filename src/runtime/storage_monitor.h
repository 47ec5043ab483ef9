// StorageMonitor: decides whether this node may take new data, from the free space of the file
// system that holds its data directory and from the state of its storage engine; the server
// passes each decision to the node (node::Node::SetStorageCondition) and to /health.
//
//   * Free-space reserve: once the space free to the server falls below reserve_bytes, new
//     data is refused (InsufficientStorage) before the disk is full, so that RocksDB keeps
//     the room its flushes, compactions and the node's own metadata need; it is taken again
//     once the free space is back above the reserve plus a margin (min(reserve/10, 64 MiB)),
//     so a node at the edge does not flap.
//   * A failed engine (storage::Engine::Failure: a WAL write, sync, flush or compaction
//     failed, e.g. the disk filled up despite the reserve) refuses new data with its error;
//     each check while there is room again tries storage::Engine::Recover, and new data is
//     taken again once it succeeds — no restart.
// Not thread-safe: the server calls it on its event loop (once a second, and after a failed
// commit). The space probe is injected so tests can fill and empty a disk at will.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "core/status.h"
#include "storage/engine.h"

namespace meridian::runtime {

struct StorageSpace {
  std::uint64_t free_bytes = 0;   // available to this (unprivileged) process
  std::uint64_t total_bytes = 0;  // size of the file system
};
using StorageSpaceProbe = std::function<Result<StorageSpace>()>;

// The file system that holds `path` (statvfs).
Result<StorageSpace> ProbeFileSystem(const std::string& path);

class StorageMonitor {
 public:
  struct Stats {
    StorageSpace space;  // at the last successful probe
    std::uint64_t reserve_bytes = 0;
    bool below_reserve = false;        // refusing new data for the reserve
    bool engine_failed = false;        // refusing new data for an engine error
    std::uint64_t recoveries = 0;      // times the engine left a failure (no restart)
    std::uint64_t probe_failures = 0;  // statvfs errors (the last answer is kept meanwhile)
  };

  // `engine` must outlive the monitor.
  StorageMonitor(std::uint64_t reserve_bytes, StorageSpaceProbe probe, storage::Engine& engine);

  // Probes the space and the engine and returns the condition: OK, or why new data is refused
  // (the message says what is wrong and what brings writes back). With `try_recover`, a failed
  // engine is asked to Recover when the free space is above the reserve. Logs transitions.
  Status Check(bool try_recover);
  // The condition of the last Check.
  const Status& condition() const { return condition_; }
  const Stats& stats() const { return stats_; }

 private:
  std::uint64_t margin() const;

  StorageSpaceProbe probe_;
  storage::Engine& engine_;
  Stats stats_;
  bool probed_ = false;
  std::string last_recovery_error_;
  Status condition_;
};

}  // namespace meridian::runtime
