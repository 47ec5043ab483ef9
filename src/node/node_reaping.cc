// Node: tombstone reaping by causal acknowledgement (docs/design/tombstones.md). The node
// starts rounds for the partitions it reaps (ReapRounds), answers other reapers' rounds from
// its own state (JudgeReapRound), sends committed rounds to the primaries and carries out the
// conditional deletes each partition's TombstoneReaper keeps.
#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "core/assert.h"
#include "core/object_codec.h"
#include "node/node.h"
#include "node/node_peers.h"
#include "storage/key_encoding.h"

namespace meridian::node {

namespace {
// Reaped deletes after which, once the queues are empty, the engine is asked to compact.
constexpr std::uint64_t kReapedBeforeCompaction = 10'000;

void Refuse(proto::ReapVerdict& verdict, std::string why) {
  if (verdict.refused().empty()) verdict.set_refused(std::move(why));
}

void Reject(proto::ReapVerdict& verdict, int index, const char* why) {
  verdict.add_rejected(static_cast<std::uint32_t>(index));
  verdict.add_rejected_reasons(why);
}

// Whether a partition the reaper refuses for `refusal` (PartitionReplica::ReapRefusal) may
// still be proposed: fully when nothing stands in the way; for prunes only when its last
// anti-entropy exchanges were not all in sync (which keeps tombstone reaping away from
// partitions under repair; neither kind's safety rests on it, and a key written all the time
// keeps its partition out of sync: docs/design/tombstones.md "Hot keys").
bool Proposable(const std::string& refusal) {
  return refusal.empty() || refusal == "not_in_sync";
}

// A prune that names its actors (ReapCandidate.single_use_actors), ascending: judged by whether
// a copy of one of those writes is found, not by the version hash. Empty otherwise.
std::span<const ActorId> PrunedActors(const proto::ReapCandidate& candidate) {
  if (!candidate.prune()) return {};
  const std::span<const ActorId> actors(candidate.single_use_actors().data(),
                                        candidate.single_use_actors().size());
  return std::is_sorted(actors.begin(), actors.end()) ? actors : std::span<const ActorId>{};
}
}  // namespace

void Node::TickReaping(std::uint64_t now_ms) {
  if (config_.reaping.interval_ms == 0 || config_.peer_address.empty()) return;
  reap_rounds_.Tick(now_ms);
  if (auto outcome = reap_rounds_.TakeOutcome()) OnReapOutcome(*outcome, now_ms);
  if (!reap_rounds_.round_in_flight()) StartReapRound(now_ms);
  ApplyReapDeletes(now_ms);
}

void Node::StartReapRound(std::uint64_t now_ms) {
  RefreshPlacement();
  const cluster::ClusterState& state = membership_->state();
  const NodePeers peers(*this, state);
  // Who may be asked: every member, and every removed one but this node. A removed member may
  // still hold data of partitions it left (orphans, hints) and hand it on: it is asked too,
  // until the shard of it the round concerns once answered that it holds nothing.
  std::vector<const cluster::Member*> members;
  bool self_member = false;
  for (const auto& member : state.members()) {
    self_member = self_member || (member->id == config_.node_id &&
                                  member->status != cluster::MemberStatus::kRemoved);
    if (member->status == cluster::MemberStatus::kRemoved && member->id == config_.node_id) {
      continue;
    }
    members.push_back(member.get());
  }
  if (!self_member) return;
  // Each member takes part in a round with one shard, which takes the snapshot of the round's
  // partitions and sends their markers: so a round's partitions all belong to one shard of
  // every member (by its record's shard count; docs/design/tombstones.md, "Shards"). The round
  // takes the group of the first partition due after the previous round's group, in turn (from
  // the lowest partition every time, the groups of the higher ones starved: reaping-mixed-shards
  // seed 3); the others wait for a later round.
  const auto group_of = [&](std::uint32_t partition) {
    std::vector<std::uint32_t> group;
    group.reserve(members.size());
    for (const cluster::Member* member : members) {
      group.push_back(ShardOfPartition(partition, config_.partition_count, member->shards));
    }
    return group;
  };
  std::optional<std::vector<std::uint32_t>> group;
  std::uint32_t first_partition = 0;
  const auto first_due = [&](auto begin, auto end) {
    for (auto it = begin; it != end && !group; ++it) {
      replication::TombstoneReaper* reaper = it->second->reaper();
      if (reaper == nullptr || !reaper->Due(now_ms) ||
          !Proposable(it->second->ReapRefusal(peers))) {
        continue;
      }
      group = group_of(it->first);
      first_partition = it->first;
    }
  };
  const auto from = replicas_.lower_bound(next_reap_group_from_);
  first_due(from, replicas_.end());
  first_due(replicas_.begin(), from);
  if (!group) return;
  // The scan below is background work: it starts only while the budget is neither paused nor
  // in debt, and in its turn among the kinds waiting (ReapConfig::scan_key_cost_bytes).
  if (!governor_.TrySpend(replication::WorkKind::kTombstoneReaping, replication::WorkSize{},
                          now_ms)) {
    return;
  }
  next_reap_group_from_ = first_partition + 1;
  // Every member answers: one that is down (or has no address yet) would time the round out.
  proto::ReapPrepare prepare;
  for (std::size_t i = 0; i < members.size(); ++i) {
    const cluster::Member* member = members[i];
    if (member->status == cluster::MemberStatus::kRemoved &&
        drained_removed_.contains({member->id, member->incarnation, (*group)[i]})) {
      continue;
    }
    if (member->peer_address.empty() || !IsAlive(member->id)) return;
    proto::ReapMember* added = prepare.add_members();
    added->set_id(member->id);
    added->set_address(member->peer_address);
  }
  std::uint32_t room = config_.reaping.candidates_per_round_max;
  std::uint32_t scan_room = config_.reaping.scan_keys_per_round_max;
  // From the round's first partition on, wrapping: partitions a spent scan budget left out are
  // examined by the next rounds, which start further on.
  std::vector<std::pair<std::uint32_t, PartitionReplica*>> order;
  order.reserve(replicas_.size());
  const auto first = replicas_.lower_bound(next_reap_group_from_ - 1);
  for (auto it = first; it != replicas_.end(); ++it)
    order.emplace_back(it->first, it->second.get());
  for (auto it = replicas_.begin(); it != first; ++it) {
    order.emplace_back(it->first, it->second.get());
  }
  for (auto& [partition, replica] : order) {
    if (room == 0 || scan_room == 0) break;
    replication::TombstoneReaper* reaper = replica->reaper();
    if (reaper == nullptr || !reaper->Due(now_ms) || group_of(partition) != *group) continue;
    const std::string refusal = replica->ReapRefusal(peers);
    if (!Proposable(refusal)) continue;
    auto candidates = reaper->ProposeCandidates(
        std::min(room, config_.reaping.candidates_per_partition_max), now_ms,
        /*prunes_only=*/!refusal.empty(), scan_room);
    scan_room -= std::min(scan_room, reaper->scanned_last());
    if (!candidates.ok() || candidates->empty()) continue;
    room -= static_cast<std::uint32_t>(candidates->size());
    proto::ReapPartition* entry = prepare.add_partitions();
    entry->set_partition(partition);
    for (const cluster::NodeId& primary : replica->placement().primaries) {
      entry->add_primaries(primary);
    }
    for (const replication::ReapKey& key : *candidates) {
      proto::ReapCandidate* candidate = entry->add_candidates();
      candidate->set_storage_key(key.storage_key);
      candidate->set_version_hash(key.version_hash);
      if (key.prune) candidate->set_prune(true);
      for (ActorId actor : key.actors) candidate->add_single_use_actors(actor);
    }
  }
  if (prepare.partitions_size() == 0) return;
  // Unique per reaper: each shard of it numbers its rounds in its own residue class.
  const std::uint64_t counter =
      (std::uint64_t{++next_reap_round_} * config_.shard_count + config_.shard_index) &
      0xffff'ffffU;
  prepare.set_round((incarnation_ << 32) | counter);
  reap_rounds_.Start(std::move(prepare), reap_judge_, now_ms);
  if (auto outcome = reap_rounds_.TakeOutcome()) OnReapOutcome(*outcome, now_ms);
}

std::string Node::ReapStatus(std::uint32_t partition) const {
  auto found = replicas_.find(partition);
  if (found == replicas_.end()) return "no_replica";
  const PartitionReplica* replica = found->second.get();
  std::string refusal = replica->ReapRefusal(NodePeers(*this, membership_->state()));
  if (!refusal.empty()) return refusal;
  if (replica->reaper()->in_round()) return "in_round";
  return replica->reaper()->Due(NowMs())
             ? ""
             : "resting until " + std::to_string(replica->reaper()->next_round_ms()) + " (now " +
                   std::to_string(NowMs()) + ")";
}

void Node::OnReapOutcome(const ReapRoundOutcome& outcome, std::uint64_t now_ms) {
  for (const auto& [id, shards] : outcome.empty_members) {
    const cluster::Member* member = membership_->state().FindMember(id);
    // Only the answering shard held nothing; which shard that is follows from the round's
    // partitions and the member's shard count, if this node's record of it is right.
    if (member != nullptr && member->status == cluster::MemberStatus::kRemoved &&
        member->shards == shards && !outcome.partitions.empty()) {
      drained_removed_.insert({member->id, member->incarnation,
                               ShardOfPartition(outcome.partitions.front().partition,
                                                config_.partition_count, shards)});
    }
  }
  for (const ReapPartitionOutcome& result : outcome.partitions) {
    PartitionReplica* replica = FindReplica(result.partition);
    if (replica != nullptr && replica->reaper() != nullptr) {
      replica->reaper()->OnRoundEnded(result.accepted.size(), now_ms);
    }
    if (result.accepted.empty()) continue;
    // Every primary deletes conditionally, this one included (best effort: a primary that
    // misses the commit keeps the tombstone, anti-entropy copies it back to the others, and a
    // later round reaps it again).
    for (const cluster::NodeId& primary : result.primaries) {
      if (primary == config_.node_id) {
        if (replica != nullptr) replica->OnReapCommit(result.accepted);
        continue;
      }
      const std::string address = AddressOf(primary);
      if (address.empty()) continue;
      cluster::Outbound& out = outbound_.emplace_back();
      out.to_address = address;
      proto::ReapCommit* commit = out.message.mutable_reap_commit();
      commit->set_partition(result.partition);
      for (const replication::ReapKey& key : result.accepted) {
        proto::ReapCandidate* entry = key.prune ? commit->add_prunes() : commit->add_deletes();
        entry->set_storage_key(key.storage_key);
        entry->set_version_hash(key.version_hash);
        for (ActorId actor : key.actors) entry->add_single_use_actors(actor);
      }
    }
  }
}

void Node::OnReapCommit(const proto::ReapCommit& commit) {
  if (commit.partition() >= config_.partition_count) return;
  RefreshPlacement();
  PartitionReplica* replica = FindReplica(commit.partition());
  if (replica == nullptr) return;  // not a primary (any more): nothing of it to delete
  std::vector<replication::ReapKey> keys;
  const auto add = [&](const auto& entries, bool prune) {
    for (const proto::ReapCandidate& entry : entries) {
      auto key = storage::DecodeObjectKey(entry.storage_key());
      if (!key.ok() || key->partition != commit.partition()) continue;  // malformed: ignored
      std::vector<ActorId> actors(entry.single_use_actors().begin(),
                                  entry.single_use_actors().end());
      if (!prune || !std::is_sorted(actors.begin(), actors.end())) actors.clear();  // by hash
      keys.push_back({entry.storage_key(), entry.version_hash(), prune, std::move(actors)});
    }
  };
  add(commit.deletes(), false);
  add(commit.prunes(), true);
  replica->OnReapCommit(keys);
}

void Node::ApplyReapDeletes(std::uint64_t now_ms) {
  for (auto& [partition, replica] : replicas_) {
    replication::TombstoneReaper* reaper = replica->reaper();
    if (reaper == nullptr || !reaper->deletes_pending()) continue;
    storage::WriteBatch batch;
    auto added = reaper->TakeDeletes(batch, now_ms);
    if (!added.ok() || *added == 0) {
      // On a read error nothing is written: whatever was taken goes back to the queue.
      reaper->OnDeletesWritten(added.ok());
      continue;
    }
    // Each deletion retires the partition's replica actor (WriteObservingEngine), so a later
    // write of the key never reuses a dot of the forgotten history.
    const bool written = env_.engine->Write(batch, {}).ok();
    reaper->OnDeletesWritten(written);
    if (written) reaped_since_compaction_ += *added;
  }
  // Many tombstones gone and nothing left to delete: ask the engine to return their space now
  // (otherwise it waits until later writes push the files through compaction).
  bool queued = false;
  for (auto& [partition, replica] : replicas_) {
    queued = queued || (replica->reaper() != nullptr && replica->reaper()->deletes_pending());
  }
  if (!queued && reaped_since_compaction_ >= kReapedBeforeCompaction) {
    reaped_since_compaction_ = 0;
    env_.engine->RequestCompaction().IgnoreError();  // a hint; asked again after more deletes
  }
}

bool Node::HoldsNothing() {
  if (!reads_.empty() || !writes_.empty() || hint_state_.records > 0) return false;
  for (const auto& [partition, replica] : replicas_) {
    if (replica->Moving()) return false;
  }
  bool any = false;
  const Status scanned =
      env_.engine->Scan(storage::Column::kObjects, "", "", [&](std::string_view, std::string_view) {
        any = true;
        return false;
      });
  return scanned.ok() && !any;
}

std::vector<proto::ReapVerdict> Node::JudgeReapRound(const proto::ReapPrepare& prepare) {
  RefreshPlacement();
  std::vector<proto::ReapVerdict> verdicts(static_cast<std::size_t>(prepare.partitions_size()));
  // A member the reaper does not know of could hold anything: refuse the whole round.
  std::set<cluster::NodeId> asked;
  for (const proto::ReapMember& member : prepare.members()) asked.insert(member.id());
  const cluster::Member* self_record = membership_->state().FindMember(config_.node_id);
  const bool self_removed =
      self_record != nullptr && self_record->status == cluster::MemberStatus::kRemoved;
  std::string unknown_member;
  for (const auto& member : membership_->state().members()) {
    if (member->status != cluster::MemberStatus::kRemoved && !asked.contains(member->id)) {
      unknown_member = "members_differ";
    }
  }
  // Keys of the coordinators in flight: a read may still read-repair what it read, a write
  // still send what it minted (from a copy taken before this snapshot). A write coordinator
  // has stored and sent its copies when it is created (CoordinateWrite), so the snapshot sees
  // them where they are: a prune by actors looks at those copies instead.
  std::set<std::string, std::less<>> reading;
  std::set<std::string, std::less<>> writing;
  for (const auto& [id, read] : reads_) reading.insert(read.storage_key);
  for (const auto& [id, write] : writes_) writing.insert(write.storage_key);
  // A write this node forwarded under a fixed version may yet be routed again (hedged
  // forwarding): a copy of it that a pruned key, or a reaped one, would take as new.
  std::map<std::string, std::vector<ActorId>, std::less<>> retained;
  forwarded_.ForEachRetained([&](const ClientRequest& request) {
    std::visit(
        [&](const auto& held) {
          if constexpr (requires { held.fixed_version; }) {
            retained[store_.ObjectStorageKey(held.id)].push_back(
                held.fixed_version.has_value() ? held.fixed_version->actor : ActorId{0});
          }
        },
        request);
  });

  for (int p = 0; p < prepare.partitions_size(); ++p) {
    const proto::ReapPartition& partition = prepare.partitions(p);
    proto::ReapVerdict& verdict = verdicts[static_cast<std::size_t>(p)];
    verdict.set_partition(partition.partition());
    if (!unknown_member.empty()) Refuse(verdict, unknown_member);
    const std::uint32_t index = partition.partition();
    if (index >= config_.partition_count || index >= placements_.size()) {
      Refuse(verdict, "ring_differs");
      continue;
    }
    // The reaper grouped the round by an old record of this node's shard count: this shard
    // can speak only for its own partitions.
    if (!OwnsPartition(index)) Refuse(verdict, "shard_differs");
    const PartitionPlacement& placement = placements_[index];
    const std::vector<cluster::NodeId> primaries(partition.primaries().begin(),
                                                 partition.primaries().end());
    // A removed node hears no more gossip: its ring may stay old for good. It is never a
    // primary, so what it holds (below) is all that matters.
    if (placement.primaries != primaries && !self_removed) Refuse(verdict, "ring_differs");
    const PartitionReplica* replica = FindReplica(index);
    if ((placement.pending_owner.has_value() && !self_removed) ||
        (replica != nullptr && replica->Moving())) {
      Refuse(verdict, "moving");
    }
    const bool primary =
        std::find(primaries.begin(), primaries.end(), config_.node_id) != primaries.end();
    if (!primary && HasObjects(index)) Refuse(verdict, "holds_objects");
    if (!verdict.refused().empty()) continue;
    for (int c = 0; c < partition.candidates_size(); ++c) {
      const proto::ReapCandidate& candidate = partition.candidates(c);
      const std::string& key = candidate.storage_key();
      if (const std::span<const ActorId> actors = PrunedActors(candidate); !actors.empty()) {
        JudgePruneByActors(verdict, c, key, actors, reading, retained);
        continue;
      }
      if (primary) {
        // One of the key's own replicas must hold exactly the tombstone; another primary of
        // the partition (a key of a bucket with a smaller n) need not hold it, but a copy it
        // holds must be that tombstone too.
        auto hash = watched_engine_.GetObjectVersionHash(key);
        const bool own_replica = placement_ns_.size() == 1 || [&] {
          const std::vector<cluster::NodeId> own =
              PrimariesOf(index, replica_config_.replica_count_of(key));
          return std::find(own.begin(), own.end(), config_.node_id) != own.end();
        }();
        if (!hash.ok() || (own_replica && !hash->has_value()) ||
            (hash->has_value() && **hash != candidate.version_hash())) {
          Reject(verdict, c, "hash");
          continue;
        }
      }
      auto hint = replication::FindHintRecord(*env_.engine, key);
      if (!hint.ok() || hint->has_value()) {
        Reject(verdict, c, "hint");
        continue;
      }
      if (reading.contains(key) || writing.contains(key) || retained.contains(key)) {
        Reject(verdict, c, "coordinator");
      }
    }
  }
  return verdicts;
}

void Node::JudgePruneByActors(
    proto::ReapVerdict& verdict, int index, const std::string& key, std::span<const ActorId> actors,
    const std::set<std::string, std::less<>>& reading,
    const std::map<std::string, std::vector<ActorId>, std::less<>>& retained) {
  // A copy of one of the writes whose entries would go, anywhere on this node: a sibling of
  // the stored object (a primary's, or one kept for a partition it does not keep — refused
  // above), a hint, a read coordinator's replies (it may read-repair them), or a forward held
  // to route again under that actor.
  auto stored = env_.engine->Get(storage::Column::kObjects, key);
  if (!stored.ok()) {
    Reject(verdict, index, "copy");
    return;
  }
  if (stored->has_value()) {
    auto object = DecodeObject(**stored);
    if (!object.ok() || object->HoldsSingleUseWriteOf(actors)) {
      Reject(verdict, index, "copy");
      return;
    }
  }
  auto hint = replication::FindHintRecord(*env_.engine, key);
  if (!hint.ok() || hint->has_value()) {
    Reject(verdict, index, "hint");
    return;
  }
  if (reading.contains(key)) {
    Reject(verdict, index, "coordinator");
    return;
  }
  if (auto held = retained.find(key); held != retained.end()) {
    for (ActorId actor : held->second) {
      if (std::binary_search(actors.begin(), actors.end(), actor)) {
        Reject(verdict, index, "coordinator");
        return;
      }
    }
  }
}

}  // namespace meridian::node
