// StrongProposer: the coordinator of one get, put or delete on a key of a strong bucket — a
// CASPaxos proposer (Rystsov 2018) over the key's acceptors (docs/design/strong.md).
//
//   write, common case   prepare(b) → quorum of promises; the value is the one accepted at the
//                        highest ballot among them; propose(b, op(value)) → quorum of accepts.
//                        2 round trips.
//   write, fast path     the caller knows the proposal this node last got chosen for the key
//                        (`fast`): propose(b.Successor(), op(value)) directly. 1 round trip;
//                        a refusal falls back to the common case.
//   read                 query → when a quorum reports the same accepted ballot, that value
//                        was chosen and nothing newer was acknowledged before the read began:
//                        1 round trip. Otherwise a full round writes the highest value back
//                        unchanged (prepare + propose).
//   precondition failed  (If-Match, If-None-Match) the current value is proposed unchanged, so
//                        the refusal is linearizable too; the result says so.
//
// Liveness: a refused or timed-out phase starts again with a higher round after a random
// backoff, until the deadline. A proposal whose outcome is unknown (some acceptors may have
// accepted it) is never proposed twice: the next phase 1 reads the key's recent writes and the
// result is success (it took effect), a fresh proposal (it provably did not), or Timeout ("may
// or may not have been applied") when the key moved on too far to tell.
//
// Thrifty phases (config.thrifty): each phase first goes only to the shortest prefix of the
// acceptor list that forms a quorum (the caller lists its preferred acceptors first), and to
// the others when one of them refuses or no quorum answered within `widen_after_ms`. Sending a
// phase's request to fewer acceptors never affects safety, only how soon a quorum answers.
//
// Sans-IO: requests come out of TakeRequests() and answers go in through OnReply(); time comes
// in through OnTime(). Acceptors are indices into the caller's acceptor list.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/seeded_random.h"
#include "core/status.h"
#include "replication/ballot.h"
#include "replication/joint_quorum.h"
#include "replication/strong_register.h"

namespace meridian::replication {

// A write's condition on the current value (docs/api.md "Conditional writes").
enum class Precondition : std::uint8_t {
  kNone,
  kVersion,  // If-Match: the current version is exactly `expected`
  kAbsent,   // If-None-Match: * / SET NX: the key is absent
  kPresent,  // SET XX: the key is present
};

struct StrongOp {
  enum class Kind : std::uint8_t { kRead, kPut, kDelete };
  Kind kind = Kind::kRead;
  std::string bytes;  // kPut: the new value
  Precondition precondition = Precondition::kNone;
  Ballot expected;  // kVersion: the version the key must hold (zero: never written)
};

// Whether `precondition` (with `expected`) holds for `current`.
bool PreconditionHolds(Precondition precondition, const Ballot& expected,
                       const RegisterValue& current);

// A proposal a quorum accepted: the starting point of the fast path.
struct ChosenProposal {
  Ballot ballot;
  RegisterValue value;
};

struct StrongRequest {
  enum class Kind : std::uint8_t { kPrepare, kPropose, kQuery };
  std::size_t acceptor = 0;
  Kind kind = Kind::kQuery;
  Ballot ballot;        // kPrepare, kPropose
  RegisterValue value;  // kPropose
};

struct StrongProposerConfig {
  ActorId proposer = 0;
  std::uint64_t incarnation = 0;
  // A phase without a quorum of answers after this long starts again with a higher ballot.
  std::uint64_t phase_timeout_ms = 500;
  // Random pause before a new attempt after a refusal, uniform in [min, max].
  std::uint64_t backoff_ms_min = 1;
  std::uint64_t backoff_ms_max = 20;
  // Phases go to a quorum-sized prefix of the acceptors first (see above); the rest get them
  // after `widen_after_ms` without a quorum, or at once when an acceptor refuses.
  bool thrifty = false;
  std::uint64_t widen_after_ms = 50;
  // TEST ONLY, breaks linearizability: writes skip phase 1 and take the value from the fast
  // path (or absent). Exists so the simulator can show that its checker catches a broken
  // protocol; nothing outside tests sets it.
  bool unsafe_skip_prepare = false;
};

struct StrongProposerResult {
  // OK; Timeout (deadline passed; for a write: "may or may not have been applied" unless
  // nothing was proposed); Unavailable (fewer acceptors reachable than a quorum).
  Status status;
  // Read: the value. Write: the value written (its version is the write's), or with a failed
  // precondition the current value.
  RegisterValue value;
  bool precondition_failed = false;
  // Failed: a new value was proposed, so the write may still take effect.
  bool maybe_applied = false;
};

class StrongProposer {
 public:
  enum class State : std::uint8_t { kPending, kSucceeded, kFailed };

  // `round_floor`: the highest round the caller has seen for any key; new ballots go above it.
  // `fast`: the proposal this node last got chosen for the key, if it still knows it.
  StrongProposer(const StrongProposerConfig& config, JointQuorum quorum, StrongOp op,
                 std::optional<ChosenProposal> fast, std::uint64_t round_floor, std::uint64_t seed,
                 std::uint64_t now_ms, std::uint64_t deadline_ms);

  std::vector<StrongRequest> TakeRequests();
  // The answer of `acceptor` to a request of kind `kind` at `ballot` (a query: zero ballot).
  // Answers to an earlier attempt, repeats and answers after the decision are ignored.
  void OnReply(std::size_t acceptor, StrongRequest::Kind kind, const Ballot& ballot,
               const AcceptorReply& reply);
  // Phase timeouts, backoff and the deadline.
  void OnTime(std::uint64_t now_ms);

  State state() const { return state_; }
  const StrongProposerResult& result() const { return result_; }
  // After success with a proposal (not a 1-round-trip read): what a quorum accepted.
  const std::optional<ChosenProposal>& chosen() const { return chosen_; }
  // The highest round this proposer used or saw refused (for the caller's round floor).
  std::uint64_t highest_round() const { return highest_round_; }
  // Phases started (each one round trip to the acceptors) and requests sent.
  std::uint64_t round_trips() const { return round_trips_; }
  // Whether a new value of this op was proposed (then it may take effect even if this
  // proposer stops now).
  bool proposed_new_value() const { return !attempts_.empty(); }
  std::uint64_t requests_sent() const { return requests_sent_; }

 private:
  enum class Phase : std::uint8_t { kQuery, kPrepare, kPropose, kBackoff, kDone };

  void StartQuery();
  void StartPrepare();
  // Proposes the outcome of the op on `current` (or, for a write whose earlier proposal may
  // have taken effect, settles that first) at `ballot`.
  void ProposeFrom(const RegisterValue& current, const Ballot& ballot);
  void Propose(const Ballot& ballot, RegisterValue value);
  Ballot NewBallot();
  void Backoff();
  void BeginPhase(Phase phase, const Ballot& ballot);
  // Sends the current phase's request to acceptor `i` (once per phase).
  void SendTo(std::size_t i);
  // Sends the current phase's request to every acceptor not asked yet.
  void Widen();
  void Succeed();
  void Fail(Status status);
  void SeeRound(std::uint64_t round);

  StrongProposerConfig config_;
  JointQuorum quorum_;
  StrongOp op_;
  std::optional<ChosenProposal> fast_;
  SplitMix64Random random_;
  std::uint64_t deadline_ms_;

  State state_ = State::kPending;
  Phase phase_ = Phase::kDone;
  Ballot ballot_;  // of the current phase
  std::uint64_t phase_started_ms_ = 0;
  std::uint64_t resume_at_ms_ = 0;  // kBackoff
  std::vector<bool> granted_;
  std::vector<bool> refused_;
  std::vector<bool> asked_;             // of the current phase
  bool widened_ = false;                // every acceptor asked in the current phase
  std::vector<AcceptorReply> replies_;  // kPrepare / kQuery: granted answers
  std::uint64_t highest_round_ = 0;

  // A new value this op proposed: from `base`, at `proposed.version`. Once proposed, its
  // outcome is unknown until a quorum accepts it or a later phase 1 tells.
  struct Attempt {
    RegisterValue base;
    RegisterValue proposed;
  };

  // The proposal of this phase (kPropose) and what the op answers once it is chosen.
  RegisterValue proposed_;
  StrongProposerResult pending_result_;
  std::vector<Attempt> attempts_;
  std::uint64_t now_ms_ = 0;

  std::vector<StrongRequest> requests_;
  StrongProposerResult result_;
  std::optional<ChosenProposal> chosen_;
  std::uint64_t round_trips_ = 0;
  std::uint64_t requests_sent_ = 0;
};

}  // namespace meridian::replication
