// `meridian sim`: runs named deterministic simulation scenarios (src/sim/scenario.h) for one
// or more seeds. Each seed prints one "ok" line with its trace hash; the first failing seed
// prints `FAILED seed=N at t=Tms: reason` and the command line that replays it, and the
// command exits 1 (2 on a usage error). Without --seed a random seed is drawn here — the only
// non-deterministic input, and it is printed, so every run can be replayed.
#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <cstdint>
#include <iostream>
#include <memory>
#include <random>
#include <string>

#include "cli/commands.h"
#include "sim/scenario.h"

namespace meridian::cli {
namespace {

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

struct SimArguments {
  std::uint64_t seed = 0;
  std::uint64_t seed_count = 1;
  std::uint32_t node_count = 5;
  std::uint64_t duration_ms = 10'000;
  std::string workload = "toy-flood";
  bool list = false;
  bool verbose = false;
  CLI::Option* seed_option = nullptr;
};

std::string ReplayCommand(const SimArguments& arguments, std::uint64_t seed) {
  return "meridian sim --seed " + std::to_string(seed) + " --nodes " +
         std::to_string(arguments.node_count) + " --duration-ms " +
         std::to_string(arguments.duration_ms) + " --workload " + arguments.workload;
}

int RunSim(SimArguments arguments) {
  const sim::ScenarioRegistry registry = sim::BuiltinScenarios();
  if (arguments.list) {
    for (const sim::Scenario* scenario : registry.All()) {
      std::cout << scenario->name << "  " << scenario->description << "\n";
    }
    return 0;
  }
  const sim::Scenario* scenario = registry.Find(arguments.workload);
  if (scenario == nullptr) {
    std::cerr << "meridian sim: unknown workload '" << arguments.workload
              << "' (see meridian sim --list)\n";
    return kExitUsage;
  }
  if (arguments.node_count == 0 || arguments.seed_count == 0) {
    std::cerr << "meridian sim: --nodes and --seeds must be at least 1\n";
    return kExitUsage;
  }
  if (arguments.seed_option->count() == 0) {
    std::random_device entropy;
    arguments.seed = (static_cast<std::uint64_t>(entropy()) << 32) | entropy();
  }
  for (std::uint64_t index = 0; index < arguments.seed_count; ++index) {
    sim::ScenarioOptions options;
    options.seed = arguments.seed + index;
    options.node_count = arguments.node_count;
    options.duration_ms = arguments.duration_ms;
    const sim::ScenarioOutcome outcome = scenario->run(options);
    if (!outcome.passed()) {
      std::cerr << "FAILED " << outcome.failure->ToString() << "\n";
      if (arguments.verbose) {
        for (const std::string& line : outcome.fault_log) std::cerr << "  fault " << line << "\n";
      }
      std::cerr << "replay: " << ReplayCommand(arguments, options.seed) << "\n";
      return kExitFailed;
    }
    std::cout << "ok seed=" << options.seed << " workload=" << arguments.workload
              << " nodes=" << arguments.node_count << " t=" << outcome.end_time_ms
              << "ms records=" << outcome.trace_record_count
              << " trace=" << fmt::format("{:016x}", outcome.trace_hash) << "\n";
    if (arguments.verbose) {
      for (const std::string& line : outcome.fault_log) std::cout << "  fault " << line << "\n";
      for (const auto& [name, value] : outcome.metrics) {
        std::cout << "  metric " << name << "=" << value << "\n";
      }
    }
  }
  return 0;
}

}  // namespace

void AddSimCommand(CLI::App& app, int& exit_code) {
  auto arguments = std::make_shared<SimArguments>();
  CLI::App* command =
      app.add_subcommand("sim", "Run deterministic simulation scenarios from a seed");
  arguments->seed_option =
      command->add_option("--seed", arguments->seed, "Root seed (default: a random one)");
  command->add_option("--seeds", arguments->seed_count, "Run this many seeds: seed, seed+1, ...");
  command->add_option("--nodes", arguments->node_count, "Simulated machines")
      ->capture_default_str();
  command
      ->add_option("--duration-ms", arguments->duration_ms,
                   "Virtual length of the fault (safety) phase")
      ->capture_default_str();
  command->add_option("--workload", arguments->workload, "Scenario name (see --list)")
      ->capture_default_str();
  command->add_flag("--list", arguments->list, "List the scenarios and exit");
  command->add_flag("--verbose", arguments->verbose,
                    "Print the fault schedule and the metrics of each run");
  command->callback([arguments, &exit_code] { exit_code = RunSim(*arguments); });
}

}  // namespace meridian::cli
