#include "replication/quorum_text.h"

namespace meridian::replication {

std::string JoinNodes(const std::vector<cluster::NodeId>& nodes) {
  std::string out;
  for (const cluster::NodeId& node : nodes) {
    if (!out.empty()) out += ", ";
    out += node;
  }
  return out;
}

std::vector<cluster::NodeId> UnreachablePrimaries(const ReplicaSelection& selection) {
  std::vector<cluster::NodeId> nodes;
  for (const ReplicaTarget& target : selection.targets) {
    if (!target.primary) nodes.push_back(target.hint_for);
  }
  nodes.insert(nodes.end(), selection.unreplaced.begin(), selection.unreplaced.end());
  return nodes;
}

std::string Shortfall(std::uint32_t needed, std::string_view what, std::size_t have,
                      std::uint32_t n, std::string_view label,
                      const std::vector<cluster::NodeId>& unreachable) {
  std::string out = "needs " + std::to_string(needed) + " " + std::string(what) + " but only " +
                    std::to_string(have) + " of " + std::to_string(n) +
                    (have == 1 ? " is" : " are") + " reachable";
  if (!unreachable.empty()) out += " (" + std::string(label) + ": " + JoinNodes(unreachable) + ")";
  return out;
}

std::string Count(std::uint32_t count, std::string_view singular, std::string_view plural) {
  return std::to_string(count) + " " + std::string(count == 1 ? singular : plural);
}

}  // namespace meridian::replication
