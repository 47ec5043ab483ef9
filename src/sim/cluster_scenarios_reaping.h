// ReapWatch: the "reaping" scenario's checker of tombstone reaping (docs/design/tombstones.md).
// Resurrection itself is caught by the KV history (KvHistory::CheckFinal: a value superseded
// by an acknowledged write or delete must not come back); this watch makes sure the run
// actually reaped, so a reaper that never runs cannot pass:
//   * it samples every live node's meridian_reap counters (per incarnation, so restarts do not
//     lose counts) and CheckReaped fails when no tombstone was reaped at all;
//   * AwaitNoTombstones waits, after the heal, until no node holds an object of a workload key
//     that is all tombstones — every tombstone reaped once the cluster is quiet.
//   * AwaitPruned waits, after the heal, until no live node's copy of a workload key holds a
//     superseded single-use clock entry — every one pruned once the cluster is quiet (hedged
//     forwarding's bound on a key's clock rests on it, docs/design/tombstones.md).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>

#include "core/dvv_set.h"
#include "core/status.h"
#include "replication/tombstone_reaper.h"
#include "sim/cluster_scenarios_kv_workload.h"
#include "sim/simulation.h"

namespace meridian::sim {

// The reaping interval of the "reaping" scenario's nodes (production: a minute).
inline constexpr std::uint64_t kReapIntervalMs = 1'000;
// The ring size of "reaping-many-partitions": the production default.
inline constexpr std::uint32_t kManyPartitions = 256;

class ReapWatch {
 public:
  // Samples the counters every sample_interval_ms from now on.
  ReapWatch(Simulation& simulation, const KvWorkloadConfig& config);

  // Runs until no live node holds an all-tombstone object of a workload key (Timeout with the
  // first such copy otherwise, recorded in the simulation).
  Status AwaitNoTombstones(std::uint64_t bound_ms);
  // Runs until no live node's copy of a workload key holds a superseded single-use entry
  // (Timeout with the first such copy otherwise, recorded in the simulation).
  Status AwaitPruned(std::uint64_t bound_ms);
  // Internal when no tombstone was reaped on any node during the run.
  Status CheckReaped();

  std::uint64_t reaped() const;
  // Objects pruned of superseded single-use entries, summed the same way.
  std::uint64_t pruned() const;
  std::string Summary() const;

 private:
  void Sample();
  void ScheduleSample();
  // The first live node's all-tombstone copy of a workload key ("" when none).
  std::string FindTombstone();
  // Runs until `find` finds nothing (Timeout naming `what` and its finding otherwise, recorded
  // in the simulation).
  Status AwaitNone(const std::function<std::string()>& find, std::string_view what,
                   std::uint64_t bound_ms);
  // Each live node's view of `partition`'s reaping (" address:status" each), for messages.
  std::string ReapersOf(std::uint32_t partition);
  // The first live node's copy of a workload key with a superseded single-use entry ("" when
  // none).
  std::string FindUnpruned();
  // Every live node's stored copy of every workload key, until `visit` returns a non-empty
  // finding (returned; "" when none).
  std::string FindInCopies(
      const std::function<std::string(const std::string& address, const std::string& key,
                                      std::uint32_t partition, const DvvSet& object)>& visit);

  Simulation& simulation_;
  const KvWorkloadConfig& config_;
  // (address, incarnation) -> the latest counters seen.
  std::map<std::pair<std::string, std::uint64_t>, replication::ReapCounters> seen_;
};

}  // namespace meridian::sim
