// An anti-entropy exchange between two replicas run end to end through the tictac codecs
// (what the replica state machine will do over the network): branch level, segment hashes of
// the dirty branches, keys of the differing segments, DiffSegmentKeys. The property: it finds
// exactly the keys on which the replicas differ — no false negative, no false positive.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <set>

#include "storage/tictac_codec.h"
#include "storage/tictac_keys.h"
#include "storage/tictac_test_util.h"

namespace meridian::storage {
namespace {

using test_support::KeyHashMap;

// The keys and hashes of `segments` as one replica would list them from its data.
std::vector<KeyVersionHash> KeysOfSegments(const TictacTree& tree, const KeyHashMap& data,
                                           const std::set<std::uint32_t>& segments) {
  std::vector<KeyVersionHash> keys;
  for (const auto& [key, hash] : data) {
    if (segments.count(tree.SegmentOf(key))) keys.push_back({key, hash});
  }
  return keys;
}

// Replica A starts; B answers; A finishes. Returns the differing keys A computes, or an error.
Result<std::set<std::string>> Exchange(const TictacTree& a_tree, const KeyHashMap& a_data,
                                       const TictacTree& b_tree, const KeyHashMap& b_data) {
  // A -> B: root and branches. B finds the dirty branches, sends their segment hashes.
  auto a_level = DecodeTictacBranchLevel(EncodeTictacBranchLevel(a_tree.BranchLevel()));
  if (!a_level.ok()) return a_level.status();
  auto dirty = b_tree.DirtyBranches(*a_level);
  if (!dirty.ok()) return dirty.status();
  auto b_segments =
      DecodeTictacSegmentHashes(EncodeTictacSegmentHashes(b_tree.SegmentsOfBranches(*dirty)));
  if (!b_segments.ok()) return b_segments.status();
  // A finds the differing segments; both sides list their keys there; A diffs them.
  auto differing = a_tree.DifferingSegments(*b_segments);
  if (!differing.ok()) return differing.status();
  const std::set<std::uint32_t> segments(differing->begin(), differing->end());
  auto b_keys =
      DecodeTictacKeyHashes(EncodeTictacKeyHashes(KeysOfSegments(b_tree, b_data, segments)));
  if (!b_keys.ok()) return b_keys.status();
  auto differences = DiffSegmentKeys(KeysOfSegments(a_tree, a_data, segments), *b_keys);
  if (!differences.ok()) return differences.status();
  std::set<std::string> keys;
  for (const KeyDifference& difference : *differences) keys.insert(difference.key);
  return keys;
}

RC_GTEST_PROP(TictacExchangeProperty, FindsExactlyTheDifferingKeys, ()) {
  const TictacShape shape = *test_support::SmallShape();
  const KeyHashMap a_data = *test_support::KeyHashMaps();
  KeyHashMap b_data = a_data;
  for (const auto& [key, hash] : *test_support::KeyHashMaps()) {
    if (hash % 4 == 0) {
      b_data.erase(key);
    } else {
      b_data[key] = hash;
    }
  }
  std::set<std::string> expected;
  for (const auto& [key, hash] : a_data) {
    if (auto it = b_data.find(key); it == b_data.end() || it->second != hash) expected.insert(key);
  }
  for (const auto& [key, hash] : b_data) {
    if (!a_data.count(key)) expected.insert(key);
  }
  auto found = Exchange(test_support::BuildTree(shape, a_data), a_data,
                        test_support::BuildTree(shape, b_data), b_data);
  RC_ASSERT(found.ok());
  RC_ASSERT(*found == expected);
}

TEST(TictacExchangeTest, ReplicasWithDifferentShapesCannotExchange) {
  const KeyHashMap data = {{test_support::TestStorageKey(1), 1}};
  auto found = Exchange(test_support::BuildTree(TictacShape{8, 4}, data), data,
                        test_support::BuildTree(TictacShape{8, 2}, data), data);
  ASSERT_FALSE(found.ok());
  EXPECT_EQ(found.status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace meridian::storage
