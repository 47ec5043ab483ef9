// The state of one key of a strong bucket, as its consensus agrees on it, and what one
// acceptor keeps of that consensus (docs/design/strong.md).
//
// RegisterValue is the key's value: present with bytes, or absent (never written, or deleted).
// `version` is the ballot of the proposal that wrote it — unique to that write; a proposal
// that only confirms a value (a read's write-back, a failed precondition) keeps it. `recent`
// lists the versions of the last kRecentWrites writes, oldest first (`version` last when
// written): a coordinator that lost track of its own proposal finds out from it whether that
// proposal took effect (StrongProposer).
//
// AcceptorState is single-decree Paxos state per key, CASPaxos-style (every accepted proposal
// replaces the value): the highest ballot promised and the last proposal accepted. The
// transitions are pure; a node persists a changed state, synced, before it answers.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "replication/ballot.h"

namespace meridian::replication {

inline constexpr std::size_t kRecentWrites = 4;

struct RegisterValue {
  bool present = false;
  std::string bytes;  // empty unless present
  Ballot version;     // zero: never written
  std::vector<Ballot> recent;

  bool operator==(const RegisterValue&) const = default;
  // The value after a write proposed at `ballot`: `version` and `recent` advance.
  RegisterValue Written(Ballot ballot, bool present_after, std::string bytes_after) const;
  bool WroteRecently(const Ballot& write) const;
};

struct AcceptorState {
  Ballot promised;  // no proposal below it is accepted, no prepare at or below it promised
  Ballot accepted;  // the ballot of `value`; zero: nothing accepted yet
  RegisterValue value;

  bool operator==(const AcceptorState&) const = default;
};

// An acceptor's answer to a prepare or a proposal.
struct AcceptorReply {
  bool granted = false;
  // Granted prepare: the last accepted proposal (its ballot and value). Refusal: the ballot
  // that outranks the request (the proposer's next round goes above it).
  Ballot ballot;
  RegisterValue value;  // granted prepare only
};

// Phase 1: promises `ballot` (and reports the last accepted proposal) iff it is above every
// ballot promised or accepted so far. Returns whether `state` changed.
bool HandlePrepare(AcceptorState& state, const Ballot& ballot, AcceptorReply& reply);
// Phase 2: accepts `value` at `ballot` iff no higher ballot was promised or accepted. A repeat
// of the accepted proposal is granted again without a change. Returns whether `state` changed.
bool HandlePropose(AcceptorState& state, const Ballot& ballot, const RegisterValue& value,
                   AcceptorReply& reply);
// A read's query: the last accepted proposal, without promising anything.
AcceptorReply HandleQuery(const AcceptorState& state);

}  // namespace meridian::replication
