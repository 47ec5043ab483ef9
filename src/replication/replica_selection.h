// Replica selection: which nodes a request goes to. Each reachable primary of the key is a
// target; with sloppy quorum each unreachable primary is replaced by the next reachable
// fallback of the preference walk, which keeps the object with a hint naming that primary.
// Pure function; deterministic.
#pragma once

#include <functional>
#include <vector>

#include "cluster/node_id.h"
#include "cluster/preference_list.h"

namespace meridian::replication {

struct ReplicaTarget {
  cluster::NodeId node;
  bool primary = true;
  cluster::NodeId hint_for;  // fallbacks only: the unreachable primary this one stands in for

  friend bool operator==(const ReplicaTarget&, const ReplicaTarget&) = default;
};

struct ReplicaSelection {
  // Reachable primaries in preference order, then the fallbacks in the order of the primaries
  // they replace.
  std::vector<ReplicaTarget> targets;
  // Primaries that are unreachable and were not replaced (sloppy quorum off, or no reachable
  // fallback left), in preference order.
  std::vector<cluster::NodeId> unreplaced;
};

// `preference.primaries` must already be cut to the key's n. `reachable(node)` is the local
// failure detector's opinion. When `self` is a reachable fallback (a coordinator that is not a
// primary), it replaces the first unreachable primary before any other fallback.
ReplicaSelection SelectReplicas(const cluster::PreferenceList& preference,
                                const std::function<bool(const cluster::NodeId&)>& reachable,
                                bool sloppy_quorum, const cluster::NodeId& self);

}  // namespace meridian::replication
