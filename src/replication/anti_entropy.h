// AntiEntropy: active anti-entropy for one partition on one replica (Riak's tictac AAE is the
// model). It keeps the partition's tictac hash tree (storage/tictac_tree.h) — built once from
// the version hashes stored with the objects (Engine::ScanObjectVersionHashes: in a node the
// objects column is kept in segment order with each hash in front, storage format 2), then
// updated on every write through OnObjectChanged, so a steady state needs no scans — and runs
// exchanges with the partition's other replicas that repair exactly the keys that differ:
//
//   initiator                                   responder
//   AaeExchangeStart(branch level)        ->    compares branches
//                                         <-    AaeSegmentHashes(segments of dirty branches,
//                                               or in_sync)
//   compares segments; at most
//   segments_per_round_max of them:
//   AaeKeyHashes(its keys + hashes there) ->    lists its own keys there, DiffSegmentKeys
//                                         <-    AaeRepair(its copies of the differing keys it
//                                               holds; the keys it wants; last)
//   merges them; AaeRepair(its copies of
//   the wanted keys; last)               ->     merges them
//
// Both sides repair through the node's normal merge (TakeRepairs: the node merges each copy
// into its objects column; the tree then learns the result through OnObjectChanged), so a
// repair can never lose a write. An exchange that hit a cap is followed by the next one after
// continue_after_ms; otherwise each peer is compared once per exchange_interval_ms. The
// responder keeps no state between messages. Messages of another exchange are ignored; an
// exchange unanswered for exchange_timeout_ms is given up (the next round repeats it).
//
// The node's background budget (background_budget.h, kind anti_entropy_repair) paces it: an
// initiator compares trees freely (two small messages, no data), but an exchange that found
// differences takes a stream slot before its repair starts (held until the exchange ends) and
// sends its key hashes (the start of the repair) only when the budget has credit; every copy either
// side sends or receives is charged to its own node's budget (Charge: the responder cannot hold a
// reply back, so a round's cost is a debt that delays whatever background work asks next, the next
// round included). A round moves at most keys_per_round_max copies each way, so the debt and the
// merges one event-loop turn applies stay small.
//
// Sans-IO apart from reading the engine (hash scans and object reads for repairs); time
// comes in as now_ms. Not thread-safe; the engine must outlive it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cluster/outbound.h"
#include "core/status.h"
#include "proto/peer.pb.h"
#include "replication/background_budget.h"
#include "storage/engine.h"
#include "storage/key_encoding.h"
#include "storage/tictac_tree.h"

namespace meridian::replication {

struct AntiEntropyConfig {
  // Cluster-wide: every replica must use the same shape. 4,096 segments in 64 branches: a
  // 33 KB tree per partition (see docs/design/anti_entropy.md for the trade-off).
  storage::TictacShape shape{12, 6};
  std::uint64_t exchange_interval_ms = 60'000;  // each peer compared once per interval; 0: off
  std::uint64_t exchange_timeout_ms = 10'000;
  std::uint64_t continue_after_ms = 200;  // the next round, when the last one hit a cap
  std::uint32_t segments_per_round_max = 128;
  // Copies one side sends in a round (the initiator stops adding segments once its own keys
  // there reach it; a responder with more says so and the initiator goes on soon). The node
  // merges a round's copies in one turn of its event loop: this bounds that pause (~12 µs each).
  std::uint32_t keys_per_round_max = 256;
  std::size_t repair_message_bytes_max = std::size_t{1} << 20;
};

// Counters of a node's anti-entropy, summed over its partitions (for /metrics).
struct AntiEntropyCounters {
  std::uint64_t exchanges = 0;  // completed as initiator
  std::uint64_t exchanges_in_sync = 0;
  std::uint64_t exchanges_failed = 0;  // refused or timed out
  std::uint64_t keys_sent = 0;         // copies sent for repair (both roles)
  std::uint64_t keys_received = 0;     // copies received for repair (both roles)
  std::uint64_t tree_rebuilds = 0;
};

class AntiEntropy {
 public:
  // Which of the partition's keys this tree covers (by storage key); empty: all of them.
  using KeyFilter = std::function<bool(std::string_view storage_key)>;

  // The tree of the partition's keys whose buckets have `replica_count` replicas (those
  // `in_tree` accepts), compared among the partition's first `replica_count` primaries; every
  // message carries the count. `counters` are the node's, shared by every partition's
  // AntiEntropy, and `budget` the node's background budget (both outlive this).
  AntiEntropy(std::uint32_t partition, std::uint32_t replica_count, KeyFilter in_tree,
              const AntiEntropyConfig& config, storage::Engine& engine, std::string self_address,
              AntiEntropyCounters& counters, BackgroundBudget& budget);
  ~AntiEntropy();
  AntiEntropy(const AntiEntropy&) = delete;
  AntiEntropy& operator=(const AntiEntropy&) = delete;

  // A write changed an object's version hash (after it reached the engine). Before the tree is
  // built this is a no-op (the build reads the stored hashes, which have it).
  void OnObjectChanged(std::string_view storage_key, std::optional<std::uint64_t> old_hash,
                       std::optional<std::uint64_t> new_hash);

  // Starts the next exchange when one is due, with the next of `peers` (the peer addresses
  // this replica compares with; the caller decides who initiates for each pair). Gives up an
  // exchange past its deadline.
  void Tick(std::uint64_t now_ms, const std::vector<std::string>& peers);
  // An anti-entropy message of this partition, either role. `replica`: this node is a replica
  // of the partition now (a responder that is not refuses).
  void Receive(const std::string& from_address, const proto::PeerMessage& message,
               std::uint64_t now_ms, bool replica);

  // Copies received for repair: (storage key, encoded object) for the node to merge.
  std::vector<std::pair<std::string, std::string>> TakeRepairs();
  std::vector<cluster::Outbound> TakeOutbound();

  std::uint32_t replica_count() const { return replica_count_; }
  const AntiEntropyCounters& counters() const { return counters_; }
  bool exchanging() const { return exchange_.has_value(); }
  // The last exchange this node initiated with `peer` (an address) completed and found the
  // trees equal; an exchange that repaired something, failed or timed out clears it.
  bool InSyncWith(const std::string& peer) const { return in_sync_peers_.contains(peer); }
  const std::optional<storage::TictacTree>& tree() const { return tree_; }
  // The tree, built from the stored hashes if needed (for tests and checks).
  Result<const storage::TictacTree*> Tree();

 private:
  struct Exchange {
    std::uint64_t id = 0;
    std::string peer;
    bool awaiting_repair = false;  // else awaiting the segment hashes
    bool capped = false;           // more segments differed than one round repairs
    std::uint64_t deadline_ms = 0;
    std::vector<std::string> wanted;  // keys the responder wants from us
    std::optional<StreamSlot> slot;   // from the first repair step to the exchange's end
    // The key hashes, built and waiting for the budget (no deadline runs meanwhile).
    std::optional<cluster::Outbound> held_key_hashes;
  };

  Status EnsureTree();
  // The (storage key, version hash) pairs of `segments`, sorted by key.
  Result<std::vector<storage::KeyVersionHash>> KeysOf(const std::vector<std::uint32_t>& segments);
  // Appends the (storage key, version hash) pairs of `segment` to `keys`.
  Status AppendKeysOf(std::uint32_t segment, std::vector<storage::KeyVersionHash>& keys);
  void Start(std::uint64_t now_ms, const std::string& peer);
  // Sends the held key hashes when the budget allows.
  void TrySendKeyHashes(std::uint64_t now_ms);
  void Finish(std::uint64_t now_ms, bool failed, bool repaired);
  void OnStart(const std::string& from_address, const proto::AaeExchangeStart& start, bool replica);
  void OnSegmentHashes(const proto::AaeSegmentHashes& hashes, std::uint64_t now_ms);
  void OnKeyHashes(const std::string& from_address, const proto::AaeKeyHashes& keys, bool replica,
                   std::uint64_t now_ms);
  void OnRepair(const proto::AaeRepair& repair, std::uint64_t now_ms);
  // Sends this node's copies of `keys` (and, when responding, `wanted`) in messages of at
  // most repair_message_bytes_max, the last one marked.
  void SendRepairs(const std::string& to_address, std::uint64_t exchange_id,
                   const std::vector<std::string>& keys, const std::vector<std::string>& wanted,
                   bool from_initiator, bool truncated, std::uint64_t now_ms);
  // The key is of this partition and of this tree's keys.
  bool InTree(std::string_view storage_key) const;

  const std::uint32_t partition_;
  const std::uint32_t replica_count_;
  const KeyFilter in_tree_;
  const AntiEntropyConfig& config_;
  storage::Engine& engine_;
  const std::string self_address_;
  std::optional<storage::TictacTree> tree_;
  std::optional<Exchange> exchange_;
  std::uint64_t next_exchange_ms_ = 0;  // 0: not scheduled yet
  std::size_t next_peer_ = 0;
  std::uint64_t next_exchange_id_ = 1;
  std::vector<std::pair<std::string, std::string>> repairs_;
  std::vector<cluster::Outbound> outbound_;
  std::set<std::string> in_sync_peers_;  // see InSyncWith
  AntiEntropyCounters& counters_;
  BackgroundBudget& budget_;
};

}  // namespace meridian::replication
