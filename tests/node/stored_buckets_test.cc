// StoredBuckets: the persisted set of buckets a shard's storage ever held data of, recorded
// before the first data of each (through WriteObservingEngine), built once for a directory
// written before it existed.
#include "node/stored_buckets.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/object_codec.h"
#include "node/metadata_keys.h"
#include "node/node_test_util.h"
#include "node/partition_actors.h"
#include "node/write_observing_engine.h"
#include "storage/key_encoding.h"
#include "storage/memory_engine.h"

namespace meridian::node {
namespace {

using storage::Column;

std::string Record(const std::string& value) {
  DvvSet object;
  object.Update({}, 1, HlcTimestamp::FromParts(1'000, 0), false, value, ConflictPolicy::kSiblings);
  return EncodeObject(object);
}

std::vector<std::string> MetadataKeys(storage::Engine& engine) {
  std::vector<std::string> keys;
  EXPECT_TRUE(engine
                  .Scan(Column::kMetadata, "", "",
                        [&](std::string_view key, std::string_view) {
                          keys.emplace_back(key);
                          return true;
                        })
                  .ok());
  return keys;
}

TEST(StoredBucketsTest, AnEmptyDirectoryIsCompleteWithNoBuckets) {
  storage::MemoryEngine engine;
  StoredBuckets buckets;
  EXPECT_EQ(*buckets.Load(engine), 0u);
  EXPECT_FALSE(buckets.MayHold("anything"));
  EXPECT_EQ(MetadataKeys(engine), std::vector<std::string>{std::string(kStoredBucketsCompleteKey)});
}

TEST(StoredBucketsTest, ADirectoryWithoutRecordsIsScannedOnceAndRecorded) {
  storage::MemoryEngine engine;
  storage::WriteBatch data;
  data.Put(Column::kObjects, storage::EncodeObjectKey(1, "objects", "k"), Record("v"));
  data.Put(Column::kObjects, storage::EncodeObjectKey(9, "objects", "k2"), Record("v"));
  data.Put(Column::kHints, storage::EncodeObjectKey(2, "hinted", "k"), "a hint record");
  data.Put(Column::kStrong, storage::EncodeObjectKey(3, "strong", "k"), "an acceptor record");
  data.Put(Column::kStrong, storage::EncodeStrongConfigKey(3), "a configuration: no bucket");
  ASSERT_TRUE(engine.Write(data, {}).ok());

  StoredBuckets built;
  EXPECT_EQ(*built.Load(engine), 3u);
  for (const char* bucket : {"objects", "hinted", "strong"}) EXPECT_TRUE(built.MayHold(bucket));
  EXPECT_FALSE(built.MayHold("other"));
  EXPECT_FALSE(built.MayHold("object"));  // a prefix of a bucket is another bucket

  // The next start reads the records instead of scanning: data written without a record
  // (which WriteObservingEngine never lets happen) is not found by a scan any more.
  storage::WriteBatch unrecorded;
  unrecorded.Put(Column::kObjects, storage::EncodeObjectKey(4, "unrecorded", "k"), Record("v"));
  ASSERT_TRUE(engine.Write(unrecorded, {}).ok());
  StoredBuckets loaded;
  EXPECT_EQ(*loaded.Load(engine), 0u);
  EXPECT_EQ(loaded.size(), 3u);
  EXPECT_TRUE(loaded.MayHold("hinted"));
  EXPECT_FALSE(loaded.MayHold("unrecorded"));
}

TEST(StoredBucketsTest, ABatchNeedsOneRecordPerBucketNotYetRecorded) {
  storage::MemoryEngine engine;
  StoredBuckets buckets;
  ASSERT_TRUE(buckets.Load(engine).ok());
  storage::WriteBatch batch;
  batch.Put(Column::kObjects, storage::EncodeObjectKey(1, "a", "k1"), Record("v"));
  batch.Put(Column::kObjects, storage::EncodeObjectKey(2, "a", "k2"), Record("v"));
  batch.Put(Column::kHints, storage::EncodeObjectKey(2, "b", "k"), "hint");
  batch.Delete(Column::kObjects, storage::EncodeObjectKey(1, "deleted", "k"));
  batch.Put(Column::kMetadata, "node/x", "not data");
  const storage::WriteBatch records = buckets.RecordsBefore(batch);
  std::vector<std::string> keys;
  for (const auto& op : records.ops) {
    EXPECT_EQ(op.column, Column::kMetadata);
    keys.push_back(op.key);
  }
  EXPECT_EQ(keys, (std::vector<std::string>{std::string(kStoredBucketPrefix) + "a",
                                            std::string(kStoredBucketPrefix) + "b"}));
  EXPECT_FALSE(buckets.MayHold("a"));  // not before they were written
  buckets.Written(records);
  EXPECT_TRUE(buckets.MayHold("a"));
  EXPECT_TRUE(buckets.MayHold("b"));
  EXPECT_FALSE(buckets.MayHold("deleted"));
  EXPECT_TRUE(buckets.RecordsBefore(batch).empty());
}

// Through the engine every component writes with: the record lands before the data, and a
// refused write records nothing.
TEST(StoredBucketsTest, TheObservingEngineRecordsABucketBeforeItsFirstData) {
  storage::MemoryEngine inner;
  test_support::SplitMix64 random(7);
  PartitionActors actors(16, &random);
  WriteObservingEngine engine(inner, actors);
  StoredBuckets buckets;
  ASSERT_TRUE(buckets.Load(engine).ok());
  engine.SetStoredBuckets(&buckets);

  engine.RefuseNewData(Status::InsufficientStorage("disk full"));
  storage::WriteBatch refused;
  refused.Put(Column::kObjects, storage::EncodeObjectKey(1, "refused", "k"), Record("v"));
  EXPECT_FALSE(engine.Write(refused, {}).ok());
  EXPECT_FALSE(buckets.MayHold("refused"));
  engine.RefuseNewData(std::nullopt);

  storage::WriteBatch batch;
  batch.Put(Column::kObjects, storage::EncodeObjectKey(1, "fresh", "k"), Record("v"));
  ASSERT_TRUE(engine.Write(batch, {}).ok());
  EXPECT_TRUE(buckets.MayHold("fresh"));
  EXPECT_TRUE(
      inner.Get(Column::kMetadata, std::string(kStoredBucketPrefix) + "fresh")->has_value());
  EXPECT_FALSE(
      inner.Get(Column::kMetadata, std::string(kStoredBucketPrefix) + "refused")->has_value());
  // What a restart reads back.
  StoredBuckets reloaded;
  ASSERT_TRUE(reloaded.Load(inner).ok());
  EXPECT_TRUE(reloaded.MayHold("fresh"));
  EXPECT_FALSE(reloaded.MayHold("refused"));
}

}  // namespace
}  // namespace meridian::node
