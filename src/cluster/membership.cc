#include "cluster/membership.h"

#include "core/object_id.h"

#include <algorithm>
#include <map>
#include <tuple>
#include <utility>

#include "cluster/gossip_codec.h"
#include "core/assert.h"

namespace meridian::cluster {

Membership::Membership(MembershipOptions options, std::optional<ClusterState> persisted)
    : options_(std::move(options)),
      self_id_(options_.self.id),
      state_(persisted ? std::move(*persisted)
                       : ClusterState(options_.cluster_name, options_.partition_count)) {
  MERIDIAN_CHECK(ValidateMember(options_.self).ok());
  MERIDIAN_CHECK(state_.cluster_name() == options_.cluster_name);
  MERIDIAN_CHECK(options_.gossip_interval_ms > 0);
  const Member* known = state_.FindMember(self_id_);
  if (known == nullptr) {
    Member self = options_.self;
    self.status = MemberStatus::kJoining;
    self.version = std::max<std::uint64_t>(self.version, 1);
    state_.PutMember(self);
    NoteStateChanged();
    return;
  }
  // A removed member that restarts stays removed, and its record keeps the incarnation the
  // cluster knows: the raised one (with the configured addresses) goes in its join request
  // (Tick), which is accepted only from a removed member with a higher incarnation. Spread by
  // gossip now, it would leave a later `cluster join` nothing higher to show.
  if (known->status == MemberStatus::kRemoved) return;
  // A restart: keep the cluster's view of status and weight, take the configured addresses,
  // zone and the raised incarnation.
  Member self = *known;
  self.peer_address = options_.self.peer_address;
  self.http_address = options_.self.http_address;
  self.zone = options_.self.zone;
  self.shards = options_.self.shards;
  self.features = options_.self.features;
  self.incarnation = std::max(self.incarnation, options_.self.incarnation);
  // The same version with a higher incarnation: it supersedes the old record, but not an
  // administrative change made meanwhile (that has a higher version; see MergeOneMember).
  if (!(self == *known)) {
    state_.PutMember(self);
    NoteStateChanged();
  }
}

Member Membership::JoiningSelf() const {
  Member joining = self();
  if (joining.status == MemberStatus::kRemoved) {
    // See the constructor: the restart's incarnation and addresses.
    joining.peer_address = options_.self.peer_address;
    joining.http_address = options_.self.http_address;
    joining.zone = options_.self.zone;
    joining.shards = options_.self.shards;
    joining.features = options_.self.features;
    joining.incarnation = std::max(joining.incarnation, options_.self.incarnation);
  }
  return joining;
}

const Member& Membership::self() const {
  const Member* self = state_.FindMember(self_id_);
  MERIDIAN_CHECK(self != nullptr);
  return *self;
}

NodeId Membership::Claimant() const {
  const Member* first_joining = nullptr;
  for (const ClusterState::MemberPointer& member : state_.members()) {
    if (member->status == MemberStatus::kUp &&
        (member->id == self_id_ || !unreachable_.contains(member->id))) {
      return member->id;
    }
    if (member->status == MemberStatus::kJoining && first_joining == nullptr) {
      first_joining = member.get();
    }
  }
  return first_joining == nullptr ? NodeId() : first_joining->id;
}

void Membership::Tick(std::uint64_t now_ms, Random& random) {
  if (join_pending_ && join_attempts_ < options_.join_attempts_max) {
    proto::PeerMessage message;
    proto::JoinRequest* request = message.mutable_join_request();
    request->set_cluster_name(state_.cluster_name());
    request->set_partition_count(state_.partition_count());
    EncodeMember(JoiningSelf(), request->mutable_member());
    ++counters_.join_requests_sent;
    Send(join_seeds_[join_attempts_ % join_seeds_.size()], std::move(message));
    ++join_attempts_;
  }
  if (!join_pending_ && IsClaimant()) RunClaimant();
  ResendTransferReports();
  if (now_ms >= next_gossip_ms_) {
    next_gossip_ms_ = now_ms + options_.gossip_interval_ms;
    StartGossipRound(random);
  }
}

void Membership::StartGossipRound(Random& random) {
  std::vector<const Member*> peers;
  peers.reserve(state_.members().size());
  for (const ClusterState::MemberPointer& member : state_.members()) {
    if (member->id != self_id_ && member->status != MemberStatus::kRemoved) {
      peers.push_back(member.get());
    }
  }
  if (peers.empty()) return;
  const Member* peer = peers[random.Uniform(peers.size())];
  proto::PeerMessage message;
  proto::GossipSyn* syn = message.mutable_gossip_syn();
  syn->set_cluster_name(state_.cluster_name());
  syn->set_from_id(self_id_);
  syn->set_state_hash(state_.DigestHash());
  syn->set_ring_version(state_.ring().version());
  ++counters_.syns_sent;
  Send(peer->peer_address, std::move(message));
}

void Membership::Receive(std::string_view from_address, const proto::PeerMessage& message,
                         std::uint64_t /*now_ms*/) {
  const std::string* cluster_name = nullptr;
  switch (message.body_case()) {
    case proto::PeerMessage::kGossipSyn:
      cluster_name = &message.gossip_syn().cluster_name();
      break;
    case proto::PeerMessage::kGossipDigest:
      cluster_name = &message.gossip_digest().cluster_name();
      break;
    case proto::PeerMessage::kGossipDelta:
      cluster_name = &message.gossip_delta().cluster_name();
      break;
    case proto::PeerMessage::kJoinRequest:
      cluster_name = &message.join_request().cluster_name();
      break;
    case proto::PeerMessage::kTransferComplete:
      cluster_name = &message.transfer_complete().cluster_name();
      break;
    default:
      return;
  }
  if (*cluster_name != state_.cluster_name()) {
    ++counters_.foreign_cluster_ignored;
    return;
  }
  switch (message.body_case()) {
    case proto::PeerMessage::kGossipSyn:
      OnSyn(from_address, message.gossip_syn());
      break;
    case proto::PeerMessage::kGossipDigest:
      OnDigest(from_address, message.gossip_digest());
      break;
    case proto::PeerMessage::kGossipDelta:
      OnDelta(from_address, message.gossip_delta());
      break;
    case proto::PeerMessage::kJoinRequest:
      OnJoinRequest(from_address, message.join_request());
      break;
    case proto::PeerMessage::kTransferComplete:
      OnTransferComplete(message.transfer_complete());
      break;
    default:
      break;
  }
}

void Membership::OnSyn(std::string_view from_address, const proto::GossipSyn& syn) {
  if (syn.state_hash() == state_.DigestHash()) {
    ++counters_.syns_in_sync;
    return;
  }
  proto::PeerMessage message;
  proto::GossipDigest* digest = message.mutable_gossip_digest();
  digest->set_cluster_name(state_.cluster_name());
  digest->set_from_id(self_id_);
  digest->mutable_members()->Reserve(static_cast<int>(state_.members().size()));
  for (const ClusterState::MemberPointer& member : state_.members()) {
    proto::MemberVersion* entry = digest->add_members();
    entry->set_id(member->id);
    entry->set_incarnation(member->incarnation);
    entry->set_version(member->version);
    entry->set_content_hash(MemberContentHash(*member));
  }
  EncodeRingVersion(state_.ring_key(), digest->mutable_ring());
  EncodeBucketProps(state_, digest->mutable_buckets());
  ++counters_.digests_sent;
  Send(std::string(from_address), std::move(message));
}

namespace {

// True when a digest entry names exactly `member`'s record.
bool SameRecord(const Member& member, const proto::MemberVersion& entry) {
  return member.version == entry.version() && member.incarnation == entry.incarnation() &&
         MemberContentHash(member) == entry.content_hash();
}

}  // namespace

void Membership::OnDigest(std::string_view from_address, const proto::GossipDigest& digest) {
  // Bucket records travel in full: merge theirs, and send ours back if the sets differed.
  const std::uint64_t buckets_before = BucketPropsHash(state_);
  MergeBucketProps(digest.buckets());
  const bool send_buckets = BucketPropsHash(state_) != BucketPropsHashOf(digest.buckets()) ||
                            BucketPropsHash(state_) != buckets_before;
  std::vector<const proto::MemberVersion*> theirs;
  theirs.reserve(static_cast<std::size_t>(digest.members_size()));
  for (const proto::MemberVersion& entry : digest.members()) theirs.push_back(&entry);
  std::sort(theirs.begin(), theirs.end(),
            [](const proto::MemberVersion* a, const proto::MemberVersion* b) {
              return a->id() < b->id();
            });

  proto::PeerMessage message;
  proto::GossipDelta* delta = message.mutable_gossip_delta();
  const auto& ours = state_.members();
  std::size_t i = 0;
  std::size_t j = 0;
  while (i < ours.size() || j < theirs.size()) {
    if (j == theirs.size() || (i < ours.size() && ours[i]->id < theirs[j]->id())) {
      EncodeMember(*ours[i], delta->add_members());
      ++i;
    } else if (i == ours.size() || theirs[j]->id() < ours[i]->id) {
      delta->add_wanted_ids(theirs[j]->id());
      ++j;
    } else {
      // Records merge (MergeMembers): neither may simply be newer, so when they differ both
      // sides get the other's, and both end with the merge.
      const Member& member = *ours[i];
      if (!SameRecord(member, *theirs[j])) {
        EncodeMember(member, delta->add_members());
        delta->add_wanted_ids(member.id);
      }
      ++i;
      ++j;
    }
  }

  auto their_ring = DecodeRingVersion(digest.ring());
  if (!their_ring.ok()) {
    ++counters_.invalid_ignored;
    return;
  }
  if (RingSupersedes(state_.ring_key(), *their_ring)) {
    BuildRingDelta(*their_ring, delta->mutable_ring_delta());
  } else if (RingSupersedes(*their_ring, state_.ring_key())) {
    delta->set_wants_ring(true);
    EncodeRingVersion(state_.ring_key(), delta->mutable_sender_ring());
  }
  if (send_buckets) EncodeBucketProps(state_, delta->mutable_buckets());
  if (delta->members_size() == 0 && delta->wanted_ids_size() == 0 && !delta->has_ring_delta() &&
      !delta->wants_ring() && delta->buckets_size() == 0) {
    return;
  }
  delta->set_cluster_name(state_.cluster_name());
  delta->set_from_id(self_id_);
  ++counters_.deltas_sent;
  Send(std::string(from_address), std::move(message));
}

void Membership::OnDelta(std::string_view from_address, const proto::GossipDelta& delta) {
  MergeMembers(delta.members());
  MergeBucketProps(delta.buckets());
  if (delta.has_ring_delta()) ApplyRingDelta(delta.ring_delta());
  if (join_pending_ && delta.from_id() != self_id_) {
    for (const proto::GossipMember& member : delta.members()) {
      if (member.id() == self_id_) join_pending_ = false;
    }
  }
  if (delta.is_reply()) return;

  proto::PeerMessage message;
  proto::GossipDelta* reply = message.mutable_gossip_delta();
  for (const std::string& id : delta.wanted_ids()) {
    if (const Member* member = state_.FindMember(id)) EncodeMember(*member, reply->add_members());
  }
  if (delta.buckets_size() > 0 && BucketPropsHashOf(delta.buckets()) != BucketPropsHash(state_)) {
    EncodeBucketProps(state_, reply->mutable_buckets());
  }
  if (delta.wants_ring()) {
    auto their_ring = DecodeRingVersion(delta.sender_ring());
    if (their_ring.ok() && RingSupersedes(state_.ring_key(), *their_ring)) {
      BuildRingDelta(*their_ring, reply->mutable_ring_delta());
    }
  }
  if (reply->members_size() == 0 && !reply->has_ring_delta() && reply->buckets_size() == 0) return;
  reply->set_cluster_name(state_.cluster_name());
  reply->set_from_id(self_id_);
  reply->set_is_reply(true);
  ++counters_.deltas_sent;
  Send(std::string(from_address), std::move(message));
}

void Membership::MergeMembers(
    const google::protobuf::RepeatedPtrField<proto::GossipMember>& members) {
  for (const proto::GossipMember& encoded : members) {
    auto member = DecodeMember(encoded);
    if (!member.ok()) {
      ++counters_.invalid_ignored;
      continue;
    }
    MergeOneMember(*member);
  }
}

void Membership::MergeOneMember(const Member& member) {
  if (member.id == self_id_) {
    const Member& self_record = self();
    // A change made elsewhere to this node's record while it ran an older incarnation (an
    // admin's leave, remove or weight): adopt its status and weight under this incarnation,
    // with the same version, so the merged record supersedes both.
    if (member.generation == self_record.generation &&
        member.incarnation < self_record.incarnation && member.version >= self_record.version &&
        MemberSupersedes(member, self_record)) {
      Member adopted = self_record;
      adopted.status = std::max(member.status, self_record.status);
      adopted.weight = member.weight;
      adopted.version = member.version;
      state_.PutMember(adopted);
      NoteStateChanged();
      return;
    }
  }
  if (state_.MergeMember(member)) NoteStateChanged();
}

void Membership::OnJoinRequest(std::string_view from_address, const proto::JoinRequest& request) {
  auto member = DecodeMember(request.member());
  if (!member.ok() || request.partition_count() != state_.partition_count()) {
    ++counters_.invalid_ignored;
    return;
  }
  const Member* known = state_.FindMember(member->id);
  if (known == nullptr ||
      (known->status == MemberStatus::kRemoved && member->incarnation > known->incarnation)) {
    Member joining = *member;
    joining.status = MemberStatus::kJoining;
    joining.version = std::max(joining.version, known == nullptr ? 0 : known->version);
    // A removed member joining again starts a new membership (see MergeMembers).
    if (known != nullptr) joining.generation = known->generation + 1;
    PutMemberChange(std::move(joining));
  } else if (member->id != self_id_) {
    MergeOneMember(*member);
  }
  proto::PeerMessage message;
  AddFullState(message.mutable_gossip_delta());
  message.mutable_gossip_delta()->set_is_reply(true);
  ++counters_.deltas_sent;
  Send(std::string(from_address), std::move(message));
}

void Membership::AddFullState(proto::GossipDelta* out) {
  out->set_cluster_name(state_.cluster_name());
  out->set_from_id(self_id_);
  out->mutable_members()->Reserve(static_cast<int>(state_.members().size()));
  for (const ClusterState::MemberPointer& member : state_.members()) {
    EncodeMember(*member, out->add_members());
  }
  if (state_.ring().version() > 0) BuildRingDelta(RingVersionKey{}, out->mutable_ring_delta());
  EncodeBucketProps(state_, out->mutable_buckets());
}

void Membership::MergeBucketProps(
    const google::protobuf::RepeatedPtrField<proto::BucketPropsEntry>& entries) {
  for (const proto::BucketPropsEntry& entry : entries) {
    auto record = DecodeBucketPropsEntry(entry);
    if (!record.ok()) {
      ++counters_.invalid_ignored;
      continue;
    }
    if (state_.MergeBucketProps(entry.bucket(), *record)) NoteStateChanged();
  }
}

Status Membership::SetBucketProps(const std::string& bucket, const BucketProps& props,
                                  std::uint64_t version) {
  MERIDIAN_RETURN_IF_ERROR(ValidateBucketName(bucket));
  MERIDIAN_RETURN_IF_ERROR(ValidateBucketProps(props));
  BucketPropsRecord record{props, version, self_id_};
  if (const BucketPropsRecord* current = state_.FindBucketProps(bucket)) {
    // Never lose to an older change: the new record must supersede what is stored.
    record.version = std::max(version, current->version + 1);
  }
  if (state_.MergeBucketProps(bucket, record)) NoteStateChanged();
  return Status::Ok();
}

bool Membership::MergeBucketRecord(const std::string& bucket, const BucketPropsRecord& record) {
  if (!state_.MergeBucketProps(bucket, record)) return false;
  NoteStateChanged();
  return true;
}

void Membership::BuildRingDelta(const RingVersionKey& base, proto::RingDelta* out) {
  EncodeRingVersion(state_.ring_key(), out->mutable_result());
  auto start =
      std::find_if(ring_history_.begin(), ring_history_.end(), [&](const RingHistoryEntry& entry) {
        return entry.base.version == base.version && entry.base.content_hash == base.content_hash;
      });
  if (base.version == 0 || start == ring_history_.end()) {
    const Ring::Delta full = Ring::Diff(Ring(state_.partition_count()), state_.ring());
    EncodeRingVersion(RingVersionKey{}, out->mutable_base());
    out->set_full(true);
    EncodeRingChanges(full, out);
    ++counters_.full_rings_sent;
    return;
  }
  // Compose the history from `base` on: the latest state of each changed partition.
  std::map<std::uint32_t, Ring::Change> changes;
  for (auto it = start; it != ring_history_.end(); ++it) {
    for (const Ring::Change& change : it->delta.changes) changes[change.partition] = change;
  }
  Ring::Delta composed;
  composed.base_version = base.version;
  composed.version = state_.ring().version();
  composed.changes.reserve(changes.size());
  for (auto& [partition, change] : changes) composed.changes.push_back(std::move(change));
  EncodeRingVersion(start->base, out->mutable_base());
  EncodeRingChanges(composed, out);
}

void Membership::ApplyRingDelta(const proto::RingDelta& message) {
  auto result = DecodeRingVersion(message.result());
  auto base = DecodeRingVersion(message.base());
  auto delta = DecodeRingChanges(message);
  if (!result.ok() || !base.ok() || !delta.ok()) {
    ++counters_.invalid_ignored;
    return;
  }
  if (!RingSupersedes(*result, state_.ring_key())) return;
  const bool continues_ours = !message.full() && base->version == state_.ring_key().version &&
                              base->content_hash == state_.ring_key().content_hash;
  if (!message.full() && !continues_ours) {
    ++counters_.invalid_ignored;  // our ring changed meanwhile; the next round catches up
    return;
  }
  Ring ring = message.full() ? Ring(state_.partition_count()) : state_.ring();
  if (!ring.Apply(*delta).ok() || ring.version() != result->version ||
      RingContentHash(ring) != result->content_hash) {
    ++counters_.invalid_ignored;
    return;
  }
  // A ring naming a node this state has no record of is not taken: the sender thought this node
  // had the record (a digest it sent before a crash lost it, say), and a ring without its
  // members would route to an address nobody knows. The next exchange brings the record first
  // (a delta's members are merged before its ring). Found by the simulator:
  // strong-cluster-membership seed 169.
  for (std::uint32_t partition = 0; partition < ring.partition_count(); ++partition) {
    const std::optional<NodeId> pending = ring.PendingOwner(partition);
    if (state_.FindMember(ring.Owner(partition)) == nullptr ||
        (pending && state_.FindMember(*pending) == nullptr)) {
      ++counters_.rings_deferred;
      return;
    }
  }
  if (message.full()) ring_history_.clear();
  CommitRing(ring, state_.ring_key(), message.full() ? Ring::Delta{} : std::move(*delta),
             result->claimant);
}

void Membership::CommitRing(const Ring& ring, const RingVersionKey& base, Ring::Delta delta,
                            const NodeId& claimant) {
  const std::uint64_t content_hash = RingContentHash(ring);
  auto shared = std::make_shared<const Ring>(ring);
  const bool keep_history = !delta.changes.empty() || delta.version != 0;
  state_.PutRing(std::move(shared), content_hash, claimant);
  if (keep_history && options_.ring_history_length > 0) {
    ring_history_.push_back({base, state_.ring_key(), std::move(delta)});
    while (ring_history_.size() > options_.ring_history_length) ring_history_.pop_front();
  }
  NoteStateChanged();
}

void Membership::OnTransferComplete(const proto::TransferComplete& report) {
  if (!IsClaimant() || report.partition() >= state_.partition_count()) return;
  if (!ValidateNodeId(report.from_id()).ok()) {
    ++counters_.invalid_ignored;
    return;
  }
  completed_transfers_.emplace(report.partition(), report.from_id());
}

void Membership::Send(const std::string& to_address, proto::PeerMessage message) {
  outbound_.push_back(Outbound{to_address, std::move(message)});
}

void Membership::PutMemberChange(Member member) {
  const Member* known = state_.FindMember(member.id);
  if (known != nullptr) member.version = std::max(member.version, known->version);
  ++member.version;
  state_.PutMember(member);
  NoteStateChanged();
}

std::vector<Outbound> Membership::TakeOutbound() {
  return std::exchange(outbound_, {});
}

Status Membership::Join(std::vector<std::string> seed_addresses) {
  if (seed_addresses.empty()) return Status::InvalidArgument("join needs at least one seed");
  join_seeds_ = std::move(seed_addresses);
  join_attempts_ = 0;
  join_pending_ = true;
  return Status::Ok();
}

Status Membership::UnknownMember(const NodeId& id) const {
  if (join_pending_) {
    // Not an answer about the cluster: this node has not received its state yet.
    return Status::Unavailable("this node is still joining the cluster and does not know " + id +
                               " yet; retry, or ask another node");
  }
  return Status::NotFound("no member " + id);
}

Status Membership::Leave(const NodeId& id) {
  const Member* member = state_.FindMember(id);
  if (member == nullptr) return UnknownMember(id);
  if (member->status == MemberStatus::kRemoved) {
    return Status::InvalidArgument("member " + id + " is removed");
  }
  if (member->status == MemberStatus::kLeaving) return Status::Ok();
  Member changed = *member;
  changed.status = MemberStatus::kLeaving;
  PutMemberChange(std::move(changed));
  return Status::Ok();
}

Status Membership::Remove(const NodeId& id) {
  const Member* member = state_.FindMember(id);
  if (member == nullptr) return UnknownMember(id);
  if (member->status == MemberStatus::kRemoved) return Status::Ok();
  Member changed = *member;
  changed.status = MemberStatus::kRemoved;
  PutMemberChange(std::move(changed));
  return Status::Ok();
}

Status Membership::SetWeight(const NodeId& id, std::uint32_t weight) {
  if (weight == 0) return Status::InvalidArgument("weight must be positive");
  const Member* member = state_.FindMember(id);
  if (member == nullptr) return UnknownMember(id);
  if (member->status == MemberStatus::kRemoved) {
    return Status::InvalidArgument("member " + id + " is removed");
  }
  if (member->weight == weight) return Status::Ok();
  Member changed = *member;
  changed.weight = weight;
  PutMemberChange(std::move(changed));
  return Status::Ok();
}

Status Membership::ReportTransferComplete(std::uint32_t partition) {
  if (partition >= state_.partition_count()) {
    return Status::InvalidArgument("partition out of range");
  }
  const auto pending = state_.ring().PendingOwner(partition);
  if (!pending || *pending != self_id_) {
    return Status::InvalidArgument("this node is not the pending owner of partition " +
                                   std::to_string(partition));
  }
  reported_transfers_.insert(partition);
  if (IsClaimant()) completed_transfers_.emplace(partition, self_id_);
  return Status::Ok();
}

void Membership::SetUnreachable(std::set<NodeId> unreachable) {
  unreachable_ = std::move(unreachable);
}

void Membership::Adopt(ClusterState state) {
  MERIDIAN_CHECK(state.cluster_name() == state_.cluster_name() &&
                 state.partition_count() == state_.partition_count());
  state_ = std::move(state);
  NoteStateChanged();
}

}  // namespace meridian::cluster
