// PartitionReplica: one partition's role on this node and the background work that role owns
// (riak_core's "vnode"). Node keeps one per partition that has any such state, routes the
// partition's inputs to it and carries out its outputs; everything a partition needs to move
// or heal lives here, not in maps on Node.
//
// Roles, from the placement (PartitionPlacement) the node gives it whenever the ring changes:
//   * owner with a pending owner: streams the partition to it (an ownership HandoffSender),
//     mirrors writes made meanwhile, and once everything is acknowledged forwards the
//     partition's requests there until the ring flips; then the data here is dropped, or
//     handed to the replicas first if a write reached it after the stream completed;
//   * replica that joined the partition's preference list (not its owner): asks the owner for
//     a copy (a fill) until a complete one arrives, and its "not found" does not count as a
//     replica's meanwhile (Filling);
//   * replica asked for a fill by another replica: streams it a copy;
//   * holder of data of a partition it does not keep ("orphan": it left the list, a stream it
//     received was re-planned elsewhere, a replica write came from an older ring): hands the
//     data to every replica, one at a time in preference order, then drops it;
//   * pending owner that received the partition in full: reports the transfer complete to the
//     claimant until the ring flips;
//   * fallback: keeps hints of the partition for primaries that were unreachable and delivers
//     them once they are back (replication::HintedHandoff, created on the first hint).
//
// Inputs: OnPlacement, Tick, OnHandoffAck, OnFillRequest, OnStored (a write reached the local
// objects column), OnForeignData (data of this partition arrived although it does not keep
// it), OnIncomingComplete, OnFillComplete, TickHints, OnHintAck. Outputs: TakeOutput(): messages to
// send and persistence duties. It reads the engine (scans for streams and drops) but writes only
// through the batch it returns from Drop().
//
// Ordering duties for the node: carry out a PartitionOutput's persistence (forwarding,
// completed transfers; synced) before its messages leave — a crash must not forget a completed
// stream that a peer was already told about.
//
// Not thread-safe; deterministic (no clock, no randomness: time comes in as now_ms).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/node_id.h"
#include "cluster/outbound.h"
#include "node/member_report.h"
#include "node/request_ids.h"
#include "replication/anti_entropy.h"
#include "replication/background_budget.h"
#include "replication/handoff_sender.h"
#include "replication/hinted_handoff.h"
#include "replication/tombstone_reaper.h"
#include "storage/engine.h"

namespace meridian::node {

// What the ring says about one partition, as this node sees it.
struct PartitionPlacement {
  cluster::NodeId owner;  // empty: the ring has no owner for it yet
  std::optional<cluster::NodeId> pending_owner;
  std::vector<cluster::NodeId> primaries;  // for the largest n of any bucket, preference order
  // The primaries for every n in use (the buckets' replica counts, the default's included), so
  // each anti-entropy tree is compared among its keys' own replicas.
  std::map<std::uint32_t, std::vector<cluster::NodeId>> primaries_by_n;
  bool holds = false;  // this node keeps the partition: a primary, or its pending owner
  friend bool operator==(const PartitionPlacement&, const PartitionPlacement&) = default;
};

// Read-only questions about peers, answered from the node's failure detector and membership.
class PeerDirectory {
 public:
  virtual ~PeerDirectory() = default;
  // The failure detector's opinion (this node itself is always reachable).
  virtual bool Reachable(const cluster::NodeId& node) const = 0;
  // The member's peer address; "" when unknown.
  virtual std::string AddressOf(const cluster::NodeId& node) const = 0;
};

struct PartitionReplicaConfig {
  cluster::NodeId self;
  std::string self_address;  // where acks to this node's streams go
  replication::HandoffSenderConfig handoff;
  std::uint64_t fill_request_interval_ms = 5'000;  // a fill is asked for again this often
  std::uint64_t completion_report_interval_ms = 1'000;
  // A completed ownership stream whose ring has not flipped after this long is sent again.
  std::uint64_t flip_wait_ms = 15'000;
  // Active anti-entropy among the partition's primaries (exchange_interval_ms 0: off).
  replication::AntiEntropyConfig anti_entropy;
  // The replica count (n) of a stored key's bucket; unset: every key has the largest n.
  std::function<std::uint32_t(std::string_view storage_key)> replica_count_of;
  // Tombstone reaping (interval_ms 0: off; it also needs anti-entropy on).
  replication::ReapConfig reaping;
};

struct PartitionOutput {
  std::vector<cluster::Outbound> messages;
  // The forwarding address or the completed-incoming flag changed: the node persists them
  // (synced) before these messages leave.
  bool forwarding_changed = false;
  bool completion_changed = false;
  // Tell the claimant this node received the partition in full (membership).
  bool report_transfer_complete = false;
  // Copies received by anti-entropy: (storage key, encoded object) for the node to merge into
  // its objects column through the normal merge.
  std::vector<std::pair<std::string, std::string>> repairs;
};

class PartitionReplica {
 public:
  // `placement`: the partition's placement as of now (the one a later OnPlacement changes).
  // `config`, `engine`, `budget` (the node's background budget, which its streams, copies and
  // reaping deletes ask: docs/design/governor.md), `anti_entropy_counters` and `reap_counters`
  // (the node's) must outlive the replica.
  // `hint_state` (the node's: what every partition's hints share) must outlive it too.
  PartitionReplica(std::uint32_t partition, const PartitionReplicaConfig& config,
                   storage::Engine& engine, replication::BackgroundBudget& budget,
                   PartitionPlacement placement,
                   replication::AntiEntropyCounters& anti_entropy_counters,
                   replication::ReapCounters& reap_counters,
                   replication::NodeHintState& hint_state);

  // Whether a ring change from `before` to `now` makes `self` a new replica that must be
  // filled (see OnPlacement); the node asks it to decide whether a replica object is needed.
  static bool BecameReplica(const PartitionPlacement& before, const PartitionPlacement& now,
                            const cluster::NodeId& self);
  // Whether `self` may hold keys it does not keep under `placement`: it is a primary of the
  // partition but not of every replica count in use, and the partition is not moving.
  static bool MayHoldStrays(const PartitionPlacement& placement, const cluster::NodeId& self);
  // The primaries for keys with `n` replicas under `placement` (those for the largest n when
  // `n` is not listed).
  static const std::vector<cluster::NodeId>& PrimariesOf(const PartitionPlacement& placement,
                                                         std::uint32_t n);
  // Whether `self` streams the partition to its pending owner under `placement`.
  static bool Outgoing(const PartitionPlacement& placement, const cluster::NodeId& self);
  ~PartitionReplica();
  PartitionReplica(const PartitionReplica&) = delete;
  PartitionReplica& operator=(const PartitionReplica&) = delete;

  // The ring (or the largest n) changed. `has_data`: this node holds objects of the partition
  // (asked only when the answer matters: see NeedsDataCheck). `first`: the first placement of
  // this node's life, which cannot tell a new replica from an old one (no fill is asked).
  void OnPlacement(const PartitionPlacement& placement, bool has_data, bool first);
  // Whether OnPlacement(placement, ...) would look at has_data (so the node can skip a scan):
  // for an orphan, or for strays.
  bool NeedsDataCheck(const PartitionPlacement& placement) const;
  bool NeedsOrphanCheck(const PartitionPlacement& placement) const;

  // Streams, copies, fill requests, completion reports. `transfer_ids` gives the node's (its
  // shard's) transfer ids, unique per sending node; each stream started takes one.
  void Tick(std::uint64_t now_ms, const PeerDirectory& peers, RequestIds& transfer_ids);
  void OnHandoffAck(const proto::HandoffAck& ack, std::uint64_t now_ms);
  // A replica of the partition asks this node for a copy (checked: it is a primary).
  void OnFillRequest(const cluster::NodeId& from);
  // A write to `storage_key` reached this node's objects column (after the engine write).
  void OnStored(std::string_view storage_key, std::string_view encoded_object);
  // Data of this partition arrived (a stream, a mirror, a hint batch, a replica write) while
  // this node does not keep it: hand it on (to every replica again, also those handed the
  // data before).
  void OnForeignData();
  // A replica copy of this partition arrived from the node at `from_address` (a hand-off of
  // data it does not keep, a fill, strays). From the target of this node's ownership stream it
  // means the target does not keep the partition in its ring (its view and ours differ: a plan
  // undone there, done here) and may drop what the stream gave it once it handed the data to
  // the replicas of its ring, this node among them: the stream starts over if still running,
  // and once done this node no longer counts on the target holding everything: after the flip
  // the data goes to every replica before it is dropped (reaping-n1 seed 5040 lost a write when
  // each of the two dropped the partition counting on the other).
  void OnCopyReceived(const std::string& from_address);
  // A key of the partition was stored here (a write, a stream, a copy, a hint) while this node
  // holds the partition: a key it does not keep (a stray) is handed on, then deleted.
  void OnArrived(std::string_view storage_key);
  // This node, the pending owner, applied the last batch of the ownership stream.
  void OnIncomingComplete();
  // A complete copy arrived from the partition's owner: the fill is done.
  void OnFillComplete();
  // An anti-entropy message for this partition (either role).
  void OnAntiEntropy(const std::string& from_address, const proto::PeerMessage& message,
                     std::uint64_t now_ms);
  // An object of the partition changed its version hash (after the write, by any path): the
  // tree follows, a running stream or copy re-sends the key if it scanned past it, and the
  // reaper learns of a key with superseded single-use entries to prune (as its writer counted
  // them; 0 when it did not).
  void OnObjectChanged(std::string_view storage_key, std::optional<std::uint64_t> old_hash,
                       std::optional<std::uint64_t> new_hash,
                       std::uint32_t superseded_single_use = 0);

  // Tombstone reaping (docs/design/tombstones.md). Why this node may not propose the
  // partition's tombstones now ("" when it may): it must be the partition's reaper (the primary
  // with the smallest id; with buckets of several replica counts, the smallest id among the
  // primaries of some count's keys, and it proposes only those keys), every primary reachable,
  // the partition quiet (no pending owner, stream, copy, fill, orphan, strays or drop) and its
  // last anti-entropy exchange with every other primary of those keys in sync.
  std::string ReapRefusal(const PeerDirectory& peers) const;
  // The partition is moving or holds data to hand on (a member refuses it in any round).
  bool Moving() const;
  // Nullptr unless this node is a primary with reaping on.
  replication::TombstoneReaper* reaper() { return reaper_.get(); }
  const replication::TombstoneReaper* reaper() const { return reaper_.get(); }
  // A committed round asks this primary to delete `keys` (conditionally; see TombstoneReaper).
  void OnReapCommit(const std::vector<replication::ReapKey>& keys);

  // The hints this node keeps for the partition as a fallback: created (and opened: the stored
  // ones counted) on first use. Errors are the engine's.
  Result<replication::HintedHandoff*> Hints();
  // Nullptr while the partition has no hints object.
  const replication::HintedHandoff* hints() const { return hints_.get(); }
  // Delivers hints that are due (see HintedHandoff::Tick); forgets the hints object once it
  // holds nothing.
  void TickHints(std::uint64_t now_ms, const replication::HintRouting& routing);
  // The ack of a hint batch of this partition.
  void OnHintAck(const std::string& from_address, const proto::HintAck& ack, std::uint64_t now_ms);

  // Deletes (into `batch`) at most `budget` keys of the partition when it is to be dropped, or
  // its strays (of at most `budget` keys looked at); returns how many keys it went through. 0
  // with nothing left means the drop is finished.
  Result<std::size_t> Drop(std::size_t budget, storage::WriteBatch& batch);

  PartitionOutput TakeOutput();

  // Restored state (from the node's metadata at open).
  void RestoreForwarding(std::string address);
  void RestoreCompletedIncoming() { completed_incoming_ = true; }

  std::uint32_t partition() const { return partition_; }
  const PartitionPlacement& placement() const { return placement_; }
  // Requests for the partition go to this address (its stream completed, the ring has not
  // flipped yet); nullopt otherwise.
  const std::optional<std::string>& forwarding_address() const { return forwarding_address_; }
  bool completed_incoming() const { return completed_incoming_; }
  // A replica waiting for its copy: its "not found" counts only like a fallback's.
  bool filling() const { return awaiting_fill_ms_.has_value(); }
  bool streaming() const { return sender_ != nullptr; }
  bool copying() const { return copy_.has_value(); }
  // Appends this partition's running outgoing streams (ownership, then a copy) with their
  // progress as of now_ms.
  void AppendTransfers(std::uint64_t now_ms, std::vector<TransferView>& out) const;
  // Partitions waiting to be handed off or filled, counted like NodeStats::copies_queued.
  std::size_t queued_copies() const;
  bool to_drop() const { return to_drop_ || drop_strays_; }
  // Handing on the keys this node holds but does not keep (see strays_).
  bool handing_strays() const { return strays_; }
  // This node is one of the partition's primaries (for the largest n).
  bool primary() const;
  // The anti-entropy of the keys with the largest n (nullptr unless this node is a primary and
  // anti-entropy is on), and of the keys with `n` replicas (nullptr: none here: this node is not
  // among their primaries, or n is 1 and there is nothing to compare).
  const replication::AntiEntropy* anti_entropy() const;
  replication::AntiEntropy* anti_entropy();
  replication::AntiEntropy* anti_entropy(std::uint32_t n);
  // No state worth keeping and nothing to start: the node may forget this replica.
  bool idle() const;

 private:
  enum class CopyKind {
    kFill,    // asked for by a new replica
    kOrphan,  // data of a partition this node does not keep
    kStrays,  // keys this node holds but does not keep (see strays_)
  };
  struct ReplicaCopy {
    std::unique_ptr<replication::HandoffSender> sender;
    cluster::NodeId target;
    CopyKind kind = CopyKind::kFill;
    // An object changed here after the copy had sent its last batch: the target may lack it,
    // so the completed copy does not count as the target having this node's data.
    bool missed_change = false;
  };

  bool Outgoing() const;
  void TickOwnershipStream(std::uint64_t now_ms, const PeerDirectory& peers,
                           RequestIds& transfer_ids);
  void MovedAway();
  void TickCopy(std::uint64_t now_ms);
  void TickOrphan(std::uint64_t now_ms, const PeerDirectory& peers, RequestIds& transfer_ids);
  void TickFills(std::uint64_t now_ms, const PeerDirectory& peers, RequestIds& transfer_ids);
  void TickFillRequest(std::uint64_t now_ms, const PeerDirectory& peers);
  void TickCompletionReport(std::uint64_t now_ms);
  void TickAntiEntropy(std::uint64_t now_ms, const PeerDirectory& peers);
  // The partition's primaries for keys with `n` replicas.
  const std::vector<cluster::NodeId>& PrimariesFor(std::uint32_t n) const;
  // Creates or drops the anti-entropy and reaping state as this node becomes or stops being a
  // primary.
  void UpdateAntiEntropy();
  void TickStrays(const PeerDirectory& peers, RequestIds& transfer_ids);
  void StartCopy(const cluster::NodeId& target, CopyKind kind, const PeerDirectory& peers,
                 RequestIds& transfer_ids);
  Result<std::size_t> DropStrays(std::size_t budget, storage::WriteBatch& batch);
  // Keys are filtered by their own primaries: buckets of more than one replica count are in use.
  bool KeyFiltered() const;
  // `node` is one of the key's own primaries (always true unless KeyFiltered()).
  bool Keeps(std::string_view storage_key, const cluster::NodeId& node) const;
  // This node is the reaper of the keys with `n` replicas: the smallest id of their primaries.
  bool ReaperOf(std::uint32_t n) const;
  // The replica count reaping goes by when keys are not filtered (KeyFiltered() false).
  std::uint32_t UnfilteredCount() const;
  // This node proposes `storage_key` for reaping (and pruning): it is its reaper.
  bool Reaps(std::string_view storage_key) const;
  void Collect(replication::HandoffSender& sender);
  // Removes from an anti-entropy repair the tombstones whose reaping is queued here.
  void DropReapedCopies(cluster::Outbound& message) const;

  const std::uint32_t partition_;
  const PartitionReplicaConfig& config_;
  storage::Engine& engine_;
  replication::BackgroundBudget& budget_;
  PartitionPlacement placement_;

  // Ownership stream to the pending owner (at most one).
  std::unique_ptr<replication::HandoffSender> sender_;
  // Set once the stream completed: requests go there until the ring flips. Persisted.
  std::optional<std::string> forwarding_address_;
  std::optional<std::uint64_t> forwarding_since_ms_;  // when forwarding_address_ was set
  // A write arrived after the stream completed: the new owner may lack it, so after the flip
  // the data is handed to every replica, not just dropped.
  bool written_after_done_ = false;
  bool completed_incoming_ = false;  // received in full as pending owner; persisted
  std::uint64_t next_completion_report_ms_ = 0;

  bool orphan_ = false;
  std::set<cluster::NodeId> orphan_done_;  // replicas that have this node's copy
  std::optional<ReplicaCopy> copy_;        // an orphan hand-off or a fill, one at a time
  std::set<cluster::NodeId> fill_requests_;
  std::optional<std::uint64_t> awaiting_fill_ms_;  // when to ask the owner (again)
  bool to_drop_ = false;
  // Where the drop's next scan starts (the first key it did not delete); nullopt: the start of
  // the partition. Resuming there, not at the start, keeps a drop of a large partition from
  // stepping over the deletions of all its earlier rounds (RocksDB's tombstones) on every
  // round; the drop ends only with a round from the start that finds nothing left.
  std::optional<std::string> drop_cursor_;
  // Strays: keys this node holds but does not keep. It is a primary of the partition but not
  // one of the key's own (a bucket with fewer replicas; the node was its owner until a join,
  // say). Once every other primary has the strays it keeps, they are deleted (drop_strays_, a
  // scan from strays_cursor_ judging each key as of then).
  bool strays_ = false;
  std::set<cluster::NodeId> strays_done_;  // primaries that have this node's strays
  bool drop_strays_ = false;
  std::optional<std::string> strays_cursor_;
  // One tree per replica count n >= 2 whose primaries include this node, by n; the key sets
  // they were built for (the n in use) decide whether each filters keys by their bucket's n.
  std::map<std::uint32_t, std::unique_ptr<replication::AntiEntropy>> trees_;
  std::vector<std::uint32_t> tree_ns_;  // the n in use when trees_ were made
  replication::AntiEntropyCounters& anti_entropy_counters_;
  std::unique_ptr<replication::TombstoneReaper> reaper_;
  replication::ReapCounters& reap_counters_;
  replication::NodeHintState& hint_state_;
  std::unique_ptr<replication::HintedHandoff> hints_;  // while the partition has hints

  PartitionOutput output_;
};

}  // namespace meridian::node
