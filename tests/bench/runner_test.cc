// RunPhase end to end against the real `meridian serve` over the meridian-http driver: exact
// operation counts in closed and open loop, the load phase, workload D's inserts, and the
// one-line failure for an unreachable store.
#include "bench/runner.h"

#include <gtest/gtest.h>

#include "bench/report.h"
#include "client/server_process.h"

namespace meridian::bench {
namespace {

using client::testing::ServerProcess;

class RunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    server_ = ServerProcess::Start({}, error);
    ASSERT_NE(server_, nullptr) << error;
    config_.address = "127.0.0.1:" + std::to_string(server_->http_port());
    config_.record_count = 300;
    config_.connections = 8;
    config_.progress = false;
  }
  void TearDown() override {
    if (server_ && HasFailure()) std::cerr << "server log:\n" << server_->Log();
  }
  std::unique_ptr<ServerProcess> server_;
  BenchConfig config_;
};

TEST_F(RunnerTest, LoadThenRunAnExactNumberOfOperations) {
  config_.workload = *ParseWorkload("a");
  config_.operations = 2000;
  config_.duration_s = 0;
  ASSERT_TRUE(Validate(config_).ok());
  ASSERT_TRUE(PrepareStore(config_).ok());
  Keyspace keyspace(config_.record_count);
  auto load = RunPhase(config_, /*load=*/true, keyspace, nullptr);
  ASSERT_TRUE(load.ok()) << load.error().message;
  EXPECT_EQ(load->Of(OpType::kInsert).count, 300u);
  EXPECT_EQ(load->Total().errors, 0u);

  auto run = RunPhase(config_, /*load=*/false, keyspace, nullptr);
  ASSERT_TRUE(run.ok()) << run.error().message;
  const OpStats total = run->Total();
  EXPECT_EQ(total.count, 2000u);
  EXPECT_EQ(total.errors, 0u) << total.first_error;
  EXPECT_EQ(total.not_found, 0u);  // every key was loaded
  EXPECT_GT(run->Of(OpType::kRead).count, 800u);
  EXPECT_GT(run->Of(OpType::kUpdate).count, 800u);
  EXPECT_EQ(run->Of(OpType::kInsert).count, 0u);
  EXPECT_LE(total.latency.Percentile(50), total.latency.Percentile(99));
  EXPECT_LE(total.latency.Percentile(99), total.latency.Max());
  EXPECT_NE(FormatPhase(*run).find("update"), std::string::npos);
}

// Workload cas on a strong bucket: every operation a read and a conditional write; with more
// connections than keys some writes lose the race, and those are conflicts, not errors.
TEST_F(RunnerTest, CompareAndSetWorkloadCountsConflictsApart) {
  config_.workload = *ParseWorkload("cas");
  config_.distribution = config_.workload.distribution;
  config_.consistency = "strong";
  config_.bucket = "cas";
  config_.record_count = 4;  // 8 connections on 4 keys: conflicts are certain
  config_.operations = 600;
  config_.duration_s = 0;
  ASSERT_TRUE(Validate(config_).ok());
  ASSERT_TRUE(PrepareStore(config_).ok());
  Keyspace keyspace(config_.record_count);
  auto run = RunPhase(config_, /*load=*/false, keyspace, nullptr);
  ASSERT_TRUE(run.ok()) << run.error().message;
  const OpStats& cas = run->Of(OpType::kReadModifyWrite);
  EXPECT_EQ(cas.count, 600u);
  EXPECT_EQ(cas.errors, 0u) << cas.first_error;
  EXPECT_GT(cas.conflicts, 0u);
  EXPECT_LT(cas.conflicts, cas.count);

  BenchConfig resp = config_;
  resp.driver = DriverKind::kRedis;
  resp.consistency.clear();
  EXPECT_FALSE(Validate(resp).ok());
}

TEST_F(RunnerTest, OpenLoopIssuesExactlyTheScheduledOperations) {
  config_.workload = *ParseWorkload("c");
  config_.target_rate = 1000;
  config_.duration_s = 1.0;
  config_.phases = PhaseSelection::kRun;
  Keyspace keyspace(config_.record_count);
  auto run = RunPhase(config_, /*load=*/false, keyspace, nullptr);
  ASSERT_TRUE(run.ok()) << run.error().message;
  EXPECT_EQ(run->Total().count + run->Total().errors, 1000u);
  EXPECT_GE(run->elapsed_s, 0.99);
  EXPECT_LT(run->elapsed_s, 3.0);
}

TEST_F(RunnerTest, WorkloadDInsertsAndReadsThemAcrossThreads) {
  config_.workload = *ParseWorkload("d");
  config_.distribution = config_.workload.distribution;
  config_.operations = 3000;
  config_.duration_s = 0;
  config_.threads = 2;
  Keyspace keyspace(config_.record_count);
  ASSERT_TRUE(RunPhase(config_, /*load=*/true, keyspace, nullptr).ok());
  auto run = RunPhase(config_, /*load=*/false, keyspace, nullptr);
  ASSERT_TRUE(run.ok()) << run.error().message;
  const std::uint64_t inserts = run->Of(OpType::kInsert).count;
  EXPECT_GT(inserts, 50u);
  EXPECT_EQ(keyspace.Limit(), config_.record_count + inserts);
  EXPECT_EQ(run->Total().errors, 0u) << run->Total().first_error;
  EXPECT_EQ(run->Total().not_found, 0u);  // reads only see acknowledged inserts
}

TEST_F(RunnerTest, ReadModifyWriteCountsAsOneOperation) {
  config_.workload = *ParseWorkload("f");
  config_.operations = 500;
  config_.duration_s = 0;
  Keyspace keyspace(config_.record_count);
  ASSERT_TRUE(RunPhase(config_, /*load=*/true, keyspace, nullptr).ok());
  auto run = RunPhase(config_, /*load=*/false, keyspace, nullptr);
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(run->Total().count, 500u);
  EXPECT_GT(run->Of(OpType::kReadModifyWrite).count, 150u);
  const std::string json = ReportJson(config_, {*run}, MeasureProcess(), true);
  EXPECT_NE(json.find("\"read-modify-write\""), std::string::npos);
}

TEST(RunnerFailureTest, UnreachableStoreFailsPreparation) {
  BenchConfig config;
  config.address = "127.0.0.1:1";
  config.timeout_ms = 2000;
  for (DriverKind kind : {DriverKind::kMeridianHttp, DriverKind::kRedis, DriverKind::kEtcd}) {
    config.driver = kind;
    auto prepared = PrepareStore(config);
    ASSERT_FALSE(prepared.ok()) << DriverName(kind);
  }
}

}  // namespace
}  // namespace meridian::bench
