// A backup (WriteBackup) of a RocksDB engine and its restore (RestoreBackup) into a data
// directory: the restored database holds the writes and backup.json round-trips; the
// refusals (an existing backup directory, a data directory in use or not empty, a directory
// that is not a backup) change nothing; --force moves the old directory aside.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "node/metadata_keys.h"
#include "node/stored_incarnation.h"
#include "runtime/backup_manifest.h"
#include "runtime/backup_restore.h"
#include "runtime/node_backup.h"
#include "storage/rocksdb_engine.h"

namespace meridian::runtime {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "meridian-backup-test-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data()) != nullptr ? pattern : "";
    EXPECT_FALSE(path_.empty());
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  std::string Sub(const std::string& name) const { return (fs::path(path_) / name).string(); }

 private:
  std::string path_;
};

storage::RocksDbOptions Small() {
  storage::RocksDbOptions options;
  options.block_cache_bytes = 8u << 20;
  options.write_buffer_bytes = 4u << 20;
  return options;
}

BackupManifest Manifest() {
  BackupManifest manifest;
  manifest.node_id = "n1";
  manifest.cluster_name = "prod";
  manifest.partition_count = 64;
  manifest.storage_format_version = 1;
  manifest.ring_version = 9;
  manifest.incarnation = 4;
  manifest.created_unix_ms = 1700000000000;
  manifest.meridian_version = "0.1.0";
  return manifest;
}

class BackupRestoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(dir_.Sub("node"));  // as the server does for <data_dir>
    auto opened = storage::RocksDbEngine::Open(dir_.Sub("node/db"), Small());
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    engine_ = std::move(*opened);
    storage::WriteBatch batch;
    batch.Put(storage::Column::kObjects, "key", "value");
    ASSERT_TRUE(engine_->Write(batch, storage::WriteOptions{.sync = true}).ok());
  }

  CheckpointFunction Copy() {
    return [this](std::uint32_t shard, const std::string& directory) {
      EXPECT_EQ(shard, 0u);
      return engine_->Checkpoint(directory);
    };
  }

  TempDir dir_;
  std::unique_ptr<storage::RocksDbEngine> engine_;
};

TEST_F(BackupRestoreTest, RestoredDataDirectoryHoldsTheBackup) {
  const std::string backup = dir_.Sub("backups/n1");  // the parent is created
  Result<api::BackupReport> report = WriteBackup(Copy(), backup, Manifest());
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->directory, backup);
  EXPECT_EQ(report->node_id, "n1");
  EXPECT_EQ(report->ring_version, 9u);
  EXPECT_GT(report->files, 2u);
  EXPECT_GT(report->bytes, 0u);
  Result<BackupManifest> manifest = ReadBackupManifest(backup);
  ASSERT_TRUE(manifest.ok()) << manifest.status().ToString();
  EXPECT_EQ(EncodeBackupManifest(*manifest), EncodeBackupManifest(Manifest()));

  // A write after the backup is not restored.
  storage::WriteBatch later;
  later.Put(storage::Column::kObjects, "later", "x");
  ASSERT_TRUE(engine_->Write(later, storage::WriteOptions{.sync = true}).ok());

  const std::string data_dir = dir_.Sub("restored");
  Result<RestoreReport> restored = RestoreBackup({backup, data_dir, false});
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  EXPECT_EQ(restored->manifest.node_id, "n1");
  EXPECT_TRUE(restored->moved_aside.empty());
  EXPECT_FALSE(fs::exists(data_dir + "/db.restoring"));
  {
    auto copy = storage::RocksDbEngine::Open(data_dir + "/db", Small());
    ASSERT_TRUE(copy.ok()) << copy.status().ToString();
    EXPECT_EQ(*(*copy)->Get(storage::Column::kObjects, "key"), "value");
    // Prepared to start as after a crash (fresh actors), though the source had no marker.
    EXPECT_EQ(*(*copy)->Get(storage::Column::kMetadata, "node/open"), "1");
    EXPECT_EQ(*(*copy)->Get(storage::Column::kObjects, "later"), std::nullopt);
  }
  // The backup is copied, not linked: it restores again after the copy was used, here with
  // the incarnation raised to what the peers know.
  const std::string again_dir = dir_.Sub("restored-again");
  Result<RestoreReport> again = RestoreBackup({backup, again_dir, false, 50});
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->stored_incarnation, 50u);
  auto copy = storage::RocksDbEngine::Open(again_dir + "/db", Small());
  ASSERT_TRUE(copy.ok()) << copy.status().ToString();
  EXPECT_EQ(*(*copy)->Get(storage::Column::kObjects, "key"), "value");
  Result<std::uint64_t> incarnation = node::ReadStoredIncarnation(**copy);
  ASSERT_TRUE(incarnation.ok());
  EXPECT_EQ(*incarnation, 50u);
  // Never lowered.
  Result<std::uint64_t> kept = node::RaiseStoredIncarnation(**copy, 7);
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(*kept, 50u);
}

TEST_F(BackupRestoreTest, BackupIntoAnExistingDirectoryIsRefused) {
  const std::string backup = dir_.Sub("existing");
  fs::create_directory(backup);
  std::ofstream(backup + "/keep") << "mine";
  Result<api::BackupReport> report = WriteBackup(Copy(), backup, Manifest());
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(fs::exists(backup + "/keep"));
  EXPECT_FALSE(fs::exists(backup + "/db"));
  EXPECT_EQ(WriteBackup(Copy(), "relative", Manifest()).status().code(),
            StatusCode::kInvalidArgument);
}

TEST_F(BackupRestoreTest, RestoreRefusesWhatIsNotABackup) {
  const std::string not_backup = dir_.Sub("not-a-backup");
  fs::create_directories(not_backup + "/db");
  Result<RestoreReport> restored = RestoreBackup({not_backup, dir_.Sub("target"), false});
  ASSERT_FALSE(restored.ok());
  EXPECT_EQ(restored.status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(fs::exists(dir_.Sub("target")));

  std::ofstream(not_backup + "/backup.json") << R"({"format": 99})";
  restored = RestoreBackup({not_backup, dir_.Sub("target"), false});
  ASSERT_FALSE(restored.ok());
  EXPECT_EQ(restored.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(restored.status().message().find("format 99"), std::string::npos);
}

// A backup of a newer release (a newer backup format, or a storage format this release does not
// read) is refused before anything is copied, naming the release that made it.
TEST_F(BackupRestoreTest, RestoreRefusesABackupOfANewerRelease) {
  BackupManifest newer = Manifest();
  newer.storage_format_version = node::kStorageFormatVersion + 1;
  newer.meridian_version = "7.0.0";
  const std::string backup = dir_.Sub("newer-storage");
  ASSERT_TRUE(WriteBackup(Copy(), backup, newer).ok());
  Result<RestoreReport> restored = RestoreBackup({backup, dir_.Sub("target"), false});
  ASSERT_FALSE(restored.ok());
  EXPECT_EQ(restored.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(restored.status().message(),
            "the backup holds storage format version 3 (made by Meridian 7.0.0); this release "
            "(Meridian " MERIDIAN_VERSION
            ") reads formats 1 to 2: restore it with the release that made it or a newer one "
            "(docs/operations.md, \"Upgrades\")");
  EXPECT_FALSE(fs::exists(dir_.Sub("target")));

  const std::string other = dir_.Sub("newer-format");
  fs::create_directories(other + "/db");
  std::ofstream(other + "/backup.json") << R"({"format": 3, "meridian_version": "7.0.0"})";
  restored = RestoreBackup({other, dir_.Sub("target"), false});
  ASSERT_FALSE(restored.ok());
  EXPECT_EQ(restored.status().message(),
            "backup.json has format 3; this release (Meridian " MERIDIAN_VERSION
            ") reads formats 1 and 2. The backup was made by Meridian 7.0.0: restore it with "
            "that release or a newer one");
  EXPECT_FALSE(fs::exists(dir_.Sub("target")));
}

// Another process holds the database's LOCK as RocksDB does (a write lock on the whole file):
// a child that locks it, reports, and waits until the parent closes the pipe. Another
// process, because POSIX record locks are per process: the probe of this process's own lock
// would release it (closing any descriptor of the file drops them all).
class LockHolder {
 public:
  explicit LockHolder(const std::string& lock_path) {
    int ready[2];
    int release[2];
    if (::pipe(ready) != 0 || ::pipe(release) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {  // only async-signal-safe calls in the child
      const int fd = ::open(lock_path.c_str(), O_RDWR);
      struct flock lock {};
      lock.l_type = F_WRLCK;
      lock.l_whence = SEEK_SET;
      const char status = (fd >= 0 && ::fcntl(fd, F_SETLK, &lock) == 0) ? '1' : '0';
      ::close(release[1]);
      if (::write(ready[1], &status, 1) != 1) ::_exit(1);
      char ignored;
      while (::read(release[0], &ignored, 1) > 0) {
      }
      ::_exit(0);
    }
    ::close(ready[1]);
    ::close(release[0]);
    release_fd_ = release[1];
    char status = '0';
    locked_ = ::read(ready[0], &status, 1) == 1 && status == '1';
    ::close(ready[0]);
  }
  ~LockHolder() {
    if (release_fd_ >= 0) ::close(release_fd_);
    if (pid_ > 0) ::waitpid(pid_, nullptr, 0);
  }
  bool locked() const { return locked_; }

 private:
  pid_t pid_ = -1;
  int release_fd_ = -1;
  bool locked_ = false;
};

TEST_F(BackupRestoreTest, RestoreRefusesADataDirectoryInUseEvenWithForce) {
  const std::string backup = dir_.Sub("backup");
  ASSERT_TRUE(WriteBackup(Copy(), backup, Manifest()).ok());
  engine_.reset();  // closed here; "the running node" is another process
  const std::string db = dir_.Sub("node/db");
  {
    LockHolder holder(db + "/LOCK");
    ASSERT_TRUE(holder.locked());
    Result<bool> locked = DatabaseLocked(db);
    ASSERT_TRUE(locked.ok()) << locked.status().ToString();
    EXPECT_TRUE(*locked);
    Result<RestoreReport> restored = RestoreBackup({backup, dir_.Sub("node"), true});
    ASSERT_FALSE(restored.ok());
    EXPECT_EQ(restored.status().code(), StatusCode::kFailedPrecondition);
    EXPECT_NE(restored.status().message().find("running node"), std::string::npos);
    EXPECT_TRUE(fs::exists(db + "/CURRENT"));  // untouched, not moved aside
  }
  Result<bool> locked = DatabaseLocked(db);
  ASSERT_TRUE(locked.ok());
  EXPECT_FALSE(*locked);
  EXPECT_TRUE(RestoreBackup({backup, dir_.Sub("node"), true}).ok());
}

TEST_F(BackupRestoreTest, NonEmptyDataDirectoryNeedsForceWhichMovesItAside) {
  const std::string backup = dir_.Sub("backup");
  ASSERT_TRUE(WriteBackup(Copy(), backup, Manifest()).ok());
  const std::string data_dir = dir_.Sub("old");
  fs::create_directories(data_dir);
  std::ofstream(data_dir + "/precious") << "old data";
  Result<RestoreReport> refused = RestoreBackup({backup, data_dir, false});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(fs::exists(data_dir + "/precious"));
  EXPECT_FALSE(fs::exists(data_dir + "/db"));

  Result<RestoreReport> forced = RestoreBackup({backup, data_dir, true});
  ASSERT_TRUE(forced.ok()) << forced.status().ToString();
  ASSERT_FALSE(forced->moved_aside.empty());
  EXPECT_TRUE(fs::exists(forced->moved_aside + "/precious"));
  EXPECT_FALSE(fs::exists(data_dir + "/precious"));
  EXPECT_TRUE(fs::exists(data_dir + "/db/CURRENT"));
}

// A node of two shards: each shard's database is copied into its own directory, backup.json
// says format 2 with two shards (so a release that reads only format 1 refuses it), and the
// restore puts every database in place, each prepared for its first start.
TEST_F(BackupRestoreTest, ABackupOfTwoShardsCopiesAndRestoresBothDatabases) {
  auto opened = storage::RocksDbEngine::Open(dir_.Sub("node/db-shard-1"), Small());
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  std::unique_ptr<storage::RocksDbEngine> second = std::move(*opened);
  storage::WriteBatch batch;
  batch.Put(storage::Column::kObjects, "other", "shard");
  ASSERT_TRUE(second->Write(batch, storage::WriteOptions{.sync = true}).ok());
  BackupManifest manifest = Manifest();
  manifest.format = kShardedBackupFormat;
  manifest.shards = 2;
  std::vector<std::uint32_t> copied;
  const CheckpointFunction both = [&](std::uint32_t shard, const std::string& directory) {
    copied.push_back(shard);
    return (shard == 0 ? *engine_ : *second).Checkpoint(directory);
  };
  const std::string backup = dir_.Sub("sharded");
  ASSERT_TRUE(WriteBackup(both, backup, manifest).ok());
  EXPECT_EQ(copied, (std::vector<std::uint32_t>{0, 1}));
  EXPECT_TRUE(fs::is_directory(backup + "/db-shard-1"));
  Result<BackupManifest> read = ReadBackupManifest(backup);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(read->format, 2u);
  EXPECT_EQ(read->shards, 2u);
  EXPECT_NE(EncodeBackupManifest(*read).find("\"shards\": 2"), std::string::npos);

  const std::string data_dir = dir_.Sub("restored");
  Result<RestoreReport> restored = RestoreBackup({backup, data_dir, false});
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  for (const auto& [db, key, value] :
       {std::tuple{"db", "key", "value"}, std::tuple{"db-shard-1", "other", "shard"}}) {
    auto copy = storage::RocksDbEngine::Open(data_dir + "/" + db, Small());
    ASSERT_TRUE(copy.ok()) << copy.status().ToString();
    EXPECT_EQ(*(*copy)->Get(storage::Column::kObjects, key), value) << db;
    EXPECT_EQ(*(*copy)->Get(storage::Column::kMetadata, "node/open"), "1") << db;
  }
  EXPECT_FALSE(fs::exists(data_dir + "/db-shard-1.restoring"));

  // A backup missing a shard's copy is not a complete backup: nothing is restored.
  fs::remove_all(backup + "/db-shard-1");
  const std::string incomplete = dir_.Sub("incomplete");
  Result<RestoreReport> refused = RestoreBackup({backup, incomplete, false});
  EXPECT_EQ(refused.status().code(), StatusCode::kNotFound) << refused.status().ToString();
  EXPECT_FALSE(fs::exists(incomplete));
}

TEST(BackupManifestTest, FormatTwoNeedsItsShardsAndFormatsBeyondItAreRefused) {
  BackupManifest manifest = Manifest();
  manifest.format = kShardedBackupFormat;
  manifest.shards = 3;
  Result<BackupManifest> round_trip = DecodeBackupManifest(EncodeBackupManifest(manifest));
  ASSERT_TRUE(round_trip.ok()) << round_trip.status().ToString();
  EXPECT_EQ(round_trip->shards, 3u);
  // Format 1 has one database and writes no shards field.
  EXPECT_EQ(EncodeBackupManifest(Manifest()).find("shards"), std::string::npos);
  EXPECT_EQ(DecodeBackupManifest(EncodeBackupManifest(Manifest()))->shards, 1u);
  std::string text = EncodeBackupManifest(manifest);
  const std::string without = text.replace(text.find(",\n  \"shards\": 3"), 15, "");
  EXPECT_EQ(DecodeBackupManifest(without).status().code(), StatusCode::kInvalidArgument) << without;
  manifest.shards = 1;
  EXPECT_EQ(DecodeBackupManifest(EncodeBackupManifest(manifest)).status().code(),
            StatusCode::kInvalidArgument);
  manifest.format = 3;
  manifest.shards = 2;
  Result<BackupManifest> newer = DecodeBackupManifest(EncodeBackupManifest(manifest));
  EXPECT_EQ(newer.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(newer.status().message().find("restore it with that release or a newer one"),
            std::string::npos)
      << newer.status().message();
}

}  // namespace
}  // namespace meridian::runtime
