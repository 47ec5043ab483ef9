// Ballot: the number of one proposal in a strong bucket's per-key consensus
// (docs/design/strong.md). Ballots are totally ordered and never reused: the proposer's actor
// id and incarnation make a ballot unique to one proposer's lifetime, and its round is chosen
// above every round that proposer has seen for the key.
//
// `step` numbers the proposals one proposer makes without a new phase 1 (the fast path): no
// ballot of any proposer lies strictly between a ballot and its Successor(), which is what
// lets a proposer whose proposal was chosen at `b` propose at Successor(b) directly — every
// acceptor that accepted `b` is, in effect, already promised to it.
#pragma once

#include <compare>
#include <cstdint>
#include <string>

#include "core/version_vector.h"

namespace meridian::replication {

struct Ballot {
  std::uint64_t round = 0;
  ActorId proposer = 0;  // the proposing node's actor id
  std::uint64_t incarnation = 0;
  std::uint64_t step = 0;

  // Lexicographic in (round, proposer, incarnation, step). The zero ballot precedes every
  // ballot a proposer uses (rounds start at 1).
  friend auto operator<=>(const Ballot&, const Ballot&) = default;
  bool IsZero() const { return round == 0; }
  // The next ballot of the same proposer, with nothing in between.
  Ballot Successor() const { return {round, proposer, incarnation, step + 1}; }
};

// "round.proposer.incarnation.step" in decimal, proposer in hex: for logs and messages.
std::string BallotText(const Ballot& ballot);

}  // namespace meridian::replication
