// HandoffReceiver: the receiving side of ownership transfers (one per node, serving every
// incoming transfer). Merges the objects of each HandoffBatch into the local engine and
// acknowledges the batch; applies mirrored writes. Sending side and protocol:
// handoff_sender.h, docs/design/handoff.md.
//
// Sans-IO state machine. Inputs: Receive(from, batch, now_ms), Receive(mirror),
// ApplyMirroredObject(...). Output: TakeOutbound() (HandoffAck messages). Not thread-safe: the
// node calls it from its one thread, the same thread that writes the engine. The engine must
// outlive the receiver.
//
// Contract and ordering duties:
//   * A batch is applied whole or not at all: every entry is validated (key inside the
//     batch's partition, object decodes) and merged with the local copy (DvvSet::Merge) before
//     one WriteBatch holds them all. Any invalid entry refuses the batch (Corruption ack,
//     nothing written); a failing engine refuses it with the engine's (retryable) error.
//   * The write of a batch marked last is synced before its ack is emitted, which makes it
//     and every earlier write of the engine durable (a synced write syncs the log before it).
//     Earlier batches are acknowledged unsynced; the ack carries `incarnation`, and because
//     the incarnation changes whenever unsynced writes may have been lost (a crash), the
//     sender then starts over — so an acknowledged-complete transfer is durable.
//   * Merging is commutative, associative and idempotent, so duplicated, re-sent, reordered
//     batches and mirrors (and local writes meanwhile) all converge on the join of every copy.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cluster/outbound.h"
#include "core/dvv_set.h"
#include "core/status.h"
#include "storage/engine.h"

namespace meridian::replication {

// What the receiver has seen of one incoming transfer (for metrics and operators).
struct IncomingTransfer {
  std::uint32_t partition = 0;
  std::string source_address;
  std::uint64_t batches_applied = 0;  // duplicates included
  std::uint64_t batches_refused = 0;
  std::uint64_t objects_changed = 0;  // local copies the merge changed (or created)
  std::uint64_t last_batch_ms = 0;
  bool last_batch_applied = false;  // a batch marked last was applied and synced
};

// Transfers are named by the sender's address and its transfer id (ids are unique per sender).
using IncomingTransferKey = std::pair<std::string, std::uint64_t>;

struct HandoffReceiverCounters {
  std::uint64_t batches_applied = 0;
  std::uint64_t batches_refused = 0;
  std::uint64_t objects_changed = 0;
  std::uint64_t mirrored_objects_applied = 0;
  std::uint64_t mirrored_objects_refused = 0;
};

class HandoffReceiver {
 public:
  // Transfers remembered in transfers(); the least recently active is forgotten beyond this.
  static constexpr std::size_t kTransfersRemembered = 64;

  // `incarnation` must change whenever this node may have lost unsynced writes (a node that
  // crashed takes a new actor id, which serves); it is echoed in every ack.
  HandoffReceiver(storage::Engine& engine, std::uint64_t incarnation);

  // A batch from the peer at `from_address` (the ack goes to batch.reply_address() when set,
  // else to from_address). Always emits exactly one ack.
  void Receive(std::string_view from_address, const proto::HandoffBatch& batch,
               std::uint64_t now_ms);

  // A mirrored write: every entry is applied as by ApplyMirroredObject; returns the first
  // error (the other entries are still applied). No ack.
  Status Receive(const proto::HandoffMirror& mirror);

  // Merges one object into the local copy (unsynced write). Corruption when the key is not an
  // object key or the object does not decode; the engine's error when reading or writing
  // fails. Nothing is written on error.
  Status ApplyMirroredObject(std::string_view storage_key, std::string_view encoded_object);

  std::vector<cluster::Outbound> TakeOutbound();

  const HandoffReceiverCounters& counters() const { return counters_; }
  const std::map<IncomingTransferKey, IncomingTransfer>& transfers() const { return transfers_; }
  std::uint64_t incarnation() const { return incarnation_; }

 private:
  // Validates and merges every entry and writes them in one batch (synced when the batch is
  // the last). Returns the number of local objects changed.
  Result<std::uint64_t> ApplyBatch(const proto::HandoffBatch& batch);
  IncomingTransfer& Track(const std::string& source_address, const proto::HandoffBatch& batch,
                          std::uint64_t now_ms);

  storage::Engine& engine_;
  std::uint64_t incarnation_;
  HandoffReceiverCounters counters_;
  std::map<IncomingTransferKey, IncomingTransfer> transfers_;
  std::vector<cluster::Outbound> outbound_;
};

}  // namespace meridian::replication
