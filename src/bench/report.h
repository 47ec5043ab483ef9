// The results of `meridian bench` for people (a header line and a table per phase) and for
// programs (one JSON document with the configuration, every phase and the bench process's
// peak resident memory). Latencies are reported in microseconds.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bench/config.h"
#include "bench/runner.h"

namespace meridian::bench {

// One line describing the run: driver, address, workload, distribution, records, loop model.
std::string DescribeConfig(const BenchConfig& config);

// "phase run: 10.00 s, 412345 ops, 41234 ops/s, 0 errors (0.000%)" and a table with a row per
// operation type that occurred plus "all": count, ops/s, p50/p90/p99/p99.9/max in us, errors,
// not found; then the first error of each type that had any.
std::string FormatPhase(const PhaseResult& phase);

// What the bench process itself used (getrusage): peak resident memory, and CPU time (user
// plus system, all threads) to tell whether the load generator was the bottleneck.
struct ProcessUsage {
  std::uint64_t peak_rss_bytes = 0;
  double cpu_s = 0;
};
ProcessUsage MeasureProcess();

// The JSON report (docs/benchmarks.md "meridian bench").
std::string ReportJson(const BenchConfig& config, const std::vector<PhaseResult>& phases,
                       const ProcessUsage& usage, bool passed);

}  // namespace meridian::bench
