// PutCoordinator: the quorum state machine of one write (put or delete) on its coordinator.
// The node mints the new object state locally, sends it to the other targets and feeds their
// answers in; the coordinator decides when the write succeeded (w acknowledgements, dw of
// them durable, pw of them from primaries) or failed, and says what was reached.
//
// Sans-IO: no engine, no messages; inputs are OnAck/OnError/OnTime with target indices into
// the vector given at construction (the coordinator's own local write is one of them).
// Once decided, the state, receipt and failure never change; later answers only mark their
// target as answered (all_answered()).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/quorum.h"
#include "core/status.h"
#include "replication/consistency_receipt.h"
#include "replication/replica_selection.h"

namespace meridian::replication {

enum class QuorumState { kPending, kSucceeded, kFailed };

class PutCoordinator {
 public:
  // Unavailable (nothing should be written) when `selection` cannot satisfy `quorum` even if
  // every target acknowledges: fewer targets than w or dw, fewer primaries than pw. The message
  // names the numbers and the unreachable primaries, e.g. "pw=2 needs 2 primaries but only 1
  // of 3 is reachable (unreachable: b, c); nothing was written".
  static Status CheckReachable(const ReplicaSelection& selection, const ResolvedQuorum& quorum);

  // `targets` must satisfy CheckReachable. `deadline_ms` is on the node's monotonic clock.
  PutCoordinator(std::vector<ReplicaTarget> targets, const ResolvedQuorum& quorum,
                 std::uint64_t deadline_ms);

  // Target `index` acknowledged (durable: synced to disk; hinted: stored as a hint).
  // A second answer from the same target is ignored.
  void OnAck(std::size_t index, bool durable, bool hinted);
  // Target `index` refused or failed the write.
  void OnError(std::size_t index, const Status& error);
  // Fails the write with Timeout once now_ms >= deadline_ms while still pending.
  void OnTime(std::uint64_t now_ms);

  QuorumState state() const { return state_; }
  // When failed: Unavailable (a replica refused and w can no longer be reached) or Timeout,
  // saying what was reached and whether the write may have been applied, e.g. "1 of 3
  // replicas acknowledged (1 primary, 0 durable) within the deadline; w=2 dw=0 pw=0 was not
  // reached; the write was applied on 1 replica and may become visible".
  const Status& failure() const { return failure_; }
  // Counts as of the decision (or now, while pending).
  const ConsistencyReceipt& receipt() const { return receipt_; }
  const std::vector<ReplicaTarget>& targets() const { return targets_; }
  // Every target has answered (ack or error).
  bool all_answered() const;

 private:
  void Decide();
  // "<what was reached> <when>; w=.. dw=.. pw=.. <verdict>; <whether it was applied>"
  std::string FailureText(const std::string& when, const std::string& verdict) const;

  std::vector<ReplicaTarget> targets_;
  ResolvedQuorum quorum_;
  std::uint64_t deadline_ms_;
  std::vector<int> answers_;  // per target: 0 none, 1 ack, 2 error
  QuorumState state_ = QuorumState::kPending;
  Status failure_;
  ConsistencyReceipt receipt_;
  std::string first_error_;  // "<node>: <message>" of the first error before the decision
};

}  // namespace meridian::replication
