// ReapRounds: the cluster-wide part of tombstone reaping on one node — the rounds this node
// runs as a reaper and its part, as a member, in every other node's rounds
// (docs/design/tombstones.md). A tombstone may be forgotten once no copy of anything it
// superseded can exist anywhere: not on a node, not in a coordinator, not in a message in
// flight. A round establishes that with a consistent snapshot of the cluster (Chandy-Lamport,
// markers on the peers' FIFO connections), restricted to the round's candidates:
//
//   reaper                           every other member M
//   Prepare(members, partitions,  -> remembers the round
//           candidates)           <- Prepared
//   (all prepared) snapshot;
//   Marker to every other member  -> at the first marker of the round: snapshot (its verdicts,
//                                    from ReapLocalView), Marker to every other member; then
//                                    records, per incoming connection until that sender's
//                                    marker arrives, every message carrying a candidate key
//   (all markers in: own verdict) <- Answer(verdicts), once markers from all others arrived
//   (all answers) -> outcome: per partition refused, or the candidates nobody rejected
//
// A member's verdict refuses a whole partition (its ring differs, the partition is moving, it
// holds objects of a partition it does not keep, ...) or rejects single candidates (a primary
// whose object has another version hash, a hint, a coordinator in flight, a copy received
// inside the snapshot). The node commits the outcome (ReapCommit to the primaries, which
// delete conditionally: see replication/tombstone_reaper.h).
//
// Duties for the node: pass every Prepare/Prepared/Marker/Answer here, and every data message
// (OnDataMessage) *before* handling it; send Markers on the same connection as the node's
// other messages to that peer (the transport's FIFO order is what makes the snapshot
// consistent; the simulator delivers a marker after everything sent before it on its link).
//
// Sans-IO: time comes in as now_ms. At most one round of its own in flight; member snapshots
// of other reapers' rounds are bounded by their deadline. Not thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "cluster/node_id.h"
#include "cluster/outbound.h"
#include "core/version_vector.h"
#include "proto/peer.pb.h"
#include "replication/tombstone_reaper.h"

namespace meridian::node {

// What this node's own state says about a round, at its snapshot (implemented by Node).
class ReapLocalView {
 public:
  virtual ~ReapLocalView() = default;
  // One verdict per partition of `prepare`, in its order.
  virtual std::vector<proto::ReapVerdict> Judge(const proto::ReapPrepare& prepare) = 0;
  // This node holds no object, hint, stream or coordinator at all (asked at the snapshot).
  virtual bool HoldsNothing() { return false; }
};

// A finished round of this node as reaper: per partition, refused (with why) or the
// candidates every member accepted.
struct ReapPartitionOutcome {
  std::uint32_t partition = 0;
  std::vector<cluster::NodeId> primaries;
  std::string refused;  // non-empty: nothing is reaped
  std::vector<replication::ReapKey> accepted;
};
struct ReapRoundOutcome {
  std::uint64_t round = 0;
  std::vector<ReapPartitionOutcome> partitions;
  // Members that answered HoldsNothing at their snapshot, each with the shard count it
  // answered with: only the shard of it that took part in the round held nothing.
  std::map<cluster::NodeId, std::uint32_t> empty_members;
};

// A copy of an object a peer message carries (replica writes, hint batches, handoff batches and
// mirrors, anti-entropy repairs: `encoded_object`), or one it may yet make (a forwarded write
// with a fixed version: whoever takes it applies that version, possibly as a fallback, which a
// key reaped or pruned meanwhile would take as new: `fixed_actor`, its key placed with the
// partition count). Views into the message.
struct CarriedCopy {
  std::string_view storage_key;
  std::string_view encoded_object;  // empty for a forwarded write
  ActorId fixed_actor = 0;          // a forwarded write's single-use actor
};
class ReapRounds {
 public:
  // `config` and `counters` (the node's) must outlive this object. `shards`: the shards this
  // node is split over (each has its own ReapRounds; answers carry the count).
  ReapRounds(cluster::NodeId self, std::string self_address, const replication::ReapConfig& config,
             replication::ReapCounters& counters, std::uint32_t partition_count,
             std::uint32_t shards = 1);

  // Starts a round as reaper (none may be in flight). `prepare` names every member (this node
  // included, each with its address) and the partitions with their candidates; its reaper
  // fields are filled in here.
  void Start(proto::ReapPrepare prepare, ReapLocalView& view, std::uint64_t now_ms);
  bool round_in_flight() const { return round_.has_value(); }

  void OnPrepare(const proto::ReapPrepare& prepare, std::uint64_t now_ms);
  void OnPrepared(const proto::ReapPrepared& prepared, ReapLocalView& view);
  void OnMarker(const proto::ReapMarker& marker, ReapLocalView& view);
  void OnAnswer(const proto::ReapAnswer& answer);
  // Any message from `from_address`, before the node handles it: candidate keys it carries
  // are rejected in every snapshot still recording that connection.
  void OnDataMessage(const std::string& from_address, const proto::PeerMessage& message);
  // Gives up rounds and snapshots past their deadline.
  void Tick(std::uint64_t now_ms);

  std::vector<cluster::Outbound> TakeOutbound();
  // The round this node ran as reaper, once it finished (answered by all, or timed out).
  std::optional<ReapRoundOutcome> TakeOutcome();
  // Member snapshots held (for tests and bounds).
  std::size_t snapshots() const { return snapshots_.size(); }

 private:
  using RoundKey = std::pair<std::string, std::uint64_t>;  // (reaper id, round)
  struct Snapshot {
    proto::ReapPrepare prepare;
    std::uint64_t deadline_ms = 0;
    bool taken = false;
    std::set<std::string> awaiting_markers;  // addresses of members whose marker is missing
    std::vector<proto::ReapVerdict> verdicts;
    bool empty = false;  // HoldsNothing at the snapshot
    // storage key -> (partition index, candidate index), for the channel recording.
    std::map<std::string, std::pair<std::uint32_t, std::uint32_t>, std::less<>> keys;
  };
  struct Round {
    proto::ReapPrepare prepare;
    std::uint64_t deadline_ms = 0;
    std::set<cluster::NodeId> awaiting_prepared;
    std::set<cluster::NodeId> awaiting_answers;  // this node included (its own snapshot)
    std::vector<std::string> refused;            // per partition: the first refusal
    std::vector<std::map<std::uint32_t, std::string>> rejected;  // per partition: index -> why
    std::map<cluster::NodeId, std::uint32_t> empty_members;
  };

  void TakeSnapshot(Snapshot& snapshot, ReapLocalView& view);
  // The snapshot has every marker: answer the reaper (or, on the reaper, count its own).
  // By value: it erases the snapshot, and callers pass the snapshot map's own key.
  void Complete(RoundKey key);
  void Merge(const std::vector<proto::ReapVerdict>& verdicts);
  void Reject(Snapshot& snapshot, const CarriedCopy& copy);
  std::string AddressOf(const proto::ReapPrepare& prepare, const cluster::NodeId& id) const;
  void Finish(bool timed_out);

  const cluster::NodeId self_;
  const std::string self_address_;
  const std::uint32_t partition_count_;
  const std::uint32_t shards_;
  const replication::ReapConfig& config_;
  replication::ReapCounters& counters_;
  std::optional<Round> round_;
  std::map<RoundKey, Snapshot> snapshots_;
  std::optional<ReapRoundOutcome> outcome_;
  std::vector<cluster::Outbound> outbound_;
};

// Every copy `message` carries; empty for every other message.
std::vector<CarriedCopy> CopiesCarried(const proto::PeerMessage& message,
                                       std::uint32_t partition_count, std::string& key_storage);
// Whether `copy` may bring back a write `candidate` would forget: always for a tombstone or a
// prune by hash; for a prune by actors, when it is (or holds as a sibling) the single-use
// write of one of them, or cannot be decoded.
bool CopyMatters(const proto::ReapCandidate& candidate, const CarriedCopy& copy);

}  // namespace meridian::node
