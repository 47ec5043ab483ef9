// The migration from storage format 1 to 2 (node/storage_format_migration.h): every object
// moves to the segment-ordered column exactly once, the old index goes, and a crash at any
// point leaves a directory the next start finishes.
#include "node/storage_format_migration.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "core/byte_codec.h"
#include "core/object_codec.h"
#include "node/metadata_keys.h"
#include "storage/key_encoding.h"
#include "storage/memory_engine.h"
#include "storage/segment_ordered_objects.h"
#include "storage/tictac_keys.h"

namespace meridian::node {
namespace {

using storage::Column;

std::string Record(const std::string& value) {
  DvvSet object;
  object.Update({}, 3, HlcTimestamp::FromParts(5'000, 0), false, value, ConflictPolicy::kSiblings);
  return EncodeObject(object);
}

std::string Fixed32(std::uint32_t value) {
  std::string out;
  PutFixed32(out, value);
  return out;
}

// A format-1 directory as 0.1.0 leaves it: objects in the old column, each with an index
// entry, and the index's marker.
std::map<std::string, std::string> WriteFormat1(storage::MemoryEngine& engine, int count) {
  std::map<std::string, std::string> objects;
  storage::WriteBatch batch;
  batch.Put(Column::kMetadata, std::string(kFormatVersionKey), Fixed32(1));
  batch.Put(Column::kMetadata, std::string(kAntiEntropyIndexKey), Fixed32(12));
  for (int i = 0; i < count; ++i) {
    const std::string key = storage::EncodeObjectKey(static_cast<std::uint32_t>(i % 7), "b",
                                                     "key-" + std::to_string(i));
    objects[key] = Record("value-" + std::to_string(i));
    batch.Put(Column::kObjects, key, objects[key]);
    batch.Put(Column::kAntiEntropy, storage::EncodeAaeIndexKey(i % 7, 0, key), "hash-8by");
  }
  EXPECT_TRUE(engine.Write(batch, {}).ok());
  return objects;
}

std::map<std::string, std::string> Objects(storage::Engine& bare) {
  std::map<std::string, std::string> objects;
  EXPECT_TRUE(storage::SegmentOrderedObjects(bare)
                  .Scan(Column::kObjects, "", "",
                        [&](std::string_view key, std::string_view value) {
                          EXPECT_TRUE(objects.emplace(key, value).second) << "twice: " << key;
                          return true;
                        })
                  .ok());
  return objects;
}

std::size_t Count(storage::Engine& bare, Column column) {
  std::size_t count = 0;
  EXPECT_TRUE(bare.Scan(column, "", "",
                        [&](std::string_view, std::string_view) {
                          ++count;
                          return true;
                        })
                  .ok());
  return count;
}

TEST(StorageFormatMigrationTest, MovesEveryObjectOnceDropsTheIndexAndStampsFormat2) {
  storage::MemoryEngine engine;
  const auto objects = WriteFormat1(engine, 250);
  auto report = MigrateToSegmentOrderedObjects(engine, /*batch_objects_max=*/16);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->migrated);
  EXPECT_EQ(report->objects_moved, 250u);
  EXPECT_EQ(report->index_entries_dropped, 250u);
  EXPECT_EQ(Objects(engine), objects);
  EXPECT_EQ(Count(engine, Column::kObjects), 0u);
  EXPECT_EQ(Count(engine, Column::kAntiEntropy), 0u);
  EXPECT_EQ(**engine.Get(Column::kMetadata, kFormatVersionKey), Fixed32(2));
  EXPECT_FALSE(engine.Get(Column::kMetadata, kAntiEntropyIndexKey)->has_value());
  // The hashes in front are the records' own.
  storage::SegmentOrderedObjects ordered(engine);
  for (const auto& [key, record] : objects) {
    EXPECT_EQ(*ordered.GetObjectVersionHash(key), *storage::EncodedObjectVersionHash(record));
  }

  // Format 2 already: nothing to do.
  auto again = MigrateToSegmentOrderedObjects(engine);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->migrated);
  EXPECT_EQ(Objects(engine), objects);
}

// An engine whose writes fail after the first `allowed` (the process dies there).
class DyingEngine final : public storage::Engine {
 public:
  DyingEngine(storage::MemoryEngine& inner, int allowed) : inner_(inner), allowed_(allowed) {}
  Result<std::optional<std::string>> Get(Column column, std::string_view key) override {
    return inner_.Get(column, key);
  }
  Status Write(const storage::WriteBatch& batch, const storage::WriteOptions& options) override {
    if (allowed_-- <= 0) return Status::IoError("the process died");
    return inner_.Write(batch, options);
  }
  Status Scan(Column column, std::string_view begin, std::string_view end,
              const storage::ScanVisitor& visitor) override {
    return inner_.Scan(column, begin, end, visitor);
  }

 private:
  storage::MemoryEngine& inner_;
  int allowed_;
};

// Killed after some batches — with those batches lost (a power cut before any sync) or kept
// (the OS had written them) — the next start finishes, and every object is there exactly once.
TEST(StorageFormatMigrationTest, ACrashAnywhereIsFinishedByTheNextStart) {
  for (bool kept : {false, true}) {
    for (int allowed : {0, 1, 3, 7, 10, 14}) {  // 7 object batches, 7 index batches, the stamp
      storage::MemoryEngine engine;
      const auto objects = WriteFormat1(engine, 100);
      engine.MakeAllDurable();
      DyingEngine dying(engine, allowed);
      EXPECT_FALSE(MigrateToSegmentOrderedObjects(dying, /*batch_objects_max=*/16).ok());
      if (kept) {
        engine.MakeAllDurable();
      } else {
        engine.DropUnsyncedWrites();
      }
      EXPECT_EQ(**engine.Get(Column::kMetadata, kFormatVersionKey), Fixed32(1));
      auto report = MigrateToSegmentOrderedObjects(engine, /*batch_objects_max=*/16);
      ASSERT_TRUE(report.ok()) << report.status().ToString();
      EXPECT_TRUE(report->migrated);
      EXPECT_EQ(Objects(engine), objects) << "kept=" << kept << " allowed=" << allowed;
      EXPECT_EQ(Count(engine, Column::kObjects), 0u);
      EXPECT_EQ(Count(engine, Column::kAntiEntropy), 0u);
      EXPECT_EQ(**engine.Get(Column::kMetadata, kFormatVersionKey), Fixed32(2));
    }
  }
}

TEST(StorageFormatMigrationTest, ARecordThatDoesNotDecodeStopsItAndNamesTheKey) {
  storage::MemoryEngine engine;
  WriteFormat1(engine, 10);
  const std::string bad = storage::EncodeObjectKey(0, "b", "broken");
  storage::WriteBatch batch;
  batch.Put(Column::kObjects, bad, "not a record");
  ASSERT_TRUE(engine.Write(batch, {}).ok());
  auto report = MigrateToSegmentOrderedObjects(engine, /*batch_objects_max=*/1'000);
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), StatusCode::kCorruption);
  EXPECT_NE(report.status().message().find("broken"), std::string::npos)
      << report.status().message();
  EXPECT_EQ(Count(engine, Column::kObjects), 11u);  // that batch wrote nothing
  EXPECT_EQ(Count(engine, Column::kObjectsBySegment), 0u);
  EXPECT_EQ(**engine.Get(Column::kMetadata, kFormatVersionKey), Fixed32(1));
}

}  // namespace
}  // namespace meridian::node
