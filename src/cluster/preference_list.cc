#include "cluster/preference_list.h"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "core/assert.h"

namespace meridian::cluster {

namespace {

// Calls zone_of at most once per node.
class ZoneCache {
 public:
  explicit ZoneCache(const ZoneOf& zone_of) : zone_of_(zone_of) {}
  const std::string& Zone(const NodeId& node) {
    auto it = zones_.find(node);
    if (it == zones_.end()) it = zones_.emplace(node, zone_of_(node)).first;
    return it->second;
  }

 private:
  const ZoneOf& zone_of_;
  std::unordered_map<NodeId, std::string> zones_;
};

bool Contains(const std::vector<NodeId>& nodes, const NodeId& node) {
  return std::find(nodes.begin(), nodes.end(), node) != nodes.end();
}

// The two primary walks of the header, stopping once n primaries are found.
std::vector<NodeId> WalkPrimaries(const Ring& ring, ZoneCache& zones, std::uint32_t partition,
                                  std::size_t n) {
  const std::uint32_t count = ring.partition_count();
  MERIDIAN_CHECK(partition < count);
  std::vector<NodeId> primaries;
  std::vector<std::string> used_zones;
  for (std::uint32_t step = 0; step < count && primaries.size() < n; ++step) {
    const NodeId& owner = ring.Owner((partition + step) & (count - 1));
    if (owner.empty() || Contains(primaries, owner)) continue;
    const std::string& zone = zones.Zone(owner);
    if (std::find(used_zones.begin(), used_zones.end(), zone) != used_zones.end()) continue;
    primaries.push_back(owner);
    used_zones.push_back(zone);
  }
  for (std::uint32_t step = 0; step < count && primaries.size() < n; ++step) {
    const NodeId& owner = ring.Owner((partition + step) & (count - 1));
    if (!owner.empty() && !Contains(primaries, owner)) primaries.push_back(owner);
  }
  return primaries;
}

}  // namespace

PreferenceList ComputePreferenceList(const Ring& ring, const ZoneOf& zone_of,
                                     std::uint32_t partition, std::size_t n) {
  ZoneCache zones(zone_of);
  PreferenceList list;
  list.primaries = WalkPrimaries(ring, zones, partition, n);
  std::unordered_set<NodeId> seen(list.primaries.begin(), list.primaries.end());
  const std::uint32_t count = ring.partition_count();
  for (std::uint32_t step = 0; step < count; ++step) {
    const NodeId& owner = ring.Owner((partition + step) & (count - 1));
    if (!owner.empty() && seen.insert(owner).second) list.fallbacks.push_back(owner);
  }
  return list;
}

std::vector<NodeId> ComputePrimaries(const Ring& ring, const ZoneOf& zone_of,
                                     std::uint32_t partition, std::size_t n) {
  ZoneCache zones(zone_of);
  return WalkPrimaries(ring, zones, partition, n);
}

}  // namespace meridian::cluster
