#include "api/metrics.h"

#include <fmt/format.h>

namespace meridian::api {

void Metrics::RecordRequest(std::string_view op, unsigned status, double duration_seconds) {
  Histogram& histogram = requests_[std::make_pair(std::string(op), status)];
  for (std::size_t i = 0; i < kDurationBuckets.size(); ++i) {
    if (duration_seconds <= kDurationBuckets[i]) {
      ++histogram.bucket_counts[i];
      break;
    }
  }
  ++histogram.count;
  histogram.sum_seconds += duration_seconds;
}

std::uint64_t Metrics::requests(std::string_view op, unsigned status) const {
  auto it = requests_.find(std::make_pair(std::string(op), status));
  return it == requests_.end() ? 0 : it->second.count;
}

Metrics::ClientTotals Metrics::ClientRequestTotals() const {
  ClientTotals totals;
  for (const auto& [label, histogram] : requests_) {
    const std::string& op = label.first;
    const bool client = op == "get" || op == "put" || op == "delete" ||
                        (op.starts_with("resp_") && op != "resp_other");
    if (!client) continue;
    totals.count += histogram.count;
    if (label.second >= 500) totals.errors += histogram.count;
    std::uint64_t bounded = 0;
    for (std::size_t i = 0; i < kDurationBuckets.size(); ++i) {
      totals.bucket_counts[i] += histogram.bucket_counts[i];
      bounded += histogram.bucket_counts[i];
    }
    totals.bucket_counts.back() += histogram.count - bounded;
  }
  return totals;
}

std::string Metrics::RenderPrometheus() const {
  std::string out;
  out += "# HELP meridian_requests_total HTTP requests served, by operation and status.\n";
  out += "# TYPE meridian_requests_total counter\n";
  for (const auto& [key, histogram] : requests_) {
    out += fmt::format("meridian_requests_total{{op=\"{}\",status=\"{}\"}} {}\n", key.first,
                       key.second, histogram.count);
  }
  out += "# HELP meridian_request_duration_seconds Time from a parsed request to its reply.\n";
  out += "# TYPE meridian_request_duration_seconds histogram\n";
  for (const auto& [key, histogram] : requests_) {
    const std::string labels = fmt::format("op=\"{}\",status=\"{}\"", key.first, key.second);
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < kDurationBuckets.size(); ++i) {
      cumulative += histogram.bucket_counts[i];
      out += fmt::format("meridian_request_duration_seconds_bucket{{{},le=\"{}\"}} {}\n", labels,
                         kDurationBuckets[i], cumulative);
    }
    out += fmt::format("meridian_request_duration_seconds_bucket{{{},le=\"+Inf\"}} {}\n", labels,
                       histogram.count);
    out += fmt::format("meridian_request_duration_seconds_sum{{{}}} {}\n", labels,
                       histogram.sum_seconds);
    out +=
        fmt::format("meridian_request_duration_seconds_count{{{}}} {}\n", labels, histogram.count);
  }
  out += "# HELP meridian_http_connections_open HTTP connections currently open.\n";
  out += "# TYPE meridian_http_connections_open gauge\n";
  out += fmt::format("meridian_http_connections_open {}\n", connections_open_);
  out +=
      "# HELP meridian_http_connections_rejected_total Connections closed on accept because "
      "connections_max was reached.\n";
  out += "# TYPE meridian_http_connections_rejected_total counter\n";
  out += fmt::format("meridian_http_connections_rejected_total {}\n", connections_rejected_);
  out +=
      "# HELP meridian_connections_evicted_total Idle client connections (HTTP and RESP) closed "
      "to make room for a new one at the connection cap.\n"
      "# TYPE meridian_connections_evicted_total counter\n";
  out += fmt::format("meridian_connections_evicted_total {}\n", connections_evicted_);
  return out;
}

void Metrics::RenderPrometheus(RenderDone done) const {
  std::string own = RenderPrometheus();
  if (!extra_) return done(std::move(own));
  extra_([own = std::move(own), done = std::move(done)](std::string extra) mutable {
    done(std::move(own) + extra);
  });
}

}  // namespace meridian::api
