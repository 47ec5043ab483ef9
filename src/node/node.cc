#include "node/node.h"

#include <algorithm>
#include <type_traits>
#include <utility>
#include <variant>

#include "core/assert.h"
#include "core/byte_codec.h"
#include "node/cluster_state_record.h"
#include "node/kv_codec.h"
#include "node/metadata_keys.h"
#include "node/peer_route.h"
#include "node/storage_format_migration.h"
#include "node/stored_incarnation.h"
#include "storage/key_encoding.h"

namespace meridian::node {

namespace {
using storage::Column;

LocalStoreConfig StoreConfigOf(const NodeConfig& config) {
  return LocalStoreConfig{config.partition_count, config.key_bytes_max, config.value_bytes_max,
                          config.shard_index, config.shard_count};
}

template <typename T>
constexpr bool kIsObjectRequest = std::is_same_v<T, GetRequest> || std::is_same_v<T, PutRequest> ||
                                  std::is_same_v<T, DeleteRequest>;
template <typename T>
constexpr bool kIsBucketRequest =
    std::is_same_v<T, GetBucketRequest> || std::is_same_v<T, SetBucketRequest> ||
    std::is_same_v<T, ListBucketsRequest>;

Env WithEngine(Env env, storage::Engine* engine) {
  env.engine = engine;
  return env;
}
}  // namespace

Node::Node(const NodeConfig& config, Env env)
    : config_(config),
      governor_(config.background),
      ack_pacer_(governor_, config.ack_pacing),
      hint_state_(config.hints),
      actors_(config.partition_count, env.random),
      bare_engine_(*env.engine),
      ordered_engine_(bare_engine_),
      watched_engine_(ordered_engine_, actors_),
      env_(WithEngine(env, &watched_engine_)),
      store_(StoreConfigOf(config), env_, actors_),
      replica_config_{config.node_id,
                      config.peer_address,
                      config.handoff,
                      /*fill_request_interval_ms=*/5'000,
                      /*completion_report_interval_ms=*/config.gossip_interval_ms,
                      /*flip_wait_ms=*/15'000,
                      config.anti_entropy,
                      /*replica_count_of=*/nullptr,
                      config.reaping},
      forwarded_(config.forwarded_requests_max),
      slow_requests_(config.slow_request_ms),
      suspicion_(config.suspicion),
      reap_rounds_(config.node_id, config.peer_address, config_.reaping, reap_counters_,
                   config.partition_count, config.shard_count) {
  watched_engine_.SetObserver(&tree_updater_);
  watched_engine_.SetStoredBuckets(&stored_buckets_);
  // A key is pruned of superseded single-use entries well before its clock reaches the bound
  // that ends hedging for it: at a quarter of it (8 of the default 32), or sooner if configured.
  if (config_.single_use_entries_max > 0) {
    std::uint32_t& from = replica_config_.reaping.prune_single_use_from;
    from = std::min<std::uint32_t>(from, static_cast<std::uint32_t>(std::max<std::size_t>(
                                             1, config_.single_use_entries_max / 4)));
  }
  // A key's tree is its bucket's n (which cannot change while the bucket holds data).
  replica_config_.replica_count_of = [this](std::string_view storage_key) {
    auto key = storage::DecodeObjectKey(storage_key);
    return key.ok() ? BucketPropsOf(key->id.bucket).n : placement_n_max_;
  };
}

void Node::TreeUpdater::OnObjectChanged(std::uint32_t partition, std::string_view storage_key,
                                        std::optional<std::uint64_t> old_hash,
                                        std::optional<std::uint64_t> new_hash,
                                        std::uint32_t superseded_single_use) {
  // Every stored object passes here, whichever path wrote it.
  if (new_hash.has_value()) node.NoteIfStray(storage_key);
  if (PartitionReplica* replica = node.FindReplica(partition)) {
    replica->OnObjectChanged(storage_key, old_hash, new_hash, superseded_single_use);
  }
}

Node::~Node() = default;

std::uint64_t Node::NowMs() const {
  return env_.clock->MonotonicMillis();
}

Status Node::Open() {
  MERIDIAN_RETURN_IF_ERROR(cluster::ValidateNodeId(config_.node_id));
  if (config_.shard_count == 0 || config_.shard_index >= config_.shard_count ||
      config_.shard_count > config_.partition_count) {
    return Status::InvalidArgument("shard " + std::to_string(config_.shard_index) + " of " +
                                   std::to_string(config_.shard_count) +
                                   ": the shard count must be between 1 and the partition count (" +
                                   std::to_string(config_.partition_count) + ")");
  }
  if (config_.shard_count > 1 && config_.peer_address.empty() && !config_.seeds.empty()) {
    return Status::InvalidArgument("a node with seeds needs a peer address");
  }
  MERIDIAN_RETURN_IF_ERROR(store_.Open());
  // A format-1 directory (0.1.0) gets its objects in segment order before anything reads them.
  MERIDIAN_RETURN_IF_ERROR(MigrateToSegmentOrderedObjects(bare_engine_).status());
  // Before any data is written: from here on every first write of a bucket is recorded first.
  MERIDIAN_RETURN_IF_ERROR(stored_buckets_.Load(watched_engine_).status());
  storage::Engine& engine = *env_.engine;

  // Every start raises the incarnation, so peers tell this life from the previous one.
  Result<std::uint64_t> previous = ReadStoredIncarnation(engine);
  if (!previous.ok()) return previous.status();
  incarnation_ = *previous + 1;
  // Ids of requests to peers are unique across this node's incarnations: a peer's late answer
  // to a request sent before a restart must not answer a new request (found by the simulator,
  // strong-cluster-dueling seed 5865: a write acknowledged by the reply to another).
  MERIDIAN_CHECK(incarnation_ < (std::uint64_t{1} << 24));
  // Each shard's ids name it in their low bits, so a peer's answer finds the shard that asked.
  const std::uint64_t id_base = incarnation_ << 40;
  forwarded_.UseIds(RequestIds(id_base, config_.shard_index, config_.shard_count));
  call_ids_ = RequestIds(id_base, config_.shard_index, config_.shard_count);
  transfer_ids_ = RequestIds(0, config_.shard_index, config_.shard_count);
  storage::WriteBatch batch;
  std::string encoded;
  PutFixed64(encoded, incarnation_);
  batch.Put(Column::kMetadata, std::string(kIncarnationKey), encoded);
  MERIDIAN_RETURN_IF_ERROR(engine.Write(batch, storage::WriteOptions{.sync = true}));

  std::optional<cluster::ClusterState> persisted;
  auto stored_state = engine.Get(Column::kMetadata, kClusterStateKey);
  if (!stored_state.ok()) return stored_state.status();
  if (stored_state->has_value()) {
    auto decoded = DecodeClusterStateRecord(**stored_state);
    if (!decoded.ok()) return decoded.status();
    if (decoded->cluster_name() != config_.cluster_name) {
      return Status::InvalidArgument("the data directory belongs to cluster \"" +
                                     decoded->cluster_name() + "\", not \"" + config_.cluster_name +
                                     "\"");
    }
    persisted = std::move(decoded).value();
  }
  const bool first_start = !persisted.has_value();
  // A joiner that stopped (or crashed) before the cluster's state reached it has persisted only
  // itself, still joining: nobody else knows of it, so it must ask again or wait alone forever.
  const bool join_unfinished =
      persisted.has_value() && persisted->members().size() == 1 &&
      persisted->members().front()->id == config_.node_id &&
      persisted->members().front()->status == cluster::MemberStatus::kJoining;

  cluster::MembershipOptions options;
  options.self.id = config_.node_id;
  options.self.peer_address = config_.peer_address;
  options.self.http_address = config_.http_address;
  options.self.zone = config_.zone;
  options.self.weight = config_.weight;
  options.self.shards = config_.shard_count;
  options.self.features = config_.features;
  options.self.status = cluster::MemberStatus::kJoining;
  options.self.incarnation = incarnation_;
  options.cluster_name = config_.cluster_name;
  options.partition_count = config_.partition_count;
  options.gossip_interval_ms = config_.gossip_interval_ms;
  membership_ = std::make_unique<cluster::Membership>(options, std::move(persisted));
  if ((first_start || join_unfinished) && !config_.seeds.empty() && !FollowsShell()) {
    MERIDIAN_RETURN_IF_ERROR(membership_->Join(config_.seeds));
  }
  detector_ = std::make_unique<cluster::FailureDetector>(config_.node_id, incarnation_,
                                                         config_.failure_detector);
  receiver_ = std::make_unique<replication::HandoffReceiver>(engine, store_.actor_id());
  MERIDIAN_RETURN_IF_ERROR(OpenHints());
  MERIDIAN_RETURN_IF_ERROR(LoadForwarding());
  MERIDIAN_RETURN_IF_ERROR(LoadCompletedIncoming());
  MERIDIAN_RETURN_IF_ERROR(strong_partitions_.Load(engine));
  if (first_start && config_.seeds.empty()) {
    // This node creates the cluster, alone: every partition's strong configuration starts
    // here, with it as the only member (epoch 1); moves take them to the ring's primaries as
    // nodes join (docs/design/strong.md, "Membership changes"). Each shard keeps its own
    // partitions' configurations (another shard's would run a second mover of the partition
    // under the same proposer id).
    MERIDIAN_RETURN_IF_ERROR(strong_partitions_.WriteGenesis(
        engine, config_.node_id, replication::Ballot{1, actor_id(), incarnation_, 0},
        [this](std::uint32_t partition) { return OwnsPartition(partition); }));
  }
  opened_ = true;
  // The first tick bootstraps a new cluster at once (a standalone node owns every partition
  // before its first request) and starts gossip and the join.
  Tick();
  return Status::Ok();
}

void Node::SetHttpAddress(std::string address) {
  MERIDIAN_CHECK(!opened_);
  config_.http_address = std::move(address);
}

Status Node::Close() {
  if (!opened_) return Status::Ok();
  opened_ = false;
  PersistClusterStateIfChanged();
  return store_.Close();
}

void Node::Submit(RequestId id, ClientRequest request) {
  writes_at_input_ = watched_engine_.writes();
  if (!opened_) {
    Reply(id, Status::Unavailable("the node is not open"));
    return;
  }
  std::visit(
      [&](auto& alternative) {
        using T = std::decay_t<decltype(alternative)>;
        if constexpr (kIsObjectRequest<T>) {
          Route(Origin{id, "", 0}, std::move(request), /*hops=*/0);
        } else if constexpr (kIsBucketRequest<T>) {
          if (auto reply = HandleBucket(id, request)) Reply(id, std::move(*reply));
        } else if constexpr (std::is_same_v<T, ClusterStatusRequest>) {
          if (!alternative.include_reports) {
            Reply(id, ReplyBody(StatusReply()));
          } else if (auto reply = StartStatusReport(id)) {
            Reply(id, std::move(*reply));
          }
        } else {
          Reply(id, HandleAdmin(request));
        }
      },
      request);
  // Before the reply leaves: an acknowledged bucket or membership change survives a crash.
  PersistClusterStateIfChanged();
  CollectOutbound();
}

namespace {
std::uint32_t AntiEntropyPartition(const proto::PeerMessage& message) {
  switch (message.body_case()) {
    case proto::PeerMessage::kAaeExchangeStart:
      return message.aae_exchange_start().partition();
    case proto::PeerMessage::kAaeSegmentHashes:
      return message.aae_segment_hashes().partition();
    case proto::PeerMessage::kAaeKeyHashes:
      return message.aae_key_hashes().partition();
    default:
      return message.aae_repair().partition();
  }
}
}  // namespace

void Node::Receive(const std::string& from_address, const proto::PeerMessage& message) {
  writes_at_input_ = watched_engine_.writes();
  if (!opened_) return;
  if (config_.shard_count > 1) {
    // The node's router (node/peer_route.h) sends each message to one shard; one that reached
    // another is a router bug, and handling it here would act on another shard's partition.
    const PeerRoute route = RoutePeerMessage(message, config_.partition_count, config_.shard_count);
    const bool here = route.to == PeerRoute::To::kShard
                          ? route.shard == config_.shard_index
                          : route.to == PeerRoute::To::kShell && config_.shard_index == 0;
    if (!here) {
      ++misrouted_peer_messages_;
      return;
    }
  }
  const std::uint64_t now_ms = NowMs();
  suspicion_.OnHeard(from_address);
  shell_suspects_.erase(from_address);  // heard here since the shell's view
  if (config_.shard_count > 1 && config_.shard_index == 0) heard_ms_[from_address] = now_ms;
  // Before the message is handled: a snapshot of a reaping round still recording this
  // connection learns which candidate keys it carried.
  reap_rounds_.OnDataMessage(from_address, message);
  switch (message.body_case()) {
    case proto::PeerMessage::kKvRequest: {
      const proto::KvRequest& request = message.kv_request();
      Origin origin{0, from_address, request.request_id()};
      auto decoded = DecodeKvRequest(request);
      if (!decoded.ok()) {
        ClientReply reply;
        reply.status = decoded.status();
        Deliver(origin, request.op(), std::move(reply));
      } else {
        Route(origin, std::move(decoded).value(), request.hops());
      }
      break;
    }
    case proto::PeerMessage::kKvReply: {
      auto entry = forwarded_.Resolve(message.kv_reply().request_id(), from_address);
      if (entry) {
        ClientReply reply = DecodeKvReply(entry->origin.client_id, entry->op, message.kv_reply());
        if (reply.fixed_version_refused && entry->fixed_here && entry->retained.has_value()) {
          // The key takes no more single-use entries, and nobody applied this version (only
          // that peer was sent it): sent again with an ordinary dot, not hedged.
          std::visit(
              [](auto& request) {
                if constexpr (requires { request.fixed_version; }) request.fixed_version.reset();
              },
              *entry->retained);
          Forward(entry->origin, std::move(*entry->retained), entry->peer_node, entry->hops,
                  /*hedgeable=*/false);
          break;
        }
        if (reply.fixed_version_refused && entry->origin.routed_again() &&
            entry->retained.has_value()) {
          // Routed again after its first peer did not answer, and refused for the bound: that
          // peer may have applied this version, so it cannot go out without it. Taken here,
          // as a fallback under it, past the bound (one entry more, until pruned): routing
          // with the hop budget spent coordinates locally.
          Route(entry->origin, std::move(*entry->retained),
                std::max(entry->hops + 1, config_.forward_hops_max));
          break;
        }
        NoteIfSlowForward(*entry, reply.status);
        Deliver(entry->origin, entry->op, std::move(reply));
      }
      break;
    }
    case proto::PeerMessage::kHeartbeatPing:
    case proto::PeerMessage::kHeartbeatPong:
      detector_->Receive(from_address, message, now_ms).IgnoreError();  // malformed: dropped
      break;
    case proto::PeerMessage::kHandoffBatch: {
      // The last batch completes the transfer only if this node knows it is the pending owner
      // (the old owner may learn the plan first): acknowledging it earlier would make the old
      // owner forward requests here while nobody ever reports the transfer complete, so the
      // ring would never flip. Left unacknowledged, it is sent again after the ack timeout.
      const proto::HandoffBatch& batch = message.handoff_batch();
      const cluster::Ring& ring = membership_->state().ring();
      const bool in_range = batch.partition() < ring.partition_count();
      const bool not_replica = in_range && batch.replica_copy() && !HoldsReplica(batch.partition());
      if (!in_range || not_replica) {
        // Refused at once: a partition outside the ring (no honest peer sends one; found by
        // fuzz/node_message_fuzzer, it used to stop the node), or a copy for a replica this node
        // is not (the sender's ring is newer or older: it re-plans its copies).
        cluster::Outbound out;
        out.to_address = batch.reply_address().empty() ? from_address : batch.reply_address();
        proto::HandoffAck* ack = out.message.mutable_handoff_ack();
        ack->set_transfer_id(batch.transfer_id());
        ack->set_partition(batch.partition());
        ack->set_sequence(batch.sequence());
        ack->set_status_code(static_cast<std::uint32_t>(StatusCode::kInvalidArgument));
        ack->set_status_message(in_range ? config_.node_id + " is not a replica of partition " +
                                               std::to_string(batch.partition())
                                         : "partition " + std::to_string(batch.partition()) +
                                               " is outside the ring");
        ack->set_receiver_incarnation(store_.actor_id());
        outbound_.push_back(std::move(out));
        break;
      }
      if (in_range && batch.last()) {
        const auto pending = ring.PendingOwner(batch.partition());
        const bool pending_here = pending && *pending == config_.node_id;
        // The owner also takes data back from a node that held the partition without owning
        // it (see Node::HandOffOrphans).
        const bool owned_here = !pending && ring.Owner(batch.partition()) == config_.node_id;
        // A copy for a replica (a hand-off or a fill) completes nothing: any replica takes it.
        const bool replica_here = batch.replica_copy();  // checked above
        if (!pending_here && !owned_here && !replica_here) break;
      }
      receiver_->Receive(from_address, batch, now_ms);
      for (cluster::Outbound& ack : receiver_->TakeOutbound()) {
        PaceAck(batch.replica_copy() ? replication::WorkKind::kReplicaCopy
                                     : replication::WorkKind::kOwnershipHandoff,
                BatchSize(batch.entries()), std::move(ack), now_ms);
      }
      OnBatchApplied(from_address, batch);
      if (in_range && batch.replica_copy()) {
        if (PartitionReplica* replica = FindReplica(batch.partition())) {
          replica->OnCopyReceived(batch.reply_address().empty() ? from_address
                                                                : batch.reply_address());
        }
      }
      // An ownership stream under a plan that has changed since: hand the data on.
      if (in_range && !HoldsReplica(batch.partition())) {
        ReplicaFor(batch.partition()).OnForeignData();
      }
      // A complete copy from the partition's owner (a fill it asked for) ends the requests.
      if (in_range && batch.replica_copy() && batch.last() &&
          batch.reply_address() == AddressOf(ring.Owner(batch.partition()))) {
        if (PartitionReplica* replica = FindReplica(batch.partition())) replica->OnFillComplete();
      }
      break;
    }
    case proto::PeerMessage::kHandoffAck:
      if (PartitionReplica* replica = FindReplica(message.handoff_ack().partition())) {
        replica->OnHandoffAck(message.handoff_ack(), now_ms);
      }
      break;
    case proto::PeerMessage::kHandoffMirror:
      receiver_->Receive(message.handoff_mirror()).IgnoreError();  // the batches repair misses
      if (message.handoff_mirror().partition() < config_.partition_count &&
          !HoldsReplica(message.handoff_mirror().partition())) {
        ReplicaFor(message.handoff_mirror().partition()).OnForeignData();
      }
      break;
    case proto::PeerMessage::kReplicaWrite:
      HandleReplicaWrite(from_address, message.replica_write());
      break;
    case proto::PeerMessage::kReplicaWriteAck:
      OnReplicaWriteAck(message.replica_write_ack());
      break;
    case proto::PeerMessage::kReplicaRead:
      HandleReplicaRead(from_address, message.replica_read());
      break;
    case proto::PeerMessage::kReplicaReadReply:
      OnReplicaReadReply(message.replica_read_reply());
      break;
    case proto::PeerMessage::kHintBatch: {
      cluster::Outbound out;
      out.to_address = from_address;
      *out.message.mutable_hint_ack() =
          replication::ApplyHintBatch(*env_.engine, message.hint_batch());
      PaceAck(replication::WorkKind::kHintReplay, BatchSize(message.hint_batch().entries()),
              std::move(out), now_ms);
      // Hinted for this node under another ring: hand it on if this node does not keep it.
      for (const proto::HandoffEntry& entry : message.hint_batch().entries()) {
        auto key = storage::DecodeObjectKey(entry.storage_key());
        if (key.ok() && key->partition < config_.partition_count && !HoldsReplica(key->partition)) {
          ReplicaFor(key->partition).OnForeignData();
        }
      }
      break;
    }
    case proto::PeerMessage::kReplicaFillRequest:
      OnFillRequest(message.replica_fill_request());
      break;
    case proto::PeerMessage::kAaeExchangeStart:
    case proto::PeerMessage::kAaeSegmentHashes:
    case proto::PeerMessage::kAaeKeyHashes:
    case proto::PeerMessage::kAaeRepair: {
      const std::uint32_t partition = AntiEntropyPartition(message);
      if (partition < config_.partition_count) {
        RefreshPlacement();
        ReplicaFor(partition).OnAntiEntropy(from_address, message, now_ms);
      }
      break;
    }
    case proto::PeerMessage::kHintAck:
      if (PartitionReplica* replica = FindReplica(message.hint_ack().partition())) {
        replica->OnHintAck(from_address, message.hint_ack(), now_ms);
      }
      break;
    case proto::PeerMessage::kReapPrepare:
      reap_rounds_.OnPrepare(message.reap_prepare(), now_ms);
      break;
    case proto::PeerMessage::kReapPrepared:
      reap_rounds_.OnPrepared(message.reap_prepared(), reap_judge_);
      break;
    case proto::PeerMessage::kReapMarker:
      reap_rounds_.OnMarker(message.reap_marker(), reap_judge_);
      break;
    case proto::PeerMessage::kReapAnswer:
      reap_rounds_.OnAnswer(message.reap_answer());
      break;
    case proto::PeerMessage::kReapCommit:
      OnReapCommit(message.reap_commit());
      break;
    case proto::PeerMessage::kBucketCheckRequest:
      OnBucketCheckRequest(from_address, message.bucket_check_request());
      break;
    case proto::PeerMessage::kBucketCheckReply:
      OnBucketCheckReply(from_address, message.bucket_check_reply());
      break;
    case proto::PeerMessage::kMemberReportRequest:
      OnMemberReportRequest(from_address, message.member_report_request());
      break;
    case proto::PeerMessage::kMemberReportReply:
      OnMemberReportReply(from_address, message.member_report_reply());
      break;
    case proto::PeerMessage::kStrongRequest:
      HandleStrongRequest(from_address, message.strong_request());
      break;
    case proto::PeerMessage::kStrongReply:
      OnStrongReply(from_address, message.strong_reply());
      break;
    case proto::PeerMessage::kStrongScanRequest:
      HandleStrongScan(from_address, message.strong_scan_request());
      break;
    case proto::PeerMessage::kStrongScanReply:
      OnStrongScanReply(from_address, message.strong_scan_reply());
      break;
    case proto::PeerMessage::kStrongInstallRequest:
      HandleStrongInstall(from_address, message.strong_install_request());
      break;
    case proto::PeerMessage::kStrongInstallReply:
      OnStrongInstallReply(from_address, message.strong_install_reply());
      break;
    default:
      membership_->Receive(from_address, message, now_ms);
      // At once, not at the next tick: requests may act on what was learnt (a bucket's
      // properties, say) before then, and a crash must not take the node back behind it — a
      // restarted node that forgot a bucket's properties coordinated its writes with the
      // defaults (replication-strict seed 612: a dw=2 bucket acknowledged a write unsynced).
      PersistClusterStateIfChanged();
      break;
  }
  CollectOutbound();
}

void Node::SetStorageCondition(Status condition) {
  if (condition.ok()) {
    watched_engine_.RefuseNewData(std::nullopt);
  } else {
    watched_engine_.RefuseNewData(condition);
  }
  storage_condition_ = std::move(condition);
}

void Node::Tick() {
  writes_at_input_ = watched_engine_.writes();
  if (!opened_) return;
  const std::uint64_t now_ms = NowMs();
  const bool follower = FollowsShell();
  if (!follower) {
    // A follower has the shell's membership and opinions (ApplyShellView) and sends nothing
    // node-wide: no gossip, heartbeats, probes, bucket checks or reports. (Each shard runs
    // the reaping rounds of its own partitions.)
    const std::vector<cluster::NodeId> down = detector_->DownPeers(now_ms);
    membership_->SetUnreachable(std::set<cluster::NodeId>(down.begin(), down.end()));
    membership_->Tick(now_ms, *env_.random);
  }
  SyncMembershipViews();
  if (!follower) {
    if (!config_.peer_address.empty()) detector_->Tick(now_ms);
    ProbeSuspects();
  }
  TickReplicas();
  TickReaping(now_ms);
  TickHints(now_ms);
  DropMovedPartitions();
  ExpireForwards();
  ExpireCoordinators();
  TickStrong(now_ms);
  if (!follower) {
    TickBucketChanges(now_ms);
    TickStatusReports(now_ms);
  }
  PersistClusterStateIfChanged();
  CollectOutbound(/*all_replicas=*/true);
}

std::vector<ClientReply> Node::TakeReplies() {
  std::vector<ClientReply> taken;
  taken.swap(replies_);
  return taken;
}

std::vector<cluster::Outbound> Node::TakeOutbound() {
  std::vector<cluster::Outbound> taken = TakeEarlyOutbound();
  const std::size_t early = taken.size();
  for (cluster::Outbound& out : outbound_) taken.push_back(std::move(out));
  outbound_.clear();
  const std::uint64_t now_ms = NowMs();
  for (std::size_t i = early; i < taken.size(); ++i) {
    const cluster::Outbound& out = taken[i];
    if (PeerSuspicion::ExpectsAnswer(out.message)) suspicion_.OnRequestSent(out.to_address, now_ms);
  }
  return taken;
}

std::vector<cluster::Outbound> Node::TakeEarlyOutbound() {
  std::vector<cluster::Outbound> taken;
  taken.swap(early_outbound_);
  const std::uint64_t now_ms = NowMs();
  for (const cluster::Outbound& out : taken) {
    if (PeerSuspicion::ExpectsAnswer(out.message)) suspicion_.OnRequestSent(out.to_address, now_ms);
  }
  return taken;
}

void Node::ProbeSuspects() {
  const std::uint64_t now_ms = NowMs();
  for (std::string& address : suspicion_.TakeProbes(now_ms)) {
    cluster::Outbound& out = outbound_.emplace_back();
    out.to_address = std::move(address);
    proto::HeartbeatPing* ping = out.message.mutable_heartbeat_ping();
    ping->set_from_id(config_.node_id);
    ping->set_incarnation(incarnation_);
    ping->set_sent_at_ms(now_ms);
  }
}

bool Node::IsAlive(const cluster::NodeId& id) const {
  if (id == config_.node_id || !detector_) return true;
  if (FollowsShell()) return shell_down_.count(id) == 0;
  return detector_->IsAlive(id, NowMs());
}

ShellView Node::MakeShellView(std::uint64_t applied_version) {
  MERIDIAN_CHECK(config_.shard_index == 0);
  ShellView view;
  if (!opened_) return view;
  view.state_version = membership_->state_version();
  if (view.state_version != applied_version) view.state = membership_->state();
  const std::vector<cluster::NodeId> down = detector_->DownPeers(NowMs());
  view.down.insert(down.begin(), down.end());
  view.heard_ms = heard_ms_;
  for (std::string& address : suspicion_.Suspects(NowMs()))
    view.suspected.insert(std::move(address));
  return view;
}

std::uint64_t Node::state_version() const {
  return opened_ ? membership_->state_version() : 0;
}

void Node::ApplyShellView(const ShellView& view) {
  MERIDIAN_CHECK(FollowsShell());
  if (!opened_) return;
  if (view.state) membership_->Adopt(*view.state);
  shell_down_ = view.down;
  for (const auto& [address, heard_ms] : view.heard_ms) suspicion_.OnHeardAt(address, heard_ms);
  shell_suspects_ = view.suspected;
}

std::vector<std::uint32_t> Node::TakeTransferCompletions() {
  std::vector<std::uint32_t> taken;
  taken.swap(transfer_completions_);
  return taken;
}

void Node::ReportTransferComplete(std::uint32_t partition) {
  MERIDIAN_CHECK(config_.shard_index == 0);
  if (!opened_) return;
  // Refused when the shell's ring no longer makes this node the pending owner; the follower's
  // replica reports again while it still is.
  membership_->ReportTransferComplete(partition).IgnoreError();
}

void Node::Deliver(const Origin& origin, proto::KvRequest::Op op, ClientReply reply) {
  if (origin.routed_again() && !reply.status.ok() && reply.status.code() != StatusCode::kTimeout) {
    // Routed again after its first coordinator went silent, which may have applied it: what
    // failed here says nothing about that copy.
    std::string what = reply.status.message();
    for (std::string_view claim : {"; the request was not applied", "; nothing was written"}) {
      if (what.ends_with(claim)) what.resize(what.size() - claim.size());
    }
    reply.status = Status::Timeout(
        what +
        "; the write had first been forwarded to a coordinator that did not answer in time and "
        "may have applied it, so the request may or may not have been applied");
  }
  if (origin.reply_address.empty()) {
    reply.id = origin.client_id;
    replies_.push_back(std::move(reply));
    return;
  }
  (void)op;
  cluster::Outbound out;
  out.to_address = origin.reply_address;
  *out.message.mutable_kv_reply() = EncodeKvReply(origin.peer_request_id, reply);
  outbound_.push_back(std::move(out));
}

void Node::Reply(RequestId id, Result<ReplyBody> result) {
  ClientReply reply;
  reply.id = id;
  if (result.ok()) {
    reply.body = std::move(result).value();
  } else {
    reply.status = result.status();
  }
  replies_.push_back(std::move(reply));
}

void Node::MergeBucketProps(const std::map<std::string, cluster::BucketPropsRecord>& records) {
  MERIDIAN_CHECK(config_.shard_index != 0);
  if (!opened_) return;
  for (const auto& [bucket, record] : records) membership_->MergeBucketRecord(bucket, record);
  PersistClusterStateIfChanged();
}

Result<bool> Node::HoldBucket(const std::string& bucket) {
  MERIDIAN_CHECK(config_.shard_index != 0);
  held_buckets_.insert(bucket);
  return HoldsBucketData(bucket);
}

void Node::ReleaseBucket(const std::string& bucket) {
  held_buckets_.erase(bucket);
}

void Node::SyncMembershipViews() {
  const std::uint64_t version = membership_->state_version();
  if (version == detector_state_version_) return;
  detector_state_version_ = version;
  std::vector<cluster::FailureDetectorPeer> peers;
  for (const auto& member : membership_->state().members()) {
    if (member->status == cluster::MemberStatus::kRemoved || member->peer_address.empty()) {
      continue;
    }
    peers.push_back({member->id, member->peer_address, member->incarnation});
  }
  detector_->SetPeers(peers);
}

void Node::PersistClusterStateIfChanged() {
  if (membership_->state_version() == persisted_state_version_) return;
  // Synced (at most once per tick): a crash must not take the node back to a state it has
  // already acted on — e.g. forget a leave and rejoin as up (found by the simulator, seed 9).
  PersistClusterState(/*sync=*/true).IgnoreError();  // retried at the next tick
}

Status Node::PersistClusterState(bool sync) {
  const std::uint64_t version = membership_->state_version();
  storage::WriteBatch batch;
  batch.Put(Column::kMetadata, std::string(kClusterStateKey),
            EncodeClusterStateRecord(membership_->state()));
  MERIDIAN_RETURN_IF_ERROR(env_.engine->Write(batch, storage::WriteOptions{.sync = sync}));
  persisted_state_version_ = version;
  return Status::Ok();
}

replication::WorkSize Node::BatchSize(
    const google::protobuf::RepeatedPtrField<proto::HandoffEntry>& entries) {
  replication::WorkSize size;
  for (const proto::HandoffEntry& entry : entries) {
    size.bytes += entry.storage_key().size() + entry.encoded_object().size();
    ++size.objects;
  }
  return size;
}

void Node::PaceAck(replication::WorkKind kind, replication::WorkSize size, cluster::Outbound ack,
                   std::uint64_t now_ms) {
  ack_pacer_.Hold(kind, size, std::move(ack), now_ms);
  for (cluster::Outbound& out : ack_pacer_.Release(now_ms)) outbound_.push_back(std::move(out));
}

void Node::CollectOutbound(bool all_replicas) {
  auto append = [this](std::vector<cluster::Outbound> messages) {
    for (auto& message : messages) outbound_.push_back(std::move(message));
  };
  append(membership_->TakeOutbound());
  append(detector_->TakeOutbound());
  append(receiver_->TakeOutbound());
  append(ack_pacer_.Release(NowMs()));
  if (all_replicas) {
    for (std::uint32_t partition : touched_) touched_flags_[partition] = false;
    touched_.clear();
    for (auto& [partition, replica] : replicas_) ApplyReplicaOutput(*replica);
  }
  // Applying output may reach other partitions (a merge, a hint): until none is left.
  while (!touched_.empty()) {
    std::vector<std::uint32_t> touched;
    touched.swap(touched_);
    for (std::uint32_t partition : touched) touched_flags_[partition] = false;
    for (std::uint32_t partition : touched) {
      auto it = replicas_.find(partition);
      if (it != replicas_.end()) ApplyReplicaOutput(*it->second);
    }
  }
  append(reap_rounds_.TakeOutbound());
}

}  // namespace meridian::node
