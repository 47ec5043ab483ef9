#include "cluster/ring.h"

#include <algorithm>

#include "core/assert.h"
#include "core/hash.h"

namespace meridian::cluster {

namespace {
const NodeId& EmptyNodeId() {
  static const NodeId kEmpty;
  return kEmpty;
}
}  // namespace

Ring::Ring(std::uint32_t partition_count)
    : partition_count_(partition_count),
      owner_(partition_count, kNoNode),
      pending_owner_(partition_count, kNoNode) {
  MERIDIAN_CHECK(IsValidPartitionCount(partition_count));
}

std::uint32_t Ring::partition_count() const {
  return partition_count_;
}
std::uint64_t Ring::version() const {
  return version_;
}

std::uint32_t Ring::IndexOf(const NodeId& node) {
  if (node.empty()) return kNoNode;
  const auto [it, inserted] =
      index_of_.try_emplace(node, static_cast<std::uint32_t>(node_table_.size()));
  if (inserted) {
    MERIDIAN_CHECK(node_table_.size() < kNoNode);
    node_table_.push_back(node);
  }
  return it->second;
}

std::uint32_t Ring::FindIndex(const NodeId& node) const {
  const auto it = index_of_.find(node);
  return it == index_of_.end() ? kNoNode : it->second;
}

const NodeId& Ring::NameOf(std::uint32_t index) const {
  return index == kNoNode ? EmptyNodeId() : node_table_[index];
}

const NodeId& Ring::Owner(std::uint32_t partition) const {
  MERIDIAN_CHECK(partition < partition_count_);
  return NameOf(owner_[partition]);
}

std::optional<NodeId> Ring::PendingOwner(std::uint32_t partition) const {
  MERIDIAN_CHECK(partition < partition_count_);
  if (pending_owner_[partition] == kNoNode) return std::nullopt;
  return node_table_[pending_owner_[partition]];
}

const NodeId& Ring::FutureOwner(std::uint32_t partition) const {
  MERIDIAN_CHECK(partition < partition_count_);
  const std::uint32_t pending = pending_owner_[partition];
  return NameOf(pending != kNoNode ? pending : owner_[partition]);
}

std::vector<std::uint32_t> Ring::PartitionsOwnedBy(const NodeId& node) const {
  std::vector<std::uint32_t> owned;
  const std::uint32_t index = FindIndex(node);
  if (index == kNoNode) return owned;
  for (std::uint32_t partition = 0; partition < partition_count_; ++partition) {
    if (owner_[partition] == index) owned.push_back(partition);
  }
  return owned;
}

std::vector<NodeId> Ring::Nodes() const {
  std::vector<bool> present(node_table_.size(), false);
  for (std::uint32_t partition = 0; partition < partition_count_; ++partition) {
    if (owner_[partition] != kNoNode) present[owner_[partition]] = true;
    if (pending_owner_[partition] != kNoNode) present[pending_owner_[partition]] = true;
  }
  std::vector<NodeId> nodes;
  for (std::size_t index = 0; index < node_table_.size(); ++index) {
    if (present[index]) nodes.push_back(node_table_[index]);
  }
  std::sort(nodes.begin(), nodes.end());
  return nodes;
}

void Ring::AssignAll(const std::vector<NodeId>& owners) {
  MERIDIAN_CHECK(owners.size() == partition_count_);
  for (std::uint32_t partition = 0; partition < partition_count_; ++partition) {
    owner_[partition] = IndexOf(owners[partition]);
    pending_owner_[partition] = kNoNode;
  }
  ++version_;
}

void Ring::PlanTransfers(const std::vector<NodeId>& targets) {
  MERIDIAN_CHECK(targets.size() == partition_count_);
  bool changed = false;
  for (std::uint32_t partition = 0; partition < partition_count_; ++partition) {
    const std::uint32_t target = IndexOf(targets[partition]);
    const std::uint32_t pending = target == owner_[partition] ? kNoNode : target;
    if (pending_owner_[partition] != pending) {
      pending_owner_[partition] = pending;
      changed = true;
    }
  }
  if (changed) ++version_;
}

Status Ring::Complete(std::uint32_t partition) {
  if (partition >= partition_count_) {
    return Status::InvalidArgument("partition " + std::to_string(partition) +
                                   " is outside the ring");
  }
  if (pending_owner_[partition] == kNoNode) {
    return Status::InvalidArgument("partition " + std::to_string(partition) +
                                   " has no pending owner");
  }
  owner_[partition] = pending_owner_[partition];
  pending_owner_[partition] = kNoNode;
  ++version_;
  return Status::Ok();
}

Ring::Delta Ring::Diff(const Ring& from, const Ring& to) {
  MERIDIAN_CHECK(from.partition_count_ == to.partition_count_);
  Delta delta;
  delta.base_version = from.version_;
  delta.version = to.version_;
  for (std::uint32_t partition = 0; partition < to.partition_count_; ++partition) {
    const NodeId& from_owner = from.NameOf(from.owner_[partition]);
    const NodeId& from_pending = from.NameOf(from.pending_owner_[partition]);
    const NodeId& to_owner = to.NameOf(to.owner_[partition]);
    const NodeId& to_pending = to.NameOf(to.pending_owner_[partition]);
    if (from_owner != to_owner || from_pending != to_pending) {
      delta.changes.push_back({partition, to_owner, to_pending});
    }
  }
  return delta;
}

Status Ring::Apply(const Delta& delta) {
  if (delta.base_version != version_) {
    return Status::InvalidArgument("ring delta applies to version " +
                                   std::to_string(delta.base_version) + ", the ring is at " +
                                   std::to_string(version_));
  }
  if (delta.version < delta.base_version) {
    return Status::InvalidArgument("ring delta would lower the version");
  }
  for (const Change& change : delta.changes) {
    if (change.partition >= partition_count_) {
      return Status::InvalidArgument("ring delta names partition " +
                                     std::to_string(change.partition) + " outside the ring of " +
                                     std::to_string(partition_count_));
    }
  }
  for (const Change& change : delta.changes) {
    owner_[change.partition] = IndexOf(change.owner);
    pending_owner_[change.partition] = IndexOf(change.pending_owner);
  }
  version_ = delta.version;
  return Status::Ok();
}

bool operator==(const Ring& a, const Ring& b) {
  if (a.partition_count_ != b.partition_count_ || a.version_ != b.version_) return false;
  for (std::uint32_t partition = 0; partition < a.partition_count_; ++partition) {
    if (a.NameOf(a.owner_[partition]) != b.NameOf(b.owner_[partition])) return false;
    if (a.NameOf(a.pending_owner_[partition]) != b.NameOf(b.pending_owner_[partition])) {
      return false;
    }
  }
  return true;
}

}  // namespace meridian::cluster
