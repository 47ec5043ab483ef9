// SegmentOrderedObjects (storage format 2's objects column): logical keys in and out, physical
// keys in tictac segment order with the version hash in front of each record; every segment
// at every shape is one range; resuming a scan at a key it returned goes on exactly there.
#include "storage/segment_ordered_objects.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/byte_codec.h"
#include "core/object_codec.h"
#include "storage/memory_engine.h"
#include "storage/tictac_keys.h"
#include "storage/tictac_tree.h"

namespace meridian::storage {
namespace {

std::string Record(const std::string& value) {
  DvvSet object;
  object.Update({}, 1, HlcTimestamp::FromParts(1000, 0), false, value, ConflictPolicy::kSiblings);
  return EncodeObject(object);
}

std::vector<std::string> Keys(std::uint32_t partition, int count) {
  std::vector<std::string> keys;
  for (int index = 0; index < count; ++index) {
    keys.push_back(EncodeObjectKey(partition, "b" + std::to_string(index % 3),
                                   "key-" + std::to_string(index)));
  }
  return keys;
}

// Logical keys of `column` in scan order over [begin, end).
std::vector<std::string> ScanKeys(Engine& engine, std::string_view begin, std::string_view end,
                                  Column column = Column::kObjects) {
  std::vector<std::string> keys;
  EXPECT_TRUE(engine
                  .Scan(column, begin, end,
                        [&](std::string_view key, std::string_view) {
                          keys.emplace_back(key);
                          return true;
                        })
                  .ok());
  return keys;
}

TEST(SegmentOrderedObjectsTest, PhysicalKeysRoundTripAndCarryTheSegmentOfEveryShape) {
  for (const std::string& logical : Keys(7, 200)) {
    const std::string physical = PhysicalObjectKey(logical);
    ASSERT_EQ(physical.size(), logical.size() + 4);
    EXPECT_EQ(physical.substr(0, 4), logical.substr(0, 4));  // the partition stays in front
    auto back = LogicalObjectKey(physical);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, logical);
    for (int bits : {0, 1, 7, 16, kTictacSegmentBitsMax}) {
      const std::uint32_t segment = TictacSegmentOf(logical, bits);
      const KeyRange range = PhysicalSegmentRange(7, segment, bits);
      EXPECT_LE(range.begin, physical) << bits;
      EXPECT_TRUE(range.end.empty() || physical < range.end) << bits;
    }
  }
  EXPECT_EQ(LogicalObjectKey("1234567").status().code(), StatusCode::kCorruption);
}

TEST(SegmentOrderedObjectsTest, SegmentRangesTileThePartition) {
  for (int bits : {0, 1, 3, 20, 32}) {
    const std::uint64_t segments = std::uint64_t{1} << bits;
    const KeyRange partition = PartitionRange(9);
    for (std::uint64_t segment : {std::uint64_t{0}, segments / 2, segments - 1}) {
      const KeyRange range = PhysicalSegmentRange(9, static_cast<std::uint32_t>(segment), bits);
      if (segment == 0) {
        EXPECT_EQ(range.begin.substr(0, 4), partition.begin);
      }
      if (segment + 1 < segments) {
        // The next segment starts where this one ends: no gap, no overlap.
        EXPECT_EQ(range.end,
                  PhysicalSegmentRange(9, static_cast<std::uint32_t>(segment + 1), bits).begin)
            << bits;
      } else {
        EXPECT_EQ(range.end, partition.end) << bits;
      }
    }
  }
  // The last partition's last segment runs to the end of the column.
  EXPECT_TRUE(PhysicalSegmentRange(0xffffffffu, 1, 1).end.empty());
}

TEST(SegmentOrderedObjectsTest, ReadsAndWritesLogicalKeysWithTheHashInFrontUnderneath) {
  MemoryEngine inner;
  SegmentOrderedObjects engine(inner);
  const std::vector<std::string> keys = Keys(3, 50);
  WriteBatch batch;
  for (const std::string& key : keys) batch.Put(Column::kObjects, key, Record("v-" + key));
  batch.Put(Column::kHints, keys.front(), "a hint record, untouched");
  ASSERT_TRUE(engine.Write(batch, {}).ok());

  for (const std::string& key : keys) {
    auto read = engine.Get(Column::kObjects, key);
    ASSERT_TRUE(read.ok() && read->has_value());
    EXPECT_EQ(**read, Record("v-" + key));
    // Underneath: the physical key, and the version hash before the record.
    auto stored = inner.Get(Column::kObjectsBySegment, PhysicalObjectKey(key));
    ASSERT_TRUE(stored.ok() && stored->has_value());
    ByteReader reader(**stored);
    std::uint64_t hash = 0;
    ASSERT_TRUE(reader.ReadFixed64(hash));
    EXPECT_EQ(hash, *EncodedObjectVersionHash(Record("v-" + key)));
    EXPECT_EQ((*stored)->substr(8), Record("v-" + key));
    EXPECT_FALSE(inner.Get(Column::kObjects, key)->has_value());
  }
  // Other columns keep their keys and values.
  EXPECT_EQ(*inner.Get(Column::kHints, keys.front()), "a hint record, untouched");
  EXPECT_EQ(*engine.Get(Column::kHints, keys.front()), "a hint record, untouched");
  EXPECT_EQ(ScanKeys(engine, "", "", Column::kHints), std::vector<std::string>{keys.front()});

  WriteBatch deletes;
  deletes.Delete(Column::kObjects, keys[4]);
  ASSERT_TRUE(engine.Write(deletes, {}).ok());
  EXPECT_FALSE(engine.Get(Column::kObjects, keys[4])->has_value());
  EXPECT_FALSE(inner.Get(Column::kObjectsBySegment, PhysicalObjectKey(keys[4]))->has_value());
  EXPECT_FALSE(engine.Get(Column::kObjects, EncodeObjectKey(3, "b0", "never"))->has_value());
}

TEST(SegmentOrderedObjectsTest, AnObjectThatDoesNotDecodeFailsTheWholeBatch) {
  MemoryEngine inner;
  SegmentOrderedObjects engine(inner);
  WriteBatch batch;
  batch.Put(Column::kObjects, EncodeObjectKey(1, "b", "good"), Record("fine"));
  batch.Put(Column::kObjects, EncodeObjectKey(1, "b", "bad"), "not an object record");
  EXPECT_EQ(engine.Write(batch, {}).code(), StatusCode::kCorruption);
  EXPECT_TRUE(ScanKeys(inner, "", "", Column::kObjectsBySegment).empty());  // nothing written
}

// The hash of a record only its writer should have to take: a put that carries it (PutObject)
// is stored with it, not decoded again (release builds take it on trust; debug builds check).
TEST(SegmentOrderedObjectsTest, AWritersVersionHashIsStoredAsGiven) {
  MemoryEngine inner;
  SegmentOrderedObjects engine(inner);
  const std::string key = EncodeObjectKey(2, "b", "k");
  const std::uint64_t hash = *EncodedObjectVersionHash(Record("v"));
  WriteBatch batch;
  batch.PutObject(key, Record("v"), hash);
  ASSERT_TRUE(engine.Write(batch, {}).ok());
  EXPECT_EQ(*engine.GetObjectVersionHash(key), hash);
  EXPECT_EQ(**engine.Get(Column::kObjects, key), Record("v"));

  WriteBatch wrong;
  wrong.PutObject(key, Record("w"), hash);  // the hash of another record
#ifdef NDEBUG
  ASSERT_TRUE(engine.Write(wrong, {}).ok());
  EXPECT_EQ(*engine.GetObjectVersionHash(key), hash);  // as given: the record was not decoded
#else
  EXPECT_DEATH((void)engine.Write(wrong, {}), "");
#endif
}

TEST(SegmentOrderedObjectsTest, ScansRunPartitionByPartitionInSegmentOrderAndResumeAtAKey) {
  MemoryEngine inner;
  SegmentOrderedObjects engine(inner);
  std::vector<std::string> all;
  for (std::uint32_t partition : {2u, 3u, 4u}) {
    for (const std::string& key : Keys(partition, 60)) all.push_back(key);
  }
  WriteBatch batch;
  for (const std::string& key : all) batch.Put(Column::kObjects, key, Record(key));
  ASSERT_TRUE(engine.Write(batch, {}).ok());

  std::vector<std::string> expected = all;
  std::sort(expected.begin(), expected.end(), ObjectKeyPhysicallyBefore);
  EXPECT_EQ(ScanKeys(engine, "", ""), expected);
  EXPECT_NE(expected, [&] {
    std::vector<std::string> logical = all;
    std::sort(logical.begin(), logical.end());
    return logical;
  }());  // hash order is not key order

  // One partition's range is exactly its keys.
  const KeyRange range = PartitionRange(3);
  std::vector<std::string> partition3;
  for (const std::string& key : expected) {
    if (PartitionOfKey(key) == 3) partition3.push_back(key);
  }
  EXPECT_EQ(ScanKeys(engine, range.begin, range.end), partition3);

  // Resuming at a key a scan returned (as handoff and reaping cursors do) continues exactly
  // there, chunk after chunk, and an object key as the end stops before it.
  std::vector<std::string> chunked;
  std::string resume = range.begin;
  for (;;) {
    std::optional<std::string> next;
    int taken = 0;
    ASSERT_TRUE(engine
                    .Scan(Column::kObjects, resume, range.end,
                          [&](std::string_view key, std::string_view) {
                            if (taken == 7) {
                              next = std::string(key);
                              return false;
                            }
                            ++taken;
                            chunked.emplace_back(key);
                            return true;
                          })
                    .ok());
    if (!next) break;
    resume = *next;
  }
  EXPECT_EQ(chunked, partition3);
  EXPECT_EQ(ScanKeys(engine, partition3[10], partition3[20]),
            std::vector<std::string>(partition3.begin() + 10, partition3.begin() + 20));
}

TEST(SegmentOrderedObjectsTest, VersionHashesComeSegmentBySegmentWithoutDecoding) {
  MemoryEngine inner;
  SegmentOrderedObjects engine(inner);
  std::map<std::string, std::uint64_t> hashes;
  WriteBatch batch;
  for (const std::string& key : Keys(6, 300)) {
    batch.Put(Column::kObjects, key, Record(key));
    hashes[key] = *EncodedObjectVersionHash(Record(key));
  }
  batch.Put(Column::kObjects, EncodeObjectKey(5, "b", "another partition"), Record("x"));
  ASSERT_TRUE(engine.Write(batch, {}).ok());

  for (int bits : {0, 2, 5, kTictacSegmentBitsMax}) {
    std::map<std::string, std::uint64_t> seen;
    const std::uint32_t segments = std::uint32_t{1} << std::min(bits, 6);
    for (std::uint32_t segment = 0; segment < segments; ++segment) {
      ASSERT_TRUE(engine
                      .ScanObjectVersionHashes(6, segment, bits,
                                               [&](std::string_view key, std::uint64_t hash) {
                                                 EXPECT_EQ(TictacSegmentOf(key, bits), segment);
                                                 EXPECT_TRUE(seen.emplace(key, hash).second);
                                                 return true;
                                               })
                      .ok());
    }
    if (bits <= 6) {
      EXPECT_EQ(seen, hashes) << bits;  // every segment listed: every key
    }
  }
  std::map<std::string, std::uint64_t> whole;
  ASSERT_TRUE(engine
                  .ScanObjectVersionHashes(6, std::nullopt, 0,
                                           [&](std::string_view key, std::uint64_t hash) {
                                             whole.emplace(key, hash);
                                             return true;
                                           })
                  .ok());
  EXPECT_EQ(whole, hashes);
  // The Engine's default (a logical-layout engine: scan and decode) lists the same.
  MemoryEngine logical;
  ASSERT_TRUE(logical.Write(batch, {}).ok());
  std::map<std::string, std::uint64_t> by_default;
  ASSERT_TRUE(logical
                  .ScanObjectVersionHashes(6, std::uint32_t{3}, 2,
                                           [&](std::string_view key, std::uint64_t hash) {
                                             EXPECT_EQ(TictacSegmentOf(key, 2), 3u);
                                             by_default.emplace(key, hash);
                                             return true;
                                           })
                  .ok());
  std::map<std::string, std::uint64_t> ordered;
  ASSERT_TRUE(engine
                  .ScanObjectVersionHashes(6, std::uint32_t{3}, 2,
                                           [&](std::string_view key, std::uint64_t hash) {
                                             ordered.emplace(key, hash);
                                             return true;
                                           })
                  .ok());
  EXPECT_FALSE(ordered.empty());
  EXPECT_EQ(by_default, ordered);
}

TEST(SegmentOrderedObjectsTest, AStoredValueShorterThanItsHashIsCorruption) {
  MemoryEngine inner;
  SegmentOrderedObjects engine(inner);
  const std::string key = EncodeObjectKey(1, "b", "k");
  WriteBatch batch;
  batch.Put(Column::kObjectsBySegment, PhysicalObjectKey(key), "short");
  ASSERT_TRUE(inner.Write(batch, {}).ok());
  EXPECT_EQ(engine.Get(Column::kObjects, key).status().code(), StatusCode::kCorruption);
  EXPECT_EQ(engine.Scan(Column::kObjects, "", "", [](auto, auto) { return true; }).code(),
            StatusCode::kCorruption);
}

RC_GTEST_PROP(SegmentOrderedObjectsProperty, PhysicalOrderSortsBySegmentAtEveryShape,
              (const std::vector<std::string>& suffixes)) {
  std::vector<std::string> keys;
  for (const std::string& suffix : suffixes) keys.push_back(EncodeObjectKey(11, "b", "k" + suffix));
  std::sort(keys.begin(), keys.end(), ObjectKeyPhysicallyBefore);
  for (int bits = 0; bits <= kTictacSegmentBitsMax; ++bits) {
    for (std::size_t i = 1; i < keys.size(); ++i) {
      RC_ASSERT(TictacSegmentOf(keys[i - 1], bits) <= TictacSegmentOf(keys[i], bits));
    }
  }
}

}  // namespace
}  // namespace meridian::storage
