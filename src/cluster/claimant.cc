// The claimant's part of Membership: ring changes (see membership.h for the contract).
#include <xxhash.h>

#include <optional>

#include "cluster/claim.h"
#include "cluster/membership.h"
#include "core/assert.h"

namespace meridian::cluster {

namespace {

std::vector<ClaimMember> ClaimMembers(const ClusterState& state) {
  std::vector<ClaimMember> members;
  for (const ClusterState::MemberPointer& member : state.members()) {
    if (IsActive(member->status)) members.push_back({member->id, member->zone, member->weight});
  }
  return members;
}

std::vector<NodeId> FutureOwners(const Ring& ring) {
  std::vector<NodeId> owners(ring.partition_count());
  for (std::uint32_t partition = 0; partition < ring.partition_count(); ++partition) {
    owners[partition] = ring.FutureOwner(partition);
  }
  return owners;
}

}  // namespace

std::uint64_t Membership::ClaimFingerprint() const {
  XXH3_state_t* state = XXH3_createState();
  MERIDIAN_CHECK(state != nullptr);
  XXH3_64bits_reset(state);
  const char separator = '\0';
  for (const ClusterState::MemberPointer& member : state_.members()) {
    if (!IsActive(member->status)) continue;
    XXH3_64bits_update(state, member->id.data(), member->id.size());
    XXH3_64bits_update(state, &separator, 1);
    XXH3_64bits_update(state, member->zone.data(), member->zone.size());
    XXH3_64bits_update(state, &separator, 1);
    XXH3_64bits_update(state, &member->weight, sizeof member->weight);
  }
  // A ring published by another claimant may differ from what this node would plan; one it
  // changed itself only flips planned transfers, which leaves the future owners alone.
  if (state_.ring_claimant() != self_id_) {
    XXH3_64bits_update(state, &state_.ring_key().version, sizeof state_.ring_key().version);
    XXH3_64bits_update(state, &state_.ring_key().content_hash,
                       sizeof state_.ring_key().content_hash);
  }
  const std::uint64_t fingerprint = XXH3_64bits_digest(state);
  XXH3_freeState(state);
  return fingerprint;
}

void Membership::RunClaimant() {
  const RingVersionKey base = state_.ring_key();
  std::optional<Ring> working;
  auto ring = [&]() -> Ring& {
    if (!working) working.emplace(state_.ring());
    return *working;
  };

  // (1) Plan ownership toward the claim when the members or the ring changed.
  const std::vector<ClaimMember> members = ClaimMembers(state_);
  const std::uint64_t fingerprint = ClaimFingerprint();
  bool planned = false;
  if (!members.empty() && claim_fingerprint_ != fingerprint) {
    const ClaimOptions claim_options{options_.claim_n_val};
    if (state_.ring().Nodes().empty()) {
      // A brand-new ring: nothing to move, assign directly.
      const std::vector<NodeId> unowned(state_.partition_count());
      ring().AssignAll(ComputeClaim(unowned, members, claim_options));
    } else {
      const std::vector<NodeId> future = FutureOwners(state_.ring());
      std::vector<NodeId> targets = ComputeClaim(future, members, claim_options);
      if (targets != future) ring().PlanTransfers(targets);
    }
    planned = true;
  }

  // (2b) A removed owner streams nothing: its partitions flip to their pending owners at once.
  //      The new owner starts empty and is refilled from the other replicas (anti-entropy,
  //      read repair), as after a lost disk; the other n-1 replicas keep every key meanwhile.
  {
    const Ring& current = working ? *working : state_.ring();
    std::vector<std::uint32_t> orphaned;
    for (std::uint32_t partition = 0; partition < current.partition_count(); ++partition) {
      if (!current.PendingOwner(partition)) continue;
      const Member* owner = state_.FindMember(current.Owner(partition));
      if (owner != nullptr && owner->status == MemberStatus::kRemoved)
        orphaned.push_back(partition);
    }
    for (std::uint32_t partition : orphaned) ring().Complete(partition).IgnoreError();
  }

  // (3) Flip partitions whose pending owner reported the transfer complete.
  for (const auto& [partition, from_id] : completed_transfers_) {
    const auto pending = (working ? *working : state_.ring()).PendingOwner(partition);
    if (pending && *pending == from_id) ring().Complete(partition).IgnoreError();
  }
  completed_transfers_.clear();

  if (working && working->version() != base.version) {
    Ring::Delta delta = Ring::Diff(state_.ring(), *working);
    CommitRing(*working, base, std::move(delta), self_id_);
  }
  if (planned) claim_fingerprint_ = ClaimFingerprint();

  // (2) Joining members are in the published plan now: move them to up. That includes a
  //     member the ring already names (it restarted while joining and its record, with a
  //     higher incarnation, went back to joining; the claim does not change for it).
  // (4) Leaving members that own and receive nothing are removed.
  const std::vector<NodeId> ring_nodes = state_.ring().Nodes();
  std::vector<Member> changes;
  for (const ClusterState::MemberPointer& member : state_.members()) {
    const bool in_ring = std::binary_search(ring_nodes.begin(), ring_nodes.end(), member->id);
    if (member->status == MemberStatus::kJoining && (planned || in_ring)) {
      Member up = *member;
      up.status = MemberStatus::kUp;
      changes.push_back(std::move(up));
    } else if (member->status == MemberStatus::kLeaving && !in_ring) {
      Member removed = *member;
      removed.status = MemberStatus::kRemoved;
      changes.push_back(std::move(removed));
    }
  }
  for (Member& member : changes) PutMemberChange(std::move(member));
  // Moving members to up does not change the claim inputs (status joining and up both count).
  if (planned) claim_fingerprint_ = ClaimFingerprint();
}

void Membership::ResendTransferReports() {
  const Ring& ring = state_.ring();
  for (auto it = reported_transfers_.begin(); it != reported_transfers_.end();) {
    const auto pending = ring.PendingOwner(*it);
    if (!pending || *pending != self_id_) {
      it = reported_transfers_.erase(it);  // flipped (or replanned): nothing more to report
      continue;
    }
    const NodeId claimant = Claimant();
    if (claimant == self_id_) {
      completed_transfers_.emplace(*it, self_id_);
    } else if (const Member* member = state_.FindMember(claimant)) {
      proto::PeerMessage message;
      proto::TransferComplete* report = message.mutable_transfer_complete();
      report->set_cluster_name(state_.cluster_name());
      report->set_from_id(self_id_);
      report->set_partition(*it);
      report->set_ring_version(ring.version());
      Send(member->peer_address, std::move(message));
    }
    ++it;
  }
}

}  // namespace meridian::cluster
