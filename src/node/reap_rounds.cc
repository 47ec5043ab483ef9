#include "node/reap_rounds.h"

#include <algorithm>
#include <span>
#include <utility>

#include "core/assert.h"
#include "core/hash.h"
#include "core/object_codec.h"
#include "storage/key_encoding.h"

namespace meridian::node {

std::vector<CarriedCopy> CopiesCarried(const proto::PeerMessage& message,
                                       std::uint32_t partition_count, std::string& key_storage) {
  std::vector<CarriedCopy> copies;
  const auto add_entries = [&](const auto& entries) {
    for (const proto::HandoffEntry& entry : entries) {
      copies.push_back({entry.storage_key(), entry.encoded_object()});
    }
  };
  switch (message.body_case()) {
    case proto::PeerMessage::kReplicaWrite:
      copies.push_back(
          {message.replica_write().storage_key(), message.replica_write().encoded_object()});
      break;
    case proto::PeerMessage::kHintBatch:
      add_entries(message.hint_batch().entries());
      break;
    case proto::PeerMessage::kHandoffBatch:
      add_entries(message.handoff_batch().entries());
      break;
    case proto::PeerMessage::kHandoffMirror:
      add_entries(message.handoff_mirror().entries());
      break;
    case proto::PeerMessage::kAaeRepair:
      add_entries(message.aae_repair().objects());
      break;
    case proto::PeerMessage::kKvRequest: {
      const proto::KvRequest& request = message.kv_request();
      if (request.fixed_actor() == 0 || partition_count == 0) break;
      const std::uint32_t partition =
          PartitionOf(ObjectHash(request.bucket(), request.key()), partition_count);
      key_storage = storage::EncodeObjectKey(partition, request.bucket(), request.key());
      copies.push_back({key_storage, {}, request.fixed_actor()});
      break;
    }
    default:
      break;
  }
  return copies;
}

bool CopyMatters(const proto::ReapCandidate& candidate, const CarriedCopy& copy) {
  if (!candidate.prune() || candidate.single_use_actors().empty()) return true;
  const std::span<const ActorId> actors(candidate.single_use_actors().data(),
                                        candidate.single_use_actors().size());
  if (!std::is_sorted(actors.begin(), actors.end())) return true;  // malformed: no prune
  if (copy.fixed_actor != 0) {
    return std::binary_search(actors.begin(), actors.end(), copy.fixed_actor);
  }
  auto object = DecodeObject(copy.encoded_object);
  return !object.ok() || object->HoldsSingleUseWriteOf(actors);
}

ReapRounds::ReapRounds(cluster::NodeId self, std::string self_address,
                       const replication::ReapConfig& config, replication::ReapCounters& counters,
                       std::uint32_t partition_count, std::uint32_t shards)
    : self_(std::move(self)),
      self_address_(std::move(self_address)),
      partition_count_(partition_count),
      shards_(shards),
      config_(config),
      counters_(counters) {}

namespace {
// The partition that routes a round's messages to the right shard of each member.
std::uint32_t RoutePartition(const proto::ReapPrepare& prepare) {
  return prepare.partitions_size() > 0 ? prepare.partitions(0).partition() : 0;
}
}  // namespace

std::string ReapRounds::AddressOf(const proto::ReapPrepare& prepare,
                                  const cluster::NodeId& id) const {
  for (const proto::ReapMember& member : prepare.members()) {
    if (member.id() == id) return member.address();
  }
  return {};
}

void ReapRounds::Start(proto::ReapPrepare prepare, ReapLocalView& view, std::uint64_t now_ms) {
  MERIDIAN_CHECK(!round_.has_value());
  prepare.set_reaper_id(self_);
  prepare.set_reaper_address(self_address_);
  Round round;
  round.deadline_ms = now_ms + config_.round_timeout_ms;
  round.refused.resize(prepare.partitions_size());
  round.rejected.resize(prepare.partitions_size());
  for (const proto::ReapMember& member : prepare.members()) {
    round.awaiting_answers.insert(member.id());
    if (member.id() == self_) continue;
    round.awaiting_prepared.insert(member.id());
    cluster::Outbound& out = outbound_.emplace_back();
    out.to_address = member.address();
    *out.message.mutable_reap_prepare() = prepare;
  }
  MERIDIAN_CHECK(round.awaiting_answers.contains(self_));  // the reaper is a member
  round.prepare = prepare;
  round_ = std::move(round);
  ++counters_.rounds_started;
  OnPrepare(prepare, now_ms);  // this node's own snapshot state, like any member's
  if (round_->awaiting_prepared.empty()) {
    proto::ReapPrepared none;
    none.set_reaper_id(self_);
    none.set_round(prepare.round());
    none.set_from_id(self_);
    OnPrepared(none, view);
  }
}

void ReapRounds::OnPrepare(const proto::ReapPrepare& prepare, std::uint64_t now_ms) {
  const RoundKey key{prepare.reaper_id(), prepare.round()};
  if (!snapshots_.contains(key)) {
    Snapshot snapshot;
    snapshot.prepare = prepare;
    snapshot.deadline_ms = now_ms + config_.round_timeout_ms;
    for (int p = 0; p < prepare.partitions_size(); ++p) {
      const proto::ReapPartition& partition = prepare.partitions(p);
      for (int c = 0; c < partition.candidates_size(); ++c) {
        snapshot.keys.emplace(
            partition.candidates(c).storage_key(),
            std::make_pair(static_cast<std::uint32_t>(p), static_cast<std::uint32_t>(c)));
      }
    }
    snapshots_.emplace(key, std::move(snapshot));
  }
  if (prepare.reaper_id() == self_) return;
  cluster::Outbound& out = outbound_.emplace_back();
  out.to_address = prepare.reaper_address();
  proto::ReapPrepared* prepared = out.message.mutable_reap_prepared();
  prepared->set_reaper_id(prepare.reaper_id());
  prepared->set_round(prepare.round());
  prepared->set_from_id(self_);
  prepared->set_route_partition(RoutePartition(prepare));
}

void ReapRounds::OnPrepared(const proto::ReapPrepared& prepared, ReapLocalView& view) {
  if (!round_ || prepared.reaper_id() != self_ || prepared.round() != round_->prepare.round()) {
    return;  // another round's, or a late one
  }
  round_->awaiting_prepared.erase(prepared.from_id());
  if (!round_->awaiting_prepared.empty()) return;
  auto it = snapshots_.find({self_, round_->prepare.round()});
  if (it == snapshots_.end() || it->second.taken) return;
  TakeSnapshot(it->second, view);
  if (it->second.awaiting_markers.empty()) Complete(it->first);
}

void ReapRounds::TakeSnapshot(Snapshot& snapshot, ReapLocalView& view) {
  MERIDIAN_CHECK(!snapshot.taken);
  snapshot.taken = true;
  snapshot.verdicts = view.Judge(snapshot.prepare);
  snapshot.empty = view.HoldsNothing();
  MERIDIAN_CHECK(snapshot.verdicts.size() ==
                 static_cast<std::size_t>(snapshot.prepare.partitions_size()));
  // From now on, every connection into this node is recorded until its sender's marker; and
  // this node's marker goes out on each of its own connections, behind everything it sent.
  for (const proto::ReapMember& member : snapshot.prepare.members()) {
    if (member.id() == self_) continue;
    snapshot.awaiting_markers.insert(member.address());
    cluster::Outbound& out = outbound_.emplace_back();
    out.to_address = member.address();
    proto::ReapMarker* marker = out.message.mutable_reap_marker();
    marker->set_reaper_id(snapshot.prepare.reaper_id());
    marker->set_round(snapshot.prepare.round());
    marker->set_from_id(self_);
    marker->set_route_partition(RoutePartition(snapshot.prepare));
  }
}

void ReapRounds::OnMarker(const proto::ReapMarker& marker, ReapLocalView& view) {
  const RoundKey key{marker.reaper_id(), marker.round()};
  auto it = snapshots_.find(key);
  if (it == snapshots_.end()) return;  // unknown (restarted since the prepare) or finished
  Snapshot& snapshot = it->second;
  // The first marker takes the snapshot before anything the marker's sender sent after it.
  if (!snapshot.taken) TakeSnapshot(snapshot, view);
  snapshot.awaiting_markers.erase(AddressOf(snapshot.prepare, marker.from_id()));
  if (snapshot.awaiting_markers.empty()) Complete(key);
}

void ReapRounds::Reject(Snapshot& snapshot, const CarriedCopy& copy) {
  auto found = snapshot.keys.find(copy.storage_key);
  if (found == snapshot.keys.end()) return;
  const auto [partition, candidate] = found->second;
  if (!CopyMatters(snapshot.prepare.partitions(static_cast<int>(partition))
                       .candidates(static_cast<int>(candidate)),
                   copy)) {
    return;
  }
  proto::ReapVerdict& verdict = snapshot.verdicts[partition];
  for (std::uint32_t index : verdict.rejected()) {
    if (index == candidate) return;
  }
  verdict.add_rejected(candidate);
  verdict.add_rejected_reasons("in_flight");
}

void ReapRounds::OnDataMessage(const std::string& from_address, const proto::PeerMessage& message) {
  if (snapshots_.empty()) return;
  std::string key_storage;
  const std::vector<CarriedCopy> copies = CopiesCarried(message, partition_count_, key_storage);
  if (copies.empty()) return;
  for (auto& [key, snapshot] : snapshots_) {
    if (!snapshot.taken || !snapshot.awaiting_markers.contains(from_address)) continue;
    for (const CarriedCopy& copy : copies) Reject(snapshot, copy);
  }
}

void ReapRounds::Complete(RoundKey key) {
  auto it = snapshots_.find(key);
  MERIDIAN_CHECK(it != snapshots_.end());
  Snapshot snapshot = std::move(it->second);
  snapshots_.erase(it);
  if (key.first == self_) {
    if (!round_ || round_->prepare.round() != key.second) return;
    Merge(snapshot.verdicts);
    if (snapshot.empty) round_->empty_members.emplace(self_, shards_);
    round_->awaiting_answers.erase(self_);
    if (round_->awaiting_answers.empty()) Finish(/*timed_out=*/false);
    return;
  }
  cluster::Outbound& out = outbound_.emplace_back();
  out.to_address = snapshot.prepare.reaper_address();
  proto::ReapAnswer* answer = out.message.mutable_reap_answer();
  answer->set_reaper_id(key.first);
  answer->set_round(key.second);
  answer->set_from_id(self_);
  answer->set_empty(snapshot.empty);
  answer->set_route_partition(RoutePartition(snapshot.prepare));
  if (shards_ > 1) answer->set_shards(shards_);
  for (proto::ReapVerdict& verdict : snapshot.verdicts)
    *answer->add_verdicts() = std::move(verdict);
}

void ReapRounds::Merge(const std::vector<proto::ReapVerdict>& verdicts) {
  MERIDIAN_CHECK(round_.has_value());
  const proto::ReapPrepare& prepare = round_->prepare;
  for (const proto::ReapVerdict& verdict : verdicts) {
    // Verdicts name their partition; one the round does not carry is ignored.
    for (int p = 0; p < prepare.partitions_size(); ++p) {
      if (prepare.partitions(p).partition() != verdict.partition()) continue;
      if (!verdict.refused().empty() && round_->refused[p].empty()) {
        round_->refused[p] = verdict.refused();
      }
      for (int r = 0; r < verdict.rejected_size(); ++r) {
        const std::string why =
            r < verdict.rejected_reasons_size() ? verdict.rejected_reasons(r) : "unknown";
        round_->rejected[p].emplace(verdict.rejected(r), why);
      }
    }
  }
}

void ReapRounds::OnAnswer(const proto::ReapAnswer& answer) {
  if (!round_ || answer.reaper_id() != self_ || answer.round() != round_->prepare.round()) return;
  if (answer.from_id() == self_ || !round_->awaiting_answers.contains(answer.from_id())) return;
  Merge({answer.verdicts().begin(), answer.verdicts().end()});
  if (answer.empty()) {
    round_->empty_members.emplace(answer.from_id(), std::max<std::uint32_t>(answer.shards(), 1));
  }
  round_->awaiting_answers.erase(answer.from_id());
  if (round_->awaiting_answers.empty()) Finish(/*timed_out=*/false);
}

void ReapRounds::Finish(bool timed_out) {
  MERIDIAN_CHECK(round_.has_value());
  const proto::ReapPrepare& prepare = round_->prepare;
  ReapRoundOutcome outcome;
  outcome.round = prepare.round();
  if (!timed_out) outcome.empty_members = round_->empty_members;
  if (timed_out) {
    ++counters_.rounds_timed_out;
  } else {
    ++counters_.rounds_committed;
  }
  for (int p = 0; p < prepare.partitions_size(); ++p) {
    const proto::ReapPartition& partition = prepare.partitions(p);
    ReapPartitionOutcome& result = outcome.partitions.emplace_back();
    result.partition = partition.partition();
    result.primaries.assign(partition.primaries().begin(), partition.primaries().end());
    result.refused = timed_out ? "timeout" : round_->refused[p];
    if (!result.refused.empty()) {
      ++counters_.partitions_refused[result.refused];
      continue;
    }
    for (const auto& [index, why] : round_->rejected[p]) ++counters_.keys_rejected[why];
    for (int c = 0; c < partition.candidates_size(); ++c) {
      if (round_->rejected[p].contains(static_cast<std::uint32_t>(c))) continue;
      const proto::ReapCandidate& candidate = partition.candidates(c);
      result.accepted.push_back({candidate.storage_key(), candidate.version_hash(),
                                 candidate.prune(),
                                 std::vector<ActorId>(candidate.single_use_actors().begin(),
                                                      candidate.single_use_actors().end())});
    }
    counters_.candidates_accepted += result.accepted.size();
  }
  // This node's own snapshot of the round, if still incomplete, is dropped with it.
  snapshots_.erase({self_, prepare.round()});
  round_.reset();
  outcome_ = std::move(outcome);
}

void ReapRounds::Tick(std::uint64_t now_ms) {
  for (auto it = snapshots_.begin(); it != snapshots_.end();) {
    if (it->first.first != self_ && now_ms >= it->second.deadline_ms) {
      it = snapshots_.erase(it);  // never answered: the reaper times out too
    } else {
      ++it;
    }
  }
  if (round_ && now_ms >= round_->deadline_ms) Finish(/*timed_out=*/true);
}

std::vector<cluster::Outbound> ReapRounds::TakeOutbound() {
  return std::exchange(outbound_, {});
}

std::optional<ReapRoundOutcome> ReapRounds::TakeOutcome() {
  return std::exchange(outcome_, std::nullopt);
}

}  // namespace meridian::node
