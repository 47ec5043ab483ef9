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
    if (senders_.count(partition) != 0) continue;
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

  bool forwarding_changed = false;
  for (auto it = senders_.begin(); it != senders_.end();) {
    const std::uint32_t partition = it->first;
    replication::HandoffSender& sender = *it->second;
    sender.Tick(now_ms);
    const bool moved_away = ring.Owner(partition) != self;
    // A new plan may send the partition to a different node: this stream is then cancelled
    // (a later tick starts one to the new pending owner). Its target must not complete it.
    const cluster::Member* pending_member =
        Outgoing(ring, partition, self) ? state.FindMember(*ring.PendingOwner(partition)) : nullptr;
    const bool still_outgoing = pending_member != nullptr &&
                                pending_member->peer_address == sender.transfer().target_address;
    if (sender.state() == replication::HandoffState::kDone && forwarding_.count(partition) == 0) {
      // Everything, including writes mirrored meanwhile, reached the new owner: it serves the
      // partition from now on (requests are forwarded until the ring flips).
      forwarding_[partition] = sender.transfer().target_address;
      forwarding_changed = true;
    }
    const bool finished = sender.state() != replication::HandoffState::kRunning;
    if ((moved_away && finished) || (!moved_away && !still_outgoing) ||
        sender.state() == replication::HandoffState::kFailed) {
      // Flipped (done), cancelled or redirected by a new plan, or failed (a later tick starts
      // over).
      for (auto& message : sender.TakeOutbound()) outbound_.push_back(std::move(message));
      if (moved_away) partitions_to_drop_.insert(partition);
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
      partitions_to_drop_.insert(partition);
    } else if (pending_member == nullptr || pending_member->peer_address != it->second) {
      // replanned: forward no more
    } else {
      ++it;
      continue;
    }
    it = forwarding_.erase(it);
    forwarding_changed = true;
  }
  if (forwarding_changed) {
    // Synced before any request is forwarded: after a crash this node must not serve a
    // partition whose newer writes went to the new owner.
    PersistForwarding().IgnoreError();  // on failure forwarding still holds until a restart
  }

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

void Node::HandOffOrphans(std::uint64_t now_ms) {
  const cluster::ClusterState& state = membership_->state();
  const cluster::Ring& ring = state.ring();
  const cluster::NodeId& self = config_.node_id;
  if (state.ring_key().content_hash != orphan_scan_ring_hash_) {
    // The ring changed: find partitions this node holds data for without owning or receiving
    // them — e.g. a stream it received (and writes forwarded to it) before a new plan sent the
    // partition elsewhere, or data a restart forgot to drop. Their data must reach the owner
    // before it is deleted, or writes only this node has would be lost.
    orphan_scan_ring_hash_ = state.ring_key().content_hash;
    for (std::uint32_t partition = 0; partition < ring.partition_count(); ++partition) {
      const auto pending = ring.PendingOwner(partition);
      if (ring.Owner(partition) == self || (pending && *pending == self) ||
          ring.Owner(partition).empty() || partitions_to_drop_.count(partition) != 0) {
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
  }
  for (auto it = orphans_.begin(); it != orphans_.end();) {
    const std::uint32_t partition = *it;
    const auto pending = ring.PendingOwner(partition);
    if (ring.Owner(partition) == self || (pending && *pending == self)) {
      it = orphans_.erase(it);  // ours again
      continue;
    }
    if (senders_.count(partition) == 0 && !pending) {
      // Hand it to the owner once the partition is not moving (data merged into an owner that
      // is streaming the partition could miss that stream). A finished stream moves the
      // partition to partitions_to_drop_ (see TickHandoffs).
      const cluster::NodeId target = ring.Owner(partition);
      const cluster::Member* member = state.FindMember(target);
      if (member != nullptr && !member->peer_address.empty() &&
          detector_->IsAlive(target, now_ms)) {
        replication::HandoffTransfer transfer{next_transfer_id_++, partition, member->peer_address,
                                              config_.peer_address};
        senders_.emplace(partition, std::make_unique<replication::HandoffSender>(
                                        transfer, *env_.engine, config_.handoff));
        it = orphans_.erase(it);
        continue;
      }
    }
    ++it;
  }
}

void Node::OnBatchApplied(const std::string& from_address, const proto::HandoffBatch& batch) {
  if (!batch.last()) return;
  const std::string source = batch.reply_address().empty() ? from_address : batch.reply_address();
  const auto& transfers = receiver_->transfers();
  auto it = transfers.find({source, batch.transfer_id()});
  if (it == transfers.end() || !it->second.last_batch_applied) return;
  const auto pending = membership_->state().ring().PendingOwner(batch.partition());
  if (!pending || *pending != config_.node_id) return;
  // Remembered across a crash: the old owner, done streaming, will not send the last batch
  // again, so only this node can still report the transfer complete.
  if (completed_incoming_.insert(batch.partition()).second) {
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
    if (ring.Owner(partition) == self || (pending && *pending == self) ||
        senders_.count(partition) != 0) {
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
  }
  return Status::Ok();
}

}  // namespace meridian::node
