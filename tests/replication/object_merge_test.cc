// MergeWithStored: the one write rule of every replica path.
#include "replication/object_merge.h"

#include <gtest/gtest.h>

#include <string>

#include "replication/handoff_harness.h"
#include "storage/tictac_keys.h"

namespace meridian::replication {
namespace {

using namespace test_support;  // NOLINT: test helpers
using storage::Column;
using storage::MemoryEngine;

const std::string kKey = StorageKey(5, "k");

TEST(ObjectMergeTest, AbsentCopyTakesTheIncomingObject) {
  MemoryEngine engine;
  const DvvSet incoming = Siblings(kSourceActor, {"a"});
  auto merged = MergeWithStored(engine, Column::kObjects, kKey, incoming);
  ASSERT_TRUE(merged.ok()) << merged.status().ToString();
  ASSERT_TRUE(merged->has_value());
  EXPECT_EQ(**merged, EncodeObject(incoming));
}

TEST(ObjectMergeTest, NothingToWriteWhenTheStoredCopyIncludesTheIncomingOne) {
  MemoryEngine engine;
  const DvvSet old = Siblings(kSourceActor, {"a"});
  const DvvSet newer = Overwritten(old, kTargetActor, "b");
  PutObject(engine, kKey, newer);
  for (const DvvSet& incoming : {old, newer}) {
    auto merged = MergeWithStored(engine, Column::kObjects, kKey, incoming);
    ASSERT_TRUE(merged.ok()) << merged.status().ToString();
    EXPECT_FALSE(merged->has_value());
  }
}

TEST(ObjectMergeTest, ConcurrentCopiesMergeIntoSiblings) {
  MemoryEngine engine;
  const DvvSet local = Siblings(kSourceActor, {"a"});
  const DvvSet incoming = Siblings(kTargetActor, {"b"});
  PutObject(engine, kKey, local);
  auto merged = MergeWithStored(engine, Column::kObjects, kKey, incoming);
  ASSERT_TRUE(merged.ok()) << merged.status().ToString();
  ASSERT_TRUE(merged->has_value());
  const DvvSet decoded = Decoded(**merged);
  EXPECT_EQ(decoded, DvvSet::Merge(local, incoming).value());
  EXPECT_EQ(decoded.siblings().size(), 2u);
}

TEST(ObjectMergeTest, ReadsTheNamedColumnOnly) {
  MemoryEngine engine;
  PutObject(engine, kKey, Siblings(kSourceActor, {"a"}));  // in kObjects
  const DvvSet incoming = Siblings(kTargetActor, {"b"});
  auto merged = MergeWithStored(engine, Column::kMetadata, kKey, incoming);
  ASSERT_TRUE(merged.ok()) << merged.status().ToString();
  ASSERT_TRUE(merged->has_value());
  EXPECT_EQ(**merged, EncodeObject(incoming));
}

TEST(ObjectMergeTest, TheObjectPutCarriesTheMergedRecordAndItsVersionHash) {
  MemoryEngine engine;
  const DvvSet local = Siblings(kSourceActor, {"a"});
  const DvvSet incoming = Siblings(kTargetActor, {"b"});
  PutObject(engine, kKey, local);
  auto put = MergedObjectPut(engine, kKey, incoming);
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  ASSERT_TRUE(put->has_value());
  const DvvSet merged = DvvSet::Merge(local, incoming).value();
  EXPECT_EQ((*put)->column, Column::kObjects);
  EXPECT_EQ((*put)->key, kKey);
  EXPECT_EQ((*put)->value, EncodeObject(merged));
  EXPECT_EQ((*put)->object_hash, storage::ObjectVersionHash(merged));
  EXPECT_NE((*put)->object_hash, storage::ObjectVersionHash(local));

  PutObject(engine, kKey, merged);
  auto nothing = MergedObjectPut(engine, kKey, incoming);
  ASSERT_TRUE(nothing.ok()) << nothing.status().ToString();
  EXPECT_FALSE(nothing->has_value());
}

TEST(ObjectMergeTest, UnreadableStoredCopyIsCorruption) {
  MemoryEngine engine;
  storage::WriteBatch batch;
  batch.Put(Column::kObjects, kKey, "\x07garbage");
  ASSERT_TRUE(engine.Write(batch, {}).ok());
  auto merged = MergeWithStored(engine, Column::kObjects, kKey, Siblings(kSourceActor, {"a"}));
  ASSERT_FALSE(merged.ok());
  EXPECT_EQ(merged.status().code(), StatusCode::kCorruption);
  EXPECT_NE(merged.status().message().find("the local copy is unreadable"), std::string::npos);
}

}  // namespace
}  // namespace meridian::replication
