// LatencyHistogram: bucket layout and its error bound, recording, merging, and percentiles
// against a sorted-array reference (rapidcheck).
#include "bench/latency_histogram.h"

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace meridian::bench {
namespace {

constexpr std::uint64_t kSixtySeconds = 60'000'000'000ULL;  // in nanoseconds

// The reference: the value at rank ceil(p/100 * n) of the sorted values (1-based).
std::uint64_t ReferencePercentile(std::vector<std::uint64_t> values, double p) {
  std::sort(values.begin(), values.end());
  if (p <= 0) return values.front();
  if (p >= 100) return values.back();
  const long double exact = static_cast<long double>(p) / 100.0L * values.size();
  auto rank = static_cast<std::uint64_t>(std::ceil(exact - 1e-9L));
  rank = std::clamp<std::uint64_t>(rank, 1, values.size());
  return values[rank - 1];
}

bool WithinOnePercent(std::uint64_t reported, std::uint64_t reference) {
  const double difference =
      std::abs(static_cast<double>(reported) - static_cast<double>(reference));
  return difference <= 0.01 * static_cast<double>(reference);
}

TEST(LatencyHistogramTest, EmptyHistogramReportsZeros) {
  LatencyHistogram histogram;
  EXPECT_EQ(histogram.Count(), 0u);
  EXPECT_EQ(histogram.Min(), 0u);
  EXPECT_EQ(histogram.Max(), 0u);
  EXPECT_EQ(histogram.Percentile(50), 0u);
  EXPECT_EQ(histogram.Mean(), 0.0);
}

TEST(LatencyHistogramTest, SmallValuesAreExact) {
  LatencyHistogram histogram;
  for (std::uint64_t v = 0; v < 256; ++v) histogram.Record(v);
  EXPECT_EQ(histogram.Count(), 256u);
  EXPECT_EQ(histogram.Min(), 0u);
  EXPECT_EQ(histogram.Max(), 255u);
  EXPECT_EQ(histogram.Percentile(50), 127u);  // rank 128
  EXPECT_EQ(histogram.Percentile(100), 255u);
  EXPECT_DOUBLE_EQ(histogram.Mean(), 127.5);
}

TEST(LatencyHistogramTest, BucketsTileTheRangeWithinOnePercent) {
  EXPECT_EQ(LatencyHistogram::BucketLowest(0), 0u);
  for (std::size_t index = 0; index + 1 < LatencyHistogram::kBucketCount; ++index) {
    const std::uint64_t lowest = LatencyHistogram::BucketLowest(index);
    const std::uint64_t highest = LatencyHistogram::BucketHighest(index);
    ASSERT_LE(lowest, highest) << index;
    ASSERT_EQ(highest + 1, LatencyHistogram::BucketLowest(index + 1)) << index;
    ASSERT_EQ(LatencyHistogram::BucketIndex(lowest), index);
    ASSERT_EQ(LatencyHistogram::BucketIndex(highest), index);
    ASSERT_LE(static_cast<double>(highest - lowest), 0.01 * static_cast<double>(lowest)) << index;
  }
  EXPECT_EQ(LatencyHistogram::BucketHighest(LatencyHistogram::kBucketCount - 1),
            LatencyHistogram::kMaxTrackable);
  EXPECT_GT(LatencyHistogram::kMaxTrackable, kSixtySeconds);
}

TEST(LatencyHistogramTest, ValuesAboveTheRangeKeepAnExactMax) {
  LatencyHistogram histogram;
  histogram.Record(LatencyHistogram::kMaxTrackable * 4);
  histogram.Record(1000);
  EXPECT_EQ(histogram.Max(), LatencyHistogram::kMaxTrackable * 4);
  EXPECT_EQ(histogram.Percentile(100), LatencyHistogram::kMaxTrackable * 4);
  EXPECT_EQ(histogram.Percentile(99), LatencyHistogram::kMaxTrackable * 4);
  EXPECT_EQ(histogram.Percentile(50),
            LatencyHistogram::BucketHighest(LatencyHistogram::BucketIndex(1000)));
}

TEST(LatencyHistogramTest, PercentileNeverExceedsMaxOrGoesBelowMin) {
  LatencyHistogram histogram;
  histogram.Record(1'000'001);  // inside a wide bucket
  EXPECT_EQ(histogram.Percentile(50), 1'000'001u);
  EXPECT_EQ(histogram.Percentile(0), 1'000'001u);
}

TEST(LatencyHistogramTest, ResetEmptiesIt) {
  LatencyHistogram histogram;
  histogram.RecordN(5'000, 10);
  histogram.Reset();
  EXPECT_EQ(histogram.Count(), 0u);
  EXPECT_EQ(histogram.Percentile(99), 0u);
  histogram.Record(7);
  EXPECT_EQ(histogram.Min(), 7u);
  EXPECT_EQ(histogram.Max(), 7u);
}

// Latencies from 1 ns to 60 s, with extra weight on the typical microsecond range.
rc::Gen<std::uint64_t> GenLatency() {
  return rc::gen::oneOf(rc::gen::inRange<std::uint64_t>(0, 300),
                        rc::gen::inRange<std::uint64_t>(1'000, 10'000'000),
                        rc::gen::inRange<std::uint64_t>(0, kSixtySeconds + 1));
}

RC_GTEST_PROP(LatencyHistogramProperty, PercentilesWithinOnePercentOfSortedReference, ()) {
  const auto values =
      *rc::gen::nonEmpty(rc::gen::container<std::vector<std::uint64_t>>(GenLatency()));
  const double p =
      *rc::gen::element(0.0, 1.0, 10.0, 25.0, 50.0, 75.0, 90.0, 99.0, 99.9, 99.99, 100.0);
  LatencyHistogram histogram;
  for (std::uint64_t value : values) histogram.Record(value);
  RC_ASSERT(histogram.Count() == values.size());
  RC_ASSERT(histogram.Min() == *std::min_element(values.begin(), values.end()));
  RC_ASSERT(histogram.Max() == *std::max_element(values.begin(), values.end()));
  const std::uint64_t reference = ReferencePercentile(values, p);
  const std::uint64_t reported = histogram.Percentile(p);
  RC_ASSERT(reported >= reference);  // the highest value of the reference's bucket
  RC_ASSERT(WithinOnePercent(reported, reference));
}

RC_GTEST_PROP(LatencyHistogramProperty, PercentilesAreMonotonic, ()) {
  const auto values =
      *rc::gen::nonEmpty(rc::gen::container<std::vector<std::uint64_t>>(GenLatency()));
  LatencyHistogram histogram;
  for (std::uint64_t value : values) histogram.Record(value);
  std::uint64_t previous = 0;
  for (double p : {0.0, 50.0, 90.0, 99.0, 99.9, 100.0}) {
    const std::uint64_t value = histogram.Percentile(p);
    RC_ASSERT(value >= previous);
    previous = value;
  }
  RC_ASSERT(previous == histogram.Max());
}

RC_GTEST_PROP(LatencyHistogramProperty, MergeEqualsRecordingEverything, ()) {
  const auto left = *rc::gen::container<std::vector<std::uint64_t>>(GenLatency());
  const auto right = *rc::gen::container<std::vector<std::uint64_t>>(GenLatency());
  LatencyHistogram a;
  LatencyHistogram b;
  LatencyHistogram all;
  for (std::uint64_t value : left) {
    a.Record(value);
    all.Record(value);
  }
  for (std::uint64_t value : right) {
    b.Record(value);
    all.Record(value);
  }
  a.Merge(b);
  RC_ASSERT(a.Count() == all.Count());
  RC_ASSERT(a.Min() == all.Min());
  RC_ASSERT(a.Max() == all.Max());
  for (double p : {0.0, 1.0, 50.0, 90.0, 99.0, 99.9, 100.0}) {
    RC_ASSERT(a.Percentile(p) == all.Percentile(p));
  }
  RC_ASSERT(std::abs(a.Mean() - all.Mean()) <= 1e-6 * (1 + all.Mean()));
}

}  // namespace
}  // namespace meridian::bench
