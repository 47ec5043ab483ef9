// RequestWindow: client request rates and latency percentiles over the last minute, from
// once-a-second samples of Metrics::ClientRequestTotals (the figures a member report carries).
// Not thread-safe: sampled and read on the server's event-loop thread.
#pragma once

#include <cstdint>
#include <deque>

#include "api/metrics.h"

namespace meridian::api {

class RequestWindow {
 public:
  struct Summary {
    std::uint32_t window_seconds = 0;  // what the figures cover (shorter just after start)
    double requests_per_second = 0;
    double errors_per_second = 0;
    double p50_ms = 0;  // 0 without requests in the window
    double p99_ms = 0;
  };

  explicit RequestWindow(std::uint32_t window_seconds = 60) : window_seconds_(window_seconds) {}

  // A sample at now_ms (not before the previous one); samples older than the window go.
  void Sample(std::uint64_t now_ms, const Metrics::ClientTotals& totals);
  // The change between the oldest and the newest sample kept.
  Summary Summarize() const;

 private:
  struct Point {
    std::uint64_t at_ms;
    Metrics::ClientTotals totals;
  };
  std::uint32_t window_seconds_;
  std::deque<Point> points_;
};

// The q-quantile (0 < q < 1) in milliseconds of a duration histogram (Metrics' buckets, not
// cumulative), interpolated linearly inside the bucket like Prometheus' histogram_quantile;
// the open last bucket answers its lower bound. 0 for an empty histogram.
double HistogramQuantileMs(const Metrics::ClientTotals& delta, double q);

}  // namespace meridian::api
