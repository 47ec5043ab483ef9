// Node: cluster administration requests, the member views of cluster status, and the
// read-only inspection of one key (where it lives; this node's own copy of it).
#include <algorithm>
#include <map>
#include <type_traits>
#include <variant>

#include "node/node.h"

#include "core/object_id.h"
#include "storage/key_encoding.h"

namespace meridian::node {

std::vector<MemberView> Node::MemberViews() const {
  const cluster::ClusterState& state = membership_->state();
  const cluster::Ring& ring = state.ring();
  std::map<cluster::NodeId, std::uint32_t> owned;
  std::map<cluster::NodeId, std::uint32_t> incoming;
  for (std::uint32_t partition = 0; partition < ring.partition_count(); ++partition) {
    const cluster::NodeId& owner = ring.Owner(partition);
    if (!owner.empty()) ++owned[owner];
    if (auto pending = ring.PendingOwner(partition)) ++incoming[*pending];
  }
  const std::uint64_t now_ms = NowMs();
  std::vector<MemberView> views;
  for (const auto& member : state.members()) {
    MemberView view;
    view.id = member->id;
    view.peer_address = member->peer_address;
    view.http_address = member->http_address;
    view.zone = member->zone;
    view.weight = member->weight;
    view.status = std::string(cluster::MemberStatusName(member->status));
    view.incarnation = member->incarnation;
    const bool self = member->id == config_.node_id;
    view.alive = self || detector_->IsAlive(member->id, now_ms);
    view.phi = self ? 0 : detector_->Phi(member->id, now_ms);
    view.partitions_owned = owned[member->id];
    view.partitions_incoming = incoming[member->id];
    view.shards = member->shards;
    views.push_back(std::move(view));
  }
  return views;
}

BucketProps Node::BucketPropsOf(std::string_view bucket) const {
  const cluster::BucketPropsRecord* record =
      membership_->state().FindBucketProps(std::string(bucket));
  return record == nullptr ? BucketProps{} : record->props;
}

Result<bool> Node::HoldsBucketData(const std::string& bucket) {
  if (!stored_buckets_.MayHold(bucket)) return false;  // never stored here: nothing to look at
  // Hint and strong keys are partition | bucket length | bucket | key, so a bucket's keys in
  // one partition share the prefix EncodeObjectKey(partition, bucket, "") there. The objects
  // column is in segment order (storage format 2): its partitions are scanned whole, each key
  // checked, until one of the bucket turns up.
  for (std::uint32_t partition = 0; partition < config_.partition_count; ++partition) {
    if (!OwnsPartition(partition)) continue;  // another shard's: nothing here
    std::string prefix = storage::EncodeObjectKey(partition, bucket, "k");
    prefix.pop_back();
    const std::string end = storage::PrefixScanEnd(prefix);
    bool found = false;
    for (storage::Column column : {storage::Column::kHints, storage::Column::kStrong}) {
      MERIDIAN_RETURN_IF_ERROR(
          env_.engine->Scan(column, prefix, end, [&](std::string_view, std::string_view) {
            found = true;
            return false;
          }));
      if (found) return true;
    }
    const storage::KeyRange range = storage::PartitionRange(partition);
    MERIDIAN_RETURN_IF_ERROR(env_.engine->Scan(storage::Column::kObjects, range.begin, range.end,
                                               [&](std::string_view key, std::string_view) {
                                                 found = key.size() > prefix.size() &&
                                                         key.substr(0, prefix.size()) == prefix;
                                                 return !found;
                                               }));
    if (found) return true;
  }
  return false;
}

std::optional<Result<ReplyBody>> Node::HandleBucket(RequestId id, const ClientRequest& request) {
  if (const auto* get = std::get_if<GetBucketRequest>(&request)) {
    if (Status valid = ValidateBucketName(get->bucket); !valid.ok()) return valid;
    return ReplyBody(BucketReply{get->bucket, BucketPropsOf(get->bucket)});
  }
  if (std::holds_alternative<ListBucketsRequest>(request)) {
    BucketListReply list;
    for (const auto& [bucket, record] : membership_->state().bucket_props()) {
      list.buckets.push_back(BucketReply{bucket, record.props});
    }
    return ReplyBody(std::move(list));
  }
  const auto& set = std::get<SetBucketRequest>(request);
  if (Status valid = ValidateBucketName(set.bucket); !valid.ok()) return valid;
  if (bucket_changes_.count(set.bucket) != 0) {
    return Status::Unavailable("a change of bucket \"" + set.bucket +
                               "\" is being checked on this node; retry when it has finished");
  }
  BucketProps current = BucketPropsOf(set.bucket);
  if (current.sealed) {
    const cluster::BucketPropsRecord* seal = membership_->state().FindBucketProps(set.bucket);
    if (SealMayBeLive(set.bucket, seal->origin)) {
      return Status::Unavailable("bucket \"" + set.bucket + "\" is sealed: node " + seal->origin +
                                 " is checking a change of its consistency or n; retry when it "
                                 "has finished");
    }
    current.sealed = false;  // left by a change whose node restarted, is down or was removed
  }
  auto next = ApplyBucketPropsPatch(current, set.patch);
  if (!next.ok()) return next.status();
  if (next->n != current.n) {
    std::size_t members = 0;
    for (const auto& member : membership_->state().members()) {
      if (member->status != cluster::MemberStatus::kRemoved) ++members;
    }
    if (next->n > std::max<std::size_t>(members, 1)) {
      return Status::InvalidArgument("n=" + std::to_string(next->n) + " exceeds the " +
                                     std::to_string(members) +
                                     " member(s) of the cluster; a key's replicas are on "
                                     "distinct nodes");
    }
  }
  if (next->n != current.n || next->consistency != current.consistency) {
    if (config_.shard_count > 1 && !set.other_shards_checked) {
      return Status::FailedPrecondition(
          "changing a bucket's consistency or n is not supported yet on a node with more than "
          "one shard (shards=" +
          std::to_string(config_.shard_count) + "): it needs every shard's storage checked");
    }
    return StartBucketChange(id, set.bucket, current, *next);
  }
  const HlcTimestamp version = bucket_clock_.Now(env_.clock->WallMillis());
  if (Status status = membership_->SetBucketProps(set.bucket, *next, version.value); !status.ok()) {
    return status;
  }
  // Configuration: never acknowledge a change a crash could undo. Gossip spreads it.
  if (Status status = PersistClusterState(/*sync=*/true); !status.ok()) return status;
  return ReplyBody(BucketReply{set.bucket, *next});
}

Result<ReplyBody> Node::HandleAdmin(const ClientRequest& request) {
  const cluster::NodeId& self = config_.node_id;
  const auto accepted = [](std::string message) -> Result<ReplyBody> {
    return ReplyBody(AdminReply{std::move(message)});
  };
  if (const auto* locate = std::get_if<ClusterLocateRequest>(&request)) {
    return Locate(locate->id);
  }
  if (const auto* local = std::get_if<ClusterLocalRequest>(&request)) {
    return ReadLocalCopy(local->id);
  }
  if (std::holds_alternative<ClusterStatusRequest>(request)) return ReplyBody(StatusReply());
  if (const auto* background = std::get_if<ClusterBackgroundRequest>(&request)) {
    return SetBackground(*background);
  }
  if (const auto* ring_request = std::get_if<ClusterRingRequest>(&request)) {
    const cluster::Ring& ring = membership_->state().ring();
    RingReply reply;
    reply.partition_count = ring.partition_count();
    reply.version = ring.version();
    if (ring_request->include_partitions) {
      reply.partitions.reserve(ring.partition_count());
      for (std::uint32_t partition = 0; partition < ring.partition_count(); ++partition) {
        reply.partitions.push_back(
            {ring.Owner(partition), ring.PendingOwner(partition).value_or("")});
      }
    }
    reply.members = MemberViews();
    return ReplyBody(std::move(reply));
  }
  if (config_.peer_address.empty()) {
    return Status::InvalidArgument(
        "this node runs standalone (no peer address); start it with --peer to form a cluster");
  }
  if (const auto* join = std::get_if<ClusterJoinRequest>(&request)) {
    MERIDIAN_RETURN_IF_ERROR(membership_->Join(join->seeds));
    return accepted(self + " is joining through " + std::to_string(join->seeds.size()) +
                    " seed(s)");
  }
  if (const auto* leave = std::get_if<ClusterLeaveRequest>(&request)) {
    const cluster::NodeId node = leave->node.empty() ? self : leave->node;
    MERIDIAN_RETURN_IF_ERROR(membership_->Leave(node));
    return accepted(node + " is leaving: its partitions move away, then it is removed");
  }
  if (const auto* remove = std::get_if<ClusterRemoveRequest>(&request)) {
    MERIDIAN_RETURN_IF_ERROR(membership_->Remove(remove->node));
    return accepted(remove->node + " is removed; its partitions are reassigned");
  }
  if (const auto* weight = std::get_if<ClusterSetWeightRequest>(&request)) {
    MERIDIAN_RETURN_IF_ERROR(membership_->SetWeight(weight->node, weight->weight));
    return accepted(weight->node + " now has weight " + std::to_string(weight->weight));
  }
  return Status::Internal("unhandled administrative request");
}

Result<ReplyBody> Node::SetBackground(const ClusterBackgroundRequest& request) {
  if (request.bytes_per_second.has_value() &&
      *request.bytes_per_second > replication::BackgroundGovernor::kBytesPerSecondMax) {
    return Status::InvalidArgument(
        "bytes_per_second must be at most " +
        std::to_string(replication::BackgroundGovernor::kBytesPerSecondMax) +
        " per shard (0: unlimited)");
  }
  if (request.bytes_per_second.has_value()) {
    governor_.SetBytesPerSecond(*request.bytes_per_second, NowMs());
  }
  if (request.paused.has_value()) governor_.SetPaused(*request.paused);
  return ReplyBody(BackgroundReply{governor_.config().bytes_per_second, governor_.paused(), 1});
}

Result<ReplyBody> Node::Locate(const ObjectId& id) const {
  MERIDIAN_RETURN_IF_ERROR(store_.ValidateObjectId(id));
  const std::uint32_t partition = store_.PartitionOfObject(id);
  const cluster::Ring& ring = membership_->state().ring();
  if (ring.Owner(partition).empty()) {
    return Status::Unavailable(
        "this node does not know the ring yet (it is joining the cluster); retry shortly");
  }
  LocateReply reply;
  reply.id = id;
  reply.partition = partition;
  reply.n = BucketPropsOf(id.bucket).n;
  reply.owner = ring.Owner(partition);
  reply.pending_owner = ring.PendingOwner(partition);
  // The walk the coordinators use (node_routing.cc): primaries first, then the fallbacks.
  cluster::PreferenceList list = PreferenceOf(partition, reply.n, /*with_fallbacks=*/true);
  reply.primaries = std::move(list.primaries);
  if (list.fallbacks.size() > reply.n) list.fallbacks.resize(reply.n);
  reply.fallbacks = std::move(list.fallbacks);
  return ReplyBody(std::move(reply));
}

Result<ReplyBody> Node::ReadLocalCopy(const ObjectId& id) {
  MERIDIAN_RETURN_IF_ERROR(store_.ValidateObjectId(id));
  const std::string storage_key = store_.ObjectStorageKey(id);
  LocalCopyReply reply;
  reply.node = config_.node_id;
  reply.partition = store_.PartitionOfObject(id);
  if (!OwnsPartition(reply.partition)) {
    return Status::Internal("partition " + std::to_string(reply.partition) +
                            " belongs to another shard of this node");
  }
  const cluster::Ring& ring = membership_->state().ring();
  if (!ring.Owner(reply.partition).empty()) {
    const std::vector<cluster::NodeId> primaries =
        PrimariesOf(reply.partition, BucketPropsOf(id.bucket).n);
    reply.holds_replica =
        std::find(primaries.begin(), primaries.end(), config_.node_id) != primaries.end() ||
        ring.PendingOwner(reply.partition) == config_.node_id;
  }
  // Straight from the engine, each copy as stored: unlike a replica read (ReadLocal), the
  // objects column and the hint are not merged, so a test can see which one holds what.
  auto stored = store_.Load(storage_key);
  if (!stored.ok()) return stored.status();
  reply.object = std::move(stored).value();
  auto hint = replication::FindHintRecord(*env_.engine, storage_key);
  if (!hint.ok()) return hint.status();
  if (hint->has_value()) {
    reply.hint = LocalCopyReply::Hint{std::move((*hint)->targets), std::move((*hint)->object)};
  }
  return ReplyBody(std::move(reply));
}

}  // namespace meridian::node
