// RequestWindow and HistogramQuantileMs: the request figures of a member report.
#include "api/request_window.h"

#include <gtest/gtest.h>

namespace meridian::api {
namespace {

Metrics::ClientTotals Totals(std::uint64_t count, std::uint64_t errors) {
  Metrics::ClientTotals totals;
  totals.count = count;
  totals.errors = errors;
  totals.bucket_counts[1] = count;  // every request in (0.5 ms, 1 ms]
  return totals;
}

TEST(RequestWindowTest, RatesAreTheChangeOverTheSamplesKept) {
  RequestWindow window(60);
  EXPECT_EQ(window.Summarize().window_seconds, 0u) << "one sample has no span";
  window.Sample(0, Totals(100, 0));
  window.Sample(10'000, Totals(600, 20));
  const RequestWindow::Summary summary = window.Summarize();
  EXPECT_EQ(summary.window_seconds, 10u);
  EXPECT_DOUBLE_EQ(summary.requests_per_second, 50);
  EXPECT_DOUBLE_EQ(summary.errors_per_second, 2);
  EXPECT_DOUBLE_EQ(summary.p50_ms, 0.75);  // half-way through (0.5, 1] ms
  EXPECT_NEAR(summary.p99_ms, 0.995, 1e-9);
}

TEST(RequestWindowTest, SamplesOlderThanTheWindowStopCounting) {
  RequestWindow window(60);
  window.Sample(0, Totals(0, 0));
  window.Sample(30'000, Totals(3'000, 0));  // 100/s in the first half minute
  window.Sample(60'000, Totals(3'000, 0));  // then idle
  window.Sample(90'000, Totals(3'000, 0));
  const RequestWindow::Summary summary = window.Summarize();
  EXPECT_EQ(summary.window_seconds, 60u);
  EXPECT_DOUBLE_EQ(summary.requests_per_second, 0) << "the busy half minute left the window";
  EXPECT_EQ(summary.p50_ms, 0) << "no request in the window";
}

TEST(HistogramQuantileTest, InterpolatesInsideTheBucketAndStopsAtTheOpenOne) {
  Metrics::ClientTotals delta;
  delta.bucket_counts[0] = 50;  // (0, 0.5] ms
  delta.bucket_counts[2] = 50;  // (1, 2.5] ms
  EXPECT_DOUBLE_EQ(HistogramQuantileMs(delta, 0.25), 0.25);
  EXPECT_DOUBLE_EQ(HistogramQuantileMs(delta, 0.75), 1.75);
  Metrics::ClientTotals slow;
  slow.bucket_counts.back() = 10;  // over the last bound (10 s)
  EXPECT_DOUBLE_EQ(HistogramQuantileMs(slow, 0.5), 10'000);
  EXPECT_EQ(HistogramQuantileMs(Metrics::ClientTotals{}, 0.5), 0);
}

TEST(MetricsTest, ClientTotalsCountOnlyClientRequests) {
  Metrics metrics;
  metrics.RecordRequest("get", 200, 0.0007);
  metrics.RecordRequest("put", 503, 0.002);
  metrics.RecordRequest("resp_set", 200, 20.0);  // past the last bound
  metrics.RecordRequest("metrics", 200, 0.0001);
  metrics.RecordRequest("cluster_status", 200, 0.0001);
  metrics.RecordRequest("resp_other", 400, 0.0001);
  const Metrics::ClientTotals totals = metrics.ClientRequestTotals();
  EXPECT_EQ(totals.count, 3u);
  EXPECT_EQ(totals.errors, 1u);
  EXPECT_EQ(totals.bucket_counts[1], 1u);  // 0.7 ms
  EXPECT_EQ(totals.bucket_counts[2], 1u);  // 2 ms
  EXPECT_EQ(totals.bucket_counts.back(), 1u);
}

}  // namespace
}  // namespace meridian::api
