// Node: moving partitions when the ring changes. The old owner streams a partition to its
// pending owner (HandoffSender), mirrors writes made meanwhile, and once the stream is done
// forwards the partition's requests to the new owner. The new owner applies the batches
// (HandoffReceiver) and, after the last one, reports the transfer complete to the claimant,
// which flips the ring. Data of partitions that moved away is then deleted gradually.
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

  // Start a sender for every partition this node owns that has a pending owner.
  for (std::uint32_t partition : ring.PartitionsOwnedBy(self)) {
    if (!Outgoing(ring, partition, self) || senders_.count(partition) != 0) continue;
    const cluster::NodeId target = *ring.PendingOwner(partition);
    const cluster::Member* member = state.FindMember(target);
    if (member == nullptr || member->peer_address.empty() || !detector_->IsAlive(target, now_ms)) {
      continue;  // retried on a later tick
    }
    replication::HandoffTransfer transfer{next_transfer_id_++, partition, member->peer_address,
                                          config_.peer_address};
    senders_.emplace(partition, std::make_unique<replication::HandoffSender>(transfer, *env_.engine,
                                                                             config_.handoff));
  }

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
    if (sender.state() == replication::HandoffState::kDone) {
      // Everything, including writes mirrored meanwhile, reached the new owner: it serves the
      // partition from now on (requests are forwarded until the ring flips).
      forwarding_.insert(partition);
    }
    const bool finished = sender.state() != replication::HandoffState::kRunning;
    if ((moved_away && finished) || (!moved_away && !still_outgoing) ||
        sender.state() == replication::HandoffState::kFailed) {
      // Flipped (done), cancelled or redirected by a new plan, or failed (a later tick starts
      // over).
      for (auto& message : sender.TakeOutbound()) outbound_.push_back(std::move(message));
      if (moved_away) partitions_to_drop_.insert(partition);
      forwarding_.erase(partition);
      it = senders_.erase(it);
      continue;
    }
    ++it;
  }
  // Partitions that moved away without a sender here (e.g. completed before a restart).
  for (std::uint32_t partition : forwarding_) {
    if (ring.Owner(partition) != self) partitions_to_drop_.insert(partition);
  }

  // Re-report completed incoming transfers until the ring shows this node as the owner
  // (the report to the claimant may be lost).
  for (auto it = completed_incoming_.begin(); it != completed_incoming_.end();) {
    const auto pending = ring.PendingOwner(*it);
    if (!pending || *pending != self) {
      it = completed_incoming_.erase(it);
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
}

void Node::OnBatchApplied(const std::string& from_address, const proto::HandoffBatch& batch) {
  if (!batch.last()) return;
  const std::string source = batch.reply_address().empty() ? from_address : batch.reply_address();
  const auto& transfers = receiver_->transfers();
  auto it = transfers.find({source, batch.transfer_id()});
  if (it == transfers.end() || !it->second.last_batch_applied) return;
  const auto pending = membership_->state().ring().PendingOwner(batch.partition());
  if (!pending || *pending != config_.node_id) return;
  completed_incoming_.insert(batch.partition());
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
