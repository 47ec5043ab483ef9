#include "replication/replica_selection.h"

#include <algorithm>
#include <cstddef>

namespace meridian::replication {

ReplicaSelection SelectReplicas(const cluster::PreferenceList& preference,
                                const std::function<bool(const cluster::NodeId&)>& reachable,
                                bool sloppy_quorum, const cluster::NodeId& self) {
  ReplicaSelection selection;
  std::vector<cluster::NodeId> down;  // unreachable primaries, in preference order
  for (const cluster::NodeId& primary : preference.primaries) {
    if (reachable(primary)) {
      selection.targets.push_back(ReplicaTarget{primary, true, {}});
    } else {
      down.push_back(primary);
    }
  }
  if (!sloppy_quorum) {
    selection.unreplaced = std::move(down);
    return selection;
  }

  const auto& fallbacks = preference.fallbacks;
  // The coordinator itself, when it is a reachable fallback, stands in first: its own write
  // needs no message.
  const auto self_it = std::find(fallbacks.begin(), fallbacks.end(), self);
  const std::size_t self_index = static_cast<std::size_t>(self_it - fallbacks.begin());
  bool self_free = self_it != fallbacks.end() && reachable(self);

  std::size_t cursor = 0;  // next fallback of the walk to consider
  for (const cluster::NodeId& primary : down) {
    if (self_free) {
      self_free = false;
      selection.targets.push_back(ReplicaTarget{self, false, primary});
      continue;
    }
    bool replaced = false;
    while (cursor < fallbacks.size()) {
      const std::size_t i = cursor++;
      if (i == self_index) continue;  // already used, or unreachable
      if (!reachable(fallbacks[i])) continue;
      selection.targets.push_back(ReplicaTarget{fallbacks[i], false, primary});
      replaced = true;
      break;
    }
    if (!replaced) selection.unreplaced.push_back(primary);
  }
  return selection;
}

}  // namespace meridian::replication
