// TictacTree (storage/tictac_tree.h): examples, then properties against the dumb reference
// (a key -> version hash map from which every level is recomputed): incremental maintenance,
// order independence, and comparison reporting exactly the segments of differing keys.
#include "storage/tictac_tree.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <random>
#include <set>

#include "storage/tictac_test_util.h"

namespace meridian::storage {
namespace {

using test_support::BuildTree;
using test_support::KeyHashMap;
using test_support::MatchesReference;
using test_support::Recompute;
using test_support::TestStorageKey;

TEST(TictacTreeTest, DefaultShapeAndMemoryAreAsDocumented) {
  const TictacTree tree;
  EXPECT_EQ(tree.shape().segment_count(), 65536u);
  EXPECT_EQ(tree.shape().branch_count(), 1024u);
  EXPECT_EQ(tree.shape().segments_per_branch(), 64u);
  // 65,536 segment hashes + 1,024 branch hashes of 8 bytes: the figure in the header.
  EXPECT_GE(tree.memory_bytes(), 532480u);
  EXPECT_LT(tree.memory_bytes(), 532480u + 256u);
  EXPECT_EQ(tree.root(), 0u);
  EXPECT_TRUE(tree.CheckInvariants());
}

TEST(TictacTreeTest, ShapeValidity) {
  EXPECT_TRUE((TictacShape{0, 0}.valid()));
  EXPECT_TRUE((TictacShape{20, 20}.valid()));
  EXPECT_TRUE((TictacShape{16, 10}.valid()));
  EXPECT_FALSE((TictacShape{21, 10}.valid()));
  EXPECT_FALSE((TictacShape{8, 9}.valid()));
  EXPECT_FALSE((TictacShape{8, -1}.valid()));
  EXPECT_FALSE((TictacShape{-1, -1}.valid()));
}

TEST(TictacTreeTest, AddingThenRemovingAKeyRestoresTheEmptyTree) {
  TictacTree tree;
  const std::string key = TestStorageKey(1);
  tree.Update(key, std::nullopt, 42);
  EXPECT_NE(tree.root(), 0u);
  const std::uint32_t segment = tree.SegmentOf(key);
  EXPECT_EQ(tree.segment(segment), TictacKeyContribution(key, 42));
  EXPECT_EQ(tree.branch(tree.BranchOfSegment(segment)), TictacKeyContribution(key, 42));
  EXPECT_EQ(tree.root(), TictacKeyContribution(key, 42));
  tree.Update(key, 42, std::nullopt);
  EXPECT_EQ(tree, TictacTree());
}

TEST(TictacTreeTest, OverwriteEqualsAFreshInsertOfTheNewVersion) {
  TictacTree overwritten;
  overwritten.Update(TestStorageKey(1), std::nullopt, 1);
  overwritten.Update(TestStorageKey(1), 1, 2);
  TictacTree fresh;
  fresh.Update(TestStorageKey(1), std::nullopt, 2);
  EXPECT_EQ(overwritten, fresh);
}

TEST(TictacTreeTest, UpdateWithTheSameVersionIsANoOp) {
  TictacTree tree;
  tree.Update(TestStorageKey(1), std::nullopt, 7);
  const TictacTree before = tree;
  tree.Update(TestStorageKey(1), 7, 7);
  tree.Update(TestStorageKey(2), std::nullopt, std::nullopt);
  EXPECT_EQ(tree, before);
}

TEST(TictacTreeTest, ASegmentAtKBitsIsThePrefixOfTheSegmentAtKPlusOneBits) {
  for (int i = 0; i < 1000; ++i) {
    const std::string key = TestStorageKey(i);
    EXPECT_EQ(TictacSegmentOf(key, 0), 0u);
    for (int bits = 1; bits <= kTictacSegmentBitsMax; ++bits) {
      ASSERT_EQ(TictacSegmentOf(key, bits) >> 1, TictacSegmentOf(key, bits - 1));
      ASSERT_LT(TictacSegmentOf(key, bits), 1u << bits);
    }
  }
}

TEST(TictacTreeTest, KeysSpreadOverSegments) {
  // 65,536 keys over 256 segments: each segment expects 256 keys; a segment with fewer than
  // half or more than twice that would mean the segment hash is badly skewed.
  const TictacShape shape{8, 4};
  std::vector<int> counts(shape.segment_count());
  for (int i = 0; i < 65536; ++i) ++counts[TictacSegmentOf(TestStorageKey(i), shape.segment_bits)];
  EXPECT_GT(*std::min_element(counts.begin(), counts.end()), 128);
  EXPECT_LT(*std::max_element(counts.begin(), counts.end()), 512);
}

TEST(TictacTreeTest, OneSegmentTreeHoldsEveryKeyInSegmentZero) {
  TictacTree tree(TictacShape{0, 0});
  tree.Update(TestStorageKey(1), std::nullopt, 1);
  tree.Update(TestStorageKey(2), std::nullopt, 2);
  EXPECT_EQ(tree.segment(0), tree.root());
  EXPECT_EQ(tree.branch(0), tree.root());
  EXPECT_TRUE(tree.CheckInvariants());
}

TEST(TictacTreeTest, ComparisonFindsTheBranchAndSegmentOfAChangedKey) {
  const TictacShape shape{8, 4};
  KeyHashMap keys;
  for (int i = 0; i < 1000; ++i) keys[TestStorageKey(i)] = static_cast<std::uint64_t>(i);
  const TictacTree a = BuildTree(shape, keys);
  TictacTree b = a;
  EXPECT_TRUE(a.DirtyBranches(b).empty());
  EXPECT_TRUE(a.DifferingSegments(b).empty());

  const std::string changed = TestStorageKey(500);
  b.Update(changed, 500, 501);
  const std::uint32_t segment = b.SegmentOf(changed);
  EXPECT_EQ(a.DirtyBranches(b), std::vector<std::uint32_t>{b.BranchOfSegment(segment)});
  EXPECT_EQ(a.DifferingSegments(b), std::vector<std::uint32_t>{segment});
  auto remote_branches = a.DirtyBranches(b.BranchLevel());
  ASSERT_TRUE(remote_branches.ok()) << remote_branches.status().ToString();
  EXPECT_EQ(*remote_branches, a.DirtyBranches(b));
  auto remote_segments = a.DifferingSegments(b.SegmentsOfBranches(*remote_branches));
  ASSERT_TRUE(remote_segments.ok()) << remote_segments.status().ToString();
  EXPECT_EQ(*remote_segments, std::vector<std::uint32_t>{segment});
}

TEST(TictacTreeTest, ComparingWithARemoteOfAnotherShapeIsInvalidArgument) {
  const TictacTree local(TictacShape{8, 4});
  const TictacTree remote(TictacShape{8, 5});
  auto branches = local.DirtyBranches(remote.BranchLevel());
  ASSERT_FALSE(branches.ok());
  EXPECT_EQ(branches.status().code(), StatusCode::kInvalidArgument);
  auto segments = local.DifferingSegments(remote.SelectSegments(std::vector<std::uint32_t>{1}));
  ASSERT_FALSE(segments.ok());
  EXPECT_EQ(segments.status().code(), StatusCode::kInvalidArgument);
}

TEST(TictacTreeTest, MalformedRemoteLevelsAreInvalidArgument) {
  const TictacTree local(TictacShape{4, 2});
  TictacBranchLevel short_level = local.BranchLevel();
  short_level.branches.pop_back();
  EXPECT_EQ(local.DirtyBranches(short_level).status().code(), StatusCode::kInvalidArgument);

  TictacSegmentHashes out_of_range{local.shape(), {{16, 0}}};
  EXPECT_EQ(local.DifferingSegments(out_of_range).status().code(), StatusCode::kInvalidArgument);
  TictacSegmentHashes descending{local.shape(), {{3, 0}, {2, 0}}};
  EXPECT_EQ(local.DifferingSegments(descending).status().code(), StatusCode::kInvalidArgument);
  TictacSegmentHashes repeated{local.shape(), {{3, 0}, {3, 0}}};
  EXPECT_EQ(local.DifferingSegments(repeated).status().code(), StatusCode::kInvalidArgument);
}

TEST(TictacTreeTest, FromSegmentsDerivesBranchesAndRootAndChecksItsInput) {
  const TictacShape shape{2, 1};
  auto tree = TictacTree::FromSegments(shape, {1, 2, 4, 8});
  ASSERT_TRUE(tree.ok()) << tree.status().ToString();
  EXPECT_EQ(tree->branch(0), 3u);
  EXPECT_EQ(tree->branch(1), 12u);
  EXPECT_EQ(tree->root(), 15u);
  EXPECT_EQ(TictacTree::FromSegments(shape, {1, 2, 4}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(TictacTree::FromSegments(TictacShape{2, 3}, {1, 2, 4, 8}).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(TictacTreeTest, ReplaceSegmentRepairsADriftedSegment) {
  const TictacShape shape{4, 2};
  KeyHashMap keys;
  for (int i = 0; i < 100; ++i) keys[TestStorageKey(i)] = static_cast<std::uint64_t>(i) * 3;
  const TictacTree truth = BuildTree(shape, keys);
  TictacTree drifted = truth;
  // The owner passed a wrong "old" hash once: the segment no longer matches the data.
  const std::string key = TestStorageKey(7);
  drifted.Update(key, 999, 21);
  ASSERT_NE(drifted, truth);

  const std::uint32_t segment = drifted.SegmentOf(key);
  std::vector<KeyVersionHash> segment_keys;
  for (const auto& [k, hash] : keys) {
    if (drifted.SegmentOf(k) == segment) segment_keys.push_back({k, hash});
  }
  ASSERT_TRUE(drifted.ReplaceSegment(segment, segment_keys).ok());
  EXPECT_EQ(drifted, truth);
  EXPECT_TRUE(drifted.CheckInvariants());
}

TEST(TictacTreeTest, ReplaceSegmentRejectsForeignKeysAndLeavesTheTreeUnchanged) {
  TictacTree tree(TictacShape{4, 2});
  tree.Update(TestStorageKey(1), std::nullopt, 1);
  const TictacTree before = tree;
  const std::uint32_t segment = tree.SegmentOf(TestStorageKey(1));
  std::string foreign;
  for (int i = 2; foreign.empty(); ++i) {
    if (tree.SegmentOf(TestStorageKey(i)) != segment) foreign = TestStorageKey(i);
  }
  const std::vector<KeyVersionHash> keys = {{TestStorageKey(1), 1}, {foreign, 2}};
  EXPECT_EQ(tree.ReplaceSegment(segment, keys).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(tree.ReplaceSegment(16, {}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(tree, before);
}

// --- Properties against the reference -----------------------------------------------------

struct Operation {
  std::string key;
  std::optional<std::uint64_t> new_version_hash;  // nullopt: remove the key
};

RC_GTEST_PROP(TictacTreeProperty, IncrementalTreeEqualsTheTreeRecomputedFromScratch, ()) {
  const TictacShape shape = *test_support::SmallShape();
  const auto operations = *rc::gen::container<std::vector<Operation>>(rc::gen::construct<Operation>(
      test_support::KeyFromSmallUniverse(),
      // Few versions, so that repeats happen; -1 removes the key.
      rc::gen::map(rc::gen::inRange(-1, 4), [](int version) -> std::optional<std::uint64_t> {
        if (version < 0) return std::nullopt;
        return static_cast<std::uint64_t>(version);
      })));
  TictacTree tree(shape);
  KeyHashMap reference;
  for (const Operation& operation : operations) {
    std::optional<std::uint64_t> old_version_hash;
    if (auto it = reference.find(operation.key); it != reference.end()) {
      old_version_hash = it->second;
    }
    tree.Update(operation.key, old_version_hash, operation.new_version_hash);
    if (operation.new_version_hash) {
      reference[operation.key] = *operation.new_version_hash;
    } else {
      reference.erase(operation.key);
    }
  }
  RC_ASSERT(MatchesReference(tree, Recompute(shape, reference)));
  RC_ASSERT(tree.CheckInvariants());
}

RC_GTEST_PROP(TictacTreeProperty, TheTreeDoesNotDependOnTheOrderOfUpdates, ()) {
  const TictacShape shape = *test_support::SmallShape();
  const KeyHashMap keys = *test_support::KeyHashMaps();
  std::vector<std::pair<std::string, std::uint64_t>> order(keys.begin(), keys.end());
  std::mt19937_64 shuffle_random(*rc::gen::arbitrary<std::uint64_t>());
  std::shuffle(order.begin(), order.end(), shuffle_random);
  TictacTree shuffled(shape);
  // Add in a random order, with an overwrite through a transient version on the way.
  for (const auto& [key, version_hash] : order) {
    shuffled.Update(key, std::nullopt, ~version_hash);
    shuffled.Update(key, ~version_hash, version_hash);
  }
  RC_ASSERT(shuffled == BuildTree(shape, keys));
}

// Two replicas' maps: `a`, and `b` = `a` with some keys changed, removed and added.
struct DivergedMaps {
  KeyHashMap a;
  KeyHashMap b;
  std::set<std::string> differing_keys;
};

DivergedMaps GenerateDivergedMaps() {
  DivergedMaps maps;
  maps.a = *test_support::KeyHashMaps();
  maps.b = maps.a;
  const auto changes = *rc::gen::container<std::vector<std::pair<std::string, int>>>(
      rc::gen::pair(test_support::KeyFromSmallUniverse(), rc::gen::inRange(0, 3)));
  for (const auto& [key, change] : changes) {
    if (change == 0) {
      maps.b.erase(key);
    } else {
      maps.b[key] = maps.b.count(key) ? maps.b[key] + 1 : static_cast<std::uint64_t>(change);
    }
  }
  for (const auto& [key, hash] : maps.a) {
    auto it = maps.b.find(key);
    if (it == maps.b.end() || it->second != hash) maps.differing_keys.insert(key);
  }
  for (const auto& [key, hash] : maps.b) {
    if (!maps.a.count(key)) maps.differing_keys.insert(key);
  }
  return maps;
}

RC_GTEST_PROP(TictacTreeProperty, ComparisonReportsExactlyTheSegmentsOfDifferingKeys, ()) {
  const TictacShape shape = *test_support::SmallShape();
  const DivergedMaps maps = GenerateDivergedMaps();
  const TictacTree a = BuildTree(shape, maps.a);
  const TictacTree b = BuildTree(shape, maps.b);
  std::set<std::uint32_t> expected_segments;
  std::set<std::uint32_t> expected_branches;
  for (const std::string& key : maps.differing_keys) {
    expected_segments.insert(a.SegmentOf(key));
    expected_branches.insert(a.BranchOfSegment(a.SegmentOf(key)));
  }
  RC_ASSERT(a.DirtyBranches(b) ==
            std::vector<std::uint32_t>(expected_branches.begin(), expected_branches.end()));
  RC_ASSERT(a.DifferingSegments(b) ==
            std::vector<std::uint32_t>(expected_segments.begin(), expected_segments.end()));
  RC_ASSERT((a == b) == maps.differing_keys.empty());

  // The same answer through the remote-level comparisons an exchange uses.
  auto dirty = a.DirtyBranches(b.BranchLevel());
  RC_ASSERT(dirty.ok());
  auto differing = a.DifferingSegments(b.SegmentsOfBranches(*dirty));
  RC_ASSERT(differing.ok());
  RC_ASSERT(*differing == a.DifferingSegments(b));
}

}  // namespace
}  // namespace meridian::storage
