// Real RocksDB (without Meridian's engine around it) on a PowerLossFileSystem, for the cases
// that need RocksDB's own controls: a memtable flush while unsynced writes exist, and
// recycled WAL files (recycle_log_file_num), which Meridian does not enable but which the
// wrapper models (a recycled WAL is written over its old contents).
#include <gtest/gtest.h>

#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/options.h>

#include "storage/engine_test_util.h"

namespace meridian::storage {
namespace {

using test_support::TempDir;

class RawRocksDb {
 public:
  explicit RawRocksDb(rocksdb::Options options) : options_(std::move(options)) {
    auto made = PowerLossFileSystem::Create(rocksdb::FileSystem::Default(), dir_.Sub("graveyard"));
    if (!made.ok()) {
      ADD_FAILURE() << made.status().ToString();
      return;
    }
    file_system_ = *made;
    env_ = rocksdb::NewCompositeEnv(file_system_);
    options_.env = env_.get();
    options_.create_if_missing = true;
    // The parent of a new database directory is fsynced by RocksDbEngine::Open, not by
    // RocksDB: make it durable here the same way.
    std::filesystem::create_directories(path_);
    std::unique_ptr<rocksdb::FSDirectory> parent;
    EXPECT_TRUE(
        file_system_->NewDirectory(dir_.path().string(), rocksdb::IOOptions(), &parent, nullptr)
            .ok());
    EXPECT_TRUE(parent->Fsync(rocksdb::IOOptions(), nullptr).ok());
    Open();
  }
  ~RawRocksDb() { db_.reset(); }

  void Put(const std::string& key, bool sync) {
    rocksdb::WriteOptions write_options;
    write_options.sync = sync;
    ASSERT_TRUE(db_->Put(write_options, key, "value of " + key).ok());
  }
  bool Has(const std::string& key) {
    std::string value;
    const rocksdb::Status status = db_->Get(rocksdb::ReadOptions(), key, &value);
    EXPECT_TRUE(status.ok() || status.IsNotFound()) << status.ToString();
    return status.ok();
  }
  void Flush() { ASSERT_TRUE(db_->Flush(rocksdb::FlushOptions()).ok()); }
  PowerLossReport PowerLossAndReopen() {
    auto report = file_system_->SimulatePowerLoss();
    EXPECT_TRUE(report.ok()) << report.status().ToString();
    db_.reset();
    file_system_->PowerOn();
    Open();
    return report.ok() ? *report : PowerLossReport{};
  }
  PowerLossFileSystem& file_system() { return *file_system_; }

 private:
  void Open() {
    rocksdb::DB* db = nullptr;
    const rocksdb::Status status = rocksdb::DB::Open(options_, path_, &db);
    ASSERT_TRUE(status.ok()) << status.ToString();
    db_.reset(db);
  }

  TempDir dir_;
  std::string path_ = dir_.Sub("db");
  rocksdb::Options options_;
  std::shared_ptr<PowerLossFileSystem> file_system_;
  std::unique_ptr<rocksdb::Env> env_;  // before db_: outlives it
  std::unique_ptr<rocksdb::DB> db_;
};

std::string Key(const std::string& prefix, int i) {
  return prefix + std::to_string(1000 + i);
}

constexpr int kWrites = 40;

TEST(PowerLossRocksDbEdgeTest, AMemtableFlushMakesTheUnsyncedWritesItTookDurable) {
  // The one way RocksDB keeps more than the rule promises: a flush writes the memtable to a
  // synced table file. The simulator's MemoryEngine never does (it loses more, never less).
  RawRocksDb db{rocksdb::Options()};
  for (int i = 0; i < kWrites; ++i) db.Put(Key("flushed", i), /*sync=*/false);
  db.Flush();
  for (int i = 0; i < kWrites; ++i) db.Put(Key("after", i), /*sync=*/false);
  const PowerLossReport report = db.PowerLossAndReopen();
  EXPECT_GT(report.bytes_dropped + report.entries_reverted, 0u);
  for (int i = 0; i < kWrites; ++i) {
    EXPECT_TRUE(db.Has(Key("flushed", i))) << i;
    EXPECT_FALSE(db.Has(Key("after", i))) << i;
  }
}

TEST(PowerLossRocksDbEdgeTest, SyncedWritesSurviveAFlushThatRacesWithUnsyncedOnes) {
  rocksdb::Options options;
  options.write_buffer_size = 64 << 10;  // many memtable switches and flushes
  RawRocksDb db{options};
  // Synced every 50th write; the unsynced ones in between may or may not reach a flush, so
  // what survives is some prefix of the writes, at least up to the last synced one.
  constexpr int kMany = 2000;
  int last_synced = -1;
  for (int i = 0; i < kMany; ++i) {
    const bool sync = i % 50 == 49;
    db.Put(Key("k", i) + std::string(512, 'x'), sync);
    if (sync) last_synced = i;
  }
  db.PowerLossAndReopen();
  int survivors = 0;
  while (survivors < kMany && db.Has(Key("k", survivors) + std::string(512, 'x'))) ++survivors;
  EXPECT_GT(survivors, last_synced);
  for (int i = survivors; i < kMany; ++i) {
    EXPECT_FALSE(db.Has(Key("k", i) + std::string(512, 'x'))) << "hole before " << i;
  }
}

TEST(PowerLossRocksDbEdgeTest, RecycledWalKeepsSyncedWritesAndLosesUnsyncedOnes) {
  rocksdb::Options options;
  options.recycle_log_file_num = 2;
  // RocksDB 7.8 turns recycling off under every other recovery mode.
  options.wal_recovery_mode = rocksdb::WALRecoveryMode::kSkipAnyCorruptedRecords;
  RawRocksDb db{options};
  // Each flush makes a WAL obsolete (kept for recycling); a later switch reuses it.
  constexpr int kFlushesMax = 8;
  for (int flush = 0; flush < kFlushesMax && db.file_system().counts().files_reused == 0; ++flush) {
    for (int i = 0; i < kWrites; ++i) db.Put(Key("old" + std::to_string(flush) + "-", i), true);
    db.Flush();
  }
  ASSERT_GT(db.file_system().counts().files_reused, 0u) << "no WAL file was recycled";
  for (int i = 0; i < kWrites; ++i) db.Put(Key("synced", i), /*sync=*/true);
  for (int i = 0; i < kWrites; ++i) db.Put(Key("unsynced", i), /*sync=*/false);
  const PowerLossReport report = db.PowerLossAndReopen();
  EXPECT_GT(report.bytes_dropped, 0u);
  EXPECT_TRUE(db.Has(Key("old0-", 0)));
  for (int i = 0; i < kWrites; ++i) {
    EXPECT_TRUE(db.Has(Key("synced", i))) << i;
    EXPECT_FALSE(db.Has(Key("unsynced", i))) << i;
  }
}

}  // namespace
}  // namespace meridian::storage
