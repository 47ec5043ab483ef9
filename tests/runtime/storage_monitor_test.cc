// StorageMonitor: the free-space reserve (with its margin against flapping) and the failed
// engine (recovered only when there is room) decide whether the node takes new data.
#include "runtime/storage_monitor.h"

#include <gtest/gtest.h>

#include <string>

#include "storage/memory_engine.h"

namespace meridian::runtime {
namespace {

constexpr std::uint64_t kMiB = 1ull << 20;

// A MemoryEngine whose failure and recovery the test decides.
class FailableEngine final : public storage::Engine {
 public:
  Status failure;
  bool recover_succeeds = true;
  int recover_calls = 0;

  Result<std::optional<std::string>> Get(storage::Column column, std::string_view key) override {
    return inner_.Get(column, key);
  }
  Status Write(const storage::WriteBatch& batch, const storage::WriteOptions& options) override {
    return inner_.Write(batch, options);
  }
  Status Scan(storage::Column column, std::string_view begin, std::string_view end,
              const storage::ScanVisitor& visitor) override {
    return inner_.Scan(column, begin, end, visitor);
  }
  Status Failure() const override { return failure; }
  Status Recover() override {
    ++recover_calls;
    if (!recover_succeeds) return Status::InsufficientStorage("still no space");
    failure = Status::Ok();
    return Status::Ok();
  }

 private:
  storage::MemoryEngine inner_;
};

class StorageMonitorTest : public ::testing::Test {
 protected:
  StorageMonitor Monitor(std::uint64_t reserve) {
    return StorageMonitor(
        reserve,
        [this]() -> Result<StorageSpace> {
          if (!probe_error_.ok()) return probe_error_;
          return StorageSpace{.free_bytes = free_, .total_bytes = 1024 * kMiB};
        },
        engine_);
  }

  std::uint64_t free_ = 900 * kMiB;
  Status probe_error_;
  FailableEngine engine_;
};

TEST_F(StorageMonitorTest, BelowTheReserveNewDataIsRefusedUntilTheReservePlusAMarginIsFree) {
  StorageMonitor monitor = Monitor(100 * kMiB);  // margin: 10 MiB
  EXPECT_TRUE(monitor.Check(true).ok());
  EXPECT_EQ(monitor.stats().space.free_bytes, 900 * kMiB);

  free_ = 99 * kMiB;
  const Status full = monitor.Check(true);
  EXPECT_EQ(full.code(), StatusCode::kInsufficientStorage);
  EXPECT_NE(full.message().find("99 MiB free is below the reserve of 100 MiB"), std::string::npos)
      << full.message();
  EXPECT_NE(full.message().find("until 110 MiB is free"), std::string::npos) << full.message();
  EXPECT_TRUE(monitor.stats().below_reserve);
  EXPECT_EQ(monitor.condition().code(), StatusCode::kInsufficientStorage);

  free_ = 105 * kMiB;  // above the reserve, inside the margin: still refused
  EXPECT_EQ(monitor.Check(true).code(), StatusCode::kInsufficientStorage);
  free_ = 110 * kMiB;
  EXPECT_TRUE(monitor.Check(true).ok());
  EXPECT_FALSE(monitor.stats().below_reserve);
  EXPECT_EQ(engine_.recover_calls, 0);  // the engine never failed
}

TEST_F(StorageMonitorTest, AFailedEngineIsRecoveredOnlyWhenThereIsRoomAndWhenAsked) {
  StorageMonitor monitor = Monitor(100 * kMiB);
  engine_.failure = Status::InsufficientStorage("rocksdb commit: No space left on device");
  free_ = 50 * kMiB;
  Status condition = monitor.Check(true);
  EXPECT_EQ(condition.code(), StatusCode::kInsufficientStorage);
  EXPECT_NE(condition.message().find("No space left on device"), std::string::npos);
  EXPECT_EQ(engine_.recover_calls, 0);  // no room: not even tried
  EXPECT_TRUE(monitor.stats().engine_failed);

  free_ = 500 * kMiB;
  EXPECT_FALSE(monitor.Check(/*try_recover=*/false).ok());  // right after a failure: no retry
  EXPECT_EQ(engine_.recover_calls, 0);

  engine_.recover_succeeds = false;
  EXPECT_FALSE(monitor.Check(true).ok());
  EXPECT_EQ(engine_.recover_calls, 1);
  EXPECT_EQ(monitor.stats().recoveries, 0u);

  engine_.recover_succeeds = true;
  EXPECT_TRUE(monitor.Check(true).ok());
  EXPECT_EQ(engine_.recover_calls, 2);
  EXPECT_EQ(monitor.stats().recoveries, 1u);
  EXPECT_FALSE(monitor.stats().engine_failed);
}

TEST_F(StorageMonitorTest, AnIoErrorOfTheEngineIsReportedAsAStorageFailure) {
  StorageMonitor monitor = Monitor(0);
  engine_.failure = Status::IoError("rocksdb commit: Input/output error");
  engine_.recover_succeeds = false;
  const Status condition = monitor.Check(true);
  EXPECT_EQ(condition.code(), StatusCode::kIoError);
  EXPECT_NE(condition.message().find("storage failed"), std::string::npos);
}

TEST_F(StorageMonitorTest, AFailedProbeKeepsTheLastAnswer) {
  StorageMonitor monitor = Monitor(100 * kMiB);
  free_ = 10 * kMiB;
  EXPECT_FALSE(monitor.Check(true).ok());
  probe_error_ = Status::IoError("statvfs: Permission denied");
  EXPECT_FALSE(monitor.Check(true).ok());
  EXPECT_EQ(monitor.stats().probe_failures, 1u);
  EXPECT_EQ(monitor.stats().space.free_bytes, 10 * kMiB);
}

TEST(ProbeFileSystemTest, ReadsTheFreeSpaceOfARealDirectoryAndFailsForAMissingOne) {
  Result<StorageSpace> space = ProbeFileSystem("/tmp");
  ASSERT_TRUE(space.ok()) << space.status().ToString();
  EXPECT_GT(space->total_bytes, 0u);
  EXPECT_LE(space->free_bytes, space->total_bytes);
  EXPECT_EQ(ProbeFileSystem("/no/such/directory/here").status().code(), StatusCode::kIoError);
}

}  // namespace
}  // namespace meridian::runtime
