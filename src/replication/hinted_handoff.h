// HintedHandoff: the objects this node keeps, for one partition, as a fallback for primaries
// that were unreachable when the write happened (sloppy quorum), and their delivery once those
// primaries are reachable again. One per partition that has hints, owned by the partition's
// replica state machine (node/partition_replica.h); what the partitions share — the node-wide
// bounds, counters, batch ids and the number of batches held in memory — is one NodeHintState.
//
// Storage: one record per object in Column::kHints, keyed by the object's storage key
// (partition-prefixed, like the objects column, so one partition's hints are one key range);
// the value is a HintRecord — the node ids the object is still owed to and the merged object
// state (docs/format/hints.md). A record is deleted when no target is left.
//
// Delivery: on Tick, for every target the routing says is reachable, at most one HintBatch is
// in flight (up to batch_objects_max entries / batch_bytes_max bytes, all of this partition).
// The target merges the entries into its objects, syncs, and answers with a HintAck (which
// names the partition, so the node routes it here); the target is then removed from each
// record whose object is unchanged since it was sent (a record that changed meanwhile is sent
// again). An unanswered batch is re-sent after ack_timeout_ms; a refused one after a backoff
// doubling from retry_initial_ms to retry_max_ms per target. A target that is no longer a
// primary of the partition (it moved) is replaced by the partition's current primaries.
//
// Budget: every batch is charged to the node's background budget (kind kHintReplay,
// background_budget.h) before it is sent: its bytes (keys plus encoded objects) and its number
// of objects. A batch the budget holds back stays built and goes first when the budget allows
// (no other target's batch of this partition is built meanwhile); it is dropped, and its
// records rescanned later, when its target becomes unreachable. Memory: batches built and
// waiting or in flight hold their encoded objects; at most batches_held_max of them exist on
// the node at once (every partition together), so a node delivering hints of many partitions
// to many targets holds a bounded amount.
//
// Bounds: at most hints_max records and hint_bytes_max bytes on the node, every partition
// together (each record counts its key plus its encoded value; the totals are counted by Open
// and kept up to date by every write). Past either, StoreHint refuses with Unavailable
// (StatusCode has no ResourceExhausted; the fallback then does not acknowledge the write): past
// hints_max a new record, past hint_bytes_max a new record or an existing one that would grow;
// a record that does not grow still merges. Rewrites of targets (a partition moved) are not
// refused and may exceed hint_bytes_max by a few bytes per record. Tick reads a bounded number
// of records (hinted_handoff.cc).
// Sans-IO, not thread-safe; the engine, the budget and the NodeHintState must outlive it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/node_id.h"
#include "cluster/outbound.h"
#include "core/dvv_set.h"
#include "core/status.h"
#include "replication/background_budget.h"
#include "storage/engine.h"
#include "storage/key_encoding.h"

namespace meridian::replication {

struct HintRecord {
  std::vector<cluster::NodeId> targets;  // sorted, distinct
  DvvSet object;
  friend bool operator==(const HintRecord&, const HintRecord&) = default;
};
// ON-DISK FORMAT (docs/format/hints.md).
std::string EncodeHintRecord(const HintRecord& record);
Result<HintRecord> DecodeHintRecord(std::string_view bytes);

struct HintedHandoffConfig {
  std::size_t hints_max = 1'000'000;                      // records
  std::uint64_t hint_bytes_max = std::uint64_t{1} << 30;  // keys plus encoded records
  std::size_t batch_objects_max = 64;
  std::size_t batch_bytes_max = 1u << 20;
  std::uint64_t ack_timeout_ms = 5'000;
  std::uint64_t retry_initial_ms = 1'000;
  std::uint64_t retry_max_ms = 30'000;
  // Batches built (waiting for the budget) or in flight at once, every partition together.
  std::size_t batches_held_max = 8;
};

// How the handoff reaches targets; supplied by the node on every Tick.
struct HintRouting {
  // The peer address of `node` when the failure detector considers it reachable.
  std::function<std::optional<std::string>(const cluster::NodeId& node)> reachable_address;
  // The current primaries of `partition` (for the largest n of any bucket).
  std::function<std::vector<cluster::NodeId>(std::uint32_t partition)> primaries;
};

struct HintedHandoffCounters {
  std::uint64_t hints_stored = 0;     // StoreHint calls that wrote
  std::uint64_t hints_refused = 0;    // refused past hints_max or hint_bytes_max
  std::uint64_t hints_delivered = 0;  // (record, target) pairs removed after an ack
  std::uint64_t batches_sent = 0;     // retransmissions included
  std::uint64_t batches_refused = 0;  // acks with an error
};

// What the hints of every partition on one node share. The node owns it; every
// HintedHandoff keeps it up to date.
struct NodeHintState {
  explicit NodeHintState(HintedHandoffConfig config);
  const HintedHandoffConfig config;
  std::uint64_t records = 0;  // stored hint records, every partition
  std::uint64_t bytes = 0;    // their keys plus encoded values
  std::uint64_t pending = 0;  // (record, target) pairs not yet delivered
  std::uint64_t next_batch_id = 1;
  std::size_t batches_held = 0;  // built and waiting, or in flight (<= batches_held_max)
  // The stale-target sweep reads at most 4 * batch_objects_max records per node per tick
  // (every partition together), as when hints were one node-wide component: what is left of
  // it in the tick at sweep_tick_ms. The partition ticked first takes from it first, so the
  // node must let its partitions take turns at going first (Node::TickHints does).
  std::optional<std::uint64_t> sweep_tick_ms;
  std::size_t sweep_records_left = 0;
  HintedHandoffCounters counters;
};

// The hint record stored for `storage_key`, if any (reads on a fallback include its object).
// Read-only; Corruption when it does not decode.
Result<std::optional<HintRecord>> FindHintRecord(storage::Engine& engine,
                                                 std::string_view storage_key);

class HintedHandoff {
 public:
  HintedHandoff(std::uint32_t partition, storage::Engine& engine, BackgroundBudget& budget,
                NodeHintState& node);
  // Hands back what it holds of the node's totals (records, batches), so they stay exact.
  ~HintedHandoff();
  HintedHandoff(const HintedHandoff&) = delete;
  HintedHandoff& operator=(const HintedHandoff&) = delete;

  // Counts the partition's stored records, their bytes and the pending (record, target) pairs
  // (into the node's totals too). Call once before use.
  Status Open();

  // Merges `object` into the hint record of `storage_key` and adds `targets` to it, in one
  // engine write (synced when `sync`). Unavailable when the record is new and hints_max
  // records exist on the node, or when the record is new or grows and that would take the
  // node's stored hints past hint_bytes_max; InvalidArgument when `storage_key` is not an
  // object key of this partition or `targets` is empty or names an invalid node id;
  // Corruption when the stored record does not decode.
  Status StoreHint(std::string_view storage_key, const DvvSet& object,
                   const std::vector<cluster::NodeId>& targets, bool sync);

  void Tick(std::uint64_t now_ms, const HintRouting& routing);
  // An ack from the node at `from_address` (for a batch of this partition).
  void Receive(const std::string& from_address, const proto::HintAck& ack, std::uint64_t now_ms);
  std::vector<cluster::Outbound> TakeOutbound();

  std::uint32_t partition() const { return partition_; }
  // This partition's, not the node's (NodeHintState has those).
  std::uint64_t records() const { return records_; }
  // Bytes of the stored records: keys plus encoded values.
  std::uint64_t bytes() const { return bytes_; }
  // (record, target) pairs not yet delivered: the hints still owed ("hints pending").
  std::uint64_t pending() const { return pending_; }
  // No record, no batch built or in flight, nothing to send: the owner may drop this object.
  bool idle() const;
  const HintedHandoffCounters& counters() const { return node_.counters; }

 private:
  struct InFlight {
    std::uint64_t batch_id = 0;
    std::string address;
    std::uint64_t sent_ms = 0;
    // storage key -> encoded object as sent
    std::map<std::string, std::string, std::less<>> entries;
    std::string scan_from;    // the target's cursor when the batch was built
    std::uint64_t bytes = 0;  // keys plus encoded objects
  };
  struct TargetState {
    // Built and waiting for the budget (at most one target has one).
    std::optional<InFlight> prepared;
    std::optional<InFlight> in_flight;
    std::uint64_t next_attempt_ms = 0;
    std::uint64_t backoff_ms = 0;
    std::uint64_t pending = 0;  // records naming this target
    std::string cursor;         // hint key its next batch scans from (wrapping)
  };
  // A record whose targets changed, to write back.
  struct Rewrite {
    std::string key;
    std::vector<cluster::NodeId> before;
    std::uint64_t bytes_before = 0;  // RecordBytes of the stored record
    HintRecord record;
  };
  using PrimariesCache = std::map<std::uint32_t, std::vector<cluster::NodeId>>;

  // Records read per scan: 4 * batch_objects_max (at least 1).
  std::size_t ScanLimit() const;
  // Visits up to ScanLimit() of the partition's records from `from` ("" : its first),
  // wrapping past its last key to its first (each record at most once). `visit` returns false
  // to stop before a record. Returns the key the next scan resumes from.
  Result<std::string> ScanHints(
      const std::string& from,
      const std::function<bool(std::string_view key, std::string_view value)>& visit);
  // Replaces the record's targets that are not primaries of its partition by the primaries;
  // true when the targets changed.
  bool ReplaceStaleTargets(std::string_view key, HintRecord& record, const HintRouting& routing,
                           PrimariesCache& primaries);
  // Writes the rewrites in one unsynced batch and accounts for them.
  Status WriteRewrites(const std::vector<Rewrite>& rewrites);
  // Builds the next batch for `target` (no batch in flight or prepared) into state.prepared;
  // leaves it empty when the scan found nothing for the target.
  void BuildBatch(const cluster::NodeId& target, TargetState& state, const HintRouting& routing,
                  PrimariesCache& primaries);
  // Sends the prepared batch to `address` if the budget allows; false when it does not.
  bool SendPrepared(TargetState& state, const std::string& address, std::uint64_t now_ms);
  // records_/pending_/per-target counts for a record whose targets went from `before` (empty:
  // new record) to `after` (empty: deleted), and bytes_ for its size going from `bytes_before`
  // to `bytes_after`.
  void Account(const std::vector<cluster::NodeId>& before,
               const std::vector<cluster::NodeId>& after, std::uint64_t bytes_before,
               std::uint64_t bytes_after);
  // Forgets targets with nothing pending and nothing in flight.
  void ForgetIdleTargets();
  // A batch stopped being held (sent and answered or timed out, or a built one dropped).
  void ReleaseHeld();

  const std::uint32_t partition_;
  const storage::KeyRange range_;  // the partition's keys
  storage::Engine& engine_;
  BackgroundBudget& budget_;
  NodeHintState& node_;
  const HintedHandoffConfig& config_;  // node_.config
  std::uint64_t records_ = 0;
  std::uint64_t bytes_ = 0;
  std::uint64_t pending_ = 0;
  std::size_t held_ = 0;  // this partition's share of node_.batches_held
  std::map<cluster::NodeId, TargetState> targets_;
  std::string maintenance_cursor_;  // where Tick's stale-target sweep resumes
  std::vector<cluster::Outbound> outbound_;
};

// The target's side: merges every entry of `batch` into Column::kObjects (entries whose key is
// not a well-formed object key of the batch's partition, or whose object does not decode,
// refuse the whole batch with Corruption and nothing is written) in one synced write, and
// returns the ack to send back (naming the batch and its partition).
proto::HintAck ApplyHintBatch(storage::Engine& engine, const proto::HintBatch& batch);

}  // namespace meridian::replication
