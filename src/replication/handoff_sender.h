// HandoffSender: the sending side of one ownership transfer — streams every object of one
// partition (Column::kObjects, storage::PartitionRange) from the current owner's engine to
// the new owner, in key order, throttled, in batches acknowledged one at a time.
// Protocol and reasoning: docs/design/handoff.md. Receiving side: handoff_receiver.h.
//
// Sans-IO state machine. Inputs: Tick(now_ms), Receive(ack, now_ms), MirrorWrite(...).
// Output: TakeOutbound() (HandoffBatch / HandoffMirror messages to the target). Time comes
// only from the now_ms arguments, which must not go backwards. Not thread-safe: the node
// calls it from its one thread, and the engine must not be written to while a call runs.
// The engine and the budget must outlive the sender.
//
// Contract:
//   * One batch is in flight at a time (stop-and-wait). A batch is at most batch_bytes_max
//     bytes of keys and objects, except that a single larger object travels alone.
//   * The cursor (everything below it is acknowledged) advances only on a matching OK ack.
//     A batch not acknowledged within ack_timeout_ms is rebuilt from the cursor and sent
//     again with a new sequence number; after retries_max consecutive failures the transfer
//     is kFailed, with the reason.
//   * kDone means: every object the partition held when its key was scanned, and every
//     write reported through MirrorWrite before the final ack arrived, was acknowledged by
//     the receiver, and the final batch (last = true) was synced by it before its ack. Only
//     then may ownership flip. kDone and kFailed are terminal.
//   * A change of the receiver's incarnation (it crashed and may have lost acknowledged but
//     unsynced batches) restarts the stream from the beginning of the partition. A restarted
//     sender (a new HandoffSender) also starts from the beginning: merging is idempotent.
//   * Budget (background_budget.h, shared by the node's background work): the sender holds a
//     stream slot of kind kOwnershipHandoff (kReplicaCopy for a replica copy) from the first
//     Tick that gets one until it is done, failed or destroyed; without one it sends nothing.
//     Each batch (retransmissions included) is built once and sent when TrySpend grants its
//     bytes and objects; until then it waits, built, and Tick asks again. Mirrored writes are
//     client traffic and are not charged.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/outbound.h"
#include "core/status.h"
#include "replication/background_budget.h"
#include "storage/engine.h"
#include "storage/key_encoding.h"

namespace meridian::replication {

struct HandoffSenderConfig {
  std::size_t batch_bytes_max = std::size_t{1} << 20;
  // Objects per batch: the receiver merges a whole batch in one turn of its event loop, so
  // this bounds the pause it causes there (1 MiB of 100-byte objects would be ~7,000 merges).
  std::size_t batch_objects_max = 256;
  std::uint64_t ack_timeout_ms = 5'000;
  // Consecutive failed attempts (timeouts, error acks, local read errors) tolerated before
  // the transfer fails; a successful ack resets the count.
  std::uint32_t retries_max = 8;
};

// What is moved, and between whom.
struct HandoffTransfer {
  std::uint64_t transfer_id = 0;  // unique per transfer on the sending node
  std::uint32_t partition = 0;
  std::string target_address;  // the new owner's peer address
  // This node's peer address, where acks go; empty: the receiver answers the transport's
  // sender address.
  std::string source_address;
  // A copy for a replica of the partition (hand-off of data this node no longer keeps, or a
  // new replica being filled), not an ownership transfer: the receiver accepts it when it
  // holds a replica of the partition and reports no transfer completion.
  bool replica_copy = false;
  // Which of the partition's keys it carries (by storage key); empty: all of them. A copy for
  // a replica carries only the keys whose own primaries include it (buckets with fewer
  // replicas than the partition has primaries). Scanned keys it rejects are skipped; a mirrored
  // write it rejects is not forwarded.
  std::function<bool(std::string_view storage_key)> carries;
};

enum class HandoffState {
  kRunning,
  kDone,    // everything acknowledged; ownership may flip
  kFailed,  // gave up; failure() says why
};

std::string_view HandoffStateName(HandoffState state);

// Counters for metrics. Sent counters include retransmissions; acknowledged ones do not.
struct HandoffProgress {
  std::uint64_t batches_sent = 0;
  std::uint64_t objects_sent = 0;
  std::uint64_t bytes_sent = 0;  // storage keys plus encoded objects
  std::uint64_t objects_acknowledged = 0;
  std::uint64_t bytes_acknowledged = 0;
  std::uint64_t retransmissions = 0;  // attempts that failed and were repeated
  std::uint64_t restarts = 0;         // starts from the beginning (receiver incarnation change)
  std::uint64_t mirrored_writes = 0;
};

class HandoffSender {
 public:
  HandoffSender(HandoffTransfer transfer, storage::Engine& engine, BackgroundBudget& budget,
                HandoffSenderConfig config = {});
  // Gives the stream slot back, if it still holds one.
  ~HandoffSender();
  HandoffSender(const HandoffSender&) = delete;
  HandoffSender& operator=(const HandoffSender&) = delete;

  // Gets a stream slot if it has none (and waits for a later tick without one); sends the next
  // batch when none is in flight and the budget allows; detects a timed-out batch (and
  // resends it, or fails). Call it regularly (every node tick).
  void Tick(std::uint64_t now_ms);

  // An ack from the target. Acks of other transfers or of older transmissions are ignored.
  // A matching OK ack advances the cursor and sends the next batch at once (if the budget
  // allows); a non-retryable error ack fails the transfer; a retryable one is retried at the
  // timeout.
  void Receive(const proto::HandoffAck& ack, std::uint64_t now_ms);

  // The node stored a write to this transfer's partition (after the write reached the
  // engine). Forwards it to the target at once (HandoffMirror, best effort, unthrottled) and,
  // while running, makes sure the key's current value is inside an acknowledged batch before
  // kDone. After kDone it only forwards (the node should route writes to the new owner by
  // then); after kFailed it does nothing. InvalidArgument when the key is not in the partition.
  Status MirrorWrite(std::string_view storage_key, std::string_view encoded_object);

  // The stored object at `storage_key` changed by a write that MirrorWrite did not see (a hint
  // delivered, a copy received): while running, a key the scan passed is re-sent before kDone.
  // Keys outside the partition or not carried are ignored.
  void MarkChanged(std::string_view storage_key);

  std::vector<cluster::Outbound> TakeOutbound();

  HandoffState state() const { return state_; }
  // OK unless state() is kFailed.
  const Status& failure() const { return failure_; }
  const HandoffProgress& progress() const { return progress_; }
  // When the stream got its slot and began (nullopt: not yet), and the partition's size
  // (Engine::ApproximateBytes) estimated then, in the units of bytes_acknowledged; 0: unknown.
  // For progress reports only.
  std::optional<std::uint64_t> started_ms() const { return started_ms_; }
  std::uint64_t bytes_estimate() const { return bytes_estimate_; }
  const HandoffTransfer& transfer() const { return transfer_; }
  // Whether it holds a stream slot of the budget.
  bool holds_stream() const { return slot_.has_value(); }
  // The earliest now_ms at which Tick has something to do (a send or a timeout); nullopt
  // when finished. A time not after the latest now_ms seen means "at the next opportunity":
  // the sender waits for a stream slot, or behind other kinds of work in the budget's line.
  // A hint for timers; ticking more often is harmless.
  std::optional<std::uint64_t> NextTickMs() const;

 private:
  // A built batch: waiting for the budget until sent, then in flight until acknowledged.
  struct InFlight {
    bool sent = false;
    proto::PeerMessage message;  // the HandoffBatch, until sent
    std::uint64_t sequence = 0;  // assigned when sent
    std::uint64_t deadline_ms = 0;
    std::uint64_t objects = 0;
    std::uint64_t bytes = 0;
    // Where the scan resumes once this batch is acknowledged; nullopt: range exhausted.
    std::optional<std::string> scan_resume_key;
    std::vector<std::string> dirty_keys;  // re-sent writes carried by this batch
    bool last = false;
  };

  // Builds the next batch from the cursor (unless one is built already) and sends it when the
  // budget allows.
  void SendBatch(std::uint64_t now_ms);
  // Fills `batch` from the dirty keys and then the scan; fills `flight` accordingly.
  Status BuildBatch(proto::HandoffBatch& batch, InFlight& flight);
  // The in-flight attempt failed: puts its re-sent keys back and counts it; the next attempt
  // waits until resume_at_ms; fails the transfer when the attempts are exhausted.
  void FailAttempt(const Status& reason, std::uint64_t resume_at_ms);
  void Finish(HandoffState state, Status failure);
  void ReleaseStream();
  // The transfer carries this key (its filter accepts it, or it has none).
  bool Carries(std::string_view storage_key) const;
  // Keys below this were (possibly) read by a scan already: a write there must be re-sent.
  bool ScannedPast(std::string_view storage_key) const;
  void RestartFromBeginning();

  HandoffTransfer transfer_;
  storage::Engine& engine_;
  BackgroundBudget& budget_;
  WorkKind kind_;
  HandoffSenderConfig config_;
  storage::KeyRange range_;

  HandoffState state_ = HandoffState::kRunning;
  Status failure_;
  HandoffProgress progress_;

  // Every key of the range below the cursor is acknowledged; nullopt: the whole range is.
  std::optional<std::string> cursor_;
  // Keys below the scanned position written since their scan; re-sent before completion.
  std::set<std::string> dirty_keys_;
  // The batch built and waiting for the budget (sent = false), or in flight.
  std::optional<InFlight> in_flight_;
  std::uint64_t next_sequence_ = 1;
  std::uint32_t failed_attempts_ = 0;
  std::uint64_t resume_at_ms_ = 0;  // no batch is sent before this (after a failed attempt)
  std::optional<std::uint64_t> receiver_incarnation_;
  std::optional<StreamSlot> slot_;  // held from the first Tick that got one until finished
  std::uint64_t latest_now_ms_ = 0;
  std::optional<std::uint64_t> started_ms_;
  std::uint64_t bytes_estimate_ = 0;

  std::vector<cluster::Outbound> outbound_;
};

}  // namespace meridian::replication
