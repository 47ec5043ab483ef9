// Ring: the assignment of a fixed number Q of equal partitions (a power of two, chosen at
// cluster creation) to owner nodes, plus, per partition, an optional pending owner that is
// receiving the partition's data. Ownership of a partition flips from owner to pending owner
// only once the transfer is complete (Complete()). Every change raises version().
//
// Changes travel between nodes as deltas (Delta), not whole rings: Diff(a, b) gives the
// delta that turns a into b; Apply() checks it applies to exactly the version it was made from.
//
// Memory: partitions store small indexes into a node table, so Q = 2^20 partitions cost a few
// MiB. Value type; not thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "cluster/node_id.h"
#include "core/status.h"

namespace meridian::cluster {

class Ring {
 public:
  // A ring with every partition unowned (Owner() empty) at version 0.
  // Requires IsValidPartitionCount(partition_count).
  explicit Ring(std::uint32_t partition_count = 256);

  std::uint32_t partition_count() const;
  std::uint64_t version() const;

  // The current owner; empty for an unowned partition (a ring with no members yet).
  const NodeId& Owner(std::uint32_t partition) const;
  // The node receiving the partition, if a transfer is planned or under way.
  std::optional<NodeId> PendingOwner(std::uint32_t partition) const;
  // The owner once pending transfers finish: PendingOwner if set, else Owner.
  const NodeId& FutureOwner(std::uint32_t partition) const;

  // Partitions currently owned by `node`, ascending.
  std::vector<std::uint32_t> PartitionsOwnedBy(const NodeId& node) const;
  // Every node that owns or is receiving at least one partition, sorted.
  std::vector<NodeId> Nodes() const;

  // Sets owners directly (used to seed a ring and by tests). Clears pending owners.
  // Requires owners.size() == partition_count(). Raises the version by one.
  void AssignAll(const std::vector<NodeId>& owners);
  // Plans transfers: for each partition whose target differs from its owner, sets the pending
  // owner (clearing it where the target equals the owner). Raises the version by one when
  // anything changed. Requires targets.size() == partition_count().
  void PlanTransfers(const std::vector<NodeId>& targets);
  // Flips `partition` to its pending owner (the transfer finished). FailedPrecondition-style
  // InvalidArgument when it has no pending owner. Raises the version by one.
  Status Complete(std::uint32_t partition);

  // One partition's new state in a delta.
  struct Change {
    std::uint32_t partition = 0;
    NodeId owner;
    NodeId pending_owner;  // empty: none
    friend bool operator==(const Change&, const Change&) = default;
  };
  struct Delta {
    std::uint64_t base_version = 0;  // the version the delta applies to
    std::uint64_t version = 0;       // the version after applying it
    std::vector<Change> changes;
    friend bool operator==(const Delta&, const Delta&) = default;
  };
  // The delta from `from` to `to`; requires equal partition counts.
  static Delta Diff(const Ring& from, const Ring& to);
  // InvalidArgument (and no change) unless delta.base_version == version(), every change
  // names a partition in range and delta.version >= delta.base_version (never backwards).
  Status Apply(const Delta& delta);

  friend bool operator==(const Ring& a, const Ring& b);

 private:
  static constexpr std::uint32_t kNoNode = 0xffffffff;
  std::uint32_t IndexOf(const NodeId& node);  // adds the node to the table when absent
  // The table index of `node`, or kNoNode when it is not in the table (never adds it).
  std::uint32_t FindIndex(const NodeId& node) const;
  const NodeId& NameOf(std::uint32_t index) const;  // "" for kNoNode

  std::uint32_t partition_count_;
  std::uint64_t version_ = 0;
  std::vector<NodeId> node_table_;                      // index -> id (append-only)
  std::vector<std::uint32_t> owner_;                    // partition -> node_table_ index or kNoNode
  std::vector<std::uint32_t> pending_owner_;            // partition -> node_table_ index or kNoNode
  std::unordered_map<NodeId, std::uint32_t> index_of_;  // id -> node_table_ index
};

}  // namespace meridian::cluster
