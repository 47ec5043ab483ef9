// Rebuilding a tictac tree from stored objects (storage/tictac_rebuild.h): the rebuilt tree
// equals the one maintained write by write, holds only its partition, and failures of the
// scan or of a record surface as errors.
#include "storage/tictac_rebuild.h"

#include <gtest/gtest.h>

#include "core/object_codec.h"
#include "storage/key_encoding.h"
#include "storage/memory_engine.h"
#include "storage/tictac_keys.h"

namespace meridian::storage {
namespace {

DvvSet Object(ActorId actor, std::uint64_t ms, std::string value) {
  DvvSet object;
  object.Update({}, actor, HlcTimestamp::FromParts(ms, 0), false, std::move(value),
                ConflictPolicy::kSiblings);
  return object;
}

constexpr TictacShape kShape{8, 3};

// Writes to `engine` as the owner would, keeping `tree` in step (one partition only).
void Put(MemoryEngine& engine, TictacTree* tree, std::uint32_t partition, const std::string& key,
         const DvvSet& object) {
  const std::string storage_key = EncodeObjectKey(partition, "bucket", key);
  std::optional<std::uint64_t> old_hash;
  auto stored = engine.Get(Column::kObjects, storage_key);
  ASSERT_TRUE(stored.ok());
  if (stored->has_value()) {
    auto hash = EncodedObjectVersionHash(**stored);
    ASSERT_TRUE(hash.ok());
    old_hash = *hash;
  }
  WriteBatch batch;
  batch.Put(Column::kObjects, storage_key, EncodeObject(object));
  ASSERT_TRUE(engine.Write(batch, WriteOptions{}).ok());
  if (tree != nullptr) tree->Update(storage_key, old_hash, ObjectVersionHash(object));
}

TEST(TictacRebuildTest, RebuiltTreeEqualsTheIncrementallyMaintainedOne) {
  MemoryEngine engine;
  TictacTree incremental(kShape);
  for (int i = 0; i < 200; ++i) {
    Put(engine, &incremental, 3, "k" + std::to_string(i), Object(1, 10, "v" + std::to_string(i)));
    Put(engine, nullptr, 2, "k" + std::to_string(i), Object(1, 10, "other partition"));
    Put(engine, nullptr, 4, "k" + std::to_string(i), Object(1, 10, "other partition"));
  }
  for (int i = 0; i < 200; i += 3) {  // overwrites
    Put(engine, &incremental, 3, "k" + std::to_string(i), Object(2, 20, "w"));
  }
  auto rebuilt = RebuildTictacTree(kShape, engine, 3);
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status().ToString();
  EXPECT_EQ(*rebuilt, incremental);
  EXPECT_NE(rebuilt->root(), 0u);

  auto empty = RebuildTictacTree(kShape, engine, 9);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty, TictacTree(kShape));
}

TEST(TictacRebuildTest, AnUndecodableObjectIsCorruptionNamingItsKey) {
  MemoryEngine engine;
  Put(engine, nullptr, 3, "good", Object(1, 10, "v"));
  WriteBatch batch;
  batch.Put(Column::kObjects, EncodeObjectKey(3, "bucket", "bad"), "\x01\xff");
  ASSERT_TRUE(engine.Write(batch, WriteOptions{}).ok());
  auto rebuilt = RebuildTictacTree(kShape, engine, 3);
  ASSERT_FALSE(rebuilt.ok());
  EXPECT_EQ(rebuilt.status().code(), StatusCode::kCorruption);
  EXPECT_NE(rebuilt.status().message().find("storage key"), std::string::npos);
}

TEST(TictacRebuildTest, AScanErrorIsReturnedAsIs) {
  const StoredObjectSource failing = [](const ScanVisitor& visit) {
    const bool more = visit(EncodeObjectKey(3, "bucket", "k"), EncodeObject(Object(1, 10, "v")));
    EXPECT_TRUE(more);
    return Status::IoError("disk on fire");
  };
  auto rebuilt = RebuildTictacTree(kShape, failing);
  ASSERT_FALSE(rebuilt.ok());
  EXPECT_EQ(rebuilt.status().code(), StatusCode::kIoError);
}

TEST(TictacRebuildTest, AddStoredObjectLeavesTheTreeUnchangedOnCorruption) {
  TictacTree tree(kShape);
  EXPECT_EQ(AddStoredObject(tree, "key", "").code(), StatusCode::kCorruption);
  EXPECT_EQ(tree, TictacTree(kShape));
  ASSERT_TRUE(AddStoredObject(tree, "key", EncodeObject(Object(1, 10, "v"))).ok());
  TictacTree expected(kShape);
  expected.Update("key", std::nullopt, ObjectVersionHash(Object(1, 10, "v")));
  EXPECT_EQ(tree, expected);
}

}  // namespace
}  // namespace meridian::storage
