#include "bench/report.h"

#include <sys/resource.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace meridian::bench {
namespace {

double Micros(std::uint64_t nanoseconds) {
  return static_cast<double>(nanoseconds) / 1000.0;
}

std::string Printf(const char* format, auto... arguments) {
  char buffer[512];
  std::snprintf(buffer, sizeof(buffer), format, arguments...);
  return buffer;
}

double Throughput(std::uint64_t count, double elapsed_s) {
  return elapsed_s > 0 ? static_cast<double>(count) / elapsed_s : 0.0;
}

std::string Row(const char* name, const OpStats& stats, double elapsed_s) {
  const LatencyHistogram& h = stats.latency;
  return Printf("%-18s %10" PRIu64 " %10.0f %9.0f %9.0f %9.0f %9.0f %9.0f %8" PRIu64 " %9" PRIu64
                "\n",
                name, stats.count, Throughput(stats.count, elapsed_s), Micros(h.Percentile(50)),
                Micros(h.Percentile(90)), Micros(h.Percentile(99)), Micros(h.Percentile(99.9)),
                Micros(h.Max()), stats.errors, stats.not_found);
}

nlohmann::json StatsJson(const OpStats& stats, double elapsed_s) {
  const LatencyHistogram& h = stats.latency;
  nlohmann::json json = {
      {"count", stats.count},
      {"ops_per_s", Throughput(stats.count, elapsed_s)},
      {"errors", stats.errors},
      {"not_found", stats.not_found},
      {"conflicts", stats.conflicts},
      {"latency_us",
       {{"min", Micros(h.Min())},
        {"mean", h.Mean() / 1000.0},
        {"p50", Micros(h.Percentile(50))},
        {"p90", Micros(h.Percentile(90))},
        {"p99", Micros(h.Percentile(99))},
        {"p99_9", Micros(h.Percentile(99.9))},
        {"max", Micros(h.Max())}}},
  };
  if (!stats.first_error.empty()) json["first_error"] = stats.first_error;
  return json;
}

// The non-empty buckets of `h` as [highest value in ns, count] pairs, lowest first, so runs can
// be pooled (bench/background_p99.py adds the windows of a phase before taking percentiles).
nlohmann::json HistogramJson(const LatencyHistogram& h) {
  nlohmann::json buckets = nlohmann::json::array();
  for (std::size_t index = 0; index < h.UsedBucketsEnd(); ++index) {
    const std::uint64_t count = h.CountAt(index);
    if (count == 0) continue;
    buckets.push_back({std::min(LatencyHistogram::BucketHighest(index), h.Max()), count});
  }
  return buckets;
}

const char* PhasesName(PhaseSelection phases) {
  switch (phases) {
    case PhaseSelection::kLoad:
      return "load";
    case PhaseSelection::kRun:
      return "run";
    case PhaseSelection::kBoth:
      return "both";
  }
  return "unknown";
}

}  // namespace

std::string DescribeConfig(const BenchConfig& config) {
  std::string text =
      Printf("meridian bench: %s at %s, workload %s (%s), %s keys over %" PRIu64
             " records, %u-byte values, %u connections",
             DriverName(config.driver), config.address.c_str(), config.workload.name.c_str(),
             config.workload.Describe().c_str(), DistributionName(config.distribution),
             config.record_count, config.value_size, config.connections);
  if (config.pipeline > 1) text += Printf(" x %u pipelined", config.pipeline);
  if (config.threads > 1) text += Printf(" on %u threads", config.threads);
  text += config.target_rate > 0 ? Printf(", open loop at %.0f ops/s", config.target_rate)
                                 : std::string(", closed loop");
  return text;
}

std::string FormatPhase(const PhaseResult& phase) {
  const OpStats total = phase.Total();
  std::string text =
      Printf("phase %s: %.2f s, %" PRIu64 " ops, %.0f ops/s, %" PRIu64 " errors (%.3f%%)\n",
             phase.name.c_str(), phase.elapsed_s, total.count,
             Throughput(total.count, phase.elapsed_s), total.errors, phase.ErrorRate() * 100);
  text += Printf("%-18s %10s %10s %9s %9s %9s %9s %9s %8s %9s\n", "operation", "count", "ops/s",
                 "p50 us", "p90 us", "p99 us", "p99.9 us", "max us", "errors", "not found");
  for (OpType type : kOpTypes) {
    const OpStats& stats = phase.Of(type);
    if (stats.count + stats.errors == 0) continue;
    text += Row(OpTypeName(type), stats, phase.elapsed_s);
  }
  text += Row("all", total, phase.elapsed_s);
  for (OpType type : kOpTypes) {
    const OpStats& stats = phase.Of(type);
    if (!stats.first_error.empty()) {
      text += Printf("first %s error: %s\n", OpTypeName(type), stats.first_error.c_str());
    }
  }
  return text;
}

std::string ReportJson(const BenchConfig& config, const std::vector<PhaseResult>& phases,
                       const ProcessUsage& usage, bool passed) {
  nlohmann::json json;
  json["config"] = {
      {"driver", DriverName(config.driver)},
      {"address", config.address},
      {"bucket", config.bucket},
      {"workload", config.workload.name},
      {"mix",
       {{"read", config.workload.read},
        {"update", config.workload.update},
        {"insert", config.workload.insert},
        {"read_modify_write", config.workload.read_modify_write}}},
      {"distribution", DistributionName(config.distribution)},
      {"records", config.record_count},
      {"value_size", config.value_size},
      {"connections", config.connections},
      {"pipeline", config.pipeline},
      {"threads", config.threads},
      {"duration_s", config.duration_s},
      {"operations", config.operations},
      {"target_rate", config.target_rate},
      {"phases", PhasesName(config.phases)},
      {"r", config.r},
      {"w", config.w},
      {"dw", config.dw},
      {"set_lww", config.set_lww},
      {"timeout_ms", config.timeout_ms},
      {"seed", config.seed},
      {"max_error_rate", config.max_error_rate},
  };
  json["phases"] = nlohmann::json::array();
  for (const PhaseResult& phase : phases) {
    nlohmann::json operations = nlohmann::json::object();
    for (OpType type : kOpTypes) {
      const OpStats& stats = phase.Of(type);
      if (stats.count + stats.errors == 0) continue;
      operations[OpTypeName(type)] = StatsJson(stats, phase.elapsed_s);
    }
    json["phases"].push_back({{"phase", phase.name},
                              {"elapsed_s", phase.elapsed_s},
                              {"error_rate", phase.ErrorRate()},
                              {"operations", operations},
                              {"total", StatsJson(phase.Total(), phase.elapsed_s)},
                              {"latency_histogram_ns", HistogramJson(phase.Total().latency)}});
  }
  json["peak_rss_bytes"] = usage.peak_rss_bytes;
  json["cpu_s"] = usage.cpu_s;
  json["passed"] = passed;
  return json.dump(2) + "\n";
}

ProcessUsage MeasureProcess() {
  rusage usage{};
  if (::getrusage(RUSAGE_SELF, &usage) != 0) return {};
  const auto seconds = [](const timeval& time) {
    return static_cast<double>(time.tv_sec) + static_cast<double>(time.tv_usec) / 1e6;
  };
  ProcessUsage result;
  result.peak_rss_bytes = static_cast<std::uint64_t>(usage.ru_maxrss) * 1024;  // Linux: KiB
  result.cpu_s = seconds(usage.ru_utime) + seconds(usage.ru_stime);
  return result;
}

}  // namespace meridian::bench
