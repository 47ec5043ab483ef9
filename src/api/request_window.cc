#include "api/request_window.h"

#include "core/assert.h"

namespace meridian::api {

void RequestWindow::Sample(std::uint64_t now_ms, const Metrics::ClientTotals& totals) {
  MERIDIAN_CHECK(points_.empty() || now_ms >= points_.back().at_ms);
  points_.push_back(Point{now_ms, totals});
  const std::uint64_t window_ms = std::uint64_t{window_seconds_} * 1000;
  // Keep the newest sample at least window_ms old as the base of the difference.
  while (points_.size() > 2 && now_ms - points_[1].at_ms >= window_ms) points_.pop_front();
}

RequestWindow::Summary RequestWindow::Summarize() const {
  Summary summary;
  if (points_.size() < 2) return summary;
  const Point& first = points_.front();
  const Point& last = points_.back();
  const std::uint64_t span_ms = last.at_ms - first.at_ms;
  if (span_ms == 0) return summary;
  Metrics::ClientTotals delta;
  delta.count = last.totals.count - first.totals.count;
  delta.errors = last.totals.errors - first.totals.errors;
  for (std::size_t i = 0; i < delta.bucket_counts.size(); ++i) {
    delta.bucket_counts[i] = last.totals.bucket_counts[i] - first.totals.bucket_counts[i];
  }
  const double seconds = static_cast<double>(span_ms) / 1000.0;
  summary.window_seconds = static_cast<std::uint32_t>((span_ms + 500) / 1000);
  summary.requests_per_second = static_cast<double>(delta.count) / seconds;
  summary.errors_per_second = static_cast<double>(delta.errors) / seconds;
  summary.p50_ms = HistogramQuantileMs(delta, 0.5);
  summary.p99_ms = HistogramQuantileMs(delta, 0.99);
  return summary;
}

double HistogramQuantileMs(const Metrics::ClientTotals& delta, double q) {
  std::uint64_t total = 0;
  for (std::uint64_t count : delta.bucket_counts) total += count;
  if (total == 0) return 0;
  const double rank = q * static_cast<double>(total);
  double below = 0;
  for (std::size_t i = 0; i < delta.bucket_counts.size(); ++i) {
    const double count = static_cast<double>(delta.bucket_counts[i]);
    const double lower = i == 0 ? 0.0 : Metrics::kDurationBuckets[i - 1];
    if (i == Metrics::kDurationBuckets.size()) return lower * 1000.0;  // the open bucket
    if (below + count >= rank && count > 0) {
      const double upper = Metrics::kDurationBuckets[i];
      return (lower + (upper - lower) * (rank - below) / count) * 1000.0;
    }
    below += count;
  }
  return Metrics::kDurationBuckets.back() * 1000.0;
}

}  // namespace meridian::api
