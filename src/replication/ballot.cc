#include "replication/ballot.h"

#include <fmt/format.h>

namespace meridian::replication {

std::string BallotText(const Ballot& ballot) {
  return fmt::format("{}.{:x}.{}.{}", ballot.round, ballot.proposer, ballot.incarnation,
                     ballot.step);
}

}  // namespace meridian::replication
