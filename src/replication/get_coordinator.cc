#include "replication/get_coordinator.h"

#include <string>
#include <utility>

#include "core/assert.h"
#include "replication/quorum_text.h"

namespace meridian::replication {
namespace {

constexpr int kNoAnswer = 0;
constexpr int kReplied = 1;
constexpr int kErrored = 2;

}  // namespace

Status GetCoordinator::CheckReachable(const ReplicaSelection& selection,
                                      const ResolvedQuorum& quorum) {
  const std::size_t total = selection.targets.size();
  std::size_t primaries = 0;
  for (const ReplicaTarget& target : selection.targets) primaries += target.primary ? 1 : 0;
  const std::vector<cluster::NodeId> unreachable = UnreachablePrimaries(selection);
  if (total < quorum.r) {
    return Status::Unavailable("r=" + std::to_string(quorum.r) + " " +
                               Shortfall(quorum.r, "replicas", total, quorum.n,
                                         "unreachable primaries", selection.unreplaced));
  }
  if (primaries < quorum.pr) {
    return Status::Unavailable(
        "pr=" + std::to_string(quorum.pr) + " " +
        Shortfall(quorum.pr, "primaries", primaries, quorum.n, "unreachable", unreachable));
  }
  return Status::Ok();
}

GetCoordinator::GetCoordinator(std::vector<ReplicaTarget> targets, const ResolvedQuorum& quorum,
                               ConflictPolicy policy, std::uint64_t deadline_ms)
    : targets_(std::move(targets)),
      quorum_(quorum),
      policy_(policy),
      deadline_ms_(deadline_ms),
      answers_(targets_.size(), kNoAnswer),
      replies_(targets_.size()) {
  receipt_.n = quorum_.n;
  receipt_.required = quorum_.r;
  Decide();  // r = 0 is met at once; targets that cannot reach r fail at once
}

void GetCoordinator::OnReply(std::size_t index, std::optional<DvvSet> object, bool incomplete) {
  MERIDIAN_CHECK(index < targets_.size());
  if (answers_[index] != kNoAnswer) return;
  answers_[index] = kReplied;
  replies_[index] = std::move(object);
  // Re-merged from every reply so that last-write-wins resolves the full merge, not a merge
  // of resolved parts. At most n (<= kReplicasMax) replies.
  merged_.reset();
  for (std::size_t i = 0; i < targets_.size(); ++i) {
    if (answers_[i] != kReplied || !replies_[i].has_value()) continue;
    if (!merged_.has_value()) {
      merged_ = *replies_[i];
      continue;
    }
    if (Status merged = merged_->MergeFrom(*replies_[i]); !merged.ok()) {
      // Two replicas hold different writes under one dot: never pick one silently. The read
      // fails (if undecided) and nothing is repaired from it.
      answers_[i] = kErrored;
      replies_[i].reset();
      if (conflict_.ok()) conflict_ = Status::Internal(targets_[i].node + ": " + merged.message());
      if (state_ == QuorumState::kPending) {
        state_ = QuorumState::kFailed;
        failure_ = conflict_;
      }
      return;
    }
  }
  if (merged_.has_value() && policy_ == ConflictPolicy::kLastWriteWins) {
    merged_->ResolveLastWriteWins();
  }
  if (state_ != QuorumState::kPending) return;  // the receipt is frozen at the decision
  ++receipt_.replies;
  if (targets_[index].primary) {
    ++receipt_.primaries;
  } else {
    ++receipt_.fallbacks;
  }
  if (!replies_[index].has_value() && (incomplete || !targets_[index].primary)) {
    ++fallback_not_found_;
  }
  Decide();
}

void GetCoordinator::OnError(std::size_t index, const Status& error) {
  MERIDIAN_CHECK(index < targets_.size());
  if (answers_[index] != kNoAnswer) return;
  answers_[index] = kErrored;
  if (state_ != QuorumState::kPending) return;
  if (first_error_.empty()) first_error_ = targets_[index].node + ": " + error.message();
  Decide();
}

void GetCoordinator::OnTime(std::uint64_t now_ms) {
  if (now_ms < deadline_ms_) return;
  deadline_passed_ = true;
  if (state_ != QuorumState::kPending) return;
  state_ = QuorumState::kFailed;
  failure_ = Status::Timeout(FailureText("within the deadline", "was not reached"));
}

bool GetCoordinator::finished() const {
  if (deadline_passed_) return true;
  for (int answer : answers_) {
    if (answer == kNoAnswer) return false;
  }
  return true;
}

std::vector<std::size_t> GetCoordinator::ReplicasBehind() const {
  std::vector<std::size_t> behind;
  if (!conflict_.ok()) return behind;
  for (std::size_t i = 0; i < targets_.size(); ++i) {
    if (!targets_[i].primary || answers_[i] != kReplied) continue;
    if (replies_[i] != merged_) behind.push_back(i);
  }
  return behind;
}

void GetCoordinator::Decide() {
  if (state_ != QuorumState::kPending) return;
  bool all_answered = true;
  for (int answer : answers_) all_answered = all_answered && answer != kNoAnswer;
  // A fallback without a copy usually just holds no hint for the key: its "not found" counts
  // toward r only once every target answered (else a coordinator that is itself a fallback
  // could answer 404 from two empty fallbacks before the live primary that has the value).
  const std::uint32_t counted =
      all_answered ? receipt_.replies : receipt_.replies - fallback_not_found_;
  if (counted >= quorum_.r && receipt_.primaries >= quorum_.pr) {
    state_ = QuorumState::kSucceeded;
    answer_ = merged_;
    // Every reply so far decided the read.
    for (std::size_t i = 0; i < targets_.size(); ++i) {
      if (answers_[i] == kReplied && replies_[i] != answer_) ++receipt_.behind;
    }
    return;
  }
  // The best case from here: every target that has not answered replies.
  std::uint32_t open = 0;
  std::uint32_t open_primaries = 0;
  std::uint32_t errors = 0;
  for (std::size_t i = 0; i < targets_.size(); ++i) {
    if (answers_[i] == kErrored) ++errors;
    if (answers_[i] != kNoAnswer) continue;
    ++open;
    if (targets_[i].primary) ++open_primaries;
  }
  if (receipt_.replies + open >= quorum_.r && receipt_.primaries + open_primaries >= quorum_.pr) {
    return;  // (fallback "not found" replies count in the best case: see above)
  }
  state_ = QuorumState::kFailed;
  // errors == 0 only when the targets never could reach the quorum (CheckReachable ignored).
  const std::string when = errors > 0 ? "before " + Count(errors, "replica", "replicas") + " failed"
                                      : "from " + Count(static_cast<std::uint32_t>(targets_.size()),
                                                        "target", "targets");
  failure_ = Status::Unavailable(FailureText(when, "can no longer be reached"));
}

std::string GetCoordinator::FailureText(const std::string& when, const std::string& verdict) const {
  std::string text = std::to_string(receipt_.replies) + " of " + std::to_string(quorum_.n) +
                     " replicas replied (" + Count(receipt_.primaries, "primary", "primaries") +
                     ") " + when + "; r=" + std::to_string(quorum_.r) +
                     " pr=" + std::to_string(quorum_.pr) + " " + verdict;
  if (!first_error_.empty()) text += "; " + first_error_;
  return text;
}

}  // namespace meridian::replication
