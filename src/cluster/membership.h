// Membership: the sans-IO membership state machine of one node — its copy of the cluster state,
// push-pull gossip with one random peer per round, the join handshake, the admin commands and,
// on the node that is the claimant, the ring changes. See docs/design/membership.md.
//
// Inputs: Tick(now_ms, random), Receive(from_address, message, now_ms), the admin commands and
// ReportTransferComplete. Outputs: TakeOutbound() (messages to send; delivery is at most once,
// in any order) and the state accessors. Nothing here reads a clock, a socket or global
// randomness; given the same inputs and Random stream it behaves identically.
//
// Gossip round (initiator A, random peer B):
//   A -> B Syn{state digest hash}; equal hashes end the round (steady state: one tiny message).
//   B -> A Digest{(id, incarnation, version, content hash) per member, ring version key}.
//   A -> B Delta{records B lacks or has older, ring delta if B's ring is older, ids A wants}.
//   B -> A Delta{the wanted records, ring delta if A's ring is older} (is_reply: ends the round).
//
// Claimant: the smallest id among members with status up that this node does not consider
// unreachable (else the smallest joining member). Only the claimant's Tick changes ownership:
// it plans transfers toward ComputeClaim's targets, moves joining members to up, flips partitions
// whose transfer was reported complete and moves leaving members that hold nothing to removed.
// Transient failures never change ownership; SetUnreachable only moves the claimant role.
//
// Persistence duty of the caller: when state_version() changed, persist state() and this node's
// incarnation before acting on anything sent; after a restart construct with the persisted state
// and a raised self.incarnation. Not thread-safe: one owner calls everything.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/cluster_state.h"
#include "cluster/member.h"
#include "cluster/outbound.h"
#include "cluster/ring.h"
#include "core/clock.h"
#include "core/status.h"
#include "proto/gossip.pb.h"
#include "proto/peer.pb.h"

namespace meridian::cluster {

struct MembershipOptions {
  Member self;  // this node's record as configured (status, version: ignored when persisted)
  std::string cluster_name = "meridian";
  std::uint32_t partition_count = 256;  // used when there is no persisted state
  std::uint64_t gossip_interval_ms = 1000;
  std::size_t ring_history_length = 64;  // ring deltas kept to bring peers up to date
  std::uint32_t claim_n_val = 3;
  std::uint32_t join_attempts_max = 120;  // JoinRequests sent (one per tick) before giving up
};

struct MembershipCounters {
  std::uint64_t syns_sent = 0;
  std::uint64_t syns_in_sync = 0;  // Syns received whose digest matched ours
  std::uint64_t digests_sent = 0;
  std::uint64_t deltas_sent = 0;
  std::uint64_t full_rings_sent = 0;
  std::uint64_t join_requests_sent = 0;
  std::uint64_t foreign_cluster_ignored = 0;  // messages naming another cluster
  std::uint64_t invalid_ignored = 0;          // malformed records or unusable ring deltas
  std::uint64_t rings_deferred = 0;  // rings naming a node not yet known here (taken later)
};

class Membership {
 public:
  // Requires ValidateMember(options.self).ok(). `persisted` (if any) must name the same cluster
  // and is the state this node persisted before a restart.
  explicit Membership(MembershipOptions options,
                      std::optional<ClusterState> persisted = std::nullopt);

  // Gossips once per gossip interval, retries a pending join and, on the claimant, changes
  // the ring. Call at least once per gossip interval; now_ms must not go backwards.
  void Tick(std::uint64_t now_ms, Random& random);
  // A membership message from the node at `from_address`. Other bodies are ignored.
  void Receive(std::string_view from_address, const proto::PeerMessage& message,
               std::uint64_t now_ms);

  // Asks to join through any of `seed_addresses` (retried each Tick until some node's state
  // includes this node). InvalidArgument when the list is empty.
  Status Join(std::vector<std::string> seed_addresses);
  // Admin commands, accepted on any node and spread by gossip. NotFound for unknown ids
  // (Unavailable while this node's own join is pending: it does not know the cluster yet);
  // InvalidArgument for a removed member or a zero weight.
  Status Leave(const NodeId& id);
  Status Remove(const NodeId& id);
  Status SetWeight(const NodeId& id, std::uint32_t weight);
  // This node finished receiving `partition`, of which it is the pending owner (else
  // InvalidArgument). Reported to the claimant until the ring shows this node as the owner.
  Status ReportTransferComplete(std::uint32_t partition);
  // Sets a bucket's cluster-wide properties (gossiped). `version` is the HLC timestamp of the
  // change; the record is made to supersede the stored one. InvalidArgument for a bad bucket
  // name or invalid properties.
  Status SetBucketProps(const std::string& bucket, const BucketProps& props, std::uint64_t version);
  // Merges one bucket record learnt outside gossip (a bucket check names the sealed record);
  // returns whether it replaced the stored one.
  bool MergeBucketRecord(const std::string& bucket, const BucketPropsRecord& record);
  // The failure detector's opinion: these nodes are unreachable. Only affects which node acts
  // as claimant (and never this node's own role).
  void SetUnreachable(std::set<NodeId> unreachable);
  // For the shards of a node other than its shell (node/shell_view.h): `state`, the shell's,
  // replaces this one's; such a Membership is never ticked and hears no gossip.
  void Adopt(ClusterState state);

  std::vector<Outbound> TakeOutbound();

  const ClusterState& state() const { return state_; }
  const NodeId& self_id() const { return self_id_; }
  const Member& self() const;
  // Empty when there is no active member.
  NodeId Claimant() const;
  bool IsClaimant() const { return Claimant() == self_id_; }
  // True while a Join is waiting for the cluster's answer.
  bool joining() const { return join_pending_; }
  // Raised on every change of state(); persist when it differs from the last persisted one.
  std::uint64_t state_version() const { return state_version_; }
  const MembershipCounters& counters() const { return counters_; }

 private:
  // This node's record as its join request carries it: self(), except that a removed member
  // shows the incarnation and addresses of its latest start (see the constructor).
  Member JoiningSelf() const;
  // NotFound, or Unavailable while the join is pending (see Leave).
  Status UnknownMember(const NodeId& id) const;
  struct RingHistoryEntry {
    RingVersionKey base;
    RingVersionKey result;
    Ring::Delta delta;
  };

  // gossip (membership.cc)
  void StartGossipRound(Random& random);
  void OnSyn(std::string_view from_address, const proto::GossipSyn& syn);
  void OnDigest(std::string_view from_address, const proto::GossipDigest& digest);
  void OnDelta(std::string_view from_address, const proto::GossipDelta& delta);
  void OnJoinRequest(std::string_view from_address, const proto::JoinRequest& request);
  void OnTransferComplete(const proto::TransferComplete& report);
  void MergeMembers(const google::protobuf::RepeatedPtrField<proto::GossipMember>& members);
  void MergeOneMember(const Member& member);
  void ApplyRingDelta(const proto::RingDelta& message);
  // The delta from the ring `base` to ours: composed from history, or a full ring.
  void BuildRingDelta(const RingVersionKey& base, proto::RingDelta* out);
  void AddFullState(proto::GossipDelta* out);
  void Send(const std::string& to_address, proto::PeerMessage message);
  void PutMemberChange(Member member);  // raises the version and stores
  void CommitRing(const Ring& ring, const RingVersionKey& base, Ring::Delta delta,
                  const NodeId& claimant);
  void NoteStateChanged() { ++state_version_; }
  void MergeBucketProps(const google::protobuf::RepeatedPtrField<proto::BucketPropsEntry>& entries);

  // claimant (claimant.cc)
  void RunClaimant();
  void ResendTransferReports();
  std::uint64_t ClaimFingerprint() const;

  MembershipOptions options_;
  NodeId self_id_;
  ClusterState state_;
  std::deque<RingHistoryEntry> ring_history_;
  std::vector<Outbound> outbound_;
  std::uint64_t state_version_ = 0;
  std::uint64_t next_gossip_ms_ = 0;
  MembershipCounters counters_;

  bool join_pending_ = false;
  std::vector<std::string> join_seeds_;
  std::uint32_t join_attempts_ = 0;

  std::set<NodeId> unreachable_;
  std::set<std::uint32_t> reported_transfers_;                      // by this node
  std::set<std::pair<std::uint32_t, NodeId>> completed_transfers_;  // received as claimant
  std::optional<std::uint64_t> claim_fingerprint_;
};

}  // namespace meridian::cluster
