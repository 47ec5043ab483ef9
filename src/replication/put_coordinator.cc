#include "replication/put_coordinator.h"

#include <string>
#include <utility>

#include "core/assert.h"
#include "replication/quorum_text.h"

namespace meridian::replication {
namespace {

constexpr int kNoAnswer = 0;
constexpr int kAcked = 1;
constexpr int kErrored = 2;

}  // namespace

Status PutCoordinator::CheckReachable(const ReplicaSelection& selection,
                                      const ResolvedQuorum& quorum) {
  const std::size_t total = selection.targets.size();
  std::size_t primaries = 0;
  for (const ReplicaTarget& target : selection.targets) primaries += target.primary ? 1 : 0;
  constexpr std::string_view kNothing = "; nothing was written";
  if (total < quorum.w) {
    return Status::Unavailable("w=" + std::to_string(quorum.w) + " " +
                               Shortfall(quorum.w, "replicas", total, quorum.n,
                                         "unreachable primaries", selection.unreplaced) +
                               std::string(kNothing));
  }
  if (total < quorum.dw) {
    return Status::Unavailable("dw=" + std::to_string(quorum.dw) + " " +
                               Shortfall(quorum.dw, "replicas", total, quorum.n,
                                         "unreachable primaries", selection.unreplaced) +
                               std::string(kNothing));
  }
  if (primaries < quorum.pw) {
    return Status::Unavailable("pw=" + std::to_string(quorum.pw) + " " +
                               Shortfall(quorum.pw, "primaries", primaries, quorum.n, "unreachable",
                                         UnreachablePrimaries(selection)) +
                               std::string(kNothing));
  }
  return Status::Ok();
}

PutCoordinator::PutCoordinator(std::vector<ReplicaTarget> targets, const ResolvedQuorum& quorum,
                               std::uint64_t deadline_ms)
    : targets_(std::move(targets)),
      quorum_(quorum),
      deadline_ms_(deadline_ms),
      answers_(targets_.size(), kNoAnswer) {
  receipt_.n = quorum_.n;
  receipt_.required = quorum_.w;
  Decide();  // a quorum of zero is met at once; an unreachable one fails at once
}

void PutCoordinator::OnAck(std::size_t index, bool durable, bool hinted) {
  MERIDIAN_CHECK(index < targets_.size());
  if (answers_[index] != kNoAnswer) return;
  answers_[index] = kAcked;
  if (state_ != QuorumState::kPending) return;  // the receipt is frozen at the decision
  ++receipt_.replies;
  if (targets_[index].primary) {
    ++receipt_.primaries;
  } else {
    ++receipt_.fallbacks;
  }
  if (durable) ++receipt_.durable;
  if (hinted) ++receipt_.hinted;
  Decide();
}

void PutCoordinator::OnError(std::size_t index, const Status& error) {
  MERIDIAN_CHECK(index < targets_.size());
  if (answers_[index] != kNoAnswer) return;
  answers_[index] = kErrored;
  if (state_ != QuorumState::kPending) return;
  if (first_error_.empty()) first_error_ = targets_[index].node + ": " + error.message();
  Decide();
}

void PutCoordinator::OnTime(std::uint64_t now_ms) {
  if (state_ != QuorumState::kPending || now_ms < deadline_ms_) return;
  state_ = QuorumState::kFailed;
  failure_ = Status::Timeout(FailureText("within the deadline", "was not reached"));
}

bool PutCoordinator::all_answered() const {
  for (int answer : answers_) {
    if (answer == kNoAnswer) return false;
  }
  return true;
}

void PutCoordinator::Decide() {
  if (state_ != QuorumState::kPending) return;
  const ConsistencyReceipt& r = receipt_;
  if (r.replies >= quorum_.w && r.durable >= quorum_.dw && r.primaries >= quorum_.pw) {
    state_ = QuorumState::kSucceeded;
    return;
  }
  // The best case from here: every target that has not answered acknowledges durably.
  std::uint32_t open = 0;
  std::uint32_t open_primaries = 0;
  std::uint32_t errors = 0;
  for (std::size_t i = 0; i < targets_.size(); ++i) {
    if (answers_[i] == kErrored) ++errors;
    if (answers_[i] != kNoAnswer) continue;
    ++open;
    if (targets_[i].primary) ++open_primaries;
  }
  if (r.replies + open >= quorum_.w && r.durable + open >= quorum_.dw &&
      r.primaries + open_primaries >= quorum_.pw) {
    return;
  }
  state_ = QuorumState::kFailed;
  // errors == 0 only when the targets never could reach the quorum (CheckReachable ignored).
  const std::string when = errors > 0 ? "before " + Count(errors, "replica", "replicas") + " failed"
                                      : "from " + Count(static_cast<std::uint32_t>(targets_.size()),
                                                        "target", "targets");
  failure_ = Status::Unavailable(FailureText(when, "can no longer be reached"));
}

std::string PutCoordinator::FailureText(const std::string& when, const std::string& verdict) const {
  const ConsistencyReceipt& r = receipt_;
  std::string text = std::to_string(r.replies) + " of " + std::to_string(quorum_.n) +
                     " replicas acknowledged (" + Count(r.primaries, "primary", "primaries") +
                     ", " + std::to_string(r.durable) + " durable, " + std::to_string(r.hinted) +
                     " hinted) " + when + "; w=" + std::to_string(quorum_.w) +
                     " dw=" + std::to_string(quorum_.dw) + " pw=" + std::to_string(quorum_.pw) +
                     " " + verdict + "; ";
  if (r.replies > 0) {
    text += "the write was applied on " + Count(r.replies, "replica", "replicas") +
            " and may become visible (it was not rolled back)";
  } else if (!all_answered()) {
    text += "the write may still be applied by replicas that did not answer";
  } else {
    text += "no replica acknowledged the write";
  }
  if (!first_error_.empty()) text += "; " + first_error_;
  return text;
}

}  // namespace meridian::replication
