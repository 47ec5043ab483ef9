// Node: partitions' background work — each partition's PartitionReplica (partition_replica.h)
// streams it to a pending owner, fills new replicas, hands off data this node no longer keeps
// and drops what moved away; the node recomputes placements when the ring changes, ticks the
// replicas, routes their messages and carries out their outputs (persistence first).
#include <algorithm>

#include "core/assert.h"
#include "core/object_codec.h"
#include "node/metadata_keys.h"
#include "node/node.h"
#include "node/node_peers.h"
#include "node/transfer_records.h"
#include "storage/key_encoding.h"
#include "storage/tictac_keys.h"
#include "storage/tictac_tree.h"

namespace meridian::node {

void Node::Touch(std::uint32_t partition) {
  if (touched_flags_.size() <= partition) touched_flags_.resize(config_.partition_count, false);
  if (touched_flags_[partition]) return;
  touched_flags_[partition] = true;
  touched_.push_back(partition);
}

PartitionReplica* Node::FindReplica(std::uint32_t partition) {
  auto it = replicas_.find(partition);
  if (it == replicas_.end()) return nullptr;
  Touch(partition);
  return it->second.get();
}

PartitionReplica& Node::ReplicaFor(std::uint32_t partition) {
  MERIDIAN_CHECK(partition < config_.partition_count);
  MERIDIAN_CHECK(OwnsPartition(partition));  // another shard's: a router bug
  Touch(partition);
  std::unique_ptr<PartitionReplica>& slot = replicas_[partition];
  if (slot == nullptr) {
    PartitionPlacement placement =
        partition < placements_.size() ? placements_[partition] : PartitionPlacement{};
    slot = std::make_unique<PartitionReplica>(partition, replica_config_, *env_.engine, governor_,
                                              std::move(placement), anti_entropy_counters_,
                                              reap_counters_, hint_state_);
  }
  return *slot;
}

std::size_t Node::active_transfers() const {
  std::size_t streaming = 0;
  for (const auto& [partition, replica] : replicas_) streaming += replica->streaming() ? 1 : 0;
  return streaming;
}

Result<bool> Node::PartitionHasRecords(storage::Column column, std::uint32_t partition) {
  const storage::KeyRange range = storage::PartitionRange(partition);
  bool any = false;
  MERIDIAN_RETURN_IF_ERROR(
      env_.engine->Scan(column, range.begin, range.end, [&](std::string_view, std::string_view) {
        any = true;
        return false;
      }));
  return any;
}

bool Node::HasObjects(std::uint32_t partition) {
  const Result<bool> any = PartitionHasRecords(storage::Column::kObjects, partition);
  return any.ok() && *any;
}

void Node::RecomputePlacements(bool first) {
  const cluster::ClusterState& state = membership_->state();
  const cluster::Ring& ring = state.ring();
  const cluster::NodeId& self = config_.node_id;
  placements_.resize(ring.partition_count());
  for (std::uint32_t partition = 0; partition < ring.partition_count(); ++partition) {
    PartitionPlacement now;
    now.owner = ring.Owner(partition);
    now.pending_owner = ring.PendingOwner(partition);
    if (!now.owner.empty()) {
      now.primaries = cluster::ComputePrimaries(ring, ZoneLookup(), partition, placement_n_max_);
      for (std::uint32_t n : placement_ns_) {
        now.primaries_by_n[n] = n == placement_n_max_
                                    ? now.primaries
                                    : cluster::ComputePrimaries(ring, ZoneLookup(), partition, n);
      }
    }
    now.holds =
        std::find(now.primaries.begin(), now.primaries.end(), self) != now.primaries.end() ||
        (now.pending_owner && *now.pending_owner == self);
    if (!OwnsPartition(partition)) {
      // Another shard's partition: that shard keeps its replica (its data is in its storage).
      placements_[partition] = std::move(now);
      continue;
    }
    PartitionReplica* replica = FindReplica(partition);
    const bool data_matters = replica != nullptr ? replica->NeedsDataCheck(now)
                                                 : (!now.owner.empty() && !now.holds) ||
                                                       PartitionReplica::MayHoldStrays(now, self);
    // Standalone, nothing ever moves and no data is foreign.
    const bool has_data = !config_.peer_address.empty() && data_matters && HasObjects(partition);
    const bool anti_entropy =
        config_.anti_entropy.exchange_interval_ms > 0 && !config_.peer_address.empty() &&
        std::find(now.primaries.begin(), now.primaries.end(), self) != now.primaries.end();
    if (replica != nullptr || has_data || anti_entropy || PartitionReplica::Outgoing(now, self) ||
        (!first && PartitionReplica::BecameReplica(placements_[partition], now, self))) {
      ReplicaFor(partition).OnPlacement(now, has_data, first);
    }
    placements_[partition] = std::move(now);
  }
}

void Node::ApplyReplicaOutput(PartitionReplica& replica) {
  PartitionOutput output = replica.TakeOutput();
  if (output.forwarding_changed) {
    // Synced: after a crash this node must not start streaming a completed partition again
    // (and must hand it off rather than drop it, see LoadForwarding).
    PersistForwarding().IgnoreError();  // on failure the stream simply runs again
  }
  if (output.completion_changed) {
    // With the ring that makes this node the pending owner, before the ack leaves: restarted
    // with an older ring, it would forget the completion while the old owner, done streaming,
    // never sends the last batch again.
    PersistClusterStateIfChanged();
    PersistCompletedIncoming().IgnoreError();  // the next change retries; reports continue
  }
  if (output.report_transfer_complete) {
    if (FollowsShell()) {
      transfer_completions_.push_back(replica.partition());  // the shell reports it
    } else {
      membership_->ReportTransferComplete(replica.partition()).IgnoreError();  // re-reported
    }
  }
  for (cluster::Outbound& message : output.messages) {
    if (message.message.has_aae_repair() && !message.message.aae_repair().from_initiator() &&
        message.message.aae_repair().wanted_keys_size() > 0) {
      // An anti-entropy responder asking for copies: this node will apply them, so like a hint
      // or handoff ack the request waits while its budget is in debt, and the peers repairing
      // it together move at its rate (replication/ack_pacer.h). The copies are charged when
      // they arrive, so the hold itself charges nothing.
      PaceAck(replication::WorkKind::kAntiEntropyRepair, {}, std::move(message), NowMs());
      continue;
    }
    outbound_.push_back(std::move(message));
  }
  // Anti-entropy repairs go through the normal merge (and so update the tree).
  for (const auto& [storage_key, encoded] : output.repairs) {
    auto object = DecodeObject(encoded);
    if (!object.ok()) continue;  // a corrupt copy is never merged
    MergeLocal(storage_key, *object, /*sync=*/false).IgnoreError();  // the next round retries
  }
}

void Node::TickReplicas() {
  if (config_.peer_address.empty()) return;  // standalone: nothing ever moves
  RefreshPlacement();
  const NodePeers peers(*this, membership_->state());
  const std::uint64_t now_ms = NowMs();
  for (auto it = replicas_.begin(); it != replicas_.end();) {
    PartitionReplica& replica = *it->second;
    replica.Tick(now_ms, peers, transfer_ids_);
    ApplyReplicaOutput(replica);
    if (replica.idle()) {
      it = replicas_.erase(it);
    } else {
      ++it;
    }
  }
}

void Node::OnFillRequest(const proto::ReplicaFillRequest& request) {
  const std::uint32_t partition = request.partition();
  if (partition >= config_.partition_count || !HoldsReplica(partition)) return;
  ReplicaFor(partition).OnFillRequest(request.from_id());  // only from a primary
}

void Node::OnBatchApplied(const std::string& from_address, const proto::HandoffBatch& batch) {
  if (!batch.last() || batch.replica_copy()) return;
  const std::string source = batch.reply_address().empty() ? from_address : batch.reply_address();
  const auto& transfers = receiver_->transfers();
  auto it = transfers.find({source, batch.transfer_id()});
  if (it == transfers.end() || !it->second.last_batch_applied) return;
  const auto pending = membership_->state().ring().PendingOwner(batch.partition());
  if (!pending || *pending != config_.node_id) return;
  // Remembered across a crash (persisted with the output): the old owner, done streaming,
  // will not send the last batch again, so only this node can still report it complete.
  PartitionReplica& replica = ReplicaFor(batch.partition());
  replica.OnIncomingComplete();
  ApplyReplicaOutput(replica);
}

void Node::DropMovedPartitions() {
  std::size_t budget = config_.partition_drop_keys_per_tick;
  for (auto& [partition, replica] : replicas_) {
    if (budget == 0) break;
    if (!replica->to_drop()) continue;
    storage::WriteBatch batch;
    auto deleted = replica->Drop(budget, batch);
    if (!deleted.ok() || (!batch.empty() && !env_.engine->Write(batch, {}).ok())) break;
    budget -= *deleted;
  }
}

}  // namespace meridian::node

namespace meridian::node {

Status Node::PersistForwarding() {
  ForwardingRecord record;
  for (const auto& [partition, replica] : replicas_) {
    if (replica->forwarding_address()) record[partition] = *replica->forwarding_address();
  }
  storage::WriteBatch batch;
  batch.Put(storage::Column::kMetadata, std::string(kForwardingKey),
            EncodeForwardingRecord(record));
  return env_.engine->Write(batch, storage::WriteOptions{.sync = true});
}

Status Node::PersistCompletedIncoming() {
  CompletedIncomingRecord record;
  for (const auto& [partition, replica] : replicas_) {
    if (replica->completed_incoming()) record.insert(partition);
  }
  storage::WriteBatch batch;
  batch.Put(storage::Column::kMetadata, std::string(kCompletedIncomingKey),
            EncodeCompletedIncomingRecord(record));
  return env_.engine->Write(batch, storage::WriteOptions{.sync = true});
}

Status Node::LoadCompletedIncoming() {
  auto stored = env_.engine->Get(storage::Column::kMetadata, kCompletedIncomingKey);
  if (!stored.ok()) return stored.status();
  if (!stored->has_value()) return Status::Ok();
  auto record = DecodeCompletedIncomingRecord(**stored, config_.partition_count);
  if (!record.ok()) return record.status();
  for (std::uint32_t partition : *record) ReplicaFor(partition).RestoreCompletedIncoming();
  return Status::Ok();
}

Status Node::LoadForwarding() {
  auto stored = env_.engine->Get(storage::Column::kMetadata, kForwardingKey);
  if (!stored.ok()) return stored.status();
  if (!stored->has_value()) return Status::Ok();
  auto record = DecodeForwardingRecord(**stored, config_.partition_count);
  if (!record.ok()) return record.status();
  for (const auto& [partition, address] : *record) {
    ReplicaFor(partition).RestoreForwarding(address);
  }
  return Status::Ok();
}

}  // namespace meridian::node
