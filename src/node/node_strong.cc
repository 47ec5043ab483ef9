// Node: strong buckets' per-key consensus (docs/design/strong.md).
//   * Acceptor side: a proposer's prepare, propose or query for a key is answered from the
//     key's acceptor record in the `strong` column; a changed record is written synced before
//     the answer leaves, so a crash never forgets a promise or an accepted proposal.
//   * Coordinator side: a get, put or delete of a strong bucket runs a StrongProposer over the
//     key's primaries; this node's own acceptor answers in place, the others by message.
#include <algorithm>
#include <utility>
#include <variant>

#include "core/assert.h"

#include "node/node.h"
#include "node/strong_wire.h"
#include "replication/strong_codec.h"
#include "replication/strong_register.h"
#include "storage/key_encoding.h"

namespace meridian::node {

Result<Node::StrongAnswer> Node::Accept(const proto::StrongRequest& request) {
  const bool register_key = storage::IsStrongConfigKey(request.storage_key());
  std::uint32_t partition = 0;
  if (register_key) {
    partition = storage::PartitionOfKey(request.storage_key());
  } else {
    auto key = storage::DecodeObjectKey(request.storage_key());
    if (!key.ok()) return key.status();
    partition = key->partition;
    // A sealed bucket takes nothing (node/bucket_change.h): it is being checked for data.
    if (BucketPropsOf(key->id.bucket).sealed) return SealedBucketStatus(key->id.bucket);
  }
  if (partition >= config_.partition_count) {
    return Status::InvalidArgument("strong request for partition " + std::to_string(partition) +
                                   " outside the ring");
  }
  auto kind = replication::KindFromProto(request.kind());
  if (!kind.ok()) return kind.status();
  const bool writes = *kind != replication::StrongRequest::Kind::kQuery;
  StrongPartitions::Slot& slot = strong_partitions_.at(partition);
  StrongAnswer answer;
  if (!register_key) {
    // The partition's configuration decides whether this node may act for the epoch.
    answer.check = replication::CheckEpoch(slot.local, slot.accepted, request.epoch());
    if (config_.strong.unsafe_unfenced && slot.local.has_value() && request.epoch() != 0 &&
        slot.local->active.epoch == request.epoch()) {
      answer.check = {replication::EpochVerdict::kServe, {}};
    }
    // A node outside the partition's configurations still points a coordinator to the newest
    // one it learnt (a hint: the members named there decide whether to serve).
    if (answer.check.verdict == replication::EpochVerdict::kNotMember &&
        slot.learnt.epoch > request.epoch()) {
      answer.check = {replication::EpochVerdict::kMoved, slot.learnt};
    }
    if (answer.check.verdict != replication::EpochVerdict::kServe) {
      ++strong_refused_[static_cast<std::size_t>(answer.check.verdict)];
      return answer;
    }
  } else {
    // The configuration register of epoch E lives on E's members: only a node active at E
    // answers for it (also after retiring E, so that a move can be finished), never one that
    // moved on — a late mover must not write an old epoch's register into a newer one's.
    if (!slot.local.has_value()) {
      answer.check = {replication::EpochVerdict::kNotMember, {}};
      return answer;
    }
    if (slot.local->active.epoch == 0 || slot.local->active.epoch != request.epoch()) {
      const replication::StrongConfiguration& newest = replication::NewestKnown(*slot.local);
      answer.check =
          newest.epoch > request.epoch()
              ? replication::EpochCheck{replication::EpochVerdict::kMoved, newest, slot.local->left}
              : replication::EpochCheck{replication::EpochVerdict::kNotReady, {}};
      return answer;
    }
  }
  // A full or failing disk takes no promise and no proposal: this acceptor sits the round out.
  if (writes && !storage_condition_.ok()) return storage_condition_;

  replication::AcceptorState state;
  if (register_key) {
    state = slot.local->register_state;
  } else {
    auto stored = env_.engine->Get(storage::Column::kStrong, request.storage_key());
    if (!stored.ok()) return stored.status();
    if (stored->has_value()) {
      auto decoded = replication::DecodeAcceptorRecord(**stored, config_.value_bytes_max);
      if (!decoded.ok()) return decoded.status();
      state = std::move(decoded).value();
    }
  }
  const replication::Ballot ballot = replication::BallotFromProto(request.ballot());
  replication::AcceptorReply& reply = answer.reply;
  bool changed = false;
  switch (*kind) {
    case replication::StrongRequest::Kind::kQuery:
      reply = replication::HandleQuery(state);
      return answer;
    case replication::StrongRequest::Kind::kPrepare:
      if (ballot.IsZero()) return Status::InvalidArgument("prepare without a ballot");
      changed = replication::HandlePrepare(state, ballot, reply);
      break;
    case replication::StrongRequest::Kind::kPropose: {
      if (ballot.IsZero()) return Status::InvalidArgument("proposal without a ballot");
      auto value = replication::RegisterValueFromProto(request.value(), config_.value_bytes_max);
      if (!value.ok()) return value.status();
      if (ballot < value->version) {
        return Status::InvalidArgument("proposal of a value newer than its ballot");
      }
      if (register_key) {
        auto configuration = replication::DecodeConfiguration(value->bytes);
        if (!value->present || !configuration.ok() ||
            (configuration->epoch != request.epoch() &&
             configuration->epoch != request.epoch() + 1)) {
          return Status::InvalidArgument(
              "a configuration register's proposal holds no configuration");
        }
      }
      changed = replication::HandlePropose(state, ballot, *value, reply);
      break;
    }
  }
  if (changed && register_key) {
    replication::PartitionConfigState next = *slot.local;
    next.register_state = std::move(state);
    MERIDIAN_RETURN_IF_ERROR(strong_partitions_.Store(*env_.engine, partition, std::move(next)));
  } else if (changed) {
    storage::WriteBatch batch;
    batch.Put(storage::Column::kStrong, request.storage_key(),
              replication::EncodeAcceptorRecord(state));
    MERIDIAN_RETURN_IF_ERROR(env_.engine->Write(batch, storage::WriteOptions{.sync = true}));
  }
  return answer;
}

void Node::HandleStrongRequest(const std::string& from_address,
                               const proto::StrongRequest& request) {
  auto result = Accept(request);
  cluster::Outbound out;
  out.to_address = from_address;
  proto::StrongReply* reply = out.message.mutable_strong_reply();
  reply->set_request_id(request.request_id());
  if (!result.ok()) {
    reply->set_status_code(static_cast<std::uint32_t>(result.status().code()));
    reply->set_status_message(result.status().message());
  } else if (result->check.verdict != replication::EpochVerdict::kServe) {
    switch (result->check.verdict) {
      case replication::EpochVerdict::kMoved:
        reply->set_verdict(proto::StrongReply::VERDICT_MOVED);
        replication::ToProto(result->check.newest, reply->mutable_configuration());
        reply->set_left_epoch(result->check.left);
        break;
      case replication::EpochVerdict::kNotReady:
        reply->set_verdict(proto::StrongReply::VERDICT_NOT_READY);
        break;
      default:
        reply->set_verdict(proto::StrongReply::VERDICT_NOT_MEMBER);
        break;
    }
  } else {
    const replication::AcceptorReply& answer = result->reply;
    reply->set_granted(answer.granted);
    if (!answer.ballot.IsZero()) replication::ToProto(answer.ballot, reply->mutable_ballot());
    const bool carries_value =
        answer.granted && request.kind() != proto::StrongRequest::KIND_PROPOSE;
    if (carries_value) replication::ToProto(answer.value, reply->mutable_value());
  }
  outbound_.push_back(std::move(out));
}

namespace {

ClientReply ErrorReply(Status status) {
  ClientReply reply;
  reply.status = std::move(status);
  return reply;
}

bool HasOverrides(const RequestOptions& options) {
  return options.r || options.w || options.pr || options.pw || options.dw || options.sloppy_quorum;
}

}  // namespace

proto::StrongRequest StrongRequestToWire(const replication::StrongRequest& request,
                                         const std::string& storage_key, std::uint64_t request_id,
                                         std::uint64_t epoch) {
  proto::StrongRequest wire;
  wire.set_request_id(request_id);
  wire.set_epoch(epoch);
  wire.set_storage_key(storage_key);
  wire.set_kind(replication::ToProto(request.kind));
  if (!request.ballot.IsZero()) replication::ToProto(request.ballot, wire.mutable_ballot());
  if (request.kind == replication::StrongRequest::Kind::kPropose) {
    replication::ToProto(request.value, wire.mutable_value());
  }
  return wire;
}

void Node::RouteStrong(const Origin& origin, ClientRequest request, const BucketProps& props,
                       std::uint32_t partition, std::uint32_t hops) {
  const bool read = std::holds_alternative<GetRequest>(request);
  const proto::KvRequest::Op op = read ? proto::KvRequest::OP_GET
                                  : std::holds_alternative<PutRequest>(request)
                                      ? proto::KvRequest::OP_PUT
                                      : proto::KvRequest::OP_DELETE;
  const RequestOptions& options = read ? std::get<GetRequest>(request).options
                                  : std::holds_alternative<PutRequest>(request)
                                      ? std::get<PutRequest>(request).options
                                      : std::get<DeleteRequest>(request).options;
  if (HasOverrides(options)) {
    Deliver(origin, op,
            ErrorReply(Status::InvalidArgument(
                "r, w, pr, pw, dw and sloppy_quorum do not apply to a strong bucket: every "
                "operation needs a majority of the key's n primaries, and acceptors always sync "
                "(docs/design/strong.md)")));
    return;
  }
  if (strong_.size() + strong_waiting_count_ + reads_.size() - answered_reads_ + writes_.size() >=
      config_.coordinators_max) {
    Deliver(origin, op,
            ErrorReply(Status::Unavailable("too many requests in flight on this node (" +
                                           std::to_string(config_.coordinators_max) +
                                           "); the request was not applied")));
    return;
  }
  replication::StrongConfiguration configuration = StrongConfigurationFor(partition);
  std::vector<cluster::NodeId> acceptors = configuration.AcceptorsFor(props.n);
  if (acceptors.empty()) {
    Deliver(origin, op, ErrorReply(Status::Unavailable("the key has no primaries yet")));
    return;
  }
  const bool acceptor_here =
      std::find(acceptors.begin(), acceptors.end(), config_.node_id) != acceptors.end();
  const bool one_coordinator = config_.strong.route_writes_to_first_primary || !acceptor_here;
  if (!read && one_coordinator && configuration.epoch != 0 && hops < config_.forward_hops_max) {
    // Writes of a key go to one place, its first reachable primary: there they are serialised
    // and keep the fast path, instead of coordinators dueling over the key's ballots.
    const auto target =
        std::find_if(acceptors.begin(), acceptors.end(),
                     [this](const cluster::NodeId& node) { return StrongPeerUsable(node); });
    if (target != acceptors.end() && *target != config_.node_id) {
      Forward(origin, request, *target, hops, /*hedgeable=*/false);
      return;
    }
  }
  StartStrong(origin, std::move(request), std::move(configuration), props.n);
}

replication::StrongConfiguration Node::StrongConfigurationFor(std::uint32_t partition) const {
  replication::StrongConfiguration configuration = strong_partitions_.ForCoordinator(partition);
  if (configuration.epoch == 0) {
    // Unknown here: ask the ring's primaries first, then every other node (no acceptor serves
    // epoch 0; the first that knows a configuration names it).
    configuration.members = PrimariesOf(partition, placement_n_max_);
    for (const cluster::NodeId& node : membership_->state().ring().Nodes()) {
      if (std::find(configuration.members.begin(), configuration.members.end(), node) ==
          configuration.members.end()) {
        configuration.members.push_back(node);
      }
    }
  }
  return configuration;
}

namespace {
// Why a conditional write was refused, naming what the key holds now.
std::string PreconditionText(const replication::StrongOp& op,
                             const replication::RegisterValue& current) {
  const std::string now =
      current.present ? "its current version is " + replication::StrongContext(current.version)
      : current.version.IsZero()
          ? "the key does not exist"
          : "the key was deleted (version " + replication::StrongContext(current.version) + ")";
  switch (op.precondition) {
    case replication::Precondition::kVersion:
      return "If-Match " + replication::StrongContext(op.expected) + " does not hold: " + now +
             "; nothing was written";
    case replication::Precondition::kAbsent:
      return "the key exists (" + now + "); nothing was written";
    case replication::Precondition::kPresent:
      return "the key does not exist; nothing was written";
    case replication::Precondition::kNone:
      break;
  }
  return now;
}
}  // namespace

void Node::StartStrong(const Origin& origin, ClientRequest request,
                       replication::StrongConfiguration configuration, std::uint32_t n,
                       std::uint32_t restarts) {
  std::vector<cluster::NodeId> acceptors =
      configuration.epoch == 0 ? configuration.members : configuration.AcceptorsFor(n);
  replication::StrongOp op;
  proto::KvRequest::Op wire_op = proto::KvRequest::OP_GET;
  const ObjectId* id = nullptr;
  WriteCondition condition = WriteCondition::kNone;
  const std::string* context = nullptr;
  if (const auto* get = std::get_if<GetRequest>(&request)) {
    id = &get->id;
  } else if (const auto* put = std::get_if<PutRequest>(&request)) {
    id = &put->id;
    op.kind = replication::StrongOp::Kind::kPut;
    op.bytes = put->value;
    wire_op = proto::KvRequest::OP_PUT;
    condition = put->condition;
    context = &put->context;
  } else {
    const auto& del = std::get<DeleteRequest>(request);
    id = &del.id;
    op.kind = replication::StrongOp::Kind::kDelete;
    wire_op = proto::KvRequest::OP_DELETE;
    condition = del.condition;
    context = &del.context;
  }
  switch (condition) {
    case WriteCondition::kNone:
      break;
    case WriteCondition::kIfMatch: {
      auto expected = replication::ParseStrongContext(*context);
      if (!expected.ok()) {
        Deliver(origin, wire_op,
                ErrorReply(Status::InvalidArgument("If-Match: " + expected.status().message())));
        return;
      }
      op.precondition = replication::Precondition::kVersion;
      op.expected = *expected;
      break;
    }
    case WriteCondition::kIfAbsent:
      op.precondition = replication::Precondition::kAbsent;
      break;
    case WriteCondition::kIfPresent:
      op.precondition = replication::Precondition::kPresent;
      break;
  }
  const std::uint32_t partition = store_.PartitionOfObject(*id);
  std::string storage_key = storage::EncodeObjectKey(partition, id->bucket, id->key);
  const bool write = op.kind != replication::StrongOp::Kind::kRead;
  if (write && strong_busy_keys_.contains(storage_key)) {
    strong_waiting_[storage_key].emplace_back(origin, std::move(request));
    ++strong_waiting_count_;
    return;
  }
  std::optional<replication::ChosenProposal> fast;
  if (write) {
    fast = strong_fast_path_.Take(storage_key);
    strong_busy_keys_.insert(storage_key);
  }
  replication::StrongProposerConfig config;
  config.proposer = actor_id();
  config.incarnation = incarnation_;
  config.phase_timeout_ms = config_.strong.phase_timeout_ms;
  config.backoff_ms_min = config_.strong.backoff_ms_min;
  config.backoff_ms_max = config_.strong.backoff_ms_max;
  config.unsafe_skip_prepare = config_.strong.unsafe_skip_prepare;
  config.thrifty = config_.strong.thrifty;
  config.widen_after_ms = config_.strong.widen_after_ms;
  // Preferred first (thrifty phases): the primaries this node sees reachable, in preference
  // order, then the others.
  std::stable_partition(acceptors.begin(), acceptors.end(),
                        [this](const cluster::NodeId& node) { return StrongPeerUsable(node); });
  const std::uint64_t now_ms = NowMs();
  const std::size_t count = acceptors.size();
  const std::uint64_t id_number = next_coordination_id_++;
  strong_.emplace(
      id_number,
      StrongCoordination{origin,
                         wire_op,
                         op,  // braced initialisers run in order: copied before the move below
                         std::move(storage_key),
                         std::move(acceptors),
                         replication::StrongProposer(
                             config, replication::JointQuorum::Majority(count), std::move(op),
                             std::move(fast), strong_round_floor_, env_.random->NextU64(), now_ms,
                             now_ms + config_.request_timeout_ms),
                         {},
                         std::move(configuration),
                         n,
                         std::move(request),
                         restarts,
                         false});
  PumpStrong(id_number);
}

void Node::PumpStrong(std::uint64_t id) {
  const auto it = strong_.find(id);
  if (it == strong_.end()) return;
  StrongCoordination& coordination = it->second;
  for (int rounds = 0; rounds < 16; ++rounds) {
    std::vector<replication::StrongRequest> requests = coordination.proposer.TakeRequests();
    if (requests.empty()) break;
    // Requests to other acceptors first. They depend only on what this node wrote before
    // this input (earlier phases' own answers), not on the own answer below, so when nothing
    // was written yet in this input they may leave before its group commit: the own
    // acceptor's sync then runs in parallel with the others' (TakeEarlyOutbound).
    const bool early = watched_engine_.writes() == writes_at_input_;
    for (const replication::StrongRequest& request : requests) {
      const cluster::NodeId& acceptor = coordination.acceptors[request.acceptor];
      if (acceptor == config_.node_id) continue;
      const std::string address = AddressOf(acceptor);
      if (address.empty()) continue;
      const std::uint64_t call = call_ids_.Next();
      strong_calls_[call] = StrongCall{id, request.acceptor, request.kind, request.ballot, address};
      coordination.calls.push_back(call);
      cluster::Outbound& out = (early ? early_outbound_ : outbound_).emplace_back();
      out.to_address = address;
      *out.message.mutable_strong_request() = StrongRequestToWire(
          request, coordination.storage_key, call, coordination.configuration.epoch);
    }
    for (const replication::StrongRequest& request : requests) {
      if (coordination.acceptors[request.acceptor] != config_.node_id) continue;
      auto answer = Accept(StrongRequestToWire(request, coordination.storage_key, 0,
                                               coordination.configuration.epoch));
      // An acceptor that cannot act (its disk, or not ready for the epoch) simply does not
      // answer; the phase goes on.
      if (!answer.ok()) continue;
      if (answer->check.verdict == replication::EpochVerdict::kMoved) {
        const std::uint32_t partition = storage::PartitionOfKey(coordination.storage_key);
        strong_partitions_.Learn(partition, answer->check.newest);
        if (answer->check.newest.epoch > coordination.configuration.epoch) {
          coordination.moved = true;
        }
        continue;
      }
      if (answer->check.verdict != replication::EpochVerdict::kServe) continue;
      coordination.proposer.OnReply(request.acceptor, request.kind, request.ballot, answer->reply);
    }
    if (coordination.moved) break;
  }
  if (coordination.moved &&
      coordination.proposer.state() == replication::StrongProposer::State::kPending) {
    RestartStrong(id);
    return;
  }
  if (coordination.proposer.state() != replication::StrongProposer::State::kPending) {
    FinishStrong(id);
  }
}

void Node::OnStrongReply(const std::string& from_address, const proto::StrongReply& reply) {
  const auto call = strong_calls_.find(reply.request_id());
  if (call == strong_calls_.end()) {
    OnStrongMoveRegisterReply(from_address, reply);
    return;
  }
  // Only the acceptor asked answers (call ids also differ between this node's incarnations).
  if (call->second.address != from_address) return;
  const StrongCall info = call->second;
  strong_calls_.erase(call);
  const auto it = strong_.find(info.coordination);
  if (it == strong_.end()) return;
  if (reply.status_code() != 0) return;  // the acceptor could not act: no answer
  if (reply.verdict() == proto::StrongReply::VERDICT_MOVED) {
    auto configuration = replication::ConfigurationFromProto(reply.configuration());
    if (!configuration.ok()) return;
    strong_partitions_.Learn(storage::PartitionOfKey(it->second.storage_key), *configuration);
    if (configuration->epoch > it->second.configuration.epoch) {
      it->second.moved = true;
      RestartStrong(info.coordination);
    }
    return;
  }
  if (reply.verdict() != proto::StrongReply::VERDICT_SERVED) return;  // not ready: no answer
  replication::AcceptorReply answer;
  answer.granted = reply.granted();
  answer.ballot = replication::BallotFromProto(reply.ballot());
  if (reply.has_value()) {
    auto value = replication::RegisterValueFromProto(reply.value(), config_.value_bytes_max);
    if (!value.ok()) return;  // a malformed answer counts as none
    answer.value = std::move(value).value();
  }
  it->second.proposer.OnReply(info.acceptor, info.kind, info.ballot, answer);
  PumpStrong(info.coordination);
}

void Node::TickStrong(std::uint64_t now_ms) {
  TickStrongMoves(now_ms);
  std::vector<std::uint64_t> ids;
  ids.reserve(strong_.size());
  for (const auto& [id, coordination] : strong_) ids.push_back(id);
  for (std::uint64_t id : ids) {
    strong_.at(id).proposer.OnTime(now_ms);
    PumpStrong(id);
  }
}

void Node::FinishStrong(std::uint64_t id) {
  auto node = strong_.extract(id);
  MERIDIAN_CHECK(!node.empty());
  StrongCoordination& coordination = node.mapped();
  for (std::uint64_t call : coordination.calls) strong_calls_.erase(call);
  const replication::StrongProposer& proposer = coordination.proposer;
  strong_round_floor_ = std::max(strong_round_floor_, proposer.highest_round());
  ++strong_operations_;
  strong_round_trips_ += proposer.round_trips();
  if (proposer.round_trips() == 1) ++strong_one_round_trip_;
  const bool write = coordination.op != proto::KvRequest::OP_GET;
  const auto& result = proposer.result();
  ClientReply reply;
  if (proposer.state() == replication::StrongProposer::State::kSucceeded &&
      result.precondition_failed) {
    if (proposer.chosen()) strong_fast_path_.Put(coordination.storage_key, *proposer.chosen());
    reply.status = Status::FailedPrecondition(PreconditionText(coordination.op_spec, result.value));
  } else if (proposer.state() == replication::StrongProposer::State::kSucceeded) {
    if (proposer.chosen()) strong_fast_path_.Put(coordination.storage_key, *proposer.chosen());
    const std::size_t majority = coordination.acceptors.size() / 2 + 1;
    ConsistencyReceipt receipt;
    receipt.n = static_cast<std::uint32_t>(coordination.acceptors.size());
    receipt.required = static_cast<std::uint32_t>(majority);
    receipt.replies = receipt.required;
    receipt.primaries = receipt.required;
    receipt.durable = write ? receipt.required : 0;
    const std::string context = result.value.version.IsZero()
                                    ? std::string()
                                    : replication::StrongContext(result.value.version);
    if (!write) {
      GetReply get;
      get.found = result.value.present;
      if (get.found) get.values.push_back(SiblingValue{result.value.bytes, HlcTimestamp{}});
      get.context = context;
      get.receipt = receipt;
      reply.body = std::move(get);
    } else {
      WriteReply put;
      put.context = context;
      put.durable = true;
      put.receipt = receipt;
      reply.body = std::move(put);
    }
  } else {
    reply.status = result.status;
  }
  Deliver(coordination.origin, coordination.op, std::move(reply));
  if (write) {
    StartNextStrongWrite(coordination.storage_key, std::move(coordination.configuration),
                         coordination.n);
  }
}

void Node::StartNextStrongWrite(const std::string& storage_key,
                                replication::StrongConfiguration configuration, std::uint32_t n) {
  strong_busy_keys_.erase(storage_key);
  const auto waiting = strong_waiting_.find(storage_key);
  if (waiting == strong_waiting_.end()) return;
  auto [origin, request] = std::move(waiting->second.front());
  waiting->second.pop_front();
  --strong_waiting_count_;
  if (waiting->second.empty()) strong_waiting_.erase(waiting);
  StartStrong(origin, std::move(request), std::move(configuration), n);
}

void Node::RestartStrong(std::uint64_t id) {
  auto node = strong_.extract(id);
  MERIDIAN_CHECK(!node.empty());
  StrongCoordination& coordination = node.mapped();
  for (std::uint64_t call : coordination.calls) strong_calls_.erase(call);
  strong_round_floor_ = std::max(strong_round_floor_, coordination.proposer.highest_round());
  const bool write = coordination.op != proto::KvRequest::OP_GET;
  const std::uint32_t partition = storage::PartitionOfKey(coordination.storage_key);
  replication::StrongConfiguration next = StrongConfigurationFor(partition);
  if (write) strong_busy_keys_.erase(coordination.storage_key);
  if (!coordination.proposer.proposed_new_value() && coordination.restarts < 4 &&
      next.epoch > coordination.configuration.epoch) {
    // Nothing of this op can have taken effect: run it again under the newer configuration
    // (ahead of the key's waiting writes, which arrived after it).
    ++strong_operations_restarted_;
    StartStrong(coordination.origin, std::move(coordination.request), std::move(next),
                coordination.n, coordination.restarts + 1);
    return;
  }
  ClientReply reply;
  reply.status = Status::Timeout(
      write && coordination.proposer.proposed_new_value()
          ? "the key's partition moved to a new configuration while the write was proposed; "
            "it may or may not have been applied"
          : "the key's partition is moving to a new configuration; the request was not applied, "
            "retry");
  Deliver(coordination.origin, coordination.op, std::move(reply));
  if (write) StartNextStrongWrite(coordination.storage_key, std::move(next), coordination.n);
}

}  // namespace meridian::node
