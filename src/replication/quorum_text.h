// Wording shared by the quorum state machines' errors, so every refusal and failure reads
// the same: "w=2 needs 2 replicas but only 1 of 3 is reachable (unreachable primaries: b, c)".
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/node_id.h"
#include "replication/replica_selection.h"

namespace meridian::replication {

// "a, b, c"
std::string JoinNodes(const std::vector<cluster::NodeId>& nodes);

// Every unreachable primary in preference order: the ones fallbacks replace (a prefix of the
// unreachable primaries, in order), then the unreplaced ones.
std::vector<cluster::NodeId> UnreachablePrimaries(const ReplicaSelection& selection);

// "needs 2 replicas but only 1 of 3 is reachable (unreachable primaries: b, c)"; the
// parenthesis is left out when `unreachable` is empty.
std::string Shortfall(std::uint32_t needed, std::string_view what, std::size_t have,
                      std::uint32_t n, std::string_view label,
                      const std::vector<cluster::NodeId>& unreachable);

// "1 primary", "2 primaries"
std::string Count(std::uint32_t count, std::string_view singular, std::string_view plural);

}  // namespace meridian::replication
