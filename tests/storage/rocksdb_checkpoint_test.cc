// RocksDbEngine::Checkpoint: the copy opens as a database holding every write that returned
// before it (committed or only pending under group commit), in every column; a checkpoint
// taken while another thread writes holds a prefix of those writes (one instant); targets
// that are relative or exist are refused.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "storage/engine_test_util.h"

namespace meridian::storage {
namespace {

using test_support::SmallRocksDbOptions;
using test_support::TempDir;

std::string Key(int i) {
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "k%08d", i);
  return buffer;
}

TEST(RocksDbCheckpointTest, CopyOpensAndHoldsEveryColumnAndPendingWrites) {
  TempDir dir;
  RocksDbOptions options = SmallRocksDbOptions();
  options.group_commit = true;
  auto engine = RocksDbEngine::Open(dir.Sub("db"), options);
  ASSERT_TRUE(engine.ok()) << engine.status().ToString();
  WriteBatch committed;
  committed.Put(Column::kObjects, "object", "o");
  committed.Put(Column::kHints, "hint", "h");
  committed.Put(Column::kMetadata, "meta", "m");
  committed.Put(Column::kAntiEntropy, "aae", "a");
  committed.Put(Column::kStrong, "strong", "s");
  ASSERT_TRUE((*engine)->Write(committed, WriteOptions{.sync = true}).ok());
  ASSERT_TRUE((*engine)->CommitPending().ok());
  // Returned, not committed yet (group commit): a checkpoint after it holds it too.
  WriteBatch pending;
  pending.Put(Column::kObjects, "pending", "p");
  pending.Delete(Column::kHints, "hint");
  ASSERT_TRUE((*engine)->Write(pending, WriteOptions{.sync = true}).ok());

  const std::string copy_path = dir.Sub("copy");
  ASSERT_TRUE((*engine)->Checkpoint(copy_path).ok());
  // Writes after the checkpoint are not in it.
  WriteBatch later;
  later.Put(Column::kObjects, "later", "l");
  ASSERT_TRUE((*engine)->Write(later, WriteOptions{.sync = true}).ok());
  ASSERT_TRUE((*engine)->CommitPending().ok());

  auto copy = RocksDbEngine::Open(copy_path, SmallRocksDbOptions());
  ASSERT_TRUE(copy.ok()) << copy.status().ToString();
  EXPECT_EQ(*(*copy)->Get(Column::kObjects, "object"), "o");
  EXPECT_EQ(*(*copy)->Get(Column::kMetadata, "meta"), "m");
  EXPECT_EQ(*(*copy)->Get(Column::kAntiEntropy, "aae"), "a");
  EXPECT_EQ(*(*copy)->Get(Column::kStrong, "strong"), "s");
  EXPECT_EQ(*(*copy)->Get(Column::kObjects, "pending"), "p");
  EXPECT_EQ(*(*copy)->Get(Column::kHints, "hint"), std::nullopt);
  EXPECT_EQ(*(*copy)->Get(Column::kObjects, "later"), std::nullopt);
  // The source is untouched by the copy's life, and the copy by the source's.
  WriteBatch into_copy;
  into_copy.Put(Column::kObjects, "copy-only", "c");
  ASSERT_TRUE((*copy)->Write(into_copy, WriteOptions{.sync = true}).ok());
  EXPECT_EQ(*(*engine)->Get(Column::kObjects, "copy-only"), std::nullopt);
  EXPECT_EQ(*(*engine)->Get(Column::kObjects, "later"), "l");
}

TEST(RocksDbCheckpointTest, CheckpointBesideAWriterHoldsAPrefixOfItsWrites) {
  TempDir dir;
  RocksDbOptions options = SmallRocksDbOptions();
  options.group_commit = true;
  auto engine = RocksDbEngine::Open(dir.Sub("db"), options);
  ASSERT_TRUE(engine.ok()) << engine.status().ToString();
  constexpr int kKeys = 20000;
  std::atomic<int> written{0};
  // The writing thread writes keys in order, one batch each (object and its index entry);
  // the checkpoint is taken here meanwhile, as the server's backup thread does.
  std::thread writer([&engine, &written] {
    for (int i = 0; i < kKeys; ++i) {
      WriteBatch batch;
      batch.Put(Column::kObjects, Key(i), std::string(100, 'v'));
      batch.Put(Column::kAntiEntropy, Key(i), "h");
      if (!(*engine)->Write(batch, WriteOptions{.sync = true}).ok()) return;
      if (i % 64 == 0 && !(*engine)->CommitPending().ok()) return;
      written.store(i + 1);
    }
  });
  while (written.load() < kKeys / 4) std::this_thread::yield();
  const int before = written.load();
  const std::string copy_path = dir.Sub("copy");
  const Status checkpoint = (*engine)->Checkpoint(copy_path);
  writer.join();
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.ToString();
  ASSERT_EQ(written.load(), kKeys);

  auto copy = RocksDbEngine::Open(copy_path, SmallRocksDbOptions());
  ASSERT_TRUE(copy.ok()) << copy.status().ToString();
  int objects = 0;
  int gaps = 0;
  ASSERT_TRUE((*copy)
                  ->Scan(Column::kObjects, "", "",
                         [&](std::string_view key, std::string_view) {
                           if (key != Key(objects)) ++gaps;
                           ++objects;
                           return true;
                         })
                  .ok());
  int index_entries = 0;
  ASSERT_TRUE((*copy)
                  ->Scan(Column::kAntiEntropy, "", "",
                         [&](std::string_view, std::string_view) {
                           ++index_entries;
                           return true;
                         })
                  .ok());
  // Every write that returned before the checkpoint began, a prefix of the rest, each batch
  // whole (both columns agree).
  EXPECT_GE(objects, before);
  EXPECT_EQ(gaps, 0);
  EXPECT_EQ(index_entries, objects);
}

TEST(RocksDbCheckpointTest, RefusesRelativeAndExistingDirectories) {
  TempDir dir;
  auto engine = RocksDbEngine::Open(dir.Sub("db"), SmallRocksDbOptions());
  ASSERT_TRUE(engine.ok()) << engine.status().ToString();
  const Status relative = (*engine)->Checkpoint("relative/copy");
  EXPECT_EQ(relative.code(), StatusCode::kInvalidArgument) << relative.ToString();
  EXPECT_FALSE(std::filesystem::exists("relative"));

  const std::string existing = dir.Sub("existing");
  std::filesystem::create_directory(existing);
  std::ofstream(existing + "/keep") << "mine";
  const Status exists = (*engine)->Checkpoint(existing);
  EXPECT_EQ(exists.code(), StatusCode::kInvalidArgument) << exists.ToString();
  EXPECT_NE(exists.message().find("already exists"), std::string::npos) << exists.message();
  EXPECT_TRUE(std::filesystem::exists(existing + "/keep"));

  // A missing parent is an I/O error, and leaves nothing behind.
  const Status no_parent = (*engine)->Checkpoint(dir.Sub("missing/copy"));
  EXPECT_FALSE(no_parent.ok());
  EXPECT_FALSE(std::filesystem::exists(dir.Sub("missing")));
}

}  // namespace
}  // namespace meridian::storage
