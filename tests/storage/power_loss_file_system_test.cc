// PowerLossFileSystem on its own, through the FileSystem API RocksDB uses: what a power cut
// keeps (synced bytes, entries of fsynced directories) and what it undoes.
#include "storage/power_loss_file_system.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "storage/engine_test_util.h"

namespace meridian::storage {
namespace {

using test_support::TempDir;

class PowerLossFileSystemTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = dir_.Sub("data");
    std::filesystem::create_directories(data_);
    auto made = PowerLossFileSystem::Create(rocksdb::FileSystem::Default(), dir_.Sub("graveyard"));
    ASSERT_TRUE(made.ok()) << made.status().ToString();
    fs_ = *made;
  }

  std::string Path(const std::string& name) const { return data_ + "/" + name; }

  std::unique_ptr<rocksdb::FSWritableFile> Create(const std::string& name) {
    std::unique_ptr<rocksdb::FSWritableFile> file;
    EXPECT_TRUE(fs_->NewWritableFile(Path(name), rocksdb::FileOptions(), &file, nullptr).ok());
    return file;
  }
  static void Append(rocksdb::FSWritableFile& file, const std::string& bytes) {
    ASSERT_TRUE(file.Append(bytes, rocksdb::IOOptions(), nullptr).ok());
  }
  static void Sync(rocksdb::FSWritableFile& file) {
    ASSERT_TRUE(file.Sync(rocksdb::IOOptions(), nullptr).ok());
  }
  static void Close(rocksdb::FSWritableFile& file) {
    ASSERT_TRUE(file.Close(rocksdb::IOOptions(), nullptr).ok());
  }
  void SyncDirectory(const std::string& path) {
    std::unique_ptr<rocksdb::FSDirectory> directory;
    ASSERT_TRUE(fs_->NewDirectory(path, rocksdb::IOOptions(), &directory, nullptr).ok());
    ASSERT_TRUE(directory->Fsync(rocksdb::IOOptions(), nullptr).ok());
  }
  // A file created, written, synced and made durable in its directory.
  void CreateDurable(const std::string& name, const std::string& bytes) {
    auto file = Create(name);
    Append(*file, bytes);
    Sync(*file);
    Close(*file);
    SyncDirectory(data_);
  }
  PowerLossReport PowerLoss() {
    auto report = fs_->SimulatePowerLoss();
    EXPECT_TRUE(report.ok()) << report.status().ToString();
    return report.ok() ? *report : PowerLossReport{};
  }
  // The file's bytes, or nullopt when it does not exist.
  std::optional<std::string> Read(const std::string& name) const {
    std::ifstream in(Path(name), std::ios::binary);
    if (!in) return std::nullopt;
    std::stringstream bytes;
    bytes << in.rdbuf();
    return bytes.str();
  }

  TempDir dir_;
  std::string data_;
  std::shared_ptr<PowerLossFileSystem> fs_;
};

TEST_F(PowerLossFileSystemTest, SyncedBytesSurviveAndUnsyncedBytesAreCut) {
  SyncDirectory(data_);
  auto file = Create("wal");
  SyncDirectory(data_);
  Append(*file, "synced|");
  Sync(*file);
  Append(*file, "unsynced");
  EXPECT_EQ(Read("wal"), "synced|unsynced");  // the page cache has everything
  const PowerLossReport report = PowerLoss();
  EXPECT_EQ(Read("wal"), "synced|");
  EXPECT_EQ(report.bytes_dropped, 8u);
  EXPECT_EQ(report.files_cut, 1u);
}

TEST_F(PowerLossFileSystemTest, FsyncCountsLikeSyncButRangeSyncDoesNot) {
  auto file = Create("sst");
  SyncDirectory(data_);
  Append(*file, "a");
  ASSERT_TRUE(file->Fsync(rocksdb::IOOptions(), nullptr).ok());
  Append(*file, "b");
  ASSERT_TRUE(file->RangeSync(0, 2, rocksdb::IOOptions(), nullptr).ok());
  PowerLoss();
  EXPECT_EQ(Read("sst"), "a");
}

TEST_F(PowerLossFileSystemTest, NewFileIsLostUntilItsDirectoryIsSynced) {
  auto kept = Create("kept");
  Append(*kept, "data");
  Sync(*kept);
  Close(*kept);
  SyncDirectory(data_);
  auto lost = Create("lost");
  Append(*lost, "data");
  Sync(*lost);  // its bytes are durable, its name is not
  Close(*lost);
  const PowerLossReport report = PowerLoss();
  EXPECT_EQ(Read("kept"), "data");
  EXPECT_EQ(Read("lost"), std::nullopt);
  EXPECT_EQ(report.entries_reverted, 1u);
  EXPECT_EQ(report.bytes_dropped, 0u);
}

TEST_F(PowerLossFileSystemTest, RenameOverAFileIsUndoneWithoutDirectorySync) {
  CreateDurable("CURRENT", "MANIFEST-1\n");
  auto temporary = Create("CURRENT.tmp");
  Append(*temporary, "MANIFEST-2\n");
  Sync(*temporary);
  Close(*temporary);
  ASSERT_TRUE(
      fs_->RenameFile(Path("CURRENT.tmp"), Path("CURRENT"), rocksdb::IOOptions(), nullptr).ok());
  EXPECT_EQ(Read("CURRENT"), "MANIFEST-2\n");
  PowerLoss();
  EXPECT_EQ(Read("CURRENT"), "MANIFEST-1\n");
  EXPECT_EQ(Read("CURRENT.tmp"), std::nullopt);  // its creation was not durable either
}

TEST_F(PowerLossFileSystemTest, RenameIsKeptOnceTheDirectoryIsSynced) {
  CreateDurable("CURRENT", "MANIFEST-1\n");
  CreateDurable("CURRENT.tmp", "MANIFEST-2\n");
  ASSERT_TRUE(
      fs_->RenameFile(Path("CURRENT.tmp"), Path("CURRENT"), rocksdb::IOOptions(), nullptr).ok());
  SyncDirectory(data_);
  PowerLoss();
  EXPECT_EQ(Read("CURRENT"), "MANIFEST-2\n");
  EXPECT_EQ(Read("CURRENT.tmp"), std::nullopt);
  EXPECT_TRUE(std::filesystem::is_empty(dir_.Sub("graveyard")));
}

TEST_F(PowerLossFileSystemTest, DeletedFileComesBackWithItsSyncedBytesOnly) {
  CreateDurable("old.log", "synced");
  auto reopened = std::unique_ptr<rocksdb::FSWritableFile>();
  ASSERT_TRUE(
      fs_->ReopenWritableFile(Path("old.log"), rocksdb::FileOptions(), &reopened, nullptr).ok());
  Append(*reopened, "+unsynced");
  Close(*reopened);
  ASSERT_TRUE(fs_->DeleteFile(Path("old.log"), rocksdb::IOOptions(), nullptr).ok());
  EXPECT_EQ(Read("old.log"), std::nullopt);
  PowerLoss();
  EXPECT_EQ(Read("old.log"), "synced");
}

TEST_F(PowerLossFileSystemTest, DeletionIsKeptOnceTheDirectoryIsSynced) {
  CreateDurable("old.log", "synced");
  ASSERT_TRUE(fs_->DeleteFile(Path("old.log"), rocksdb::IOOptions(), nullptr).ok());
  EXPECT_FALSE(std::filesystem::is_empty(dir_.Sub("graveyard")));
  SyncDirectory(data_);
  EXPECT_TRUE(std::filesystem::is_empty(dir_.Sub("graveyard")));
  PowerLoss();
  EXPECT_EQ(Read("old.log"), std::nullopt);
}

TEST_F(PowerLossFileSystemTest, ReusedFileGetsItsOverwrittenBytesBack) {
  CreateDurable("000004.log", "0123456789");
  std::unique_ptr<rocksdb::FSWritableFile> reused;
  ASSERT_TRUE(fs_->ReuseWritableFile(Path("000009.log"), Path("000004.log"), rocksdb::FileOptions(),
                                     &reused, nullptr)
                  .ok());
  SyncDirectory(data_);  // the rename is durable
  Append(*reused, "AB");
  Sync(*reused);
  Append(*reused, "CD");  // replaces "23", unsynced
  EXPECT_EQ(Read("000009.log"), "ABCD456789");
  PowerLoss();
  EXPECT_EQ(Read("000009.log"), "AB23456789");
  EXPECT_EQ(Read("000004.log"), std::nullopt);
}

TEST_F(PowerLossFileSystemTest, ReuseWithoutDirectorySyncGoesBackToTheOldName) {
  CreateDurable("000004.log", "0123456789");
  std::unique_ptr<rocksdb::FSWritableFile> reused;
  ASSERT_TRUE(fs_->ReuseWritableFile(Path("000009.log"), Path("000004.log"), rocksdb::FileOptions(),
                                     &reused, nullptr)
                  .ok());
  Append(*reused, "ABCDEFGHIJKLMN");  // longer than the old contents, unsynced
  PowerLoss();
  EXPECT_EQ(Read("000009.log"), std::nullopt);
  EXPECT_EQ(Read("000004.log"), "0123456789");
}

TEST_F(PowerLossFileSystemTest, CreatedDirectoryVanishesWithItsContents) {
  const std::string db = Path("db");
  ASSERT_TRUE(fs_->CreateDirIfMissing(db, rocksdb::IOOptions(), nullptr).ok());
  std::unique_ptr<rocksdb::FSWritableFile> file;
  ASSERT_TRUE(fs_->NewWritableFile(db + "/MANIFEST", rocksdb::FileOptions(), &file, nullptr).ok());
  Append(*file, "m");
  Sync(*file);
  Close(*file);
  SyncDirectory(db);  // the file is durable in db/, but db/ itself is not in data/
  PowerLoss();
  EXPECT_FALSE(std::filesystem::exists(db));
}

TEST_F(PowerLossFileSystemTest, CreatedDirectoryStaysOnceItsParentIsSynced) {
  const std::string db = Path("db");
  ASSERT_TRUE(fs_->CreateDirIfMissing(db, rocksdb::IOOptions(), nullptr).ok());
  SyncDirectory(data_);
  PowerLoss();
  EXPECT_TRUE(std::filesystem::is_directory(db));
}

TEST_F(PowerLossFileSystemTest, NothingChangesAfterThePowerIsLostUntilPowerOn) {
  auto file = Create("wal");
  SyncDirectory(data_);
  Append(*file, "synced");
  Sync(*file);
  PowerLoss();
  EXPECT_FALSE(fs_->powered());
  // A file opened before the loss is dead, and stays dead after the power is back.
  EXPECT_TRUE(file->Append("x", rocksdb::IOOptions(), nullptr).IsIOError());
  EXPECT_TRUE(file->Sync(rocksdb::IOOptions(), nullptr).IsIOError());
  std::unique_ptr<rocksdb::FSWritableFile> refused;
  EXPECT_TRUE(
      fs_->NewWritableFile(Path("new"), rocksdb::FileOptions(), &refused, nullptr).IsIOError());
  EXPECT_TRUE(fs_->DeleteFile(Path("wal"), rocksdb::IOOptions(), nullptr).IsIOError());
  // A second loss has nothing more to revert.
  EXPECT_EQ(PowerLoss().bytes_dropped, 0u);
  fs_->PowerOn();
  EXPECT_TRUE(file->Append("x", rocksdb::IOOptions(), nullptr).IsIOError());
  file.reset();  // its destructor must not touch the disk either
  EXPECT_EQ(Read("wal"), "synced");
  // After PowerOn what is on disk is durable; new writes are tracked afresh.
  auto fresh = Create("fresh");
  Append(*fresh, "x");
  PowerLoss();
  EXPECT_EQ(Read("wal"), "synced");
  EXPECT_EQ(Read("fresh"), std::nullopt);
}

}  // namespace
}  // namespace meridian::storage
