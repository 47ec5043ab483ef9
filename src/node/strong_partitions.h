// StrongPartitions: what this node keeps about each partition's strong configuration
// (docs/design/strong.md, "Membership changes") — one slot per partition holding its own
// configuration record (the `strong` column's record at the partition's reserved key, cached
// here), the newest configuration it learnt as a coordinator, and the move it runs, if any.
//
// Not thread-safe; deterministic.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include "core/status.h"
#include "replication/strong_configuration.h"
#include "replication/strong_move.h"
#include "storage/engine.h"

namespace meridian::node {

class StrongPartitions {
 public:
  struct Slot {
    std::optional<replication::PartitionConfigState> local;
    replication::StrongConfiguration accepted;  // the configuration in local's register
    replication::StrongConfiguration learnt;    // from acceptors' answers (coordinator side)
    std::unique_ptr<replication::StrongMove> move;
    std::uint64_t move_not_before_ms = 0;    // after a failed move
    std::uint64_t move_wanted_since_ms = 0;  // 0: no move wanted
    std::set<std::size_t> moved_members;     // of the running move's old members: past its epoch
  };

  explicit StrongPartitions(std::uint32_t partition_count) : slots_(partition_count) {}

  // Reads every partition's record (Corruption on a malformed one).
  Status Load(storage::Engine& engine);
  // Writes `state` as the partition's record (synced when `sync`) and caches it.
  Status Store(storage::Engine& engine, std::uint32_t partition,
               replication::PartitionConfigState state, bool sync = true);
  // Stores the genesis record of every partition `owned` names (a shard's own) in one synced
  // batch: `self` alone at epoch 1.
  Status WriteGenesis(storage::Engine& engine, const cluster::NodeId& self,
                      const replication::Ballot& version,
                      const std::function<bool(std::uint32_t)>& owned);

  Slot& at(std::uint32_t partition) { return slots_.at(partition); }
  const Slot& at(std::uint32_t partition) const { return slots_.at(partition); }
  std::uint32_t size() const { return static_cast<std::uint32_t>(slots_.size()); }

  // Remembers `configuration` for the partition when it is newer than what this node knew.
  void Learn(std::uint32_t partition, const replication::StrongConfiguration& configuration);
  // The configuration a coordinator here uses for the partition: the newest of its own active
  // one (when it serves it), what it learnt, and, when it knows none, epoch 0 (the caller fills
  // in members from the ring).
  replication::StrongConfiguration ForCoordinator(std::uint32_t partition) const;

  std::size_t moves_running() const;

 private:
  std::vector<Slot> slots_;
};

}  // namespace meridian::node
