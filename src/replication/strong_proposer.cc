#include "replication/strong_proposer.h"

#include <algorithm>
#include <utility>

#include "core/assert.h"

namespace meridian::replication {

bool PreconditionHolds(Precondition precondition, const Ballot& expected,
                       const RegisterValue& current) {
  switch (precondition) {
    case Precondition::kNone:
      return true;
    case Precondition::kVersion:
      return current.version == expected;
    case Precondition::kAbsent:
      return !current.present;
    case Precondition::kPresent:
      return current.present;
  }
  return false;
}

StrongProposer::StrongProposer(const StrongProposerConfig& config, JointQuorum quorum, StrongOp op,
                               std::optional<ChosenProposal> fast, std::uint64_t round_floor,
                               std::uint64_t seed, std::uint64_t now_ms, std::uint64_t deadline_ms)
    : config_(config),
      quorum_(std::move(quorum)),
      op_(std::move(op)),
      fast_(std::move(fast)),
      random_(seed),
      deadline_ms_(deadline_ms),
      highest_round_(round_floor),
      now_ms_(now_ms) {
  MERIDIAN_CHECK(config_.backoff_ms_min <= config_.backoff_ms_max);
  const std::size_t n = quorum_.acceptors();
  granted_.assign(n, false);
  refused_.assign(n, false);
  asked_.assign(n, false);
  replies_.assign(n, AcceptorReply{});
  if (fast_) {
    MERIDIAN_CHECK(fast_->ballot.proposer == config_.proposer);
    MERIDIAN_CHECK(fast_->ballot.incarnation == config_.incarnation);
    SeeRound(fast_->ballot.round);
  }
  if (op_.kind == StrongOp::Kind::kRead) {
    StartQuery();
  } else if (fast_) {
    ProposeFrom(fast_->value, fast_->ballot.Successor());
  } else if (config_.unsafe_skip_prepare) {
    ProposeFrom(RegisterValue{}, NewBallot());
  } else {
    StartPrepare();
  }
}

std::vector<StrongRequest> StrongProposer::TakeRequests() {
  requests_sent_ += requests_.size();
  return std::exchange(requests_, {});
}

Ballot StrongProposer::NewBallot() {
  ++highest_round_;
  return Ballot{highest_round_, config_.proposer, config_.incarnation, 0};
}

void StrongProposer::SeeRound(std::uint64_t round) {
  highest_round_ = std::max(highest_round_, round);
}

void StrongProposer::BeginPhase(Phase phase, const Ballot& ballot) {
  phase_ = phase;
  ballot_ = ballot;
  phase_started_ms_ = now_ms_;
  std::fill(granted_.begin(), granted_.end(), false);
  std::fill(refused_.begin(), refused_.end(), false);
  std::fill(replies_.begin(), replies_.end(), AcceptorReply{});
  std::fill(asked_.begin(), asked_.end(), false);
  widened_ = false;
  ++round_trips_;
  requests_.clear();  // requests of an abandoned phase are not worth sending
  if (!config_.thrifty) {
    Widen();
    return;
  }
  // The shortest prefix that is a quorum.
  std::vector<bool> prefix(quorum_.acceptors(), false);
  for (std::size_t i = 0; i < quorum_.acceptors() && !quorum_.Reached(prefix); ++i) {
    prefix[i] = true;
    SendTo(i);
  }
  widened_ = std::find(asked_.begin(), asked_.end(), false) == asked_.end();
}

void StrongProposer::SendTo(std::size_t i) {
  if (asked_[i]) return;
  asked_[i] = true;
  StrongRequest request;
  request.acceptor = i;
  request.kind = phase_ == Phase::kQuery     ? StrongRequest::Kind::kQuery
                 : phase_ == Phase::kPrepare ? StrongRequest::Kind::kPrepare
                                             : StrongRequest::Kind::kPropose;
  request.ballot = ballot_;
  if (phase_ == Phase::kPropose) request.value = proposed_;
  requests_.push_back(std::move(request));
}

void StrongProposer::Widen() {
  for (std::size_t i = 0; i < quorum_.acceptors(); ++i) SendTo(i);
  widened_ = true;
}

void StrongProposer::StartQuery() {
  BeginPhase(Phase::kQuery, Ballot{});
}

void StrongProposer::StartPrepare() {
  BeginPhase(Phase::kPrepare, NewBallot());
}

void StrongProposer::ProposeFrom(const RegisterValue& current, const Ballot& ballot) {
  if (op_.kind == StrongOp::Kind::kRead) {
    pending_result_ = StrongProposerResult{Status::Ok(), current, false};
    Propose(ballot, current);
    return;
  }
  if (!attempts_.empty()) {
    // An earlier proposal of this op may have taken effect: settle that before anything new.
    for (const Attempt& attempt : attempts_) {
      if (current.WroteRecently(attempt.proposed.version)) {
        pending_result_ = StrongProposerResult{Status::Ok(), attempt.proposed, false};
        Propose(ballot, current);  // unchanged: makes sure the value holding it is chosen
        return;
      }
    }
    for (const Attempt& attempt : attempts_) {
      // The attempt would follow its base directly in the key's history; with the base in
      // view (or the whole history, from its start), its absence means it never took effect.
      const bool base_in_view = attempt.base.version.IsZero()
                                    ? current.recent.size() < kRecentWrites
                                    : current.WroteRecently(attempt.base.version);
      if (!base_in_view) {
        Fail(Status::Timeout(
            "the key changed too often while the write was retried to tell whether it took "
            "effect; the write may or may not have been applied"));
        return;
      }
    }
  }
  if (!PreconditionHolds(op_.precondition, op_.expected, current)) {
    pending_result_ = StrongProposerResult{Status::Ok(), current, true};
    Propose(ballot, current);  // unchanged: the refusal is linearizable too
    return;
  }
  const bool present = op_.kind == StrongOp::Kind::kPut;
  RegisterValue next = current.Written(ballot, present, present ? op_.bytes : std::string());
  attempts_.push_back(Attempt{current, next});
  pending_result_ = StrongProposerResult{Status::Ok(), next, false};
  Propose(ballot, std::move(next));
}

void StrongProposer::Propose(const Ballot& ballot, RegisterValue value) {
  proposed_ = std::move(value);
  BeginPhase(Phase::kPropose, ballot);
}

void StrongProposer::Backoff() {
  phase_ = Phase::kBackoff;
  requests_.clear();
  const std::uint64_t span = config_.backoff_ms_max - config_.backoff_ms_min + 1;
  resume_at_ms_ = now_ms_ + config_.backoff_ms_min + random_.Uniform(span);
}

void StrongProposer::OnReply(std::size_t acceptor, StrongRequest::Kind kind, const Ballot& ballot,
                             const AcceptorReply& reply) {
  if (state_ != State::kPending || acceptor >= quorum_.acceptors()) return;
  if (granted_[acceptor] || refused_[acceptor]) return;
  switch (phase_) {
    case Phase::kQuery: {
      if (kind != StrongRequest::Kind::kQuery) return;
      granted_[acceptor] = true;
      replies_[acceptor] = reply;
      SeeRound(reply.ballot.round);
      // Agreement: a quorum whose last accepted proposal is the same one.
      std::vector<bool> agree(quorum_.acceptors(), false);
      for (std::size_t i = 0; i < quorum_.acceptors(); ++i) {
        agree[i] = granted_[i] && replies_[i].ballot == reply.ballot;
      }
      if (quorum_.Reached(agree)) {
        pending_result_ = StrongProposerResult{Status::Ok(), reply.value, false};
        Succeed();
      } else if (quorum_.Reached(granted_)) {
        StartPrepare();  // a quorum answered and disagrees: a full round settles the value
      }
      return;
    }
    case Phase::kPrepare:
    case Phase::kPropose: {
      const auto expected =
          phase_ == Phase::kPrepare ? StrongRequest::Kind::kPrepare : StrongRequest::Kind::kPropose;
      if (kind != expected || ballot != ballot_) return;
      if (reply.granted) {
        granted_[acceptor] = true;
        replies_[acceptor] = reply;
      } else {
        // A refusal naming this very ballot answers a duplicate of a prepare it granted.
        if (reply.ballot == ballot_) return;
        refused_[acceptor] = true;
        SeeRound(reply.ballot.round);
        if (!widened_ && !quorum_.Lost(refused_)) Widen();  // the others may still grant
      }
      if (quorum_.Reached(granted_)) {
        if (phase_ == Phase::kPrepare) {
          const AcceptorReply* highest = nullptr;
          for (std::size_t i = 0; i < quorum_.acceptors(); ++i) {
            if (granted_[i] && (highest == nullptr || replies_[i].ballot > highest->ballot)) {
              highest = &replies_[i];
            }
          }
          MERIDIAN_CHECK(highest != nullptr);
          const RegisterValue current = highest->value;
          ProposeFrom(current, ballot_);
        } else {
          chosen_ = ChosenProposal{ballot_, proposed_};
          Succeed();
        }
      } else if (quorum_.Lost(refused_)) {
        Backoff();
      }
      return;
    }
    case Phase::kBackoff:
    case Phase::kDone:
      return;
  }
}

void StrongProposer::OnTime(std::uint64_t now_ms) {
  now_ms_ = std::max(now_ms_, now_ms);
  if (state_ != State::kPending) return;
  if (now_ms_ >= deadline_ms_) {
    Fail(Status::Timeout(attempts_.empty()
                             ? "no quorum of acceptors answered within the deadline; nothing "
                               "was written"
                             : "no quorum of acceptors answered within the deadline; the write "
                               "may or may not have been applied"));
    return;
  }
  if (phase_ == Phase::kBackoff) {
    if (now_ms_ >= resume_at_ms_) StartPrepare();
  } else if (now_ms_ - phase_started_ms_ >= config_.phase_timeout_ms) {
    StartPrepare();
  } else if (!widened_ && now_ms_ - phase_started_ms_ >= config_.widen_after_ms) {
    Widen();  // the preferred quorum is slow or partly away: ask the others too
  }
}

void StrongProposer::Succeed() {
  state_ = State::kSucceeded;
  phase_ = Phase::kDone;
  requests_.clear();
  result_ = std::move(pending_result_);
}

void StrongProposer::Fail(Status status) {
  MERIDIAN_CHECK(!status.ok());
  state_ = State::kFailed;
  phase_ = Phase::kDone;
  requests_.clear();
  result_ = StrongProposerResult{std::move(status), {}, false, !attempts_.empty()};
}

}  // namespace meridian::replication
