#include "bench/latency_histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace meridian::bench {

LatencyHistogram::LatencyHistogram() : counts_(kBucketCount, 0) {}

std::size_t LatencyHistogram::BucketIndex(std::uint64_t value) {
  value = std::min(value, kMaxTrackable);
  if (value < 256) return static_cast<std::size_t>(value);
  const int exponent = std::bit_width(value) - 1;  // 8..35
  const int shift = exponent - kSubBucketBits;
  const std::uint64_t sub_bucket = (value >> shift) - 128;  // 0..127
  return 256 + static_cast<std::size_t>(exponent - 8) * 128 + static_cast<std::size_t>(sub_bucket);
}

std::uint64_t LatencyHistogram::BucketLowest(std::size_t index) {
  if (index < 256) return index;
  const std::size_t octave = (index - 256) / 128;  // exponent - 8
  const std::uint64_t sub_bucket = (index - 256) % 128;
  const int shift = static_cast<int>(octave) + 8 - kSubBucketBits;
  return (128 + sub_bucket) << shift;
}

std::uint64_t LatencyHistogram::BucketHighest(std::size_t index) {
  if (index < 256) return index;
  const std::size_t octave = (index - 256) / 128;
  const int shift = static_cast<int>(octave) + 8 - kSubBucketBits;
  return BucketLowest(index) + (std::uint64_t{1} << shift) - 1;
}

void LatencyHistogram::RecordN(std::uint64_t value, std::uint64_t count) {
  if (count == 0) return;
  const std::size_t index = BucketIndex(value);
  counts_[index] += count;
  highest_used_ = std::max(highest_used_, index);
  if (count_ == 0 || value < min_) min_ = value;
  max_ = std::max(max_, value);
  count_ += count;
  sum_ += static_cast<long double>(value) * static_cast<long double>(count);
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  if (other.count_ == 0) return;
  for (std::size_t index = 0; index <= other.highest_used_; ++index) {
    counts_[index] += other.counts_[index];
  }
  highest_used_ = std::max(highest_used_, other.highest_used_);
  if (count_ == 0 || other.min_ < min_) min_ = other.min_;
  max_ = std::max(max_, other.max_);
  count_ += other.count_;
  sum_ += other.sum_;
}

void LatencyHistogram::Reset() {
  std::fill(counts_.begin(), counts_.begin() + static_cast<std::ptrdiff_t>(highest_used_) + 1, 0);
  count_ = 0;
  min_ = 0;
  max_ = 0;
  sum_ = 0;
  highest_used_ = 0;
}

double LatencyHistogram::Mean() const {
  return count_ == 0 ? 0.0 : static_cast<double>(sum_ / static_cast<long double>(count_));
}

std::uint64_t LatencyHistogram::Percentile(double p) const {
  if (count_ == 0) return 0;
  if (p <= 0) return min_;
  if (p >= 100) return max_;
  // The rank (1-based) of the value at percentile p, computed without float drift for
  // exact fractions such as 50% of 10.
  const long double exact = static_cast<long double>(p) / 100.0L * static_cast<long double>(count_);
  std::uint64_t rank = static_cast<std::uint64_t>(std::ceil(exact - 1e-9L));
  rank = std::clamp<std::uint64_t>(rank, 1, count_);
  std::uint64_t seen = 0;
  for (std::size_t index = 0; index <= highest_used_; ++index) {
    seen += counts_[index];
    if (seen < rank) continue;
    // The last bucket also holds every value above the range: report the exact maximum.
    if (index == kBucketCount - 1) return max_;
    return std::clamp(BucketHighest(index), min_, max_);
  }
  return max_;
}

}  // namespace meridian::bench
