// MemoryEngine's crash model: DropUnsyncedWrites() discards exactly the writes that no
// synced write has made durable (a sync=true Write syncs everything before it; with group
// commit, a CommitPending after one does). The same rule is checked against RocksDB in
// engine_conformance_test.cc (EnginePowerLossTest).
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <map>

#include "storage/memory_engine.h"

namespace meridian::storage {
namespace {

Status PutOne(MemoryEngine& engine, Column column, std::string key, std::string value, bool sync) {
  WriteBatch batch;
  batch.Put(column, std::move(key), std::move(value));
  return engine.Write(batch, WriteOptions{sync});
}

Status DeleteOne(MemoryEngine& engine, Column column, std::string key, bool sync) {
  WriteBatch batch;
  batch.Delete(column, std::move(key));
  return engine.Write(batch, WriteOptions{sync});
}

std::optional<std::string> Read(MemoryEngine& engine, Column column, std::string_view key) {
  auto got = engine.Get(column, key);
  EXPECT_TRUE(got.ok());
  return *got;
}

TEST(MemoryEngineTest, DropRemovesOnlyUnsyncedWrites) {
  MemoryEngine engine;
  ASSERT_TRUE(PutOne(engine, Column::kObjects, "synced", "1", true).ok());
  ASSERT_TRUE(PutOne(engine, Column::kObjects, "unsynced", "2", false).ok());
  engine.DropUnsyncedWrites();
  EXPECT_EQ(Read(engine, Column::kObjects, "synced"), "1");
  EXPECT_EQ(Read(engine, Column::kObjects, "unsynced"), std::nullopt);
}

TEST(MemoryEngineTest, SyncedWriteSyncsEverythingBeforeIt) {
  MemoryEngine engine;
  ASSERT_TRUE(PutOne(engine, Column::kObjects, "a", "1", false).ok());
  ASSERT_TRUE(PutOne(engine, Column::kHints, "b", "2", false).ok());
  ASSERT_TRUE(PutOne(engine, Column::kMetadata, "c", "3", true).ok());
  ASSERT_TRUE(PutOne(engine, Column::kObjects, "d", "4", false).ok());
  engine.DropUnsyncedWrites();
  EXPECT_EQ(Read(engine, Column::kObjects, "a"), "1");
  EXPECT_EQ(Read(engine, Column::kHints, "b"), "2");
  EXPECT_EQ(Read(engine, Column::kMetadata, "c"), "3");
  EXPECT_EQ(Read(engine, Column::kObjects, "d"), std::nullopt);
}

TEST(MemoryEngineTest, DropRestoresOverwrittenAndDeletedValues) {
  MemoryEngine engine;
  ASSERT_TRUE(PutOne(engine, Column::kObjects, "over", "old", true).ok());
  ASSERT_TRUE(PutOne(engine, Column::kObjects, "gone", "kept", true).ok());
  ASSERT_TRUE(PutOne(engine, Column::kObjects, "over", "new", false).ok());
  ASSERT_TRUE(PutOne(engine, Column::kObjects, "over", "newer", false).ok());
  ASSERT_TRUE(DeleteOne(engine, Column::kObjects, "gone", false).ok());
  EXPECT_EQ(Read(engine, Column::kObjects, "over"), "newer");
  EXPECT_EQ(Read(engine, Column::kObjects, "gone"), std::nullopt);
  engine.DropUnsyncedWrites();
  EXPECT_EQ(Read(engine, Column::kObjects, "over"), "old");
  EXPECT_EQ(Read(engine, Column::kObjects, "gone"), "kept");
}

TEST(MemoryEngineTest, UnsyncedBatchIsDroppedWhole) {
  MemoryEngine engine;
  WriteBatch batch;
  batch.Put(Column::kObjects, "x", "1");
  batch.Put(Column::kObjects, "x", "2");
  batch.Put(Column::kHints, "y", "3");
  ASSERT_TRUE(engine.Write(batch, WriteOptions{}).ok());
  engine.DropUnsyncedWrites();
  EXPECT_EQ(Read(engine, Column::kObjects, "x"), std::nullopt);
  EXPECT_EQ(Read(engine, Column::kHints, "y"), std::nullopt);
}

TEST(MemoryEngineTest, DropTwiceAndWriteAfterDropBehave) {
  MemoryEngine engine;
  ASSERT_TRUE(PutOne(engine, Column::kObjects, "a", "1", false).ok());
  engine.DropUnsyncedWrites();
  engine.DropUnsyncedWrites();
  EXPECT_EQ(Read(engine, Column::kObjects, "a"), std::nullopt);
  ASSERT_TRUE(PutOne(engine, Column::kObjects, "a", "2", false).ok());
  ASSERT_TRUE(PutOne(engine, Column::kObjects, "b", "3", true).ok());
  engine.DropUnsyncedWrites();
  EXPECT_EQ(Read(engine, Column::kObjects, "a"), "2");
  EXPECT_EQ(Read(engine, Column::kObjects, "b"), "3");
}

TEST(MemoryEngineTest, ScanAfterDropSeesSyncedStateOnly) {
  MemoryEngine engine;
  ASSERT_TRUE(PutOne(engine, Column::kObjects, "a", "1", true).ok());
  ASSERT_TRUE(PutOne(engine, Column::kObjects, "b", "2", false).ok());
  engine.DropUnsyncedWrites();
  std::vector<std::string> keys;
  ASSERT_TRUE(engine
                  .Scan(Column::kObjects, "", "",
                        [&](std::string_view key, std::string_view) {
                          keys.emplace_back(key);
                          return true;
                        })
                  .ok());
  EXPECT_EQ(keys, std::vector<std::string>{"a"});
}

TEST(MemoryEngineTest, GroupCommitMakesNothingDurableBeforeCommitPending) {
  MemoryEngine engine(MemoryEngineOptions{.group_commit = true});
  ASSERT_TRUE(PutOne(engine, Column::kObjects, "asked", "1", true).ok());
  engine.DropUnsyncedWrites();
  EXPECT_EQ(Read(engine, Column::kObjects, "asked"), std::nullopt);
  ASSERT_TRUE(PutOne(engine, Column::kObjects, "lazy", "2", false).ok());
  ASSERT_TRUE(engine.CommitPending().ok());  // no sync asked: written, not synced
  ASSERT_TRUE(PutOne(engine, Column::kObjects, "asked", "3", true).ok());
  ASSERT_TRUE(PutOne(engine, Column::kObjects, "rider", "4", false).ok());
  ASSERT_TRUE(engine.CommitPending().ok());  // one fsync: everything so far
  ASSERT_TRUE(PutOne(engine, Column::kObjects, "late", "5", true).ok());
  engine.DropUnsyncedWrites();
  EXPECT_EQ(Read(engine, Column::kObjects, "lazy"), "2");
  EXPECT_EQ(Read(engine, Column::kObjects, "asked"), "3");
  EXPECT_EQ(Read(engine, Column::kObjects, "rider"), "4");
  EXPECT_EQ(Read(engine, Column::kObjects, "late"), std::nullopt);
}

TEST(MemoryEngineTest, MakeAllDurableKeepsEverythingWritten) {
  for (const bool group_commit : {false, true}) {
    MemoryEngine engine(MemoryEngineOptions{.group_commit = group_commit});
    ASSERT_TRUE(PutOne(engine, Column::kObjects, "unsynced", "1", false).ok());
    ASSERT_TRUE(PutOne(engine, Column::kObjects, "uncommitted", "2", true).ok());
    engine.MakeAllDurable();
    engine.DropUnsyncedWrites();
    EXPECT_EQ(Read(engine, Column::kObjects, "unsynced"), "1");
    EXPECT_EQ(Read(engine, Column::kObjects, "uncommitted"), "2");
  }
}

// Against a dumb model: the durable state is a full copy taken at every synced write.
RC_GTEST_PROP(MemoryEngineProperty, CrashRevertsToLastSyncedState, ()) {
  using State = std::map<std::pair<int, std::string>, std::string>;
  MemoryEngine engine;
  State live;
  State durable;
  const auto steps =
      *rc::gen::container<std::vector<std::tuple<int, int, int, bool>>>(rc::gen::tuple(
          rc::gen::inRange(0, 10),  // 0..5 put, 6..8 delete, 9 crash
          rc::gen::inRange(0, kColumnCount), rc::gen::inRange(0, 6), rc::gen::arbitrary<bool>()));
  int serial = 0;
  for (const auto& [kind, column_index, key_index, sync] : steps) {
    const auto column = static_cast<Column>(column_index);
    const std::string key = "k" + std::to_string(key_index);
    if (kind == 9) {
      engine.DropUnsyncedWrites();
      live = durable;
    } else {
      WriteBatch batch;
      if (kind <= 5) {
        const std::string value = "v" + std::to_string(serial++);
        batch.Put(column, key, value);
        live[{column_index, key}] = value;
      } else {
        batch.Delete(column, key);
        live.erase({column_index, key});
      }
      RC_ASSERT(engine.Write(batch, WriteOptions{sync}).ok());
      if (sync) durable = live;
    }
    State seen;
    for (int c = 0; c < kColumnCount; ++c) {
      RC_ASSERT(engine
                    .Scan(static_cast<Column>(c), "", "",
                          [&](std::string_view k, std::string_view v) {
                            seen[{c, std::string(k)}] = std::string(v);
                            return true;
                          })
                    .ok());
    }
    RC_ASSERT(seen == live);
  }
}

}  // namespace
}  // namespace meridian::storage
