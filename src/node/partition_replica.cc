#include "node/partition_replica.h"

#include <algorithm>
#include <utility>

#include "core/assert.h"
#include "storage/key_encoding.h"
#include "storage/tictac_keys.h"

namespace meridian::node {
namespace {
bool Contains(const std::vector<cluster::NodeId>& nodes, const cluster::NodeId& node) {
  return std::find(nodes.begin(), nodes.end(), node) != nodes.end();
}
}  // namespace

PartitionReplica::PartitionReplica(std::uint32_t partition, const PartitionReplicaConfig& config,
                                   storage::Engine& engine, replication::BackgroundBudget& budget,
                                   PartitionPlacement placement,
                                   replication::AntiEntropyCounters& anti_entropy_counters,
                                   replication::ReapCounters& reap_counters,
                                   replication::NodeHintState& hint_state)
    : partition_(partition),
      config_(config),
      engine_(engine),
      budget_(budget),
      placement_(std::move(placement)),
      anti_entropy_counters_(anti_entropy_counters),
      reap_counters_(reap_counters),
      hint_state_(hint_state) {
  UpdateAntiEntropy();
}

Result<replication::HintedHandoff*> PartitionReplica::Hints() {
  if (hints_ == nullptr) {
    auto hints =
        std::make_unique<replication::HintedHandoff>(partition_, engine_, budget_, hint_state_);
    MERIDIAN_RETURN_IF_ERROR(hints->Open());
    hints_ = std::move(hints);
  }
  return hints_.get();
}

void PartitionReplica::TickHints(std::uint64_t now_ms, const replication::HintRouting& routing) {
  if (hints_ == nullptr) return;
  hints_->Tick(now_ms, routing);
  for (cluster::Outbound& message : hints_->TakeOutbound()) {
    output_.messages.push_back(std::move(message));
  }
  if (hints_->idle()) hints_.reset();
}

void PartitionReplica::OnHintAck(const std::string& from_address, const proto::HintAck& ack,
                                 std::uint64_t now_ms) {
  if (hints_ == nullptr) return;  // nothing in flight: a late or duplicate ack
  hints_->Receive(from_address, ack, now_ms);
}

bool PartitionReplica::primary() const {
  return Contains(placement_.primaries, config_.self);
}

void PartitionReplica::UpdateAntiEntropy() {
  const bool wanted = primary() && config_.anti_entropy.exchange_interval_ms > 0;
  std::vector<std::uint32_t> ns;
  for (const auto& [n, primaries] : placement_.primaries_by_n) ns.push_back(n);
  if (ns.empty() && !placement_.primaries.empty()) {
    ns.push_back(static_cast<std::uint32_t>(placement_.primaries.size()));
  }
  // A new replica count in use changes which keys each tree holds: every tree is built again.
  if (!wanted || ns != tree_ns_) {
    for (auto& [n, tree] : trees_) {
      // Its messages still in flight are lost; a later replica starts over.
      for (cluster::Outbound& message : tree->TakeOutbound()) {
        output_.messages.push_back(std::move(message));
      }
    }
    trees_.clear();
    tree_ns_ = ns;
  }
  // A tree of keys this node is no longer a primary of goes (cluster-kv-n2, seed 25: a stale
  // tree kept repairing keys onto a node outside their primaries).
  for (auto it = trees_.begin(); it != trees_.end();) {
    if (Contains(PrimariesFor(it->first), config_.self)) {
      ++it;
      continue;
    }
    for (cluster::Outbound& message : it->second->TakeOutbound()) {
      output_.messages.push_back(std::move(message));
    }
    it = trees_.erase(it);
  }
  if (wanted) {
    const bool filtered = ns.size() > 1 && config_.replica_count_of != nullptr;
    for (std::uint32_t n : ns) {
      if (n < 2 || trees_.contains(n)) continue;  // one replica: nothing to compare
      if (!Contains(PrimariesFor(n), config_.self)) continue;
      replication::AntiEntropy::KeyFilter in_tree;
      if (filtered) {
        in_tree = [of = config_.replica_count_of, n](std::string_view key) { return of(key) == n; };
      }
      trees_.emplace(n, std::make_unique<replication::AntiEntropy>(
                            partition_, n, std::move(in_tree), config_.anti_entropy, engine_,
                            config_.self_address, anti_entropy_counters_, budget_));
    }
  }
  // Reaping needs the in-sync exchanges of anti-entropy; committed deletes of a partition this
  // node no longer keeps are dropped with it (they were only ever an optimisation there).
  const bool reaping = !trees_.empty() && config_.reaping.interval_ms > 0;
  if (reaping && reaper_ == nullptr) {
    reaper_ = std::make_unique<replication::TombstoneReaper>(partition_, config_.reaping, engine_,
                                                             budget_, reap_counters_);
    // With buckets of several replica counts, each count's keys are proposed by the reaper of
    // their own primaries (the smallest id among them), which holds them.
    reaper_->SetProposes([this](std::string_view storage_key) { return Reaps(storage_key); });
  } else if (!reaping) {
    reaper_.reset();
  }
  // Called on every placement: which keys this node proposes may have changed.
  if (reaper_ != nullptr) reaper_->OnChanged();
}

const replication::AntiEntropy* PartitionReplica::anti_entropy() const {
  return trees_.empty() ? nullptr : trees_.rbegin()->second.get();
}

replication::AntiEntropy* PartitionReplica::anti_entropy() {
  return trees_.empty() ? nullptr : trees_.rbegin()->second.get();
}

replication::AntiEntropy* PartitionReplica::anti_entropy(std::uint32_t n) {
  const auto found = trees_.find(n);
  return found == trees_.end() ? nullptr : found->second.get();
}

const std::vector<cluster::NodeId>& PartitionReplica::PrimariesFor(std::uint32_t n) const {
  return PrimariesOf(placement_, n);
}

const std::vector<cluster::NodeId>& PartitionReplica::PrimariesOf(
    const PartitionPlacement& placement, std::uint32_t n) {
  const auto listed = placement.primaries_by_n.find(n);
  return listed != placement.primaries_by_n.end() ? listed->second : placement.primaries;
}

bool PartitionReplica::KeyFiltered() const {
  return placement_.primaries_by_n.size() > 1 && config_.replica_count_of != nullptr;
}

bool PartitionReplica::Keeps(std::string_view storage_key, const cluster::NodeId& node) const {
  return !KeyFiltered() || Contains(PrimariesFor(config_.replica_count_of(storage_key)), node);
}

bool PartitionReplica::MayHoldStrays(const PartitionPlacement& placement,
                                     const cluster::NodeId& self) {
  if (placement.primaries_by_n.size() < 2 || placement.pending_owner ||
      !Contains(placement.primaries, self)) {
    return false;
  }
  return std::any_of(placement.primaries_by_n.begin(), placement.primaries_by_n.end(),
                     [&](const auto& group) { return !Contains(group.second, self); });
}

bool PartitionReplica::Moving() const {
  return placement_.pending_owner.has_value() || sender_ != nullptr || copy_.has_value() ||
         forwarding_address_.has_value() || written_after_done_ || orphan_ ||
         !fill_requests_.empty() || awaiting_fill_ms_.has_value() || to_drop_ || strays_ ||
         drop_strays_;
}

std::uint32_t PartitionReplica::UnfilteredCount() const {
  auto n = static_cast<std::uint32_t>(placement_.primaries.size());
  // Fewer members than the buckets' n: the one tree is keyed by that n and compares every
  // primary there is. (Looked up by the primaries' count, it was never found, and a cluster
  // smaller than n never reaped: found by ClusteredShardReapingTest's two nodes.)
  if (!trees_.contains(n) && trees_.size() == 1) n = trees_.begin()->first;
  return n;
}

bool PartitionReplica::Reaps(std::string_view storage_key) const {
  return KeyFiltered() ? ReaperOf(config_.replica_count_of(storage_key))
                       : ReaperOf(UnfilteredCount());
}

bool PartitionReplica::ReaperOf(std::uint32_t n) const {
  const std::vector<cluster::NodeId>& primaries = PrimariesFor(n);
  const auto smallest = std::min_element(primaries.begin(), primaries.end());
  return smallest != primaries.end() && *smallest == config_.self;
}

std::string PartitionReplica::ReapRefusal(const PeerDirectory& peers) const {
  if (reaper_ == nullptr || trees_.empty()) return "not_primary";
  // The reaper of the largest n, or (with buckets of several replica counts) of any count's
  // keys: their own primaries' smallest id.
  std::vector<std::uint32_t> reaped;
  if (KeyFiltered()) {
    for (const auto& [n, primaries] : placement_.primaries_by_n) {
      if (ReaperOf(n)) reaped.push_back(n);
    }
  } else if (const std::uint32_t n = UnfilteredCount(); ReaperOf(n)) {
    reaped.push_back(n);
  }
  if (reaped.empty()) return "not_reaper";
  if (Moving()) return "moving";
  for (const cluster::NodeId& node : placement_.primaries) {
    if (node == config_.self) continue;
    if (!peers.Reachable(node)) return "primary_down";
  }
  // In sync with the other primaries of every count it reaps (one replica: nothing to compare).
  for (std::uint32_t n : reaped) {
    if (n < 2) continue;
    const auto tree = trees_.find(n);
    if (tree == trees_.end()) return "not_in_sync";
    for (const cluster::NodeId& node : PrimariesFor(n)) {
      if (node != config_.self && !tree->second->InSyncWith(peers.AddressOf(node))) {
        return "not_in_sync";
      }
    }
  }
  return {};
}

void PartitionReplica::DropReapedCopies(cluster::Outbound& message) const {
  // A tombstone whose committed delete is queued here is not offered to another primary (it
  // has it deleted already, or will): see TombstoneReaper.
  auto* objects = message.message.mutable_aae_repair()->mutable_objects();
  for (int index = objects->size() - 1; index >= 0; --index) {
    const proto::HandoffEntry& entry = objects->Get(index);
    auto hash = storage::EncodedObjectVersionHash(entry.encoded_object());
    if (hash.ok() && reaper_->DeletePending(entry.storage_key(), *hash)) {
      objects->DeleteSubrange(index, 1);
    }
  }
}

void PartitionReplica::OnReapCommit(const std::vector<replication::ReapKey>& keys) {
  if (reaper_ != nullptr) reaper_->OnCommit(keys);
}

PartitionReplica::~PartitionReplica() = default;

bool PartitionReplica::Outgoing(const PartitionPlacement& placement, const cluster::NodeId& self) {
  return placement.owner == self && placement.pending_owner && *placement.pending_owner != self;
}

bool PartitionReplica::Outgoing() const {
  return Outgoing(placement_, config_.self);
}

bool PartitionReplica::BecameReplica(const PartitionPlacement& before,
                                     const PartitionPlacement& now, const cluster::NodeId& self) {
  if (now.owner.empty() || now.primaries.empty()) return false;
  const bool pending_here = now.pending_owner && *now.pending_owner == self;
  // The owner gets the partition through its ownership stream (or created it).
  if (!Contains(now.primaries, self) || now.primaries.front() == self || pending_here) {
    return false;
  }
  // A new replica of the partition, or of the keys of one replica count (buckets with fewer
  // replicas than the partition has primaries: the order of the primaries changed).
  return !Contains(before.primaries, self) ||
         std::any_of(now.primaries_by_n.begin(), now.primaries_by_n.end(), [&](const auto& group) {
           return Contains(group.second, self) && !Contains(PrimariesOf(before, group.first), self);
         });
}

bool PartitionReplica::NeedsOrphanCheck(const PartitionPlacement& placement) const {
  return !placement.owner.empty() && !placement.holds && !to_drop_ && sender_ == nullptr &&
         !orphan_;
}

bool PartitionReplica::NeedsDataCheck(const PartitionPlacement& placement) const {
  return NeedsOrphanCheck(placement) ||
         (placement != placement_ && MayHoldStrays(placement, config_.self));
}

void PartitionReplica::OnPlacement(const PartitionPlacement& placement, bool has_data, bool first) {
  if (!placement.owner.empty()) {
    // Data held here for a partition this node does not keep must reach the replicas before it
    // is deleted, or writes only this node has would be lost.
    if (NeedsOrphanCheck(placement) && has_data) orphan_ = true;
    // A new replica needs a copy from one that has it: asked of the owner until one arrives.
    if (!first && BecameReplica(placement_, placement, config_.self)) {
      awaiting_fill_ms_ = 0;  // at the next tick
    }
  }
  if (first || placement != placement_) {
    // Which keys this node keeps may have changed: strays are handed on (again) from scratch.
    strays_done_.clear();
    drop_strays_ = false;
    strays_cursor_.reset();
    strays_ = MayHoldStrays(placement, config_.self) && has_data;
  }
  placement_ = placement;
  UpdateAntiEntropy();
}

void PartitionReplica::Tick(std::uint64_t now_ms, const PeerDirectory& peers,
                            RequestIds& transfer_ids) {
  TickOwnershipStream(now_ms, peers, transfer_ids);
  TickOrphan(now_ms, peers, transfer_ids);
  TickStrays(peers, transfer_ids);
  TickFills(now_ms, peers, transfer_ids);
  TickFillRequest(now_ms, peers);
  TickCopy(now_ms);
  TickCompletionReport(now_ms);
  TickAntiEntropy(now_ms, peers);
}

void PartitionReplica::TickAntiEntropy(std::uint64_t now_ms, const PeerDirectory& peers) {
  for (auto& [n, tree] : trees_) {
    // Each pair of the tree's primaries is compared by the one with the smaller id; only
    // reachable peers.
    std::vector<std::string> targets;
    for (const cluster::NodeId& node : PrimariesFor(n)) {
      if (node <= config_.self || !peers.Reachable(node)) continue;
      std::string address = peers.AddressOf(node);
      if (!address.empty()) targets.push_back(std::move(address));
    }
    tree->Tick(now_ms, targets);
  }
}

namespace {
// The replica count an anti-entropy message names (0: a sender before trees per n).
std::uint32_t ReplicaCountOf(const proto::PeerMessage& message) {
  switch (message.body_case()) {
    case proto::PeerMessage::kAaeExchangeStart:
      return message.aae_exchange_start().replica_count();
    case proto::PeerMessage::kAaeSegmentHashes:
      return message.aae_segment_hashes().replica_count();
    case proto::PeerMessage::kAaeKeyHashes:
      return message.aae_key_hashes().replica_count();
    case proto::PeerMessage::kAaeRepair:
      return message.aae_repair().replica_count();
    default:
      return 0;
  }
}
}  // namespace

void PartitionReplica::OnAntiEntropy(const std::string& from_address,
                                     const proto::PeerMessage& message, std::uint64_t now_ms) {
  const std::uint32_t named = ReplicaCountOf(message);
  replication::AntiEntropy* tree = named == 0 ? anti_entropy() : anti_entropy(named);
  if (tree != nullptr) {
    tree->Receive(from_address, message, now_ms, /*replica=*/true);
    return;
  }
  if (!message.has_aae_exchange_start()) return;  // a late reply: that exchange is gone
  // Not a primary (or anti-entropy is off): refused, so the initiator stops waiting.
  const proto::AaeExchangeStart& start = message.aae_exchange_start();
  cluster::Outbound& out = output_.messages.emplace_back();
  out.to_address = start.reply_address().empty() ? from_address : start.reply_address();
  proto::AaeSegmentHashes* reply = out.message.mutable_aae_segment_hashes();
  reply->set_exchange_id(start.exchange_id());
  reply->set_partition(partition_);
  reply->set_status_code(static_cast<std::uint32_t>(StatusCode::kInvalidArgument));
  reply->set_replica_count(start.replica_count());
  reply->set_status_message(
      config_.self + " is not a primary of partition " + std::to_string(partition_) +
      " for n = " + std::to_string(start.replica_count()) + " with anti-entropy on");
}

void PartitionReplica::OnObjectChanged(std::string_view storage_key,
                                       std::optional<std::uint64_t> old_hash,
                                       std::optional<std::uint64_t> new_hash,
                                       std::uint32_t superseded_single_use) {
  // Every change reaches the running streams, also one that did not pass OnStored (a hint
  // delivered here, a copy received): otherwise a stream that scanned past the key completes
  // without it and the data here is dropped after the flip (cluster-kv-n1, seed 7: a delete
  // delivered as a hint to the old owner was lost, and the deleted value came back).
  if (sender_ != nullptr) {
    if (sender_->state() == replication::HandoffState::kDone) written_after_done_ = true;
    sender_->MarkChanged(storage_key);
  } else if (forwarding_address_) {
    written_after_done_ = true;
  }
  if (copy_) {
    // A copy done sending (its last ack in, not yet collected by TickCopy) cannot take the
    // change: counted as complete, it would let an orphan or its strays be dropped without it
    // (cluster-kv-n1, seed 2171: a hint delivered to the old owner then was lost).
    if (copy_->sender->state() == replication::HandoffState::kRunning) {
      copy_->sender->MarkChanged(storage_key);
    } else {
      copy_->missed_change = true;
    }
  }
  if (reaper_ != nullptr) {
    reaper_->OnChanged();
    if (new_hash.has_value()) reaper_->OnStored(storage_key, superseded_single_use);
  }
  if (trees_.empty()) return;
  replication::AntiEntropy* tree =
      trees_.size() == 1 && tree_ns_.size() == 1 ? trees_.begin()->second.get()
      : config_.replica_count_of != nullptr ? anti_entropy(config_.replica_count_of(storage_key))
                                            : anti_entropy();
  if (tree != nullptr) tree->OnObjectChanged(storage_key, old_hash, new_hash);
}

void PartitionReplica::TickOwnershipStream(std::uint64_t now_ms, const PeerDirectory& peers,
                                           RequestIds& transfer_ids) {
  // Start a stream to the pending owner, unless one to that node already completed (before a
  // restart, say: see forwarding_address_).
  if (Outgoing() && sender_ == nullptr && !copy_) {
    const cluster::NodeId& target = *placement_.pending_owner;
    const std::string address = peers.AddressOf(target);
    if (!address.empty() && peers.Reachable(target) && forwarding_address_ != address) {
      replication::HandoffTransfer transfer{transfer_ids.Next(), partition_, address,
                                            config_.self_address};
      sender_ =
          std::make_unique<replication::HandoffSender>(transfer, engine_, budget_, config_.handoff);
    }  // else retried on a later tick
  }

  if (sender_ != nullptr) {
    sender_->Tick(now_ms);
    const bool flipped = placement_.owner != config_.self;
    // A new plan may send the partition to a different node: this stream is then cancelled (a
    // later tick starts one to the new pending owner). Its target must not complete it.
    const bool still_outgoing = Outgoing() && peers.AddressOf(*placement_.pending_owner) ==
                                                  sender_->transfer().target_address;
    const replication::HandoffState state = sender_->state();
    if (state == replication::HandoffState::kDone && !forwarding_address_) {
      // Everything, including writes mirrored meanwhile, reached the new owner.
      forwarding_address_ = sender_->transfer().target_address;
      forwarding_since_ms_ = now_ms;
      output_.forwarding_changed = true;
    }
    if (flipped || !still_outgoing || state == replication::HandoffState::kFailed) {
      // Flipped (normally once done; a stream still running when the partition went elsewhere
      // under a newer plan is handed off), cancelled or redirected by a new plan, or failed (a
      // later tick starts over).
      Collect(*sender_);
      if (flipped) {
        if (state == replication::HandoffState::kDone) {
          MovedAway();
        } else if (!placement_.holds) {
          orphan_ = true;
        }
      }
      sender_.reset();
    }
  }

  // Forwarding ends when the ring flips (the data then gets dropped here) or a new plan sends
  // the partition elsewhere (a new stream starts).
  if (forwarding_address_) {
    if (!forwarding_since_ms_) forwarding_since_ms_ = now_ms;  // restored after a restart
    if (placement_.owner != config_.self) {
      MovedAway();
    } else if (!Outgoing() || peers.AddressOf(*placement_.pending_owner) != *forwarding_address_) {
      // replanned: the stream starts over
    } else if (now_ms >= *forwarding_since_ms_ + config_.flip_wait_ms) {
      // Long after the stream completed the ring has not flipped: the completion may be lost
      // for good (rings of racing claimants undid a flip, and the new owner, owner for a
      // while, acknowledged the last batch without recording a completion). Stream it again:
      // the new owner completes and reports once more (cluster-kv seed 435).
      if (sender_ != nullptr) Collect(*sender_);
      sender_.reset();
    } else {
      return;
    }
    forwarding_address_.reset();
    forwarding_since_ms_.reset();
    output_.forwarding_changed = true;
  }
  // Still the owner, with no stream and no forwarding: a stream that was cancelled, redirected
  // or restarted leaves nothing "written after it completed" (the next stream sends the whole
  // partition again). A flag left set would keep the partition "moving" for reaping for ever
  // (reaping scenario, seed 861).
  if (placement_.owner == config_.self && sender_ == nullptr && !forwarding_address_) {
    written_after_done_ = false;
  }
}

void PartitionReplica::MovedAway() {
  // After the flip, a partition this node no longer keeps is dropped — unless a write reached
  // it after its stream completed (the new owner may lack that write): then it is handed off
  // to every replica first.
  // Called for the stream and again for the forwarding it left: an orphan stays one (its
  // hand-off decides when the data may go; found by the data-driven handoff scenario).
  if (placement_.holds) {
    // Still a replica here: the data stays, nothing needs handing on (a flag left set would
    // keep the partition "moving" for reaping for ever: reaping scenario, seed 25).
    written_after_done_ = false;
    return;
  }
  if (written_after_done_ || orphan_) {
    orphan_ = true;
  } else {
    to_drop_ = true;
    drop_cursor_.reset();
  }
  written_after_done_ = false;
}

void PartitionReplica::TickOrphan(std::uint64_t now_ms, const PeerDirectory& peers,
                                  RequestIds& transfer_ids) {
  (void)now_ms;
  if (!orphan_) return;
  if (placement_.holds) {
    orphan_ = false;  // ours again
    orphan_done_.clear();
    return;
  }
  // Hand it over once the partition is not moving (data merged into an owner that is
  // streaming the partition could miss that stream).
  if (placement_.pending_owner || copy_ || sender_ != nullptr) return;
  const auto next = std::find_if(placement_.primaries.begin(), placement_.primaries.end(),
                                 [&](const cluster::NodeId& node) {
                                   return node != config_.self && orphan_done_.count(node) == 0;
                                 });
  if (next == placement_.primaries.end()) {
    // Every replica has this node's copy: it can go.
    to_drop_ = true;
    drop_cursor_.reset();
    orphan_ = false;
    orphan_done_.clear();
    return;
  }
  // One copy at a time, in preference order; an unreachable replica blocks the drop (the data
  // stays here) until it is back or leaves the list.
  StartCopy(*next, CopyKind::kOrphan, peers, transfer_ids);
}

void PartitionReplica::TickStrays(const PeerDirectory& peers, RequestIds& transfer_ids) {
  if (!strays_) return;
  if (!MayHoldStrays(placement_, config_.self)) {
    strays_ = false;  // it keeps every key again (or the partition is moving: checked again)
    strays_done_.clear();
    return;
  }
  if (copy_ || sender_ != nullptr || orphan_) return;
  const auto next = std::find_if(placement_.primaries.begin(), placement_.primaries.end(),
                                 [&](const cluster::NodeId& node) {
                                   return node != config_.self && strays_done_.count(node) == 0;
                                 });
  if (next == placement_.primaries.end()) {
    // Every primary has the strays it keeps: they can go.
    strays_ = false;
    strays_done_.clear();
    drop_strays_ = true;
    strays_cursor_.reset();
    return;
  }
  // One copy at a time; an unreachable primary blocks the drop until it is back or leaves.
  StartCopy(*next, CopyKind::kStrays, peers, transfer_ids);
}

void PartitionReplica::OnArrived(std::string_view storage_key) {
  if (!MayHoldStrays(placement_, config_.self) || Keeps(storage_key, config_.self)) return;
  // A stray arrived (from a coordinator or a sender with an older ring): it may be the only
  // copy of a write, so the strays are handed on again before any is deleted.
  strays_ = true;
  strays_done_.clear();
  drop_strays_ = false;
  strays_cursor_.reset();
}

void PartitionReplica::TickFills(std::uint64_t now_ms, const PeerDirectory& peers,
                                 RequestIds& transfer_ids) {
  (void)now_ms;
  for (auto it = fill_requests_.begin(); it != fill_requests_.end();) {
    if (copy_ || sender_ != nullptr || placement_.pending_owner) return;
    const cluster::NodeId node = *it;
    if (!placement_.holds || !Contains(placement_.primaries, node)) {
      it = fill_requests_.erase(it);  // the lists changed again; the requester asks again
      continue;
    }
    if (peers.Reachable(node) && !peers.AddressOf(node).empty()) {
      StartCopy(node, CopyKind::kFill, peers, transfer_ids);
      it = fill_requests_.erase(it);
      continue;
    }
    ++it;
  }
}

void PartitionReplica::TickFillRequest(std::uint64_t now_ms, const PeerDirectory& peers) {
  if (!awaiting_fill_ms_) return;
  const cluster::NodeId& owner = placement_.owner;
  // Not a replica any more, or its owner now: the ownership stream brought the partition.
  if (!placement_.holds || owner == config_.self) {
    awaiting_fill_ms_.reset();
    return;
  }
  if (now_ms < *awaiting_fill_ms_ || !peers.Reachable(owner)) return;
  const std::string address = peers.AddressOf(owner);
  if (address.empty()) return;
  cluster::Outbound& out = output_.messages.emplace_back();
  out.to_address = address;
  proto::ReplicaFillRequest* request = out.message.mutable_replica_fill_request();
  request->set_partition(partition_);
  request->set_from_id(config_.self);
  awaiting_fill_ms_ = now_ms + config_.fill_request_interval_ms;
}

void PartitionReplica::StartCopy(const cluster::NodeId& target, CopyKind kind,
                                 const PeerDirectory& peers, RequestIds& transfer_ids) {
  const std::string address = peers.AddressOf(target);
  if (address.empty() || !peers.Reachable(target)) return;
  replication::HandoffTransfer transfer{transfer_ids.Next(), partition_, address,
                                        config_.self_address, /*replica_copy=*/true};
  // A copy carries only the keys the target keeps; strays, only the keys this node does not.
  if (KeyFiltered()) {
    transfer.carries = [this, target, kind](std::string_view storage_key) {
      return Keeps(storage_key, target) &&
             (kind != CopyKind::kStrays || !Keeps(storage_key, config_.self));
    };
  }
  copy_ = ReplicaCopy{
      std::make_unique<replication::HandoffSender>(transfer, engine_, budget_, config_.handoff),
      target, kind};
}

void PartitionReplica::TickCopy(std::uint64_t now_ms) {
  if (!copy_) return;
  copy_->sender->Tick(now_ms);
  const replication::HandoffState state = copy_->sender->state();
  // A copy whose reason went away (the lists changed again) is cancelled.
  bool still_wanted = Contains(placement_.primaries, copy_->target);
  switch (copy_->kind) {
    case CopyKind::kFill:
      still_wanted = still_wanted && placement_.holds;
      break;
    case CopyKind::kOrphan:
      still_wanted = still_wanted && !placement_.holds;
      break;
    case CopyKind::kStrays:
      still_wanted = still_wanted && strays_ && MayHoldStrays(placement_, config_.self);
      break;
  }
  if (state == replication::HandoffState::kRunning) {
    if (!still_wanted) copy_.reset();
    return;
  }
  Collect(*copy_->sender);
  // A copy that missed a change is made again (the target is not marked done).
  const bool complete = state == replication::HandoffState::kDone && !copy_->missed_change;
  if (complete && copy_->kind == CopyKind::kStrays && strays_) {
    strays_done_.insert(copy_->target);
  } else if (complete && copy_->kind == CopyKind::kOrphan && orphan_) {
    // Only while still an orphan: a hand-off that completed after the partition became ours
    // again must not count for a later orphan spell (which would then skip that replica), nor
    // keep the replica busy for ever (reaping: found by the reaping scenario, seed 6).
    orphan_done_.insert(copy_->target);
  } else if (state == replication::HandoffState::kFailed && copy_->kind == CopyKind::kFill) {
    fill_requests_.insert(copy_->target);  // tried again later
  }
  copy_.reset();
}

void PartitionReplica::TickCompletionReport(std::uint64_t now_ms) {
  if (!completed_incoming_) return;
  const bool pending_here = placement_.pending_owner && *placement_.pending_owner == config_.self;
  const bool owner_here = placement_.owner == config_.self && !placement_.pending_owner;
  if (!pending_here && !owner_here) {
    completed_incoming_ = false;  // the partition went elsewhere
    output_.completion_changed = true;
    return;
  }
  // Re-reported while the ring shows this node as the pending owner (a report may be lost).
  // Kept once the ring flipped: rings of two claimants can race, and a newer ring may undo the
  // flip; the old owner, done streaming, would never send the partition again, so only this
  // report can still complete the move (cluster-kv seeds 128 and 435).
  if (pending_here && now_ms >= next_completion_report_ms_) {
    output_.report_transfer_complete = true;
    next_completion_report_ms_ = now_ms + config_.completion_report_interval_ms;
  }
}

void PartitionReplica::OnHandoffAck(const proto::HandoffAck& ack, std::uint64_t now_ms) {
  // Each sender ignores acks of other transfers.
  if (sender_ != nullptr) sender_->Receive(ack, now_ms);
  if (copy_) copy_->sender->Receive(ack, now_ms);
}

void PartitionReplica::OnFillRequest(const cluster::NodeId& from) {
  if (!placement_.holds || !Contains(placement_.primaries, from)) return;
  fill_requests_.insert(from);
}

void PartitionReplica::OnStored(std::string_view storage_key, std::string_view encoded_object) {
  // MirrorWrite also marks the key for re-send inside acknowledged batches.
  if (sender_ != nullptr) {
    if (sender_->state() == replication::HandoffState::kDone) written_after_done_ = true;
    sender_->MirrorWrite(storage_key, encoded_object).IgnoreError();  // key is in the partition
  } else if (forwarding_address_) {
    written_after_done_ = true;
  }
  if (copy_) copy_->sender->MirrorWrite(storage_key, encoded_object).IgnoreError();
}

void PartitionReplica::OnForeignData() {
  if (placement_.holds) return;
  orphan_ = true;
  // The replicas handed the data already lack what just arrived (a write from a coordinator
  // with an older ring, say), and for a key of a bucket with fewer replicas they may be all
  // its replicas: every replica gets the data again (cluster-kv-n1, seed 1, lost a write).
  orphan_done_.clear();
}

void PartitionReplica::OnCopyReceived(const std::string& from_address) {
  if (sender_ != nullptr && sender_->transfer().target_address == from_address) {
    if (sender_->state() == replication::HandoffState::kDone) {
      written_after_done_ = true;
    } else {
      // Running: what the target acknowledged so far may be dropped there; a later tick
      // streams the whole partition again.
      Collect(*sender_);
      sender_.reset();
    }
  } else if (forwarding_address_ == from_address) {
    written_after_done_ = true;
  }
}

void PartitionReplica::OnIncomingComplete() {
  if (!completed_incoming_) {
    completed_incoming_ = true;
    output_.completion_changed = true;
  }
  output_.report_transfer_complete = true;
}

void PartitionReplica::OnFillComplete() {
  awaiting_fill_ms_.reset();
}

Result<std::size_t> PartitionReplica::Drop(std::size_t budget, storage::WriteBatch& batch) {
  if (drop_strays_ && !to_drop_) return DropStrays(budget, batch);
  if (!to_drop_ || budget == 0) return std::size_t{0};
  if (placement_.holds || sender_ != nullptr || copy_ || orphan_) {
    // It is ours again, still being sent, or holds data some replica may lack (an orphan's
    // hand-off drops it once every replica has it).
    to_drop_ = false;
    return std::size_t{0};
  }
  const std::size_t before = batch.ops.size();
  const storage::KeyRange range = storage::PartitionRange(partition_);
  const bool from_start = !drop_cursor_.has_value();
  std::optional<std::string> stopped_at;
  MERIDIAN_RETURN_IF_ERROR(engine_.Scan(storage::Column::kObjects,
                                        drop_cursor_.value_or(range.begin), range.end,
                                        [&](std::string_view key, std::string_view) {
                                          if (batch.ops.size() - before == budget) {
                                            stopped_at = std::string(key);
                                            return false;
                                          }
                                          batch.Delete(storage::Column::kObjects, std::string(key));
                                          return true;
                                        }));
  const std::size_t deleted = batch.ops.size() - before;
  // Past the end, the next round starts over: keys written behind the cursor meanwhile, or
  // whose deletion was not written, are found then.
  drop_cursor_ = std::move(stopped_at);
  if (deleted == 0 && from_start) to_drop_ = false;  // nothing left
  return deleted;
}

Result<std::size_t> PartitionReplica::DropStrays(std::size_t budget, storage::WriteBatch& batch) {
  if (budget == 0) return std::size_t{0};
  if (!MayHoldStrays(placement_, config_.self) || strays_) {
    // It keeps every key again, or strays are being handed on again (one arrived).
    drop_strays_ = false;
    return std::size_t{0};
  }
  // A copy under way (a fill another primary asked for) finishes first: the drop waits for it.
  // (Given up here, nothing asked for it again and the strays stayed for good: a tombstone
  // among them was never reaped, reaping-n1 seed 63006.)
  if (copy_ || sender_ != nullptr) return std::size_t{0};
  // Each key is judged as of now: a key this node keeps again stays.
  const storage::KeyRange range = storage::PartitionRange(partition_);
  std::size_t scanned = 0;
  std::optional<std::string> stopped_at;
  MERIDIAN_RETURN_IF_ERROR(
      engine_.Scan(storage::Column::kObjects, strays_cursor_.value_or(range.begin), range.end,
                   [&](std::string_view key, std::string_view) {
                     if (scanned == budget) {
                       stopped_at = std::string(key);
                       return false;
                     }
                     ++scanned;
                     if (!Keeps(key, config_.self))
                       batch.Delete(storage::Column::kObjects, std::string(key));
                     return true;
                   }));
  strays_cursor_ = std::move(stopped_at);
  if (!strays_cursor_) drop_strays_ = false;  // the whole partition was judged
  return scanned;
}

void PartitionReplica::Collect(replication::HandoffSender& sender) {
  for (cluster::Outbound& message : sender.TakeOutbound()) {
    output_.messages.push_back(std::move(message));
  }
}

PartitionOutput PartitionReplica::TakeOutput() {
  if (sender_ != nullptr) Collect(*sender_);
  if (copy_) Collect(*copy_->sender);
  for (auto& [n, tree] : trees_) {
    for (cluster::Outbound& message : tree->TakeOutbound()) {
      if (reaper_ != nullptr && message.message.has_aae_repair()) DropReapedCopies(message);
      output_.messages.push_back(std::move(message));
    }
    for (auto& repair : tree->TakeRepairs()) output_.repairs.push_back(std::move(repair));
  }
  return std::exchange(output_, PartitionOutput{});
}

void PartitionReplica::RestoreForwarding(std::string address) {
  forwarding_address_ = std::move(address);
  forwarding_since_ms_.reset();  // counted from the first tick
  // Writes may have reached the partition after its stream completed, before the crash.
  written_after_done_ = true;
}

std::size_t PartitionReplica::queued_copies() const {
  return (orphan_ ? 1 : 0) + (strays_ ? 1 : 0) + fill_requests_.size() +
         (awaiting_fill_ms_ ? 1 : 0);
}

bool PartitionReplica::idle() const {
  return trees_.empty() && hints_ == nullptr && !Outgoing() && sender_ == nullptr &&
         !forwarding_address_ && !written_after_done_ && !completed_incoming_ && !orphan_ &&
         !strays_ && !drop_strays_ && orphan_done_.empty() && !copy_ && fill_requests_.empty() &&
         !awaiting_fill_ms_ && !to_drop_ && output_.messages.empty() &&
         !output_.forwarding_changed && !output_.completion_changed &&
         !output_.report_transfer_complete && output_.repairs.empty();
}

void PartitionReplica::AppendTransfers(std::uint64_t now_ms, std::vector<TransferView>& out) const {
  const auto append = [&](const replication::HandoffSender& sender, const cluster::NodeId& peer,
                          bool replica_copy) {
    if (sender.state() != replication::HandoffState::kRunning) return;
    TransferView& view = out.emplace_back();
    view.partition = partition_;
    view.replica_copy = replica_copy;
    view.peer = peer.empty() ? sender.transfer().target_address : peer;
    view.bytes_done = sender.progress().bytes_acknowledged;
    view.objects_done = sender.progress().objects_acknowledged;
    view.bytes_total = sender.bytes_estimate();
    const std::optional<std::uint64_t> started = sender.started_ms();
    view.elapsed_ms = started.has_value() && now_ms > *started ? now_ms - *started : 0;
  };
  if (sender_ != nullptr) append(*sender_, placement_.pending_owner.value_or(""), false);
  if (copy_.has_value() && copy_->sender != nullptr) append(*copy_->sender, copy_->target, true);
}

}  // namespace meridian::node
