// The key level of anti-entropy (storage/tictac_keys.h): ObjectVersionHash is a function of
// the DvvSet alone (pinned, since it is a wire constant), and DiffSegmentKeys against a
// reference built from two maps.
#include "storage/tictac_keys.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "core/object_codec.h"
#include "storage/tictac_test_util.h"

namespace meridian::storage {
namespace {

using test_support::KeyHashMap;

HlcTimestamp Ts(std::uint64_t ms) {
  return HlcTimestamp::FromParts(ms, 0);
}

DvvSet ExampleObject() {
  DvvSet object;
  object.Update({}, 1, Ts(1000), false, "first", ConflictPolicy::kSiblings);
  object.Update({}, 2, Ts(1001), false, "second", ConflictPolicy::kSiblings);
  return object;
}

TEST(ObjectVersionHashTest, HashesArePinned) {
  // Wire constants (docs/format/tictac.md): every replica must compute these same values.
  // Cross-checked with a separate C program calling libxxhash on hand-built bytes.
  EXPECT_EQ(ObjectVersionHash(DvvSet()), 0xd0a66a65c7528968u)
      << std::hex << ObjectVersionHash(DvvSet());
  EXPECT_EQ(ObjectVersionHash(ExampleObject()), 0x5aa3b42986513bd3u)
      << std::hex << ObjectVersionHash(ExampleObject());
  const std::string key = test_support::TestStorageKey(0);
  EXPECT_EQ(TictacSegmentOf(key, 16), 64072u) << TictacSegmentOf(key, 16);
  EXPECT_EQ(TictacKeyContribution(key, 42), 0xe6e6b812d1771b70u)
      << std::hex << TictacKeyContribution(key, 42);
}

TEST(ObjectVersionHashTest, EqualObjectsHashEqualWhateverTheirHistory) {
  // Two replicas that received the same two writes in opposite orders.
  DvvSet first;
  first.Update({}, 1, Ts(1000), false, "first", ConflictPolicy::kSiblings);
  DvvSet second;
  second.Update({}, 2, Ts(1001), false, "second", ConflictPolicy::kSiblings);
  const DvvSet ab = DvvSet::Merge(first, second).value();
  const DvvSet ba = DvvSet::Merge(second, first).value();
  ASSERT_EQ(ab, ba);
  EXPECT_EQ(ObjectVersionHash(ab), ObjectVersionHash(ba));
  EXPECT_EQ(ObjectVersionHash(ab), ObjectVersionHash(ExampleObject()));
}

TEST(ObjectVersionHashTest, EveryPartOfTheStateChangesTheHash) {
  const DvvSet base = ExampleObject();
  const std::uint64_t base_hash = ObjectVersionHash(base);
  const auto with_sibling = [&](auto change) {
    std::vector<Sibling> siblings = base.siblings();
    change(siblings.back());
    return *DvvSet::FromParts(base.clock(), siblings);
  };
  EXPECT_NE(ObjectVersionHash(with_sibling([](Sibling& s) { s.value = "secone"; })), base_hash);
  EXPECT_NE(ObjectVersionHash(with_sibling([](Sibling& s) { s.value += '\0'; })), base_hash);
  EXPECT_NE(ObjectVersionHash(with_sibling([](Sibling& s) { s.timestamp = Ts(9); })), base_hash);
  EXPECT_NE(ObjectVersionHash(with_sibling([](Sibling& s) {
              s.tombstone = true;
              s.value.clear();
            })),
            base_hash);
  // The same siblings under a clock that has seen more (a discarded write of actor 3).
  VersionVector clock = base.clock();
  clock.Advance(3, 1);
  EXPECT_NE(ObjectVersionHash(*DvvSet::FromParts(clock, base.siblings())), base_hash);
}

TEST(ObjectVersionHashTest, EncodedObjectHashEqualsTheHashOfTheObject) {
  const DvvSet object = ExampleObject();
  auto hash = EncodedObjectVersionHash(EncodeObject(object));
  ASSERT_TRUE(hash.ok()) << hash.status().ToString();
  EXPECT_EQ(*hash, ObjectVersionHash(object));
  EXPECT_EQ(EncodedObjectVersionHash("\x07garbage").status().code(), StatusCode::kCorruption);
}

RC_GTEST_PROP(ObjectVersionHashProperty, SurvivesTheObjectCodecAndMergeOrder, ()) {
  // A few writes by a few actors, some concurrent (empty context), some not.
  const auto writes = *rc::gen::container<std::vector<std::tuple<int, bool, std::string>>>(
      rc::gen::tuple(rc::gen::inRange(1, 4), rc::gen::arbitrary<bool>(),
                     rc::gen::container<std::string>(rc::gen::arbitrary<char>())));
  DvvSet a;
  DvvSet b;
  std::uint64_t ms = 1;
  for (const auto& [actor, with_context, value] : writes) {
    DvvSet& target = (actor == 1) ? a : b;
    target.Update(with_context ? target.clock() : VersionVector{}, static_cast<ActorId>(actor),
                  Ts(ms++), false, value, ConflictPolicy::kSiblings);
  }
  const DvvSet merged = DvvSet::Merge(a, b).value();
  RC_ASSERT(ObjectVersionHash(merged) == ObjectVersionHash(DvvSet::Merge(b, a).value()));
  auto decoded = DecodeObject(EncodeObject(merged));
  RC_ASSERT(decoded.ok());
  RC_ASSERT(ObjectVersionHash(*decoded) == ObjectVersionHash(merged));
}

TEST(DiffSegmentKeysTest, ReportsKeysOnOneSideOnlyAndKeysWithDifferentHashes) {
  const std::vector<KeyVersionHash> local = {{"a", 1}, {"b", 2}, {"d", 4}, {"e", 5}};
  const std::vector<KeyVersionHash> remote = {{"b", 2}, {"c", 3}, {"d", 40}};
  auto differences = DiffSegmentKeys(local, remote);
  ASSERT_TRUE(differences.ok()) << differences.status().ToString();
  const std::vector<KeyDifference> expected = {
      {"a", 1, std::nullopt},
      {"c", std::nullopt, 3},
      {"d", 4, 40},
      {"e", 5, std::nullopt},
  };
  EXPECT_EQ(*differences, expected);
  auto none = DiffSegmentKeys(local, local);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(DiffSegmentKeysTest, UnsortedOrRepeatedKeysAreInvalidArgument) {
  const std::vector<KeyVersionHash> sorted = {{"a", 1}, {"b", 2}};
  const std::vector<KeyVersionHash> unsorted = {{"b", 2}, {"a", 1}};
  const std::vector<KeyVersionHash> repeated = {{"a", 1}, {"a", 1}};
  EXPECT_EQ(DiffSegmentKeys(unsorted, sorted).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(DiffSegmentKeys(sorted, unsorted).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(DiffSegmentKeys(sorted, repeated).status().code(), StatusCode::kInvalidArgument);
}

std::vector<KeyVersionHash> AsList(const KeyHashMap& map) {
  std::vector<KeyVersionHash> list;
  for (const auto& [key, hash] : map) list.push_back({key, hash});
  return list;
}

RC_GTEST_PROP(DiffSegmentKeysProperty, MatchesAComparisonOfTwoMaps, ()) {
  const KeyHashMap local = *test_support::KeyHashMaps();
  KeyHashMap remote = local;
  for (const auto& [key, hash] : *test_support::KeyHashMaps()) {
    if (hash % 3 == 0) {
      remote.erase(key);
    } else {
      remote[key] = hash;
    }
  }
  std::vector<KeyDifference> expected;
  KeyHashMap all = local;
  all.insert(remote.begin(), remote.end());
  for (const auto& [key, unused] : all) {
    const auto l = local.find(key);
    const auto r = remote.find(key);
    std::optional<std::uint64_t> local_hash;
    std::optional<std::uint64_t> remote_hash;
    if (l != local.end()) local_hash = l->second;
    if (r != remote.end()) remote_hash = r->second;
    if (local_hash != remote_hash) expected.push_back({key, local_hash, remote_hash});
  }
  auto differences = DiffSegmentKeys(AsList(local), AsList(remote));
  RC_ASSERT(differences.ok());
  RC_ASSERT(*differences == expected);
}

}  // namespace
}  // namespace meridian::storage
