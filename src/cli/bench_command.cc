// `meridian bench`: a YCSB-style load generator (src/bench/, docs/benchmarks.md
// "meridian bench") for Meridian over HTTP or RESP, Redis and etcd. A load phase inserts
// --records records, a run phase runs the workload's mix for --duration seconds or
// --operations operations. Progress goes to stderr once a second; each phase's table to
// stdout; --json FILE gets everything plus the configuration and the bench's peak memory.
//
// Exit codes: 0 done, every phase's error rate within --max-error-rate; 1 a phase's error
// rate above it, or the store unreachable / not set up; 2 usage error (one line on stderr).
// Options are parsed as text and validated here so that every usage error exits 2.
#include <CLI/CLI.hpp>

#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bench/config.h"
#include "bench/keyspace.h"
#include "bench/report.h"
#include "bench/runner.h"
#include "cli/commands.h"

namespace meridian::cli {
namespace {

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

struct BenchArguments {
  std::string workload = "a";
  std::string distribution;
  std::string records = "10000";
  std::string value_size = "100";
  std::string connections = "50";
  std::string pipeline = "1";
  std::string threads = "1";
  std::string duration = "10";
  std::string operations;
  std::string target_rate;
  std::string phase = "both";
  std::string json;
  std::string driver = "meridian-http";
  std::string address;
  std::string bucket = "bench";
  std::string token;
  std::string r;
  std::string w;
  std::string dw;
  std::string consistency;
  bool keep_bucket_props = false;
  std::string timeout_ms = "10000";
  std::string seed = "1";
  std::string max_error_rate = "0.01";
  bool quiet = false;
  CLI::Option* duration_option = nullptr;
};

template <typename T>
std::optional<T> ParseNumber(const std::string& text) {
  T value{};
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

bool IsQuorumText(const std::string& text) {
  return text == "one" || text == "quorum" || text == "all" ||
         ParseNumber<std::uint32_t>(text).has_value();
}

// The configuration the arguments describe, or the usage error's one line.
std::optional<std::string> BuildConfig(const CLI::App& command, const BenchArguments& arguments,
                                       bench::BenchConfig& config) {
  if (const auto extras = command.remaining(); !extras.empty()) {
    return "unexpected argument '" + extras.front() + "'";
  }
  auto workload = bench::ParseWorkload(arguments.workload);
  if (!workload.ok()) return workload.error().message;
  config.workload = *workload;
  config.distribution = config.workload.distribution;
  if (!arguments.distribution.empty()) {
    if (arguments.distribution == "uniform") {
      config.distribution = bench::Distribution::kUniform;
    } else if (arguments.distribution == "zipfian") {
      config.distribution = bench::Distribution::kZipfian;
    } else if (arguments.distribution == "latest") {
      config.distribution = bench::Distribution::kLatest;
    } else {
      return "--distribution must be uniform, zipfian or latest";
    }
  }
  auto driver = bench::ParseDriver(arguments.driver);
  if (!driver.ok()) return driver.error().message;
  config.driver = *driver;
  config.address =
      arguments.address.empty() ? bench::DefaultAddress(config.driver) : arguments.address;

  const std::pair<const char*, const std::string*> whole[] = {
      {"--records", &arguments.records},
      {"--value-size", &arguments.value_size},
      {"--connections", &arguments.connections},
      {"--pipeline", &arguments.pipeline},
      {"--threads", &arguments.threads},
      {"--timeout-ms", &arguments.timeout_ms},
      {"--seed", &arguments.seed}};
  for (const auto& [flag, text] : whole) {
    if (!ParseNumber<std::uint64_t>(*text)) {
      return std::string(flag) + " must be a non-negative integer, not '" + *text + "'";
    }
  }
  const auto narrow = [](const std::string& text) -> std::optional<std::uint32_t> {
    return ParseNumber<std::uint32_t>(text);
  };
  config.record_count = *ParseNumber<std::uint64_t>(arguments.records);
  config.seed = *ParseNumber<std::uint64_t>(arguments.seed);
  const std::pair<const char*, std::pair<const std::string*, std::uint32_t*>> small[] = {
      {"--value-size", {&arguments.value_size, &config.value_size}},
      {"--connections", {&arguments.connections, &config.connections}},
      {"--pipeline", {&arguments.pipeline, &config.pipeline}},
      {"--threads", {&arguments.threads, &config.threads}},
      {"--timeout-ms", {&arguments.timeout_ms, &config.timeout_ms}}};
  for (const auto& [flag, target] : small) {
    const auto value = narrow(*target.first);
    if (!value) return std::string(flag) + " is too large";
    *target.second = *value;
  }

  const auto duration = ParseNumber<double>(arguments.duration);
  if (!duration || *duration < 0) return "--duration must be a number of seconds";
  config.duration_s = *duration;
  if (!arguments.operations.empty()) {
    const auto operations = ParseNumber<std::uint64_t>(arguments.operations);
    if (!operations || *operations == 0) return "--operations must be a positive integer";
    config.operations = *operations;
    // --operations alone: no time bound.
    if (arguments.duration_option->count() == 0) config.duration_s = 0;
  }
  if (!arguments.target_rate.empty()) {
    const auto rate = ParseNumber<double>(arguments.target_rate);
    if (!rate || *rate <= 0) return "--target-rate must be a positive number of operations/s";
    config.target_rate = *rate;
  }
  const auto max_error_rate = ParseNumber<double>(arguments.max_error_rate);
  if (!max_error_rate) return "--max-error-rate must be a fraction such as 0.01";
  config.max_error_rate = *max_error_rate;

  if (arguments.phase == "load") {
    config.phases = bench::PhaseSelection::kLoad;
  } else if (arguments.phase == "run") {
    config.phases = bench::PhaseSelection::kRun;
  } else if (arguments.phase == "both") {
    config.phases = bench::PhaseSelection::kBoth;
  } else {
    return "--phase must be load, run or both";
  }
  config.bucket = arguments.bucket;
  config.token = arguments.token;
  const std::pair<const char*, const std::string*> quorums[] = {
      {"--r", &arguments.r}, {"--w", &arguments.w}, {"--dw", &arguments.dw}};
  for (const auto& [flag, text] : quorums) {
    if (!text->empty() && !IsQuorumText(*text)) {
      return std::string(flag) + " must be one, quorum, all or a number, not '" + *text + "'";
    }
  }
  config.r = arguments.r;
  config.w = arguments.w;
  config.dw = arguments.dw;
  config.set_lww = !arguments.keep_bucket_props;
  config.consistency = arguments.consistency;
  config.progress = !arguments.quiet;
  config.json_path = arguments.json;
  if (auto valid = bench::Validate(config); !valid.ok()) return valid.error().message;
  return std::nullopt;
}

int RunBench(const bench::BenchConfig& config) {
  if (auto prepared = bench::PrepareStore(config); !prepared.ok()) {
    std::fprintf(stderr, "meridian bench: %s\n", prepared.error().message.c_str());
    return kExitFailed;
  }
  std::printf("%s\n", bench::DescribeConfig(config).c_str());
  std::fflush(stdout);
  bench::Keyspace keyspace(config.record_count);
  std::vector<bench::PhaseResult> phases;
  std::FILE* progress = config.progress ? stderr : nullptr;
  for (const bool load : {true, false}) {
    if (load && config.phases == bench::PhaseSelection::kRun) continue;
    if (!load && config.phases == bench::PhaseSelection::kLoad) continue;
    auto phase = bench::RunPhase(config, load, keyspace, progress);
    if (!phase.ok()) {
      std::fprintf(stderr, "meridian bench: %s\n", phase.error().message.c_str());
      return kExitFailed;
    }
    std::printf("%s", bench::FormatPhase(*phase).c_str());
    std::fflush(stdout);
    phases.push_back(std::move(phase).value());
  }
  bool passed = true;
  for (const bench::PhaseResult& phase : phases) {
    if (phase.ErrorRate() > config.max_error_rate) {
      std::fprintf(stderr,
                   "meridian bench: phase %s failed %.3f%% of its operations (more than "
                   "--max-error-rate %.3f%%)\n",
                   phase.name.c_str(), phase.ErrorRate() * 100, config.max_error_rate * 100);
      passed = false;
    }
  }
  const bench::ProcessUsage usage = bench::MeasureProcess();
  std::printf("bench process: peak RSS %.1f MiB, CPU %.2f s (user+system)\n",
              static_cast<double>(usage.peak_rss_bytes) / (1024.0 * 1024.0), usage.cpu_s);
  if (!config.json_path.empty()) {
    std::ofstream out(config.json_path, std::ios::trunc);
    out << bench::ReportJson(config, phases, usage, passed);
    if (!out) {
      std::fprintf(stderr, "meridian bench: cannot write %s\n", config.json_path.c_str());
      return kExitFailed;
    }
  }
  return passed ? 0 : kExitFailed;
}

}  // namespace

void AddBenchCommand(CLI::App& app, int& exit_code) {
  auto arguments = std::make_shared<BenchArguments>();
  CLI::App* command = app.add_subcommand(
      "bench", "YCSB-style load generator for Meridian (HTTP or RESP), Redis and etcd");
  BenchArguments& a = *arguments;
  command
      ->add_option("--workload", a.workload,
                   "a | b | c | d | f (YCSB core workloads) | cas (read, then write only if "
                   "the version read is still current; meridian-http)")
      ->capture_default_str();
  command->add_option("--distribution", a.distribution,
                      "uniform | zipfian | latest (default: the workload's)");
  command->add_option("--records", a.records, "Records of the load phase")->capture_default_str();
  command->add_option("--value-size", a.value_size, "Bytes per value")->capture_default_str();
  command->add_option("--connections", a.connections, "Concurrent connections")
      ->capture_default_str();
  command->add_option("--pipeline", a.pipeline, "Requests in flight per connection")
      ->capture_default_str();
  command->add_option("--threads", a.threads, "Event-loop threads")->capture_default_str();
  a.duration_option = command->add_option("--duration", a.duration, "Seconds of the run phase")
                          ->capture_default_str();
  command->add_option("--operations", a.operations,
                      "Operations of the run phase (without --duration: no time bound)");
  command->add_option("--target-rate", a.target_rate,
                      "Open loop: operations per second, latency from the intended start");
  command->add_option("--phase", a.phase, "load | run | both")->capture_default_str();
  command->add_option("--json", a.json, "Write the full report as JSON to this file");
  command->add_option("--driver", a.driver, "meridian-http | meridian-resp | redis | etcd")
      ->capture_default_str();
  command->add_option("--address", a.address,
                      "HOST:PORT (default 127.0.0.1: 8080 http, 6380 resp, 6379 redis, 2379 etcd)");
  command->add_option("--bucket", a.bucket, "Bucket (meridian-http)")->capture_default_str();
  if (const char* token = std::getenv("MERIDIAN_TOKEN"); token != nullptr) a.token = token;
  command->add_option("--token", a.token, "Bearer token (meridian-http; default: $MERIDIAN_TOKEN)");
  command->add_option("--r", a.r, "Per-request r (meridian-http; default: the bucket's)");
  command->add_option("--w", a.w, "Per-request w (meridian-http; default: the bucket's)");
  command->add_option("--dw", a.dw, "Per-request dw (meridian-http; default: the bucket's)");
  command->add_option("--consistency", a.consistency,
                      "Set the bucket's consistency first: eventual | strong (meridian-http; the "
                      "bucket must hold no data)");
  command->add_flag("--keep-bucket-props", a.keep_bucket_props,
                    "Do not set the bucket's conflict_policy to lww first (meridian-http)");
  command->add_option("--timeout-ms", a.timeout_ms, "Per-request timeout")->capture_default_str();
  command->add_option("--seed", a.seed, "Seed of every random choice")->capture_default_str();
  command
      ->add_option("--max-error-rate", a.max_error_rate,
                   "Exit 1 when a phase fails more than this fraction of operations")
      ->capture_default_str();
  command->add_flag("--quiet", a.quiet, "No progress lines on stderr");
  command->allow_extras();
  command->footer(
      "Progress: one line a second on stderr. Results: a table per phase on stdout.\n"
      "Exit codes: 0 done, 1 error rate above --max-error-rate or store unreachable, 2 usage.");
  command->callback([command, arguments, &exit_code] {
    bench::BenchConfig config;
    if (auto usage = BuildConfig(*command, *arguments, config)) {
      std::fprintf(stderr, "meridian bench: %s (see --help)\n", usage->c_str());
      exit_code = kExitUsage;
      return;
    }
    exit_code = RunBench(config);
  });
}

}  // namespace meridian::cli
