// Metrics: the HTTP front end's counters, rendered in the Prometheus text format 0.0.4.
//
//   meridian_requests_total{op,status}          counter, one series per (op, HTTP status)
//   meridian_request_duration_seconds{op,status} histogram with fixed buckets (kDurationBuckets)
//   meridian_http_connections_open              gauge
//   meridian_http_connections_rejected_total    counter (over connections_max)
//   meridian_connections_evicted_total          counter (idle, closed at the cap; HTTP+RESP)
//
// Thread-safety: none. Every call happens on the front ends' event-loop thread, which also
// renders /metrics; the extra source (the node's series) may answer from another thread's
// work, but hands its text back on this one.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>

namespace meridian::api {

class Metrics {
 public:
  // Upper bounds (seconds) of the duration histogram's buckets; +Inf is implicit.
  static constexpr std::array<double, 14> kDurationBuckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

  // `op` is a short fixed name ("get", "put", ...); `status` the HTTP status sent.
  void RecordRequest(std::string_view op, unsigned status, double duration_seconds);
  void ConnectionOpened() { ++connections_open_; }
  void ConnectionClosed() { --connections_open_; }
  void ConnectionRejected() { ++connections_rejected_; }
  // An idle connection closed to make room for a new one at the cap (HTTP or RESP).
  void ConnectionEvicted() { ++connections_evicted_; }
  std::uint64_t connections_evicted() const { return connections_evicted_; }

  std::int64_t connections_open() const { return connections_open_; }
  std::uint64_t connections_rejected() const { return connections_rejected_; }
  std::uint64_t requests(std::string_view op, unsigned status) const;

  // Client requests (gets, puts, deletes over HTTP, and RESP commands) since start, summed
  // over their operations and statuses: what RequestWindow turns into rates and percentiles.
  struct ClientTotals {
    std::uint64_t count = 0;
    std::uint64_t errors = 0;  // 5xx statuses (RESP errors the node caused map to them)
    // Per duration bucket (kDurationBuckets, then one past the last bound); not cumulative.
    std::array<std::uint64_t, kDurationBuckets.size() + 1> bucket_counts{};
  };
  ClientTotals ClientRequestTotals() const;

  // This object's series only.
  std::string RenderPrometheus() const;
  // Every series: this object's, then the extra source's. `done` runs on this thread, now or
  // once the extra source answered.
  using RenderDone = std::function<void(std::string)>;
  void RenderPrometheus(RenderDone done) const;
  // Appends more series (already in the text format) to every rendering: the server's
  // replication and storage gauges, which live below the api layer and on the node's loop.
  // The source calls its argument exactly once, on this object's thread, with the text.
  using ExtraSource = std::function<void(RenderDone)>;
  void SetExtraSource(ExtraSource source) { extra_ = std::move(source); }

 private:
  struct Histogram {
    std::array<std::uint64_t, kDurationBuckets.size()> bucket_counts{};  // not cumulative
    std::uint64_t count = 0;
    double sum_seconds = 0;
  };
  // One histogram per (op, HTTP status); its count is also the requests_total counter.
  std::map<std::pair<std::string, unsigned>, Histogram> requests_;
  std::int64_t connections_open_ = 0;
  std::uint64_t connections_rejected_ = 0;
  std::uint64_t connections_evicted_ = 0;
  ExtraSource extra_;
};

}  // namespace meridian::api
