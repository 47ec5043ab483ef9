// RocksDbEngine beyond the shared contract: persistence across reopen, the directory lock,
// the column families on disk and how failures map to Status codes.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include <rocksdb/db.h>
#include <rocksdb/options.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "storage/engine_test_util.h"

namespace meridian::storage {
namespace {

using test_support::SmallRocksDbOptions;
using test_support::TempDir;

std::unique_ptr<RocksDbEngine> OpenOrDie(const std::string& path) {
  auto opened = RocksDbEngine::Open(path, SmallRocksDbOptions());
  EXPECT_TRUE(opened.ok()) << opened.status().ToString();
  return opened.ok() ? std::move(opened).value() : nullptr;
}

TEST(RocksDbEngineTest, ReopenKeepsSyncedData) {
  TempDir dir;
  const std::string path = dir.Sub("db");
  {
    auto engine = OpenOrDie(path);
    ASSERT_NE(engine, nullptr);
    WriteBatch batch;
    batch.Put(Column::kObjects, "object", "o");
    batch.Put(Column::kHints, "hint", "h");
    batch.Put(Column::kMetadata, "meta", "m");
    ASSERT_TRUE(engine->Write(batch, WriteOptions{.sync = true}).ok());
  }
  auto engine = OpenOrDie(path);
  ASSERT_NE(engine, nullptr);
  EXPECT_EQ(*engine->Get(Column::kObjects, "object"), "o");
  EXPECT_EQ(*engine->Get(Column::kHints, "hint"), "h");
  EXPECT_EQ(*engine->Get(Column::kMetadata, "meta"), "m");
  EXPECT_EQ(*engine->Get(Column::kObjects, "meta"), std::nullopt);
}

TEST(RocksDbEngineTest, SecondOpenOfLockedDirectoryFailsWithIoError) {
  TempDir dir;
  const std::string path = dir.Sub("db");
  auto first = OpenOrDie(path);
  ASSERT_NE(first, nullptr);
  auto second = RocksDbEngine::Open(path, SmallRocksDbOptions());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kIoError);
  // The message names the directory and keeps RocksDB's reason (the LOCK file).
  EXPECT_NE(second.status().message().find(path), std::string::npos) << second.status().message();
  EXPECT_NE(second.status().message().find("lock"), std::string::npos) << second.status().message();
  // The first engine is unaffected.
  WriteBatch batch;
  batch.Put(Column::kObjects, "k", "v");
  EXPECT_TRUE(first->Write(batch, WriteOptions{}).ok());
}

TEST(RocksDbEngineTest, LockIsReleasedOnClose) {
  TempDir dir;
  const std::string path = dir.Sub("db");
  OpenOrDie(path).reset();
  EXPECT_NE(OpenOrDie(path), nullptr);
}

TEST(RocksDbEngineTest, MissingDirectoryWithoutCreateIsIoError) {
  TempDir dir;
  RocksDbOptions options = SmallRocksDbOptions();
  options.create_if_missing = false;
  auto opened = RocksDbEngine::Open(dir.Sub("absent"), options);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), StatusCode::kIoError);
  EXPECT_NE(opened.status().message().find("does not exist"), std::string::npos)
      << opened.status().message();
}

TEST(RocksDbEngineTest, CreatesEveryColumnFamily) {
  TempDir dir;
  const std::string path = dir.Sub("db");
  OpenOrDie(path).reset();
  std::vector<std::string> families;
  ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), path, &families).ok());
  std::sort(families.begin(), families.end());
  EXPECT_EQ(families, (std::vector<std::string>{"aae_index", "default", "hints", "metadata",
                                                "objects", "objects_by_segment", "strong"}));
}

// A data directory written before the anti-entropy index existed (three column families)
// opens, keeps its data and gains the new family.
TEST(RocksDbEngineTest, AnOlderDataDirectoryGainsTheAntiEntropyColumnFamily) {
  TempDir dir;
  const std::string path = dir.Sub("db");
  {
    rocksdb::DBOptions options;
    options.create_if_missing = true;
    options.create_missing_column_families = true;
    std::vector<rocksdb::ColumnFamilyDescriptor> old_families;
    for (const char* name : {"default", "objects", "hints", "metadata"}) {
      old_families.emplace_back(name, rocksdb::ColumnFamilyOptions());
    }
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(options, path, old_families, &handles, &db).ok());
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), handles[1], "k", "v").ok());
    for (auto* handle : handles) ASSERT_TRUE(db->DestroyColumnFamilyHandle(handle).ok());
    delete db;
  }
  // Also when opened without create_if_missing (as a restore opens a copied backup).
  RocksDbOptions existing = SmallRocksDbOptions();
  existing.create_if_missing = false;
  auto opened = RocksDbEngine::Open(path, existing);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  auto& engine = *opened;
  EXPECT_EQ(engine->Get(Column::kObjects, "k")->value_or(""), "v");
  WriteBatch batch;
  batch.Put(Column::kAntiEntropy, "i", "h");
  batch.Put(Column::kStrong, "s", "a");            // and the strong buckets' family
  batch.Put(Column::kObjectsBySegment, "o", "b");  // and storage format 2's objects
  ASSERT_TRUE(engine->Write(batch, {}).ok());
  EXPECT_EQ(engine->Get(Column::kAntiEntropy, "i")->value_or(""), "h");
  EXPECT_EQ(engine->Get(Column::kStrong, "s")->value_or(""), "a");
  EXPECT_EQ(engine->Get(Column::kObjectsBySegment, "o")->value_or(""), "b");
}

TEST(RocksDbEngineTest, GarbageInCurrentFileIsReportedNotCrashed) {
  TempDir dir;
  const std::string path = dir.Sub("db");
  OpenOrDie(path).reset();
  std::ofstream(path + "/CURRENT", std::ios::trunc) << "MANIFEST-999999\n";
  auto opened = RocksDbEngine::Open(path, SmallRocksDbOptions());
  ASSERT_FALSE(opened.ok());
  EXPECT_TRUE(opened.status().code() == StatusCode::kCorruption ||
              opened.status().code() == StatusCode::kIoError)
      << opened.status().ToString();
}

TEST(RocksDbEngineTest, ManyKeysSurviveReopenInOrder) {
  TempDir dir;
  const std::string path = dir.Sub("db");
  constexpr int kKeys = 2000;
  {
    auto engine = OpenOrDie(path);
    ASSERT_NE(engine, nullptr);
    WriteBatch batch;
    for (int i = 0; i < kKeys; ++i) {
      char key[16];
      std::snprintf(key, sizeof key, "key%06d", i);
      batch.Put(Column::kObjects, key, std::to_string(i));
    }
    ASSERT_TRUE(engine->Write(batch, WriteOptions{.sync = true}).ok());
  }
  auto engine = OpenOrDie(path);
  ASSERT_NE(engine, nullptr);
  int expected = 0;
  ASSERT_TRUE(engine
                  ->Scan(Column::kObjects, "", "",
                         [&](std::string_view, std::string_view value) {
                           EXPECT_EQ(value, std::to_string(expected));
                           ++expected;
                           return true;
                         })
                  .ok());
  EXPECT_EQ(expected, kKeys);
}

TEST(RocksDbEngineTest, MemoryReportsTheCacheAndTheMemtables) {
  TempDir dir;
  auto engine = OpenOrDie(dir.Sub("db"));
  ASSERT_NE(engine, nullptr);
  const RocksDbMemory before = engine->Memory();
  EXPECT_EQ(before.block_cache_capacity, SmallRocksDbOptions().block_cache_bytes);
  WriteBatch batch;
  for (int i = 0; i < 1000; ++i) batch.Put(Column::kObjects, "key" + std::to_string(i), "value");
  ASSERT_TRUE(engine->Write(batch, WriteOptions{}).ok());
  const RocksDbMemory after = engine->Memory();
  // 1000 small entries sit in the objects memtable (at least their keys).
  EXPECT_GT(after.memtables, before.memtables + 1000 * 6);
  EXPECT_LE(after.block_cache_usage, after.block_cache_capacity);
}

// Runs `body` in a child process, which must end it with _exit (dying with its objects
// alive, as a SIGKILL would); returns once the child is gone.
template <typename Body>
void RunInChildThenDie(Body body) {
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    body();
    _exit(0);
  }
  int wait_status = 0;
  ASSERT_EQ(waitpid(pid, &wait_status, 0), pid);
  ASSERT_TRUE(WIFEXITED(wait_status));
  ASSERT_EQ(WEXITSTATUS(wait_status), 0);
}

// Opens `path` in the child (never in the parent before the fork), writes, maybe commits;
// the child exits with 1 if anything failed.
void WriteInChild(const std::string& path, bool group_commit, bool commit, bool sync) {
  RunInChildThenDie([&] {
    RocksDbOptions options = SmallRocksDbOptions();
    options.group_commit = group_commit;
    auto engine = RocksDbEngine::Open(path, options);
    if (!engine.ok()) _exit(1);
    WriteBatch committed;
    committed.Put(Column::kObjects, "before", "1");
    if (!(*engine)->Write(committed, WriteOptions{.sync = sync}).ok()) _exit(1);
    if (!(*engine)->CommitPending().ok()) _exit(1);
    WriteBatch last;
    last.Put(Column::kObjects, "last", "2");
    if (!(*engine)->Write(last, WriteOptions{.sync = sync}).ok()) _exit(1);
    if (commit && !(*engine)->CommitPending().ok()) _exit(1);
    _exit(0);  // dies with the engine open: no destructor, no RocksDB close
  });
}

TEST(RocksDbEngineTest, GroupCommitKeepsWritesOnlyOnceCommitted) {
  for (const bool sync : {false, true}) {
    TempDir dir;
    const std::string path = dir.Sub("db");
    WriteInChild(path, /*group_commit=*/true, /*commit=*/false, sync);
    auto engine = OpenOrDie(path);
    ASSERT_NE(engine, nullptr);
    EXPECT_EQ(*engine->Get(Column::kObjects, "before"), "1") << "sync=" << sync;
    // Never committed: still in the WAL buffer of the dead process.
    EXPECT_EQ(*engine->Get(Column::kObjects, "last"), std::nullopt) << "sync=" << sync;
  }
}

TEST(RocksDbEngineTest, GroupCommitThenCrashKeepsEveryCommittedWrite) {
  TempDir dir;
  const std::string path = dir.Sub("db");
  WriteInChild(path, /*group_commit=*/true, /*commit=*/true, /*sync=*/false);
  auto engine = OpenOrDie(path);
  ASSERT_NE(engine, nullptr);
  EXPECT_EQ(*engine->Get(Column::kObjects, "before"), "1");
  EXPECT_EQ(*engine->Get(Column::kObjects, "last"), "2");
}

TEST(RocksDbEngineTest, WithoutGroupCommitEveryWriteSurvivesAProcessCrash) {
  TempDir dir;
  const std::string path = dir.Sub("db");
  WriteInChild(path, /*group_commit=*/false, /*commit=*/false, /*sync=*/false);
  auto engine = OpenOrDie(path);
  ASSERT_NE(engine, nullptr);
  EXPECT_EQ(*engine->Get(Column::kObjects, "last"), "2");
}

TEST(RocksDbEngineTest, GroupCommitEngineKeepsBufferedWritesOnACleanClose) {
  TempDir dir;
  const std::string path = dir.Sub("db");
  {
    RocksDbOptions options = SmallRocksDbOptions();
    options.group_commit = true;
    auto engine = RocksDbEngine::Open(path, options);
    ASSERT_TRUE(engine.ok());
    WriteBatch batch;
    batch.Put(Column::kObjects, "k", "v");
    ASSERT_TRUE((*engine)->Write(batch, WriteOptions{}).ok());
  }
  auto engine = OpenOrDie(path);
  ASSERT_NE(engine, nullptr);
  EXPECT_EQ(*engine->Get(Column::kObjects, "k"), "v");
}

// Reaping deletes many keys and then asks for their space back: the memtables are flushed and
// the deletions compacted away in the background (polled with a deadline, no sleep as a sync).
TEST(RocksDbEngineTest, RequestCompactionReturnsTheSpaceOfDeletedKeys) {
  TempDir dir;
  auto engine = OpenOrDie(dir.Sub("db"));
  ASSERT_NE(engine, nullptr);
  const std::string value(200, 'v');
  std::uint64_t written_sst_bytes = 0;
  for (int round = 0; round < 2; ++round) {
    for (int start = 0; start < 20'000; start += 1'000) {
      WriteBatch batch;
      for (int i = start; i < start + 1'000; ++i) {
        const std::string key = "k" + std::to_string(i);
        if (round == 0) {
          batch.Put(Column::kObjects, key, value);
        } else {
          batch.Delete(Column::kObjects, key);
        }
      }
      ASSERT_TRUE(engine->Write(batch, {}).ok());
    }
    if (round == 0) {
      const Status requested = engine->RequestCompaction();
      ASSERT_TRUE(requested.ok()) << requested.ToString();
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
      while (engine->Memory().memtables > 1'000'000 &&
             std::chrono::steady_clock::now() < deadline) {
        std::this_thread::yield();
      }
      written_sst_bytes = engine->Memory().live_sst_bytes;
      ASSERT_GT(written_sst_bytes, 100'000u) << "the memtable was not flushed";
    }
  }
  ASSERT_TRUE(engine->RequestCompaction().ok());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (engine->Memory().live_sst_bytes > 100'000 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  EXPECT_LE(engine->Memory().live_sst_bytes, 100'000u) << "the deleted keys' space stayed";
}

}  // namespace
}  // namespace meridian::storage
