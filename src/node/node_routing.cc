// Node: routing object requests — validation, quorum resolution, forwarding writes to a
// primary of the key — and the ring-derived placement the coordinators use (see node.h).
#include <algorithm>
#include <set>
#include <type_traits>
#include <variant>

#include "core/assert.h"
#include "core/object_id.h"
#include "node/bucket_change.h"
#include "node/kv_codec.h"
#include "node/node.h"

namespace meridian::node {

namespace {
const ObjectId& IdOf(const ClientRequest& request) {
  if (const auto* get = std::get_if<GetRequest>(&request)) return get->id;
  if (const auto* put = std::get_if<PutRequest>(&request)) return put->id;
  return std::get<DeleteRequest>(request).id;
}

const RequestOptions& OptionsOf(const ClientRequest& request) {
  if (const auto* get = std::get_if<GetRequest>(&request)) return get->options;
  if (const auto* put = std::get_if<PutRequest>(&request)) return put->options;
  return std::get<DeleteRequest>(request).options;
}

proto::KvRequest::Op OpOf(const ClientRequest& request) {
  if (std::holds_alternative<GetRequest>(request)) return proto::KvRequest::OP_GET;
  if (std::holds_alternative<PutRequest>(request)) return proto::KvRequest::OP_PUT;
  return proto::KvRequest::OP_DELETE;
}

ClientReply ErrorReply(Status status) {
  ClientReply reply;
  reply.status = std::move(status);
  return reply;
}

std::string JoinIds(const std::vector<cluster::NodeId>& ids) {
  std::string out;
  for (const cluster::NodeId& id : ids) {
    if (!out.empty()) out += ", ";
    out += id;
  }
  return out;
}
// A write with a condition (If-Match, If-None-Match, SET NX/XX). In an eventual bucket only a
// primary checks it (write_condition_check.h): a fallback never coordinates one.
bool Conditional(const ClientRequest& request) {
  if (const auto* put = std::get_if<PutRequest>(&request)) {
    return put->condition != WriteCondition::kNone;
  }
  if (const auto* del = std::get_if<DeleteRequest>(&request)) {
    return del->condition != WriteCondition::kNone;
  }
  return false;
}

// A write's fixed version (FixedVersion); nullptr for a read.
std::optional<FixedVersion>* FixedVersionOf(ClientRequest& request) {
  if (auto* put = std::get_if<PutRequest>(&request)) return &put->fixed_version;
  if (auto* del = std::get_if<DeleteRequest>(&request)) return &del->fixed_version;
  return nullptr;
}

bool HasFixedVersion(const ClientRequest& request) {
  if (const auto* put = std::get_if<PutRequest>(&request)) return put->fixed_version.has_value();
  if (const auto* del = std::get_if<DeleteRequest>(&request)) return del->fixed_version.has_value();
  return false;
}

// What a retained copy of a forwarded write costs (ForwardedRequests::Entry::retained).
std::size_t RetainedBytes(const ClientRequest& request) {
  if (const auto* put = std::get_if<PutRequest>(&request)) {
    return put->id.bucket.size() + put->id.key.size() + put->value.size() + put->context.size();
  }
  if (const auto* del = std::get_if<DeleteRequest>(&request)) {
    return del->id.bucket.size() + del->id.key.size() + del->context.size();
  }
  return 0;
}
}  // namespace

bool Node::AppliesFixedVersions(const cluster::NodeId& node) const {
  if (node == config_.node_id) return true;
  const cluster::Member* member = membership_->state().FindMember(node);
  return member != nullptr && (member->features & cluster::kMemberFeatureFixedVersions) != 0;
}

void Node::Route(const Origin& origin, ClientRequest request, std::uint32_t hops) {
  const proto::KvRequest::Op op = OpOf(request);
  const ObjectId& id = IdOf(request);
  // Validate before hashing: every node refuses a bad request the same way, locally.
  if (Status valid = store_.ValidateObjectId(id); !valid.ok()) {
    Deliver(origin, op, ErrorReply(std::move(valid)));
    return;
  }
  const std::uint32_t partition = store_.PartitionOfObject(id);
  if (!OwnsPartition(partition)) {
    Deliver(origin, op,
            ErrorReply(Status::Internal("partition " + std::to_string(partition) +
                                        " belongs to another shard of this node")));
    return;
  }
  const cluster::Ring& ring = membership_->state().ring();
  if (ring.Owner(partition).empty()) {
    Deliver(origin, op,
            ErrorReply(Status::Unavailable("this node does not know the ring yet (it is joining "
                                           "the cluster); retry shortly")));
    return;
  }
  RefreshPlacement();
  const BucketProps props = BucketPropsOf(id.bucket);
  if (props.sealed || held_buckets_.count(id.bucket) != 0) {
    Deliver(origin, op, ErrorReply(SealedBucketStatus(id.bucket)));
    return;
  }
  // A write with a fixed version may have been applied elsewhere under it: only nodes that
  // apply that version may take it (else the write would exist under two dots).
  const bool fixed = HasFixedVersion(request);
  if (props.consistency == Consistency::kStrong) {
    if (fixed) {
      // Forwarded by a node that saw the bucket eventual (its properties are changing).
      Deliver(origin, op,
              ErrorReply(Status::Unavailable(
                  "a write forwarded with a fixed version reached a strong bucket (the bucket's "
                  "properties are changing); the request may or may not have been applied")));
      return;
    }
    RouteStrong(origin, std::move(request), props, partition, hops);
    return;
  }
  auto quorum = ResolveQuorum(props, OptionsOf(request), ring_nodes_);
  if (!quorum.ok()) {
    Deliver(origin, op, ErrorReply(quorum.status()));
    return;
  }
  if (reads_.size() - answered_reads_ + writes_.size() >= config_.coordinators_max) {
    Deliver(origin, op,
            ErrorReply(Status::Unavailable("too many requests in flight on this node (" +
                                           std::to_string(config_.coordinators_max) +
                                           "); the request was not applied")));
    return;
  }
  if (const auto* get = std::get_if<GetRequest>(&request)) {
    CoordinateGet(origin, *get, *quorum, props.conflict_policy);
    return;
  }

  // A write is coordinated by a primary: it mints the dot under its own actor id.
  const cluster::NodeId& self = config_.node_id;
  const std::vector<cluster::NodeId> primaries = PrimariesOf(partition, quorum->n);
  const auto avoided = [&origin](const cluster::NodeId& node) {
    return std::find(origin.unanswered_by.begin(), origin.unanswered_by.end(), node) !=
           origin.unanswered_by.end();
  };
  if (!storage_condition_.ok()) {
    // This node takes no new data (its disk is full, or its storage failed): another
    // reachable primary coordinates the write, or the client hears why.
    const auto other = std::find_if(primaries.begin(), primaries.end(),
                                    [this, &self, &avoided, fixed](const cluster::NodeId& node) {
                                      return node != self && !avoided(node) && Reachable(node) &&
                                             !AddressOf(node).empty() &&
                                             (!fixed || AppliesFixedVersions(node));
                                    });
    if (other != primaries.end() && hops < config_.forward_hops_max) {
      Forward(origin, std::move(request), *other, hops, /*hedgeable=*/false);
      return;
    }
    ++writes_refused_storage_;
    Deliver(origin, op, ErrorReply(storage_condition_));
    return;
  }
  if (std::find(primaries.begin(), primaries.end(), self) != primaries.end()) {
    CoordinateWrite(origin, std::move(request), *quorum, props.conflict_policy, hops);
    return;
  }
  // Forwarded here by a node whose ring (newer or older) makes this node a primary: while the
  // ring changes, views differ by a gossip round. A node that keeps the partition coordinates
  // rather than bouncing the write on (found by tests/e2e/test_cluster.py's join under load).
  if (hops > 0 && HoldsReplica(partition)) {
    CoordinateWrite(origin, std::move(request), *quorum, props.conflict_policy, hops);
    return;
  }
  const auto reachable = std::find_if(
      primaries.begin(), primaries.end(), [this, &avoided, fixed](const cluster::NodeId& node) {
        return !avoided(node) && Reachable(node) && !AddressOf(node).empty() &&
               (!fixed || AppliesFixedVersions(node));
      });
  if (reachable != primaries.end() && hops < config_.forward_hops_max) {
    const bool hedgeable = quorum->sloppy_quorum && !Conditional(request);
    Forward(origin, std::move(request), *reachable, hops, hedgeable);
    return;
  }
  if (quorum->sloppy_quorum && !Conditional(request)) {
    // Always writable: no primary is reachable (or the write already bounced between nodes
    // whose rings differ), so this node coordinates as a fallback.
    CoordinateWrite(origin, std::move(request), *quorum, props.conflict_policy, hops);
    return;
  }
  if (reachable == primaries.end()) {
    Deliver(origin, op,
            ErrorReply(Status::Unavailable(
                "no primary of the key is reachable (primaries: " + JoinIds(primaries) + ")" +
                (Conditional(request) ? "; a conditional write is checked by a primary"
                                      : " and sloppy_quorum is off") +
                "; the request was not applied")));
    return;
  }
  Deliver(origin, op,
          ErrorReply(Status::Unavailable("request was forwarded " + std::to_string(hops) +
                                         " times without reaching a primary of the key (the "
                                         "ring is changing); retry shortly")));
}

void Node::Forward(const Origin& origin, ClientRequest request, const cluster::NodeId& target,
                   std::uint32_t hops, bool hedgeable) {
  const proto::KvRequest::Op op = OpOf(request);
  const std::string address = AddressOf(target);
  ForwardedRequests::Entry entry{origin,  op,
                                 address, NowMs() + config_.forward_timeout_ms,
                                 NowMs(), store_.PartitionOfObject(IdOf(request))};
  entry.hops = hops;
  entry.peer_node = target;
  // Hedged forwarding: the version is fixed here, before the write leaves this node, so that
  // whoever applies it — `target`, or another node after `target` went silent — applies the
  // same version, and a copy is kept to route it again. A write that already has one (routed
  // again, or forwarded here) keeps it.
  if (std::optional<FixedVersion>* fixed = FixedVersionOf(request); fixed != nullptr) {
    const std::size_t bytes = RetainedBytes(request);
    const bool room = forwarded_.retained_bytes() + bytes <= config_.hedge_retained_bytes_max;
    if (!fixed->has_value() && hedgeable && room && config_.single_use_entries_max > 0 &&
        AppliesFixedVersions(target)) {
      *fixed = store_.DrawFixedVersion();
      entry.fixed_here = true;
      ++forwards_fixed_;
    }
    if (fixed->has_value() && room) {
      entry.retained = request;
      entry.retained_bytes = bytes;
    }
  }
  const std::optional<std::uint64_t> forward_id = forwarded_.Track(std::move(entry));
  if (!forward_id) {
    Deliver(origin, op,
            ErrorReply(Status::Unavailable("too many forwarded requests in flight (" +
                                           std::to_string(config_.forwarded_requests_max) + ")")));
    return;
  }
  cluster::Outbound out;
  out.to_address = address;
  *out.message.mutable_kv_request() = EncodeKvRequest(*forward_id, request, hops + 1);
  outbound_.push_back(std::move(out));
}

void Node::NoteIfSlowForward(const ForwardedRequests::Entry& entry, const Status& outcome) {
  const std::uint64_t now_ms = NowMs();
  const std::uint64_t took_ms = now_ms > entry.started_ms ? now_ms - entry.started_ms : 0;
  if (!slow_requests_.IsSlow(took_ms)) return;
  std::string what = OpName(entry.op);
  slow_requests_.Add(took_ms, what + " (partition " + std::to_string(entry.partition) + ") " +
                                  entry.origin.Describe() +
                                  ", forwarded on to the coordinator at " + entry.peer_address +
                                  ", took " + std::to_string(took_ms) + " ms (" +
                                  (outcome.ok() ? std::string("ok") : outcome.ToString()) + ")");
}

void Node::ExpireForwards() {
  const std::uint64_t now_ms = NowMs();
  for (ForwardedRequests::Entry& entry : forwarded_.Expire(now_ms)) {
    NoteIfSlowForward(entry, Status::Timeout("no answer"));
    Deliver(entry.origin, entry.op,
            ErrorReply(Status::Timeout("the coordinator at " + entry.peer_address +
                                       " did not answer within " +
                                       std::to_string(config_.forward_timeout_ms) +
                                       " ms; the request may or may not have been applied")));
  }
  // A forward to a peer that went silent (suspected: nothing at all arrived from it for
  // peer_suspect_after_ms since a request) is not waited on until its deadline. With a fixed
  // version (hedged forwarding) it is routed again under it; without one it is answered now
  // ("may or may not"), and not re-sent: the silent peer may have applied it, and a copy
  // minted anew would be the same write under two dots.
  if (forwarded_.size() == 0) return;
  const auto silent = [&](const std::string& address) {
    return suspicion_.Suspect(address, now_ms) || shell_suspects_.count(address) != 0;
  };
  for (ForwardedRequests::Entry& entry : forwarded_.Abandon(silent)) {
    if (entry.retained.has_value()) {
      // Its version was fixed before it was sent: routed again (the silent peer is no longer
      // reachable in this node's view), it is applied under the same version wherever it
      // lands, so it is one write even if the silent peer applied it too.
      ++forwards_hedged_;
      NoteIfSlowForward(entry, Status::Timeout("no answer, the peer went silent; routed again"));
      Origin origin = entry.origin;
      origin.unanswered_by.push_back(entry.peer_node);
      Route(origin, std::move(*entry.retained), entry.hops + 1);
      continue;
    }
    NoteIfSlowForward(entry, Status::Timeout("no answer, the peer went silent"));
    Deliver(entry.origin, entry.op,
            ErrorReply(Status::Timeout("the coordinator at " + entry.peer_address +
                                       " went silent (nothing from it for " +
                                       std::to_string(config_.suspicion.suspect_after_ms) +
                                       " ms); the request may or may not have been applied")));
  }
  // A forward with a fixed version that its peer did not answer within forward_hedge_after_ms,
  // although that peer is not suspected (it answers other traffic; the forward or its answer
  // was lost, or it is stuck on it), is routed again the same way, avoiding that peer and every
  // other that left it unanswered before (each routing spends a hop: past forward_hops_max it
  // is coordinated here). Silence, checked first, is the more specific diagnosis.
  if (config_.forward_hedge_after_ms > 0) {
    for (ForwardedRequests::Entry& entry :
         forwarded_.TakeUnanswered(now_ms, config_.forward_hedge_after_ms)) {
      ++forwards_hedged_;
      ++forwards_hedged_unanswered_;
      NoteIfSlowForward(entry, Status::Timeout("no answer within " +
                                               std::to_string(config_.forward_hedge_after_ms) +
                                               " ms; routed again"));
      Origin origin = entry.origin;
      origin.unanswered_by.push_back(entry.peer_node);
      Route(origin, std::move(*entry.retained), entry.hops + 1);
    }
  }
}

void Node::RefreshPlacement() {
  const cluster::ClusterState& state = membership_->state();
  if (placement_state_version_ == membership_->state_version()) return;
  placement_state_version_ = membership_->state_version();
  std::set<std::uint32_t> ns{BucketProps{}.n};
  for (const auto& [bucket, record] : state.bucket_props()) ns.insert(record.props.n);
  const std::uint32_t n_max = *ns.rbegin();
  if (placement_ring_hash_ == state.ring_key().content_hash && placement_ns_ == ns) return;
  placement_ring_hash_ = state.ring_key().content_hash;
  placement_n_max_ = n_max;
  placement_ns_ = std::move(ns);
  const cluster::Ring& ring = state.ring();
  std::set<cluster::NodeId> owners;
  for (std::uint32_t partition = 0; partition < ring.partition_count(); ++partition) {
    if (!ring.Owner(partition).empty()) owners.insert(ring.Owner(partition));
  }
  ring_nodes_ = std::max<std::uint32_t>(1, static_cast<std::uint32_t>(owners.size()));
  RecomputePlacements(/*first=*/placements_.empty());
}

bool Node::HoldsReplica(std::uint32_t partition) {
  RefreshPlacement();
  return placements_.at(partition).holds;
}

cluster::ZoneOf Node::ZoneLookup() const {
  const cluster::ClusterState* state = &membership_->state();
  return [state](const cluster::NodeId& node) {
    const cluster::Member* member = state->FindMember(node);
    return member == nullptr ? std::string() : member->zone;
  };
}

cluster::PreferenceList Node::PreferenceOf(std::uint32_t partition, std::uint32_t n,
                                           bool with_fallbacks) const {
  const cluster::Ring& ring = membership_->state().ring();
  if (with_fallbacks) return cluster::ComputePreferenceList(ring, ZoneLookup(), partition, n);
  cluster::PreferenceList list;
  list.primaries = PrimariesOf(partition, n);
  return list;
}

std::vector<cluster::NodeId> Node::PrimariesOf(std::uint32_t partition, std::uint32_t n) const {
  const cluster::Ring& ring = membership_->state().ring();
  if (primaries_cache_version_ != membership_->state_version() ||
      primaries_cache_.size() != ring.partition_count()) {
    primaries_cache_version_ = membership_->state_version();
    primaries_cache_.assign(ring.partition_count(), {});
    primaries_cache_n_.assign(ring.partition_count(), 0);
  }
  MERIDIAN_CHECK(partition < primaries_cache_.size());
  std::vector<cluster::NodeId>& cached = primaries_cache_[partition];
  if (primaries_cache_n_[partition] < n) {
    cached = cluster::ComputePrimaries(ring, ZoneLookup(), partition, n);
    primaries_cache_n_[partition] = n;
  }
  // The walk for a smaller n is a prefix of the cached one.
  return {cached.begin(), cached.begin() + std::min<std::size_t>(n, cached.size())};
}

bool Node::Reachable(const cluster::NodeId& node) const {
  if (node == config_.node_id) return true;
  const std::string address = AddressOf(node);
  return IsAlive(node) && !suspicion_.Suspect(address, NowMs()) &&
         shell_suspects_.count(address) == 0;
}

std::string Node::AddressOf(const cluster::NodeId& node) const {
  const cluster::Member* member = membership_->state().FindMember(node);
  return member == nullptr ? std::string() : member->peer_address;
}

}  // namespace meridian::node
