// TombstoneReaper: one partition's share of tombstone reaping on one primary
// (docs/design/tombstones.md). Owned by the partition's PartitionReplica while this node is a
// primary and reaping is on. Whether a tombstone may go is decided by a round across the whole
// cluster (node/reap_rounds.h); this object does the partition's local parts:
//
//   * on the reaper (the primary with the smallest id): proposes candidates — keys whose object
//     is all tombstones, with the object's version hash — scanning the partition from a cursor,
//     a bounded number of keys per round, and learns each round's outcome;
//   * on every primary: keeps the deletes a committed round asked for and carries them out as
//     conditional deletes (only where the stored version hash is still the accepted one),
//     charged to the node's background budget (WorkKind::kTombstoneReaping), a batch a tick;
//   * the same rounds prune single-use clock entries (DvvSet::PruneSingleUse): a live key whose
//     clock holds at least `prune_single_use_from` superseded ones is proposed as a prune
//     candidate, and a committed prune rewrites the object without them, as conditionally as a
//     delete. The round's guarantee is the one a prune needs: no copy of those writes is left
//     to be applied again (docs/design/tombstones.md "Pruning single-use entries").
//     Everything below about deletes applies to prunes too;
// Anti-entropy between a primary that applied a commit and one whose deletes are still queued
// (behind the budget) sees the tombstone on one side only. The primary with the queued delete
// does not offer it as a repair (DeletePending; PartitionReplica drops such copies), else the
// two would copy it back and forth and reap it again and again (measured: a 20,000-key bench
// reaped 360,000 times before this). A copy that does arrive (a commit lost on the way) is
// stored like any copy — harmless, the round proved no older version is left anywhere — and a
// later round reaps it again once the primaries agree.
//
// Sans-IO apart from reading the engine (scans and point reads); deletes go into a batch the
// caller writes. Not thread-safe; the engine and budget must outlive it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/dvv_set.h"
#include "core/status.h"
#include "core/version_vector.h"
#include "replication/background_budget.h"
#include "storage/engine.h"

namespace meridian::replication {

struct ReapConfig {
  // How often a node starts a reaping round for the partitions it reaps; 0: reaping is off.
  // Also the shortest time between two rounds that reap a partition.
  std::uint64_t interval_ms = 60'000;
  // A round that hit a cap (more candidates than it carried) is followed this soon.
  std::uint64_t continue_after_ms = 200;
  // A round not answered by every member within this long is given up (refused).
  std::uint64_t round_timeout_ms = 10'000;
  std::uint32_t candidates_per_partition_max = 1'000;
  std::uint32_t candidates_per_round_max = 10'000;
  // Keys examined per partition per round when looking for candidates.
  std::uint32_t scan_keys_per_partition_max = 20'000;
  // Keys examined per round over all its partitions (each is read and decoded on the node's
  // event loop when the round starts); the rest are examined by the rounds that follow. Rounds
  // started at once by every member with this uncapped stalled every loop for 0.1–0.3 s each
  // minute once nodes held ~200,000 keys (docs/replication.md, run 20).
  std::uint32_t scan_keys_per_round_max = 10'000;
  // A node starts a round's scan only while the background budget is neither paused nor in
  // debt. With this > 0, each proposal is also charged what it examined: its bytes plus this
  // much per key (a read and a decode are ~3 us, ~1 KiB against the ~12 us of an object sent
  // and applied that object_cost_bytes, 4 KiB, stands for). 0 (the default): not charged.
  // Charged at 1 KiB, every partition changed by a catch-up was rescanned on the budget the
  // catch-up needed, and a 10-minute absence was not caught up in 10 minutes (run 23,
  // docs/replication.md); charging needs partitions rescanned only when a write could have made
  // a candidate, not on every write.
  std::uint32_t scan_key_cost_bytes = 0;
  // Conditional deletes carried out per partition per tick (each batch asks the budget).
  std::uint32_t deletes_per_batch_max = 256;  // ~1 MiB of budget (the burst)
  // A live key is proposed for pruning once its clock holds this many superseded single-use
  // entries (hedged forwarding's versions); 0: never.
  std::uint32_t prune_single_use_from = 8;
  // Pruning on demand: a key stored with prune_single_use_from such entries or more makes its
  // partition due again this long after its last round ended, for a round that proposes just
  // the keys that asked (point reads, no scan), whatever interval_ms says. A key whose entries
  // include ones a round on demand pruned before (undone: a client that chains contexts brings
  // them back with each write) waits twice as long before its next one, up to interval_ms. A key
  // written through forwarders faster than single_use_entries_max writes per interval_ms reached
  // the bound between rounds and lost hedging (docs/design/tombstones.md "Pruning on demand"). 0:
  // only the interval's rounds prune.
  std::uint64_t prune_soon_after_ms = 200;
  // Undone prunes on demand of a key in a row before its wait starts doubling.
  std::uint32_t prune_soon_undone_grace = 6;
  // The most keys per partition waiting for such a round; further ones wait for the scan.
  std::uint32_t prune_soon_keys_max = 64;
  // A prune candidate names the actors of its superseded entries and is judged by whether a
  // copy of one of those writes is left anywhere, whatever version each primary holds (so a
  // key with writes always in flight is pruned too). false: judged by the version hash like a
  // tombstone (the rule before 2026-12-07; kept as the tests' control).
  bool prune_by_actors = true;
};

// A proposed or committed tombstone (or, with `prune`, an object whose superseded single-use
// clock entries go): storage key and the version hash of its object.
struct ReapKey {
  std::string storage_key;
  std::uint64_t version_hash = 0;
  bool prune = false;
  // A prune's superseded single-use entries by actor, ascending: judged and forgotten by actor,
  // whatever the version (ReapCandidate.single_use_actors). Empty: by the version hash.
  std::vector<ActorId> actors;
  friend bool operator==(const ReapKey&, const ReapKey&) = default;
};

// Counters of a node's reaping, summed over partitions (for /metrics).
struct ReapCounters {
  std::uint64_t rounds_started = 0;
  std::uint64_t rounds_committed = 0;  // every member answered; something may be reaped
  std::uint64_t rounds_timed_out = 0;  // given up: some member did not answer in time
  std::uint64_t rounds_skipped = 0;    // due, but no partition was quiet with candidates
  std::uint64_t candidates_proposed = 0;
  std::uint64_t candidates_accepted = 0;  // accepted by every member (then committed)
  std::uint64_t tombstones_reaped = 0;    // deleted from this node's objects column
  std::uint64_t deletes_skipped = 0;      // committed, but the object changed since (kept)
  std::uint64_t objects_pruned = 0;       // rewritten here without superseded single-use entries
  std::uint64_t single_use_entries_pruned = 0;  // the entries those rewrites forgot
  std::uint64_t prunes_proposed_on_demand = 0;  // candidates of rounds on demand
  // Candidates of rounds on demand whose previous prune on demand had been undone (held back
  // for longer each time: a client chaining contexts brings the entries back with each write)
  std::uint64_t prunes_on_demand_undone = 0;
  // Partitions refused in a round, by reason, and candidates rejected, by reason.
  std::map<std::string, std::uint64_t> partitions_refused;
  std::map<std::string, std::uint64_t> keys_rejected;
};

class TombstoneReaper {
 public:
  // `config`, `engine`, `budget` and `counters` (the node's) must outlive this object.
  TombstoneReaper(std::uint32_t partition, const ReapConfig& config, storage::Engine& engine,
                  BackgroundBudget& budget, ReapCounters& counters);

  // Reaper side. Whether a round may propose this partition now: not in a round, and its
  // interval since the last one has passed, or keys wait to be pruned on demand and
  // prune_soon_after_ms has passed since the last round ended.
  bool Due(std::uint64_t now_ms) const;
  // Which keys this node proposes (by storage key): those of the replica counts whose reaper it
  // is; empty: all of them. Consulted at each proposal.
  void SetProposes(std::function<bool(std::string_view storage_key)> proposes) {
    proposes_ = std::move(proposes);
  }
  // Up to `max` candidates from the cursor on (wrapping once round the partition) among the
  // keys it proposes; marks the partition as in a round. Due only on demand (the interval has
  // not passed): the waiting keys that are still prune candidates instead, read one by one,
  // and the interval's schedule and cursor are left as they were. Empty: nothing to reap (the
  // partition rests for an interval). A prune candidate names its superseded single-use actors.
  // `prunes_only`: no tombstone is proposed (the partition is not known to be in sync with
  // its other primaries, which reaping tombstones waits for and pruning need not).
  // At most `scan_max` keys (and scan_keys_per_partition_max) are examined; scanned_last()
  // tells how many were. With scan_key_cost_bytes > 0 what they were is charged to the budget
  // (that much each, plus their bytes), even into debt: the scan has happened.
  Result<std::vector<ReapKey>> ProposeCandidates(
      std::uint32_t max, std::uint64_t now_ms, bool prunes_only = false,
      std::uint32_t scan_max = std::numeric_limits<std::uint32_t>::max());
  std::uint32_t scanned_last() const { return scanned_last_; }
  // An object of the partition changed here (written, merged, deleted), or which keys this
  // node proposes may have (a ring change). Until then, a partition whose last whole pass
  // (every key from the first to the last, tombstones included) found no candidate is not
  // scanned again: it has nothing to propose (an idle node used to re-read every key it reaps
  // every interval, for ever).
  void OnChanged() {
    clean_ = false;
    pass_changed_ = true;
  }
  // An object of the partition was stored here holding `superseded_single_use` superseded
  // single-use entries (as its writer counted them). At prune_single_use_from or more, a key
  // this node proposes is remembered and the partition is due again prune_soon_after_ms after
  // its last round ended, for a round of those keys alone (pruning on demand).
  void OnStored(std::string_view storage_key, std::uint32_t superseded_single_use);
  // Keys waiting for a round on demand.
  std::size_t prunes_wanted() const { return wanted_.size(); }
  // Whether the partition is known to hold no candidate (see OnChanged).
  bool clean() const { return clean_; }
  // The round that carried this partition ended: `accepted` of its candidates were committed
  // (empty when refused). The next round may come sooner when this one was capped.
  void OnRoundEnded(std::size_t accepted, std::uint64_t now_ms);

  // Every primary. A committed round asks to delete `keys` where their hash is unchanged, and
  // to prune: by actor whatever the version, or (no actors named) where the hash is unchanged.
  void OnCommit(const std::vector<ReapKey>& keys);
  // Adds at most deletes_per_batch_max conditional deletes (or prunes: a put of the pruned
  // object) of committed keys to `batch`, if the budget grants them (asked again next tick
  // otherwise). Returns how many were added; the caller writes the batch and then calls
  // OnDeletesWritten.
  Result<std::size_t> TakeDeletes(storage::WriteBatch& batch, std::uint64_t now_ms);
  void OnDeletesWritten(bool ok);
  bool deletes_pending() const { return !pending_.empty() || !writing_.empty(); }
  // A committed delete or prune of exactly this version of `storage_key` is queued here.
  bool DeletePending(const std::string& storage_key, std::uint64_t version_hash) const;

  bool in_round() const { return in_round_; }
  std::uint64_t next_round_ms() const { return next_round_ms_; }

 private:
  bool DueOnDemand(std::uint64_t now_ms) const;
  // The candidate `key` (stored as `encoded`, decoded as `object`) makes, if any; `bad` is set
  // when its hash cannot be taken.
  std::optional<ReapKey> CandidateOf(std::string_view key, const DvvSet& object,
                                     std::string_view encoded, bool prunes_only, Status& bad) const;
  // A round on demand's proposal: the waiting keys still prune candidates (point reads).
  Result<std::vector<ReapKey>> ProposeWanted(std::uint32_t max, std::uint64_t now_ms,
                                             std::uint32_t scan_max);

  const std::uint32_t partition_;
  const ReapConfig& config_;
  storage::Engine& engine_;
  BackgroundBudget& budget_;
  ReapCounters& counters_;

  std::string cursor_;  // the next scan starts here ("" = the partition's first key)
  bool in_round_ = false;
  bool capped_ = false;             // the last proposal stopped at a cap, not at the end
  std::uint32_t scanned_last_ = 0;  // keys the last proposal examined
  // The pass under way (from the partition's first key to its last, over several proposals):
  // whether it proposed anything, left tombstones out (prunes_only) or saw a change (OnChanged).
  bool pass_proposed_ = false;
  bool pass_changed_ = false;
  bool clean_ = false;               // the last whole pass found nothing and nothing changed since
  std::uint64_t next_round_ms_ = 0;  // 0: due at once
  std::uint64_t ended_ms_ = 0;       // when the last round ended
  bool on_demand_ = false;           // the round in flight (or the last) was one on demand
  std::set<std::string, std::less<>> wanted_;  // keys waiting to be pruned on demand
  // A key pruned on demand: the actors the prune forgot, how many prunes in a row were undone
  // (entries they forgot came back: a client's context, a primary that had not yet applied the
  // prune), and until when the key is not proposed on demand again (prune_soon_after_ms
  // doubled per undone prune, at most interval_ms).
  struct PrunedOnDemand {
    std::vector<ActorId> actors;
    std::uint32_t undone = 0;
    std::uint64_t hold_until_ms = 0;
  };
  // The last round on demand's candidates, and (at most prune_soon_keys_max) keys a committed
  // round on demand pruned.
  std::map<std::string, PrunedOnDemand, std::less<>> proposed_on_demand_;
  std::map<std::string, PrunedOnDemand, std::less<>> pruned_on_demand_;
  std::deque<std::string> pruned_on_demand_order_;
  std::deque<ReapKey> pending_;        // committed, not yet deleted
  std::vector<ReapKey> writing_;       // in the batch the caller is writing
  std::uint64_t writing_entries_ = 0;  // single-use entries the prunes of writing_ forget
  // Every key of pending_ and writing_, with its hash (for DeletePending).
  std::map<std::string, std::uint64_t, std::less<>> queued_;
  std::function<bool(std::string_view storage_key)> proposes_;
};

}  // namespace meridian::replication
