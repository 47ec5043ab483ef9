// ReportJson: the phase's latency histogram is written bucket by bucket, so separate runs can
// be pooled before percentiles are taken (bench/background_p99.py).
#include "bench/report.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "bench/runner.h"

namespace meridian::bench {
namespace {

TEST(ReportJsonTest, TheHistogramHoldsEveryRecordedLatencyInItsBucket) {
  PhaseResult phase;
  phase.name = "run";
  phase.elapsed_s = 1;
  OpStats& reads = phase.ops[static_cast<std::size_t>(OpType::kRead)];
  OpStats& updates = phase.ops[static_cast<std::size_t>(OpType::kUpdate)];
  reads.latency.RecordN(100, 3);          // exact bucket
  reads.latency.RecordN(1'000'000, 5);    // 1 ms
  updates.latency.RecordN(1'000'000, 2);  // same bucket as the reads' 1 ms
  updates.latency.Record(40'000'000);     // 40 ms, the maximum
  reads.count = 8;
  updates.count = 3;

  const nlohmann::json json =
      nlohmann::json::parse(ReportJson(BenchConfig{}, {phase}, ProcessUsage{}, true));
  const nlohmann::json& buckets = json["phases"][0]["latency_histogram_ns"];
  ASSERT_EQ(buckets.size(), 3u) << buckets.dump();
  EXPECT_EQ(buckets[0][0].get<std::uint64_t>(), 100u);
  EXPECT_EQ(buckets[0][1].get<std::uint64_t>(), 3u);
  EXPECT_EQ(buckets[1][0].get<std::uint64_t>(),
            LatencyHistogram::BucketHighest(LatencyHistogram::BucketIndex(1'000'000)));
  EXPECT_EQ(buckets[1][1].get<std::uint64_t>(), 7u);
  EXPECT_EQ(buckets[2][0].get<std::uint64_t>(), 40'000'000u);  // capped at the maximum
  EXPECT_EQ(buckets[2][1].get<std::uint64_t>(), 1u);
}

TEST(ReportJsonTest, AnEmptyPhaseHasAnEmptyHistogram) {
  PhaseResult phase;
  phase.name = "run";
  const nlohmann::json json =
      nlohmann::json::parse(ReportJson(BenchConfig{}, {phase}, ProcessUsage{}, true));
  EXPECT_TRUE(json["phases"][0]["latency_histogram_ns"].empty());
}

}  // namespace
}  // namespace meridian::bench
