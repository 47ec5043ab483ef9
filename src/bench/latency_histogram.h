// LatencyHistogram: an HDR-style histogram of latencies in nanoseconds with log-linear
// buckets: values below 256 are exact; above, every power of two is split into 128 equal
// buckets, so a reported value is within 1/128 (< 0.8%) of the recorded one, up to
// kMaxTrackable (about 68.7 s). Larger values are counted in the last bucket (Max() stays
// exact). Fixed memory (3840 counters, 30 KiB); recording is O(1) and allocation-free.
//
// Not thread-safe; merge per-thread histograms instead.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace meridian::bench {

class LatencyHistogram {
 public:
  static constexpr std::uint64_t kMaxTrackable = (std::uint64_t{1} << 36) - 1;
  static constexpr int kSubBucketBits = 7;  // 128 buckets per power of two
  static constexpr std::size_t kBucketCount = 256 + (36 - 8) * 128;

  LatencyHistogram();

  void Record(std::uint64_t value) { RecordN(value, 1); }
  void RecordN(std::uint64_t value, std::uint64_t count);
  // Adds every value recorded in `other`.
  void Merge(const LatencyHistogram& other);
  void Reset();

  std::uint64_t Count() const { return count_; }
  // 0 for an empty histogram.
  std::uint64_t Min() const { return count_ == 0 ? 0 : min_; }
  std::uint64_t Max() const { return max_; }
  double Mean() const;
  // The value at percentile `p` (0..100): the smallest recorded value v such that at least
  // p% of the values are <= v, as the highest value of its bucket (never above Max()).
  // P(0) is Min(), P(100) is Max(); 0 for an empty histogram. A percentile in the last
  // bucket (beyond kMaxTrackable's range) is Max().
  std::uint64_t Percentile(double p) const;

  // The bucket of `value` (values above kMaxTrackable: the last one), and the smallest and
  // largest value a bucket holds.
  static std::size_t BucketIndex(std::uint64_t value);
  static std::uint64_t BucketLowest(std::size_t index);
  static std::uint64_t BucketHighest(std::size_t index);
  // How many recorded values fell in bucket `index` (< kBucketCount).
  std::uint64_t CountAt(std::size_t index) const { return counts_[index]; }
  // One past the highest non-empty bucket (0 when empty): buckets from here on are empty.
  std::size_t UsedBucketsEnd() const { return count_ == 0 ? 0 : highest_used_ + 1; }

 private:
  std::vector<std::uint64_t> counts_;
  std::uint64_t count_ = 0;
  std::uint64_t min_ = 0;
  std::uint64_t max_ = 0;
  long double sum_ = 0;
  std::size_t highest_used_ = 0;  // no bucket above this one is non-zero
};

}  // namespace meridian::bench
