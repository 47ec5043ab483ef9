// Node: moving partitions when the ring changes. The old owner streams a partition to its
// pending owner (HandoffSender), mirrors writes made meanwhile, and once the stream is done
// forwards the partition's requests to the new owner. The new owner applies the batches
// (HandoffReceiver) and, after the last one, reports the transfer complete to the claimant,
// which flips the ring. Data of partitions that moved away is then deleted gradually.
#include "core/byte_codec.h"
#include "node/metadata_keys.h"
#include "node/node.h"
#include "storage/key_encoding.h"

namespace meridian::node {

namespace {
// How often a node that became a replica of a partition asks for a copy until one arrives.
constexpr std::uint64_t kFillRequestIntervalMs = 5'000;

bool Outgoing(const cluster::Ring& ring, std::uint32_t partition, const cluster::NodeId& self) {
  const auto pending = ring.PendingOwner(partition);
  return ring.Owner(partition) == self && pending && *pending != self;
}
}  // namespace

void Node::TickHandoffs() {
  const std::uint64_t now_ms = NowMs();
  const cluster::ClusterState& state = membership_->state();
  const cluster::Ring& ring = state.ring();
  const cluster::NodeId& self = config_.node_id;
  if (config_.peer_address.empty()) return;  // standalone: nothing ever moves

  // Start a sender for every partition this node owns that has a pending owner, unless a
  // stream to that node already completed (before a restart, say: see forwarding_).
  if (outgoing_ring_hash_ != state.ring_key().content_hash) {
    // Walking every partition each tick would cost O(Q) per tick; the ring changes rarely.
    outgoing_ring_hash_ = state.ring_key().content_hash;
    outgoing_.clear();
    for (std::uint32_t partition : ring.PartitionsOwnedBy(self)) {
      if (Outgoing(ring, partition, self)) outgoing_.push_back(partition);
    }
  }
  for (std::uint32_t partition : outgoing_) {
    if (senders_.count(partition) != 0 || copies_.count(partition) != 0) continue;
    const cluster::NodeId target = *ring.PendingOwner(partition);
    const cluster::Member* member = state.FindMember(target);
    if (member == nullptr || member->peer_address.empty() || !detector_->IsAlive(target, now_ms)) {
      continue;  // retried on a later tick
    }
    auto forwarded = forwarding_.find(partition);
    if (forwarded != forwarding_.end() && forwarded->second == member->peer_address) continue;
    replication::HandoffTransfer transfer{next_transfer_id_++, partition, member->peer_address,
                                          config_.peer_address};
    senders_.emplace(partition, std::make_unique<replication::HandoffSender>(transfer, *env_.engine,
                                                                             config_.handoff));
  }

  HandOffOrphans(now_ms);

  // After the flip, a partition this node no longer keeps is dropped — unless a write reached
  // it after its stream completed (the new owner may lack that write): then it is handed off
  // to every replica first.
  const auto moved_away = [this](std::uint32_t partition) {
    if (HoldsReplica(partition)) return;
    if (written_after_done_.count(partition) != 0) {
      orphans_.insert(partition);
    } else {
      partitions_to_drop_.insert(partition);
    }
    written_after_done_.erase(partition);
  };

  bool forwarding_changed = false;
  for (auto it = senders_.begin(); it != senders_.end();) {
    const std::uint32_t partition = it->first;
    replication::HandoffSender& sender = *it->second;
    sender.Tick(now_ms);
    const bool flipped = ring.Owner(partition) != self;
    // A new plan may send the partition to a different node: this stream is then cancelled
    // (a later tick starts one to the new pending owner). Its target must not complete it.
    const cluster::Member* pending_member =
        Outgoing(ring, partition, self) ? state.FindMember(*ring.PendingOwner(partition)) : nullptr;
    const bool still_outgoing = pending_member != nullptr &&
                                pending_member->peer_address == sender.transfer().target_address;
    if (sender.state() == replication::HandoffState::kDone && forwarding_.count(partition) == 0) {
      // Everything, including writes mirrored meanwhile, reached the new owner.
      forwarding_[partition] = sender.transfer().target_address;
      forwarding_changed = true;
    }
    if (flipped || !still_outgoing || sender.state() == replication::HandoffState::kFailed) {
      // Flipped (normally once done; a stream still running when the partition went elsewhere
      // under a newer plan is handed off below), cancelled or redirected by a new plan, or
      // failed (a later tick starts over).
      for (auto& message : sender.TakeOutbound()) outbound_.push_back(std::move(message));
      if (flipped) {
        if (sender.state() == replication::HandoffState::kDone) {
          moved_away(partition);
        } else if (!HoldsReplica(partition)) {
          orphans_.insert(partition);
        }
      }
      it = senders_.erase(it);
      continue;
    }
    ++it;
  }
  // Forwarding ends when the ring flips (the data then gets dropped here) or a new plan sends
  // the partition elsewhere (a new stream starts).
  for (auto it = forwarding_.begin(); it != forwarding_.end();) {
    const std::uint32_t partition = it->first;
    const cluster::Member* pending_member =
        Outgoing(ring, partition, self) ? state.FindMember(*ring.PendingOwner(partition)) : nullptr;
    if (ring.Owner(partition) != self) {
      moved_away(partition);
    } else if (pending_member == nullptr || pending_member->peer_address != it->second) {
      // replanned: the stream starts over
    } else {
      ++it;
      continue;
    }
    it = forwarding_.erase(it);
    forwarding_changed = true;
  }
  if (forwarding_changed) {
    // Synced: after a crash this node must not start streaming a completed partition again
    // (and must hand it off rather than drop it, see LoadForwarding).
    PersistForwarding().IgnoreError();  // on failure the stream simply runs again
  }
  TickCopies(now_ms);

  // Re-report completed incoming transfers until the ring shows this node as the owner
  // (the report to the claimant may be lost).
  bool completed_changed = false;
  for (auto it = completed_incoming_.begin(); it != completed_incoming_.end();) {
    const auto pending = ring.PendingOwner(*it);
    if (!pending || *pending != self) {
      it = completed_incoming_.erase(it);
      completed_changed = true;
      continue;
    }
    if (now_ms >= next_completion_report_ms_) {
      membership_->ReportTransferComplete(*it).IgnoreError();  // retried next interval
    }
    ++it;
  }
  if (now_ms >= next_completion_report_ms_) {
    next_completion_report_ms_ = now_ms + config_.gossip_interval_ms;
  }
  if (completed_changed) PersistCompletedIncoming().IgnoreError();  // next change retries
}

void Node::ScanPlacementChanges() {
  RefreshPlacement();
  const cluster::ClusterState& state = membership_->state();
  const cluster::Ring& ring = state.ring();
  const std::pair<std::uint64_t, std::uint32_t> key{state.ring_key().content_hash,
                                                    placement_n_max_};
  if (orphan_scan_key_ == key) return;
  orphan_scan_key_ = key;
  const cluster::NodeId& self = config_.node_id;
  // Data held here for partitions this node does not keep — e.g. it left their lists, a
  // stream it received went elsewhere under a new plan, or a restart forgot to drop it. It
  // must reach the replicas before it is deleted, or writes only this node has would be lost.
  std::vector<std::vector<cluster::NodeId>> primaries(ring.partition_count());
  for (std::uint32_t partition = 0; partition < ring.partition_count(); ++partition) {
    if (ring.Owner(partition).empty()) continue;
    primaries[partition] =
        cluster::ComputePrimaries(ring, ZoneLookup(), partition, placement_n_max_);
    if (HoldsReplica(partition) || partitions_to_drop_.count(partition) != 0 ||
        senders_.count(partition) != 0) {
      continue;
    }
    const storage::KeyRange range = storage::PartitionRange(partition);
    bool has_data = false;
    const Status scanned = env_.engine->Scan(storage::Column::kObjects, range.begin, range.end,
                                             [&](std::string_view, std::string_view) {
                                               has_data = true;
                                               return false;
                                             });
    if (scanned.ok() && has_data) orphans_.insert(partition);
  }
  // A partition this node became a replica of (in its own view: it only ever drops data of
  // partitions it does not keep in its own view) needs a copy from a replica that has it: the
  // owner streams one on request. Requested until a complete copy arrives (TickCopies).
  if (last_primaries_.size() == primaries.size()) {
    for (std::uint32_t partition = 0; partition < ring.partition_count(); ++partition) {
      const std::vector<cluster::NodeId>& now = primaries[partition];
      const std::vector<cluster::NodeId>& before = last_primaries_[partition];
      const bool replica_now = std::find(now.begin(), now.end(), self) != now.end();
      const bool replica_before = std::find(before.begin(), before.end(), self) != before.end();
      const auto pending = ring.PendingOwner(partition);
      // The owner got the partition through its ownership stream (or created it).
      if (replica_now && !replica_before && !now.empty() && now.front() != self &&
          !(pending && *pending == self)) {
        awaiting_fill_[partition] = 0;  // request at the next tick
      }
    }
  }
  last_primaries_ = std::move(primaries);
}

void Node::HandOffOrphans(std::uint64_t now_ms) {
  ScanPlacementChanges();
  const cluster::Ring& ring = membership_->state().ring();
  for (auto it = orphans_.begin(); it != orphans_.end();) {
    const std::uint32_t partition = *it;
    if (HoldsReplica(partition)) {
      orphan_done_.erase(partition);
      it = orphans_.erase(it);  // ours again
      continue;
    }
    // Hand it over once the partition is not moving (data merged into an owner that is
    // streaming the partition could miss that stream).
    if (ring.PendingOwner(partition) || copies_.count(partition) != 0 ||
        senders_.count(partition) != 0) {
      ++it;
      continue;
    }
    std::vector<cluster::NodeId> targets =
        cluster::ComputePrimaries(ring, ZoneLookup(), partition, placement_n_max_);
    std::erase(targets, config_.node_id);
    const std::set<cluster::NodeId>& done = orphan_done_[partition];
    const auto next = std::find_if(targets.begin(), targets.end(),
                                   [&](const auto& node) { return done.count(node) == 0; });
    if (next == targets.end()) {
      // Every replica has this node's copy: it can go.
      partitions_to_drop_.insert(partition);
      orphan_done_.erase(partition);
      it = orphans_.erase(it);
      continue;
    }
    // One copy at a time per partition, in preference order; an unreachable replica blocks
    // the drop (the data stays here) until it is back or leaves the list.
    StartCopy(partition, *next, /*orphan=*/true, now_ms);
    ++it;
  }
  for (auto it = fills_.begin(); it != fills_.end();) {
    const auto [partition, node] = *it;
    if (copies_.count(partition) != 0 || senders_.count(partition) != 0 ||
        ring.PendingOwner(partition)) {
      ++it;
      continue;
    }
    const std::vector<cluster::NodeId>& primaries = last_primaries_.at(partition);
    if (!HoldsReplica(partition) ||
        std::find(primaries.begin(), primaries.end(), node) == primaries.end()) {
      it = fills_.erase(it);  // the lists changed again; the requester asks again if need be
      continue;
    }
    if (Reachable(node) && !AddressOf(node).empty()) {
      StartCopy(partition, node, /*orphan=*/false, now_ms);
      it = fills_.erase(it);
      continue;
    }
    ++it;
  }
  // Ask the owner for copies of partitions this node became a replica of.
  for (auto it = awaiting_fill_.begin(); it != awaiting_fill_.end();) {
    const std::uint32_t partition = it->first;
    const cluster::NodeId& owner = ring.Owner(partition);
    // Not a replica any more, or its owner now: the ownership stream brought the partition.
    if (!HoldsReplica(partition) || owner == config_.node_id) {
      it = awaiting_fill_.erase(it);
      continue;
    }
    if (now_ms >= it->second && owner != config_.node_id && Reachable(owner) &&
        !AddressOf(owner).empty()) {
      cluster::Outbound out;
      out.to_address = AddressOf(owner);
      proto::ReplicaFillRequest* request = out.message.mutable_replica_fill_request();
      request->set_partition(partition);
      request->set_from_id(config_.node_id);
      outbound_.push_back(std::move(out));
      it->second = now_ms + kFillRequestIntervalMs;
    }
    ++it;
  }
}

void Node::OnFillRequest(const proto::ReplicaFillRequest& request) {
  const std::uint32_t partition = request.partition();
  if (partition >= config_.partition_count || !HoldsReplica(partition)) return;
  RefreshPlacement();
  const std::vector<cluster::NodeId> primaries = cluster::ComputePrimaries(
      membership_->state().ring(), ZoneLookup(), partition, placement_n_max_);
  if (std::find(primaries.begin(), primaries.end(), request.from_id()) == primaries.end()) return;
  fills_.insert({partition, request.from_id()});
}

void Node::StartCopy(std::uint32_t partition, const cluster::NodeId& target, bool orphan,
                     std::uint64_t now_ms) {
  (void)now_ms;
  const std::string address = AddressOf(target);
  if (address.empty() || !Reachable(target)) return;
  replication::HandoffTransfer transfer{next_transfer_id_++, partition, address,
                                        config_.peer_address, /*replica_copy=*/true};
  copies_.emplace(partition, ReplicaCopy{std::make_unique<replication::HandoffSender>(
                                             transfer, *env_.engine, config_.handoff),
                                         target, orphan});
}

void Node::TickCopies(std::uint64_t now_ms) {
  for (auto it = copies_.begin(); it != copies_.end();) {
    const std::uint32_t partition = it->first;
    ReplicaCopy& copy = it->second;
    copy.sender->Tick(now_ms);
    const replication::HandoffState state = copy.sender->state();
    // A copy whose reason went away (the lists changed again) is cancelled.
    const std::vector<cluster::NodeId> primaries = cluster::ComputePrimaries(
        membership_->state().ring(), ZoneLookup(), partition, placement_n_max_);
    const bool target_primary =
        std::find(primaries.begin(), primaries.end(), copy.target) != primaries.end();
    const bool still_wanted =
        target_primary && (copy.orphan ? !HoldsReplica(partition) : HoldsReplica(partition));
    if (state == replication::HandoffState::kRunning && !still_wanted) {
      it = copies_.erase(it);
      continue;
    }
    if (state == replication::HandoffState::kRunning) {
      ++it;
      continue;
    }
    for (auto& message : copy.sender->TakeOutbound()) outbound_.push_back(std::move(message));
    if (state == replication::HandoffState::kDone && copy.orphan) {
      orphan_done_[partition].insert(copy.target);
    } else if (state == replication::HandoffState::kFailed && !copy.orphan) {
      fills_.insert({partition, copy.target});  // tried again later
    }
    it = copies_.erase(it);
  }
}

void Node::OnBatchApplied(const std::string& from_address, const proto::HandoffBatch& batch) {
  if (!batch.last() || batch.replica_copy()) return;
  const std::string source = batch.reply_address().empty() ? from_address : batch.reply_address();
  const auto& transfers = receiver_->transfers();
  auto it = transfers.find({source, batch.transfer_id()});
  if (it == transfers.end() || !it->second.last_batch_applied) return;
  const auto pending = membership_->state().ring().PendingOwner(batch.partition());
  if (!pending || *pending != config_.node_id) return;
  // Remembered across a crash: the old owner, done streaming, will not send the last batch
  // again, so only this node can still report the transfer complete.
  if (completed_incoming_.insert(batch.partition()).second) {
    // With the ring that makes this node the pending owner, before the ack leaves (outbound
    // messages go out after this call): restarted with an older ring, it would forget the
    // completion while the old owner, done streaming, never sends the last batch again.
    PersistClusterStateIfChanged();
    PersistCompletedIncoming().IgnoreError();  // the claimant also learns it right now
  }
  membership_->ReportTransferComplete(batch.partition()).IgnoreError();  // re-reported on ticks
}

void Node::DropMovedPartitions() {
  const cluster::Ring& ring = membership_->state().ring();
  const cluster::NodeId& self = config_.node_id;
  std::size_t budget = config_.partition_drop_keys_per_tick;
  for (auto it = partitions_to_drop_.begin(); it != partitions_to_drop_.end() && budget > 0;) {
    const std::uint32_t partition = *it;
    const auto pending = ring.PendingOwner(partition);
    (void)pending;
    (void)self;
    if (HoldsReplica(partition) || senders_.count(partition) != 0 ||
        copies_.count(partition) != 0) {
      it = partitions_to_drop_.erase(it);  // it is ours again, or still being sent
      continue;
    }
    const storage::KeyRange range = storage::PartitionRange(partition);
    storage::WriteBatch batch;
    const Status scanned =
        env_.engine->Scan(storage::Column::kObjects, range.begin, range.end,
                          [&](std::string_view key, std::string_view) {
                            batch.Delete(storage::Column::kObjects, std::string(key));
                            return batch.ops.size() < budget;
                          });
    if (!scanned.ok() || !env_.engine->Write(batch, storage::WriteOptions{}).ok()) break;
    budget -= batch.ops.size();
    if (batch.empty()) {
      it = partitions_to_drop_.erase(it);  // nothing left
    } else {
      ++it;
    }
  }
}

}  // namespace meridian::node

namespace meridian::node {

Status Node::PersistForwarding() {
  std::string encoded;
  PutVarint64(encoded, forwarding_.size());
  for (const auto& [partition, address] : forwarding_) {
    PutFixed32(encoded, partition);
    PutLengthPrefixed(encoded, address);
  }
  storage::WriteBatch batch;
  batch.Put(storage::Column::kMetadata, std::string(kForwardingKey), encoded);
  return env_.engine->Write(batch, storage::WriteOptions{.sync = true});
}

Status Node::PersistCompletedIncoming() {
  std::string encoded;
  PutVarint64(encoded, completed_incoming_.size());
  for (std::uint32_t partition : completed_incoming_) PutFixed32(encoded, partition);
  storage::WriteBatch batch;
  batch.Put(storage::Column::kMetadata, std::string(kCompletedIncomingKey), encoded);
  return env_.engine->Write(batch, storage::WriteOptions{.sync = true});
}

Status Node::LoadCompletedIncoming() {
  auto stored = env_.engine->Get(storage::Column::kMetadata, kCompletedIncomingKey);
  if (!stored.ok()) return stored.status();
  if (!stored->has_value()) return Status::Ok();
  ByteReader reader(**stored);
  std::uint64_t count = 0;
  if (!reader.ReadVarint64(count) || count > reader.remaining()) {
    return Status::Corruption("metadata \"node/completed_incoming\" is malformed");
  }
  for (std::uint64_t i = 0; i < count; ++i) {
    std::uint32_t partition = 0;
    if (!reader.ReadFixed32(partition)) {
      return Status::Corruption("metadata \"node/completed_incoming\" is malformed");
    }
    completed_incoming_.insert(partition);
  }
  return Status::Ok();
}

Status Node::LoadForwarding() {
  auto stored = env_.engine->Get(storage::Column::kMetadata, kForwardingKey);
  if (!stored.ok()) return stored.status();
  if (!stored->has_value()) return Status::Ok();
  ByteReader reader(**stored);
  std::uint64_t count = 0;
  if (!reader.ReadVarint64(count) || count > reader.remaining()) {
    return Status::Corruption("metadata \"node/forwarding\" is malformed");
  }
  for (std::uint64_t i = 0; i < count; ++i) {
    std::uint32_t partition = 0;
    std::string_view address;
    if (!reader.ReadFixed32(partition) || !reader.ReadLengthPrefixed(address)) {
      return Status::Corruption("metadata \"node/forwarding\" is malformed");
    }
    forwarding_[partition] = std::string(address);
    // Writes may have reached the partition after its stream completed, before the crash.
    written_after_done_.insert(partition);
  }
  return Status::Ok();
}

}  // namespace meridian::node
