// Node: coordinating gets and writes over the replicas of a key, the replica side of those
// requests, read repair and hinted handoff (see node.h and docs/design/replication.md).
#include <algorithm>
#include <utility>
#include <variant>

#include "core/assert.h"
#include "core/causal_context.h"
#include "core/object_codec.h"
#include "node/bucket_change.h"
#include "node/kv_codec.h"
#include "node/node.h"
#include "node/write_condition_check.h"
#include "replication/object_merge.h"
#include "storage/key_encoding.h"
#include "storage/tictac_keys.h"

namespace meridian::node {

namespace {
using replication::QuorumState;

ClientReply ErrorReply(Status status) {
  ClientReply reply;
  reply.status = std::move(status);
  return reply;
}

Status StatusOf(std::uint32_t code, const std::string& message) {
  if (code == 0) return Status::Ok();
  if (code > static_cast<std::uint32_t>(kLastStatusCode)) {
    return Status::Internal("peer replied with unknown status code " + std::to_string(code));
  }
  return Status(static_cast<StatusCode>(code), message);
}

bool NeedsFallbacks(const cluster::PreferenceList& list,
                    const std::function<bool(const cluster::NodeId&)>& reachable,
                    const cluster::NodeId& self) {
  const bool self_primary =
      std::find(list.primaries.begin(), list.primaries.end(), self) != list.primaries.end();
  return !self_primary || !std::all_of(list.primaries.begin(), list.primaries.end(), reachable);
}
}  // namespace

Result<std::optional<DvvSet>> Node::ReadLocal(const std::string& storage_key) {
  auto stored = store_.Load(storage_key);
  if (!stored.ok()) return stored.status();
  auto hinted = replication::FindHintRecord(*env_.engine, storage_key);
  if (!hinted.ok()) return hinted.status();
  if (!hinted->has_value()) return stored;
  if (!stored->has_value()) return std::optional<DvvSet>(std::move((*hinted)->object));
  auto merged = DvvSet::Merge(**stored, (*hinted)->object);
  if (!merged.ok()) return merged.status();
  return std::optional<DvvSet>(std::move(merged).value());
}

bool Node::Filling(std::uint32_t partition) {
  RefreshPlacement();  // a ring just adopted counts
  const PartitionReplica* replica = FindReplica(partition);
  return replica != nullptr && replica->filling();
}

Status Node::MergeLocal(const std::string& storage_key, const DvvSet& object, bool sync) {
  auto merged = replication::MergedObjectPut(*env_.engine, storage_key, object);
  if (!merged.ok()) return merged.status();
  storage::WriteBatch batch;
  if (merged->has_value()) batch.ops.push_back(std::move(**merged));
  // Synced even when nothing changed: the ack promises the copy is durable.
  if (!batch.empty() || sync) {
    MERIDIAN_RETURN_IF_ERROR(env_.engine->Write(batch, storage::WriteOptions{.sync = sync}));
  }
  if (!batch.empty()) {
    MirrorIfTransferring(storage_key, *batch.ops.front().value);
    // The coordinator's ring (or this node's, when a read started before a ring change) may
    // be stale: data of a partition this node does not keep is kept (never drop a write) but
    // handed to the partition's replicas, then deleted.
    auto key = storage::DecodeObjectKey(storage_key);
    if (key.ok() && key->partition < config_.partition_count && !HoldsReplica(key->partition)) {
      ReplicaFor(key->partition).OnForeignData();
    }
  }
  return Status::Ok();
}

void Node::NoteIfStray(std::string_view storage_key) {
  if (placement_ns_.size() < 2) return;  // one replica count: every primary keeps every key
  auto key = storage::DecodeObjectKey(storage_key);
  // The placement as last computed (no recomputation inside an engine write): a newer one
  // looks for strays itself.
  if (!key.ok() || key->partition >= placements_.size() ||
      !PartitionReplica::MayHoldStrays(placements_[key->partition], config_.node_id)) {
    return;
  }
  const std::vector<cluster::NodeId>& own =
      PartitionReplica::PrimariesOf(placements_[key->partition], BucketPropsOf(key->id.bucket).n);
  if (std::find(own.begin(), own.end(), config_.node_id) == own.end()) {
    ReplicaFor(key->partition).OnArrived(storage_key);
  }
}

void Node::MirrorIfTransferring(const std::string& storage_key, const std::string& encoded) {
  auto decoded = storage::DecodeObjectKey(storage_key);
  if (!decoded.ok()) return;
  if (PartitionReplica* replica = FindReplica(decoded->partition)) {
    replica->OnStored(storage_key, encoded);
  }
}

proto::PeerMessage& Node::StartReplicaCall(std::uint64_t coordination, std::size_t target,
                                           const std::string& address,
                                           std::vector<std::uint64_t>& calls) {
  const std::uint64_t call = call_ids_.Next();
  replica_calls_[call] = ReplicaCall{coordination, target};
  calls.push_back(call);
  cluster::Outbound& out = outbound_.emplace_back();
  out.to_address = address;
  return out.message;
}

cluster::PreferenceList Node::SelectionListOf(std::uint32_t partition,
                                              const ResolvedQuorum& quorum) const {
  cluster::PreferenceList list = PreferenceOf(partition, quorum.n, false);
  const auto reachable = [this](const cluster::NodeId& node) { return Reachable(node); };
  // The full walk costs O(Q): only when a fallback may be needed.
  if (quorum.sloppy_quorum && NeedsFallbacks(list, reachable, config_.node_id)) {
    list = PreferenceOf(partition, quorum.n, true);
  }
  return list;
}

void Node::CoordinateGet(const Origin& origin, const GetRequest& request,
                         const ResolvedQuorum& quorum, ConflictPolicy policy) {
  const std::uint32_t partition = store_.PartitionOfObject(request.id);
  const cluster::NodeId& self = config_.node_id;
  const auto reachable = [this](const cluster::NodeId& node) { return Reachable(node); };
  const cluster::PreferenceList list = SelectionListOf(partition, quorum);
  const replication::ReplicaSelection selection =
      replication::SelectReplicas(list, reachable, quorum.sloppy_quorum, self);
  if (Status ok = replication::GetCoordinator::CheckReachable(selection, quorum); !ok.ok()) {
    Deliver(origin, proto::KvRequest::OP_GET, ErrorReply(std::move(ok)));
    return;
  }
  const std::uint64_t coordination = next_coordination_id_++;
  const std::string storage_key = store_.ObjectStorageKey(request.id);
  auto [it, inserted] = reads_.emplace(
      coordination, PendingRead{origin,
                                request.id,
                                storage_key,
                                replication::GetCoordinator(selection.targets, quorum, policy,
                                                            NowMs() + config_.request_timeout_ms),
                                ReplicaTimes(NowMs(), selection.targets.size()),
                                false,
                                {},
                                Status::Ok()});
  MERIDIAN_CHECK(inserted);
  PendingRead& read = it->second;
  for (std::size_t index = 0; index < selection.targets.size(); ++index) {
    const cluster::NodeId& node = selection.targets[index].node;
    if (node == self) {
      auto local = ReadLocal(storage_key);
      if (local.ok()) {
        const bool incomplete = !local->has_value() && Filling(partition);
        read.times.Answered(index, NowMs());
        read.coordinator.OnReply(index, std::move(local).value(), incomplete);
      } else {
        read.local_error = local.status();
        read.coordinator.OnError(index, local.status());
      }
      continue;
    }
    const std::string address = AddressOf(node);
    if (address.empty()) {
      read.coordinator.OnError(index, Status::Unavailable(node + " has no known address"));
      continue;
    }
    proto::PeerMessage& message = StartReplicaCall(coordination, index, address, read.calls);
    message.mutable_replica_read()->set_request_id(read.calls.back());
    message.mutable_replica_read()->set_storage_key(storage_key);
  }
  AdvanceRead(coordination);
}

void Node::AdvanceRead(std::uint64_t coordination) {
  auto it = reads_.find(coordination);
  if (it == reads_.end()) return;
  PendingRead& read = it->second;
  const replication::GetCoordinator& coordinator = read.coordinator;
  if (!read.answered && coordinator.state() != QuorumState::kPending) {
    read.answered = true;
    ++answered_reads_;
    NoteIfSlow(
        proto::KvRequest::OP_GET, read.origin, read.storage_key, read.times, coordinator.targets(),
        coordinator.state() == QuorumState::kSucceeded ? Status::Ok() : coordinator.failure());
    if (coordinator.state() == QuorumState::kSucceeded) {
      ClientReply reply;
      GetReply body = LocalStore::ReplyOf(read.id, coordinator.answer());
      body.receipt = coordinator.receipt();
      reply.body = std::move(body);
      Deliver(read.origin, proto::KvRequest::OP_GET, std::move(reply));
    } else if (!read.local_error.ok()) {
      // This node's own storage failed: say so with its code (IoError, Corruption).
      Deliver(read.origin, proto::KvRequest::OP_GET,
              ErrorReply(Status(read.local_error.code(), read.local_error.message() + "; " +
                                                             coordinator.failure().message())));
    } else {
      Deliver(read.origin, proto::KvRequest::OP_GET, ErrorReply(coordinator.failure()));
    }
  }
  if (read.answered && coordinator.finished()) {
    if (coordinator.state() == QuorumState::kSucceeded) {
      ReadRepair(read.id, read.storage_key, coordinator);
    }
    for (std::uint64_t call : read.calls) replica_calls_.erase(call);
    reads_.erase(it);
    --answered_reads_;
  }
}

void Node::ReadRepair(const ObjectId& id, const std::string& storage_key,
                      const replication::GetCoordinator& coordinator) {
  (void)id;
  if (!coordinator.merged().has_value()) return;
  const DvvSet& merged = *coordinator.merged();
  std::string encoded;
  for (std::size_t index : coordinator.ReplicasBehind()) {
    const cluster::NodeId& node = coordinator.targets()[index].node;
    ++read_repairs_;
    if (node == config_.node_id) {
      // Best effort (refused while the storage condition is not OK).
      MergeLocal(storage_key, merged, /*sync=*/false).IgnoreError();
      continue;
    }
    const std::string address = AddressOf(node);
    if (address.empty()) continue;
    if (encoded.empty()) encoded = EncodeObject(merged);
    cluster::Outbound out;
    out.to_address = address;
    proto::ReplicaWrite* message = out.message.mutable_replica_write();
    message->set_request_id(0);  // no ack: best effort
    message->set_storage_key(storage_key);
    message->set_encoded_object(encoded);
    outbound_.push_back(std::move(out));
  }
}

void Node::CoordinateWrite(const Origin& origin, ClientRequest request,
                           const ResolvedQuorum& quorum, ConflictPolicy policy,
                           std::uint32_t hops) {
  (void)hops;
  const std::uint64_t started_ms = NowMs();
  const bool tombstone = std::holds_alternative<DeleteRequest>(request);
  const proto::KvRequest::Op op =
      tombstone ? proto::KvRequest::OP_DELETE : proto::KvRequest::OP_PUT;
  const ObjectId id =
      tombstone ? std::get<DeleteRequest>(request).id : std::get<PutRequest>(request).id;
  const std::uint32_t partition = store_.PartitionOfObject(id);
  const cluster::NodeId& self = config_.node_id;
  const auto reachable = [this](const cluster::NodeId& node) { return Reachable(node); };
  const cluster::PreferenceList list = SelectionListOf(partition, quorum);
  const replication::ReplicaSelection selection =
      replication::SelectReplicas(list, reachable, quorum.sloppy_quorum, self);
  if (Status ok = replication::PutCoordinator::CheckReachable(selection, quorum); !ok.ok()) {
    Deliver(origin, op, ErrorReply(std::move(ok)));
    return;
  }
  std::vector<replication::ReplicaTarget> targets = selection.targets;
  // The primaries this node's copy is owed to when it is not a target itself.
  std::vector<cluster::NodeId> hinted_for;
  auto local = std::find_if(targets.begin(), targets.end(),
                            [&](const auto& target) { return target.node == self; });
  if (local == targets.end()) {
    // Coordinating without being a replica in this node's view (a write bounced between nodes
    // whose rings differ): the dot is minted here, so the copy is kept here too — as a hint
    // for the primaries, delivered and dropped like any hint.
    if (!quorum.sloppy_quorum) {
      Deliver(origin, op,
              ErrorReply(Status::Unavailable("this node is not a replica of the key and could "
                                             "not reach a primary to coordinate the write (the "
                                             "ring is changing); the request was not applied")));
      return;
    }
    hinted_for = list.primaries;
    targets.push_back(replication::ReplicaTarget{self, false, list.primaries.front()});
    local = targets.end() - 1;
  } else if (!local->primary) {
    hinted_for = {local->hint_for};
  }
  const std::size_t local_index = static_cast<std::size_t>(local - targets.begin());

  // Mint the new version on this node's copy (objects and any hinted copy merged), under the
  // partition actor of the copy it goes into (a fallback's into its hint).
  const MintRole role = local->primary ? MintRole::kReplica : MintRole::kFallback;
  const std::string storage_key = store_.ObjectStorageKey(id);
  auto current = ReadLocal(storage_key);
  if (!current.ok()) {
    Deliver(origin, op, ErrorReply(current.status()));
    return;
  }
  const WriteCondition condition = tombstone ? std::get<DeleteRequest>(request).condition
                                             : std::get<PutRequest>(request).condition;
  const std::string& context =
      tombstone ? std::get<DeleteRequest>(request).context : std::get<PutRequest>(request).context;
  if (condition != WriteCondition::kNone) {
    // Checked here, in the same step as the mint below: atomic against every write this
    // primary coordinates (write_condition_check.h). A fallback's copy is no basis for it.
    if (!local->primary) {
      Deliver(origin, op,
              ErrorReply(Status::Unavailable(
                  "a conditional write is checked by a primary of the key, and this node is "
                  "not one in its view (the ring is changing); the request was not applied")));
      return;
    }
    if (Status met = CheckWriteCondition(condition, context, id, *current); !met.ok()) {
      Deliver(origin, op, ErrorReply(std::move(met)));
      return;
    }
  }
  // A write after a check of what the key holds (If-None-Match: *, If-Match: *) supersedes
  // what was checked.
  const bool supersede_checked =
      condition == WriteCondition::kIfAbsent || condition == WriteCondition::kIfPresent;
  // A forwarded write with a version its forwarder fixed is applied under it (hedged
  // forwarding), unless the key's clock would then hold more single-use entries than it takes:
  // then nothing is applied and the forwarder sends it again without one. The clock after the
  // write holds the context's entries too: a client that carries the context of its previous
  // write brings back entries pruned since (docs/design/tombstones.md), and without counting
  // them its chain of contexts would grow by one entry each time a prune let a write through.
  const std::optional<FixedVersion> fixed = tombstone
                                                ? std::get<DeleteRequest>(request).fixed_version
                                                : std::get<PutRequest>(request).fixed_version;
  // A write this node routed again after its first peer did not answer is taken whatever the
  // bound: that peer may have applied it under this version already.
  if (fixed.has_value() && !origin.routed_again()) {
    VersionVector clock = current->has_value() ? (*current)->clock() : VersionVector();
    if (auto carried = DecodeContext(context, id.bucket, id.key); carried.ok()) {
      clock.MergeFrom(*carried);  // a bad token is refused by Mint below
    }
    if (!clock.Covers(Dot{fixed->actor, kSingleUseCounter}) &&
        clock.SingleUseEntries() >= config_.single_use_entries_max) {
      ++fixed_versions_refused_;
      ClientReply refused = ErrorReply(Status::Unavailable(
          "the key's version history (with the request's context) holds " +
          std::to_string(clock.SingleUseEntries()) +
          " versions of forwarded writes, the most it takes (single_use_entries_max); the "
          "request was not applied"));
      refused.fixed_version_refused = true;
      Deliver(origin, op, std::move(refused));
      return;
    }
  }
  Result<LocalStore::MintedWrite> minted =
      tombstone ? store_.Mint(id, role, context, true, true, {}, std::move(current).value(), policy,
                              fixed)
                : store_.Mint(id, role, context, false,
                              std::get<PutRequest>(request).overwrite || supersede_checked,
                              std::move(std::get<PutRequest>(request).value),
                              std::move(current).value(), policy, fixed);
  if (!minted.ok()) {
    Deliver(origin, op, ErrorReply(minted.status()));
    return;
  }
  const bool sync = quorum.dw >= 1;
  const std::string encoded = EncodeObject(minted->object);
  // Stored here before anything is sent: the dot must be durable-as-asked before another
  // write can mint from this copy, and no replica may hold a version this node lacks.
  Status stored = Status::Ok();
  if (local->primary) {
    storage::WriteBatch batch;
    batch.PutObject(storage_key, encoded, storage::ObjectVersionHash(minted->object),
                    static_cast<std::uint32_t>(minted->object.SupersededSingleUseEntries()));
    stored = env_.engine->Write(batch, storage::WriteOptions{.sync = sync});
    if (stored.ok()) MirrorIfTransferring(storage_key, encoded);
  } else {
    std::sort(hinted_for.begin(), hinted_for.end());
    stored = StoreHint(storage_key, minted->object, hinted_for, sync);
  }
  if (!stored.ok()) {
    Deliver(origin, op, ErrorReply(std::move(stored)));
    return;
  }

  const std::uint64_t coordination = next_coordination_id_++;
  auto [it, inserted] = writes_.emplace(
      coordination, PendingWrite{origin,
                                 op,
                                 storage_key,
                                 replication::PutCoordinator(targets, quorum,
                                                             NowMs() + config_.request_timeout_ms),
                                 ReplicaTimes(started_ms, targets.size()),
                                 std::move(minted->context),
                                 sync,
                                 {}});
  MERIDIAN_CHECK(inserted);
  PendingWrite& write = it->second;
  write.times.Answered(local_index, NowMs());
  write.coordinator.OnAck(local_index, sync, !local->primary);
  for (std::size_t index = 0; index < targets.size(); ++index) {
    if (index == local_index) continue;
    const replication::ReplicaTarget& target = targets[index];
    const std::string address = AddressOf(target.node);
    if (address.empty()) {
      write.coordinator.OnError(index, Status::Unavailable(target.node + " has no known address"));
      continue;
    }
    proto::ReplicaWrite* message =
        StartReplicaCall(coordination, index, address, write.calls).mutable_replica_write();
    message->set_request_id(write.calls.back());
    message->set_storage_key(storage_key);
    message->set_encoded_object(encoded);
    message->set_sync(sync);
    if (!target.primary) message->add_hint_for(target.hint_for);
  }
  AdvanceWrite(coordination);
}

void Node::AdvanceWrite(std::uint64_t coordination) {
  auto it = writes_.find(coordination);
  if (it == writes_.end()) return;
  PendingWrite& write = it->second;
  const replication::PutCoordinator& coordinator = write.coordinator;
  if (coordinator.state() == QuorumState::kPending) return;
  NoteIfSlow(write.op, write.origin, write.storage_key, write.times, coordinator.targets(),
             coordinator.state() == QuorumState::kSucceeded ? Status::Ok() : coordinator.failure());
  if (coordinator.state() == QuorumState::kSucceeded) {
    ClientReply reply;
    reply.body = WriteReply{write.context, write.durable, coordinator.receipt()};
    Deliver(write.origin, write.op, std::move(reply));
  } else {
    Deliver(write.origin, write.op, ErrorReply(coordinator.failure()));
  }
  for (std::uint64_t call : write.calls) replica_calls_.erase(call);
  writes_.erase(it);
}

std::string Node::DescribeRequest(proto::KvRequest::Op op, const Origin& origin,
                                  const std::string& storage_key) const {
  std::string out = OpName(op);
  if (auto key = storage::DecodeObjectKey(storage_key); key.ok()) {
    out +=
        " in bucket \"" + key->id.bucket + "\" (partition " + std::to_string(key->partition) + ")";
  }
  out += " " + origin.Describe();
  return out;
}

void Node::NoteIfSlow(proto::KvRequest::Op op, const Origin& origin, const std::string& storage_key,
                      const ReplicaTimes& times,
                      const std::vector<replication::ReplicaTarget>& targets,
                      const Status& outcome) {
  const std::uint64_t took_ms = times.Elapsed(NowMs());
  if (!slow_requests_.IsSlow(took_ms)) return;
  std::vector<std::string> names;
  names.reserve(targets.size());
  for (const replication::ReplicaTarget& target : targets) {
    std::string name = target.node;
    if (target.node == config_.node_id) {
      name += " (here)";
    } else if (!target.primary) {
      name += " (fallback for " + target.hint_for + ")";
    }
    names.push_back(std::move(name));
  }
  slow_requests_.Add(took_ms, DescribeRequest(op, origin, storage_key) + " took " +
                                  std::to_string(took_ms) + " ms (" +
                                  (outcome.ok() ? std::string("ok") : outcome.ToString()) +
                                  "); replicas answered after: " + times.Describe(names));
}

void Node::ExpireCoordinators() {
  const std::uint64_t now_ms = NowMs();
  // Answered reads wait for stragglers only for read repair: past the bound, the oldest stop
  // waiting (their repair is skipped) so a flood of fast reads cannot pile them up.
  for (auto it = reads_.begin();
       answered_reads_ > config_.coordinators_max && it != reads_.end();) {
    if (!it->second.answered) {
      ++it;
      continue;
    }
    for (std::uint64_t call : it->second.calls) replica_calls_.erase(call);
    it = reads_.erase(it);
    --answered_reads_;
  }
  std::vector<std::uint64_t> ids;
  for (auto& [id, read] : reads_) {
    read.coordinator.OnTime(now_ms);
    ids.push_back(id);
  }
  for (std::uint64_t id : ids) AdvanceRead(id);
  ids.clear();
  for (auto& [id, write] : writes_) {
    write.coordinator.OnTime(now_ms);
    ids.push_back(id);
  }
  for (std::uint64_t id : ids) AdvanceWrite(id);
}

namespace {
// Unavailable when this node knows `bucket` is strong or sealed (`props` are its properties here):
// eventual replica traffic for it comes only from a coordinator that has not heard yet, and
// must neither land nor answer.
Status RefuseIfStrong(const BucketProps& props, std::string_view bucket) {
  if (props.sealed) return SealedBucketStatus(bucket);
  if (props.consistency != Consistency::kStrong) return Status::Ok();
  return Status::Unavailable(
      "bucket \"" + std::string(bucket) +
      "\" is strong on this node: it takes no eventual replica reads or writes for it (the "
      "coordinator has not learned the bucket's consistency yet; retry shortly)");
}
}  // namespace

void Node::HandleReplicaWrite(const std::string& from_address, const proto::ReplicaWrite& write) {
  Status status = Status::Ok();
  bool hinted = false;
  auto key = storage::DecodeObjectKey(write.storage_key());
  auto object = DecodeObject(write.encoded_object());
  if (!key.ok()) {
    status = key.status();
  } else if (key->partition >= config_.partition_count) {
    status = Status::InvalidArgument("replica write for partition " +
                                     std::to_string(key->partition) + " outside the ring");
  } else if (Status strong = RefuseIfStrong(BucketPropsOf(key->id.bucket), key->id.bucket);
             !strong.ok()) {
    status = std::move(strong);
  } else if (!object.ok()) {
    status = object.status();
  } else if (write.hint_for_size() > 0) {
    std::vector<cluster::NodeId> targets(write.hint_for().begin(), write.hint_for().end());
    status = StoreHint(write.storage_key(), *object, targets, write.sync());
    hinted = true;
  } else {
    status = MergeLocal(write.storage_key(), *object, write.sync());
  }
  if (write.request_id() == 0) return;
  cluster::Outbound out;
  out.to_address = from_address;
  proto::ReplicaWriteAck* ack = out.message.mutable_replica_write_ack();
  ack->set_request_id(write.request_id());
  ack->set_status_code(static_cast<std::uint32_t>(status.code()));
  ack->set_status_message(status.message());
  ack->set_durable(status.ok() && write.sync());
  ack->set_hinted(status.ok() && hinted);
  outbound_.push_back(std::move(out));
}

void Node::HandleReplicaRead(const std::string& from_address, const proto::ReplicaRead& read) {
  cluster::Outbound out;
  out.to_address = from_address;
  proto::ReplicaReadReply* reply = out.message.mutable_replica_read_reply();
  reply->set_request_id(read.request_id());
  Status status = Status::Ok();
  auto key = storage::DecodeObjectKey(read.storage_key());
  if (!key.ok()) {
    status = key.status();
  } else if (Status strong = RefuseIfStrong(BucketPropsOf(key->id.bucket), key->id.bucket);
             !strong.ok()) {
    status = std::move(strong);
  } else {
    auto local = ReadLocal(read.storage_key());
    if (!local.ok()) {
      status = local.status();
    } else if (local->has_value()) {
      reply->set_found(true);
      reply->set_encoded_object(EncodeObject(**local));
    } else {
      reply->set_incomplete(Filling(key->partition));
    }
  }
  reply->set_status_code(static_cast<std::uint32_t>(status.code()));
  reply->set_status_message(status.message());
  outbound_.push_back(std::move(out));
}

void Node::OnReplicaWriteAck(const proto::ReplicaWriteAck& ack) {
  auto call = replica_calls_.find(ack.request_id());
  if (call == replica_calls_.end()) return;  // decided already, or unknown
  const ReplicaCall target = call->second;
  replica_calls_.erase(call);
  auto write = writes_.find(target.coordination);
  if (write == writes_.end()) return;
  write->second.times.Answered(target.target, NowMs());
  const Status status = StatusOf(ack.status_code(), ack.status_message());
  if (status.ok()) {
    write->second.coordinator.OnAck(target.target, ack.durable(), ack.hinted());
  } else {
    write->second.coordinator.OnError(target.target, status);
  }
  AdvanceWrite(target.coordination);
}

void Node::OnReplicaReadReply(const proto::ReplicaReadReply& reply) {
  auto call = replica_calls_.find(reply.request_id());
  if (call == replica_calls_.end()) return;
  const ReplicaCall target = call->second;
  replica_calls_.erase(call);
  auto read = reads_.find(target.coordination);
  if (read == reads_.end()) return;
  read->second.times.Answered(target.target, NowMs());
  Status status = StatusOf(reply.status_code(), reply.status_message());
  std::optional<DvvSet> object;
  if (status.ok() && reply.found()) {
    auto decoded = DecodeObject(reply.encoded_object());
    if (decoded.ok()) {
      object = std::move(decoded).value();
    } else {
      status = decoded.status();
    }
  }
  if (status.ok()) {
    read->second.coordinator.OnReply(target.target, std::move(object), reply.incomplete());
  } else {
    read->second.coordinator.OnError(target.target, status);
  }
  AdvanceRead(target.coordination);
}

Status Node::StoreHint(const std::string& storage_key, const DvvSet& object,
                       const std::vector<cluster::NodeId>& targets, bool sync) {
  auto key = storage::DecodeObjectKey(storage_key);
  if (!key.ok()) return Status::InvalidArgument("hint key: " + key.status().message());
  if (key->partition >= config_.partition_count) {
    return Status::InvalidArgument("hint for partition " + std::to_string(key->partition) +
                                   " outside the ring");
  }
  auto hints = ReplicaFor(key->partition).Hints();
  if (!hints.ok()) return hints.status();
  return (*hints)->StoreHint(storage_key, object, targets, sync);
}

Status Node::OpenHints() {
  for (std::uint32_t partition = 0; partition < config_.partition_count; ++partition) {
    auto any = PartitionHasRecords(storage::Column::kHints, partition);
    if (!any.ok()) return any.status();
    if (*any) MERIDIAN_RETURN_IF_ERROR(ReplicaFor(partition).Hints().status());
  }
  return Status::Ok();
}

void Node::TickHints(std::uint64_t now_ms) {
  if (hint_state_.records == 0 && hint_state_.pending == 0 && hint_state_.batches_held == 0) {
    return;
  }
  replication::HintRouting routing;
  routing.reachable_address = [this](const cluster::NodeId& node) -> std::optional<std::string> {
    if (node == config_.node_id || !Reachable(node)) return std::nullopt;
    std::string address = AddressOf(node);
    if (address.empty()) return std::nullopt;
    return address;
  };
  routing.primaries = [this](std::uint32_t partition) {
    RefreshPlacement();
    std::vector<cluster::NodeId> primaries = PrimariesOf(partition, placement_n_max_);
    // This node never delivers to itself; the other primaries get the hinted object.
    std::erase(primaries, config_.node_id);
    return primaries;
  };
  // Partitions take turns at going first: the node-wide limit on batches held
  // (batches_held_max) would otherwise always serve the lowest partitions first.
  if (replicas_.empty()) return;
  auto start = replicas_.lower_bound(next_hint_partition_);
  if (start == replicas_.end()) start = replicas_.begin();
  auto it = start;
  do {
    it->second->TickHints(now_ms, routing);
    if (++it == replicas_.end()) it = replicas_.begin();
  } while (it != start);
  next_hint_partition_ = start->first + 1;
}

NodeStats Node::Stats() const {
  NodeStats stats;
  stats.hints_pending = hint_state_.pending;
  stats.hint_records = hint_state_.records;
  stats.hint_bytes = hint_state_.bytes;
  stats.hints_stored = hint_state_.counters.hints_stored;
  stats.hints_refused = hint_state_.counters.hints_refused;
  stats.hints_delivered = hint_state_.counters.hints_delivered;
  stats.read_repairs = read_repairs_;
  stats.slow_requests = slow_requests_.count();
  stats.strong_operations = strong_operations_;
  stats.strong_one_round_trip = strong_one_round_trip_;
  stats.strong_round_trips = strong_round_trips_;
  stats.strong_in_flight = strong_.size();
  stats.strong_moves_started = strong_moves_started_;
  stats.strong_moves_succeeded = strong_moves_succeeded_;
  stats.strong_moves_failed = strong_moves_failed_;
  stats.strong_operations_restarted = strong_operations_restarted_;
  stats.strong_refused_moved =
      strong_refused_[static_cast<std::size_t>(replication::EpochVerdict::kMoved)];
  stats.strong_refused_not_ready =
      strong_refused_[static_cast<std::size_t>(replication::EpochVerdict::kNotReady)];
  stats.strong_refused_not_member =
      strong_refused_[static_cast<std::size_t>(replication::EpochVerdict::kNotMember)];
  stats.writes_refused_storage = writes_refused_storage_;
  stats.forwards_fixed = forwards_fixed_;
  stats.forwards_hedged = forwards_hedged_;
  stats.forwards_hedged_unanswered = forwards_hedged_unanswered_;
  stats.fixed_versions_refused = fixed_versions_refused_;
  stats.peers_suspected = suspicion_.SuspectCount(NowMs());
  stats.aae_exchanges = anti_entropy_counters_.exchanges;
  stats.aae_exchanges_in_sync = anti_entropy_counters_.exchanges_in_sync;
  stats.aae_exchanges_failed = anti_entropy_counters_.exchanges_failed;
  stats.aae_keys_sent = anti_entropy_counters_.keys_sent;
  stats.aae_keys_received = anti_entropy_counters_.keys_received;
  stats.coordinators = reads_.size() + writes_.size();
  for (const auto& [partition, replica] : replicas_) {
    stats.transfers += (replica->streaming() ? 1 : 0) + (replica->copying() ? 1 : 0);
    stats.copies_queued += replica->queued_copies();
  }
  stats.background = governor_.stats();
  stats.background_acks_waiting = ack_pacer_.held();
  stats.ack_pacing = ack_pacer_.counters();
  stats.reaping = reap_counters_;
  return stats;
}

}  // namespace meridian::node
