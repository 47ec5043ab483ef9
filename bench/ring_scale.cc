// ring_scale: the claim algorithm and preference lists at 10 to 10,000 nodes.
//
// For each cluster size it claims a fresh ring (nodes with weights 1, 2, 4 in turn over four
// zones; Q = the smallest power of two giving >= 64 partitions per node), then claims again
// after one node joins and after one node leaves, and prints a Markdown table: claim times,
// the spread of owned share / weight share, partitions moved against the ideal, and the
// spacing of N = 3 preference lists. Figures are in docs/scale.md.
//
// Run: build/release/bench/ring_scale [max_nodes]   (default 10000)
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "cluster/claim.h"
#include "cluster/preference_list.h"
#include "cluster/ring.h"

namespace meridian::cluster {
namespace {

constexpr std::uint32_t kNVal = 3;
constexpr int kZones = 4;

std::string Name(const char* prefix, std::uint64_t number) {
  std::string name(prefix);
  name += std::to_string(number);
  return name;
}

ClaimMember MemberNumber(std::uint64_t i) {
  static constexpr std::uint32_t kWeights[] = {1, 2, 4};
  return {Name("node-", i), Name("zone-", i % kZones), kWeights[i % 3]};
}

std::uint32_t PartitionCountFor(std::size_t nodes) {
  std::uint32_t count = 1;
  while (count < 64 * nodes) count *= 2;
  return count;
}

double Seconds(std::chrono::steady_clock::duration elapsed) {
  return std::chrono::duration<double>(elapsed).count();
}

template <typename F>
std::vector<NodeId> Timed(double& seconds, F&& claim) {
  const auto start = std::chrono::steady_clock::now();
  std::vector<NodeId> owners = claim();
  seconds = Seconds(std::chrono::steady_clock::now() - start);
  return owners;
}

std::size_t Moved(const std::vector<NodeId>& before, const std::vector<NodeId>& after) {
  std::size_t moved = 0;
  for (std::size_t p = 0; p < before.size(); ++p) moved += before[p] != after[p] ? 1 : 0;
  return moved;
}

struct Row {
  std::size_t nodes = 0;
  std::uint32_t partitions = 0;
  double claim_seconds = 0;
  double min_share_ratio = 0;
  double max_share_ratio = 0;
  double join_seconds = 0;
  double join_moved_vs_ideal = 0;
  double leave_seconds = 0;
  double leave_moved_vs_ideal = 0;
  std::size_t node_repeats = 0;          // windows of N consecutive partitions repeating a node
  std::size_t zone_repeats = 0;          // ... repeating a zone
  std::size_t lists_short_of_zones = 0;  // preference lists whose primaries span < N zones
};

Row Measure(std::size_t node_count) {
  Row row;
  row.nodes = node_count;
  row.partitions = PartitionCountFor(node_count);
  std::vector<ClaimMember> members;
  std::map<NodeId, std::string> zone_of;
  std::uint64_t total_weight = 0;
  for (std::size_t i = 0; i < node_count; ++i) {
    members.push_back(MemberNumber(i));
    zone_of[members.back().id] = members.back().zone;
    total_weight += members.back().weight;
  }
  const ClaimOptions options{kNVal};
  const std::vector<NodeId> owners = Timed(row.claim_seconds, [&] {
    return ComputeClaim(std::vector<NodeId>(row.partitions), members, options);
  });

  std::map<NodeId, std::size_t> counts;
  for (const NodeId& owner : owners) ++counts[owner];
  row.min_share_ratio = 1e9;
  for (const ClaimMember& member : members) {
    const double owned_share = static_cast<double>(counts[member.id]) / row.partitions;
    const double weight_share = static_cast<double>(member.weight) / total_weight;
    row.min_share_ratio = std::min(row.min_share_ratio, owned_share / weight_share);
    row.max_share_ratio = std::max(row.max_share_ratio, owned_share / weight_share);
  }

  // Join: one more node (weight 2); the ideal is the partitions it should own.
  std::vector<ClaimMember> joined = members;
  joined.push_back({"joiner", Name("zone-", node_count % kZones), 2});
  const std::vector<NodeId> after_join =
      Timed(row.join_seconds, [&] { return ComputeClaim(owners, joined, options); });
  const auto ideal_join = std::count(after_join.begin(), after_join.end(), "joiner");
  row.join_moved_vs_ideal = static_cast<double>(Moved(owners, after_join)) / ideal_join;

  // Leave: node-1 (weight 2) leaves; the ideal is the partitions it owned.
  std::vector<ClaimMember> left = members;
  left.erase(left.begin() + 1);
  const std::vector<NodeId> after_leave =
      Timed(row.leave_seconds, [&] { return ComputeClaim(owners, left, options); });
  row.leave_moved_vs_ideal =
      static_cast<double>(Moved(owners, after_leave)) / static_cast<double>(counts["node-1"]);

  // Spacing of N = 3 preference lists on the fresh ring.
  Ring ring(row.partitions);
  ring.AssignAll(owners);
  const ZoneOf zones = [&zone_of](const NodeId& node) { return zone_of.at(node); };
  for (std::uint32_t p = 0; p < row.partitions; ++p) {
    std::set<NodeId> window_nodes;
    std::set<std::string> window_zones;
    for (std::uint32_t i = 0; i < kNVal; ++i) {
      const NodeId& owner = owners[(p + i) % row.partitions];
      window_nodes.insert(owner);
      window_zones.insert(zone_of[owner]);
    }
    row.node_repeats += window_nodes.size() < kNVal ? 1 : 0;
    row.zone_repeats += window_zones.size() < kNVal ? 1 : 0;
    std::set<std::string> list_zones;
    for (const NodeId& node : ComputePrimaries(ring, zones, p, kNVal)) {
      list_zones.insert(zone_of[node]);
    }
    row.lists_short_of_zones += list_zones.size() < kNVal ? 1 : 0;
  }
  return row;
}

}  // namespace
}  // namespace meridian::cluster

int main(int argc, char** argv) {
  using meridian::cluster::Measure;
  const std::size_t max_nodes = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 10000;
  std::printf(
      "| nodes | Q | claim s | owned/weight share min | max | join s | join moved / ideal | "
      "leave s | leave moved / ideal | N=3 windows repeating a node | ... a zone | "
      "N=3 lists spanning < 3 zones |\n");
  std::printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (std::size_t nodes = 10; nodes <= max_nodes; nodes *= 10) {
    const auto row = Measure(nodes);
    std::printf("| %zu | %u | %.3f | %.4f | %.4f | %.3f | %.3f | %.3f | %.3f | %zu | %zu | %zu |\n",
                row.nodes, row.partitions, row.claim_seconds, row.min_share_ratio,
                row.max_share_ratio, row.join_seconds, row.join_moved_vs_ideal, row.leave_seconds,
                row.leave_moved_vs_ideal, row.node_repeats, row.zone_repeats,
                row.lists_short_of_zones);
    std::fflush(stdout);
  }
  return 0;
}
