// GetCoordinator: the quorum state machine of one read on its coordinator (any node). The
// node asks every target and feeds the replies in; the coordinator answers once r replicas
// replied (pr of them primaries; a fallback's "not found" counts only once every target
// answered) with the merge of what came back, then keeps collecting
// until every target answered or the deadline, and names the replicas whose copy was behind
// the merge of everything it saw, for read repair.
//
// Sans-IO; target indices refer to the vector given at construction.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/dvv_set.h"
#include "core/quorum.h"
#include "core/status.h"
#include "replication/consistency_receipt.h"
#include "replication/put_coordinator.h"
#include "replication/replica_selection.h"

namespace meridian::replication {

class GetCoordinator {
 public:
  // Unavailable when the targets cannot satisfy r or pr even if all reply; the message names
  // the numbers and the unreachable primaries.
  static Status CheckReachable(const ReplicaSelection& selection, const ResolvedQuorum& quorum);

  GetCoordinator(std::vector<ReplicaTarget> targets, const ResolvedQuorum& quorum,
                 ConflictPolicy policy, std::uint64_t deadline_ms);

  // Target `index` replied with its copy (nullopt: it has none). `incomplete`: the replica is
  // still receiving its copy of the partition, so its "not found" counts only like a
  // fallback's (once every target answered). Repeats are ignored.
  void OnReply(std::size_t index, std::optional<DvvSet> object, bool incomplete = false);
  void OnError(std::size_t index, const Status& error);
  // Past the deadline: a pending read fails with Timeout; a succeeded one stops waiting.
  void OnTime(std::uint64_t now_ms);

  const std::vector<ReplicaTarget>& targets() const { return targets_; }
  QuorumState state() const { return state_; }
  // Unavailable or Timeout naming what was reached, e.g. "1 of 3 replicas replied (1 primary)
  // within the deadline; r=2 pr=0 was not reached"; Internal when two replies hold different
  // writes under one dot (DvvSet::Merge refused them).
  const Status& failure() const { return failure_; }
  // When succeeded: the merge of the replies that decided it (nullopt: no replica had the
  // key), last-write-wins resolved under kLastWriteWins.
  const std::optional<DvvSet>& answer() const { return answer_; }
  // As of the decision; `behind` counts the deciding replies older than the answer.
  const ConsistencyReceipt& receipt() const { return receipt_; }

  // Every target answered, or the deadline passed.
  bool finished() const;
  // The merge of every reply so far (nullopt: none had the key), resolved like answer().
  const std::optional<DvvSet>& merged() const { return merged_; }
  // Primaries that replied with a copy different from merged() (including "none" when
  // merged() has a state): they need merged() written to them. Meaningful once finished();
  // empty after a version conflict.
  std::vector<std::size_t> ReplicasBehind() const;

 private:
  void Decide();
  // "<what was reached> <when>; r=.. pr=.. <verdict>[; <first error>]"
  std::string FailureText(const std::string& when, const std::string& verdict) const;

  std::vector<ReplicaTarget> targets_;
  ResolvedQuorum quorum_;
  ConflictPolicy policy_;
  std::uint64_t deadline_ms_;
  bool deadline_passed_ = false;
  std::uint32_t fallback_not_found_ = 0;        // fallbacks (or incomplete replicas) without a copy
  std::vector<int> answers_;                    // per target: 0 none, 1 reply, 2 error
  std::vector<std::optional<DvvSet>> replies_;  // per target, when it replied
  QuorumState state_ = QuorumState::kPending;
  Status failure_;
  Status conflict_;  // two replies held different writes under one dot (see OnReply)
  std::optional<DvvSet> answer_;
  std::optional<DvvSet> merged_;
  ConsistencyReceipt receipt_;
  std::string first_error_;  // "<node>: <message>" of the first error before the decision
};

}  // namespace meridian::replication
