#include "cluster/preference_list.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace meridian::cluster {
namespace {

// "prefix" followed by the number (avoids g++ 12's false -Wrestrict on "literal" + string).
std::string Name(const char* prefix, std::uint64_t number) {
  std::string name(prefix);
  name += std::to_string(number);
  return name;
}

Ring MakeRing(const std::vector<NodeId>& owners) {
  Ring ring(static_cast<std::uint32_t>(owners.size()));
  ring.AssignAll(owners);
  return ring;
}

ZoneOf ZonesFrom(std::map<NodeId, std::string> zones) {
  return [zones = std::move(zones)](const NodeId& node) {
    const auto it = zones.find(node);
    return it == zones.end() ? std::string() : it->second;
  };
}

// The header's rules spelt out as plainly as possible: list the owners along the walk,
// then filter.
PreferenceList ReferencePreferenceList(const Ring& ring, const ZoneOf& zone_of,
                                       std::uint32_t partition, std::size_t n) {
  std::vector<NodeId> walk;
  for (std::uint32_t i = 0; i < ring.partition_count(); ++i) {
    const NodeId owner = ring.Owner((partition + i) % ring.partition_count());
    if (!owner.empty()) walk.push_back(owner);
  }
  PreferenceList list;
  std::set<std::string> zones;
  for (const NodeId& node : walk) {
    if (list.primaries.size() == n) break;
    const bool taken = std::count(list.primaries.begin(), list.primaries.end(), node) > 0;
    if (!taken && zones.count(zone_of(node)) == 0) {
      list.primaries.push_back(node);
      zones.insert(zone_of(node));
    }
  }
  for (const NodeId& node : walk) {
    if (list.primaries.size() == n) break;
    if (std::count(list.primaries.begin(), list.primaries.end(), node) == 0) {
      list.primaries.push_back(node);
    }
  }
  for (const NodeId& node : walk) {
    const bool listed = std::count(list.primaries.begin(), list.primaries.end(), node) > 0 ||
                        std::count(list.fallbacks.begin(), list.fallbacks.end(), node) > 0;
    if (!listed) list.fallbacks.push_back(node);
  }
  return list;
}

TEST(PreferenceListTest, DistinctZonesFirstThenAnyNode) {
  // a and b share zone z1; c is in z2.
  const Ring ring = MakeRing({"a", "b", "c", "a"});
  const ZoneOf zones = ZonesFrom({{"a", "z1"}, {"b", "z1"}, {"c", "z2"}});
  const PreferenceList list = ComputePreferenceList(ring, zones, 0, 2);
  EXPECT_EQ(list.primaries, (std::vector<NodeId>{"a", "c"}));  // b skipped: zone z1 is used
  EXPECT_EQ(list.fallbacks, (std::vector<NodeId>{"b"}));

  const PreferenceList three = ComputePreferenceList(ring, zones, 0, 3);
  EXPECT_EQ(three.primaries, (std::vector<NodeId>{"a", "c", "b"}));  // second walk adds b
  EXPECT_TRUE(three.fallbacks.empty());
}

TEST(PreferenceListTest, WrapsAroundAndSkipsUnownedPartitions) {
  Ring ring(4);
  ring.AssignAll({"a", "", "b", "c"});
  const ZoneOf zones = ZonesFrom({});  // every node in the unknown zone ""
  const PreferenceList list = ComputePreferenceList(ring, zones, 3, 2);
  EXPECT_EQ(list.primaries, (std::vector<NodeId>{"c", "a"}));
  EXPECT_EQ(list.fallbacks, (std::vector<NodeId>{"b"}));
  EXPECT_EQ(ComputePrimaries(ring, zones, 3, 2), list.primaries);
}

TEST(PreferenceListTest, FewerNodesThanN) {
  const Ring ring = MakeRing({"a", "b", "a", "b"});
  const PreferenceList list = ComputePreferenceList(ring, ZonesFrom({}), 1, 3);
  EXPECT_EQ(list.primaries, (std::vector<NodeId>{"b", "a"}));
  EXPECT_TRUE(list.fallbacks.empty());
}

RC_GTEST_PROP(PreferenceListProperty, MatchesReferenceWalk, ()) {
  const std::uint32_t partition_count = 1u << *rc::gen::inRange(0, 7);
  const int node_count = *rc::gen::inRange(1, 12);
  const int zone_count = *rc::gen::inRange(1, 5);
  std::map<NodeId, std::string> zone_map;
  for (int i = 0; i < node_count; ++i) {
    zone_map[Name("n", i)] = Name("z", *rc::gen::inRange(0, zone_count));
  }
  std::vector<NodeId> owners;
  for (std::uint32_t p = 0; p < partition_count; ++p) {
    const int index = *rc::gen::inRange(-1, node_count);  // -1: unowned
    owners.push_back(index < 0 ? "" : Name("n", index));
  }
  const Ring ring = MakeRing(owners);
  const ZoneOf zones = ZonesFrom(zone_map);
  const std::uint32_t partition = *rc::gen::inRange<std::uint32_t>(0, partition_count);
  const std::size_t n = *rc::gen::inRange<std::size_t>(1, 6);

  const PreferenceList list = ComputePreferenceList(ring, zones, partition, n);
  const PreferenceList reference = ReferencePreferenceList(ring, zones, partition, n);
  RC_ASSERT(list.primaries == reference.primaries);
  RC_ASSERT(list.fallbacks == reference.fallbacks);
  RC_ASSERT(ComputePrimaries(ring, zones, partition, n) == list.primaries);
  // The primaries for n are a prefix of those for any larger n (the node caches the walk for
  // the largest n of any bucket and serves smaller n from it).
  const std::size_t larger = n + *rc::gen::inRange<std::size_t>(0, 6);
  const std::vector<NodeId> more = ComputePrimaries(ring, zones, partition, larger);
  RC_ASSERT(more.size() >= list.primaries.size());
  RC_ASSERT(std::equal(list.primaries.begin(), list.primaries.end(), more.begin()));

  // No repeats; primaries and fallbacks together are exactly the ring's owners.
  std::set<NodeId> listed(list.primaries.begin(), list.primaries.end());
  for (const NodeId& node : list.fallbacks) RC_ASSERT(listed.count(node) == 0u);
  listed.insert(list.fallbacks.begin(), list.fallbacks.end());
  RC_ASSERT(listed.size() == list.primaries.size() + list.fallbacks.size());
  std::set<NodeId> owning;
  std::set<std::string> owning_zones;
  for (const NodeId& owner : owners) {
    if (owner.empty()) continue;
    owning.insert(owner);
    owning_zones.insert(zone_map[owner]);
  }
  RC_ASSERT(listed == owning);
  RC_ASSERT(list.primaries.size() == std::min(n, owning.size()));
  // Zone spread: the primaries cover as many zones as the owners allow.
  std::set<std::string> primary_zones;
  for (const NodeId& node : list.primaries) primary_zones.insert(zone_map[node]);
  RC_ASSERT(primary_zones.size() == std::min(n, owning_zones.size()));
}

}  // namespace
}  // namespace meridian::cluster
