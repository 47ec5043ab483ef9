// ResolveShardCount: `--shards 0` takes one shard per CPU for a new data directory and keeps
// the count an existing one was created with.
#include "runtime/shard_count.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "runtime/backup_manifest.h"

namespace meridian::runtime {
namespace {

class ShardCountTest : public ::testing::Test {
 protected:
  ShardCountTest() {
    dir_ = std::filesystem::temp_directory_path() /
           ("meridian-shard-count-" +
            std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  ~ShardCountTest() override { std::filesystem::remove_all(dir_); }

  // A database directory as RocksDB leaves it (its CURRENT file is what is looked for).
  void MakeDatabase(std::uint32_t shard) {
    const std::filesystem::path db = dir_ / ShardDatabaseDirectory(shard);
    std::filesystem::create_directories(db);
    std::ofstream(db / "CURRENT") << "MANIFEST-000001\n";
  }

  std::filesystem::path dir_;
};

TEST_F(ShardCountTest, AConfiguredCountIsTakenAsItIs) {
  MakeDatabase(0);
  EXPECT_EQ(ResolveShardCount(3, dir_.string(), 64, 8), 3u);
}

TEST_F(ShardCountTest, ANewDataDirectoryGetsOneShardPerCpuAtMostThePartitionCount) {
  EXPECT_EQ(ResolveShardCount(0, dir_.string(), 64, 2), 2u);
  EXPECT_EQ(ResolveShardCount(0, dir_.string(), 64, 32), 32u);
  EXPECT_EQ(ResolveShardCount(0, dir_.string(), 16, 32), 16u);
  EXPECT_EQ(ResolveShardCount(0, dir_.string(), 64, 0), 1u);
  EXPECT_EQ(ResolveShardCount(0, (dir_ / "not-yet").string(), 64, 4), 4u);
}

TEST_F(ShardCountTest, AnExistingDataDirectoryKeepsTheCountItWasCreatedWith) {
  MakeDatabase(0);
  EXPECT_EQ(ResolveShardCount(0, dir_.string(), 64, 8), 1u);  // created with one shard
  MakeDatabase(1);
  MakeDatabase(2);
  EXPECT_EQ(ResolveShardCount(0, dir_.string(), 64, 8), 3u);
  EXPECT_EQ(ResolveShardCount(0, dir_.string(), 64, 1), 3u);  // not the CPUs of this machine
  // Counted up to the first missing directory: the node then refuses a layout that differs
  // from the one recorded in its storage (a lost db-shard-<s>/ is never recreated empty).
  MakeDatabase(4);
  EXPECT_EQ(ResolveShardCount(0, dir_.string(), 64, 8), 3u);
}

TEST(AvailableCpusTest, IsAtLeastOne) {
  EXPECT_GE(AvailableCpus(), 1u);
}

}  // namespace
}  // namespace meridian::runtime
