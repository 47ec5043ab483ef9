// Preference lists: the ordered nodes responsible for a partition. Walking the ring from the
// key's partition, the first N distinct nodes — distinct zones first — are the primaries; the
// walk continues over the remaining nodes for fallbacks (sloppy quorum).
// Pure functions over a Ring; deterministic.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "cluster/node_id.h"
#include "cluster/ring.h"

namespace meridian::cluster {

// Zone of a node ("" when unknown: all unknown-zone nodes count as one zone).
using ZoneOf = std::function<std::string(const NodeId&)>;

struct PreferenceList {
  std::vector<NodeId> primaries;  // up to n distinct nodes
  std::vector<NodeId> fallbacks;  // every other ring node, in walk order
};

// Uses Ring::Owner (current ownership). Primaries: walk partitions partition, partition+1, ...
// (wrapping) and take each new owner whose zone is not yet used; if fewer than n were found,
// walk again taking new owners regardless of zone. Fallbacks: the remaining owners in walk
// order. Nodes are never repeated.
PreferenceList ComputePreferenceList(const Ring& ring, const ZoneOf& zone_of,
                                     std::uint32_t partition, std::size_t n);

// The primaries of ComputePreferenceList(ring, zone_of, partition, n), without the fallbacks:
// the walk stops as soon as n primaries are found, so on a ring whose zones allow n distinct
// zones it visits only a few partitions instead of all Q. (When fewer than n zones own
// partitions, the zone-distinct walk still covers the whole ring before the second walk.)
// The result for n is a prefix of the result for any larger n.
std::vector<NodeId> ComputePrimaries(const Ring& ring, const ZoneOf& zone_of,
                                     std::uint32_t partition, std::size_t n);

}  // namespace meridian::cluster
