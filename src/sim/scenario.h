// Scenarios: named, seeded simulation runs for `meridian sim` (and tests). A scenario builds
// a Simulation from ScenarioOptions, runs a workload with its own invariants — usually a
// Nemesis safety phase, a heal and a liveness phase — and reports the outcome: the trace hash
// on success, the first failure otherwise. A scenario must be a pure function of its options,
// so a failing seed replays exactly.
//
// Adding a scenario: write a function ScenarioOutcome(const ScenarioOptions&) and add it in
// BuiltinScenarios() (scenario.cc), e.g. through a Register*Scenarios(registry) function of
// its own file. Not thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sim/simulation.h"

namespace meridian::sim {

struct ScenarioOptions {
  std::uint64_t seed = 0;
  std::uint32_t node_count = 5;
  std::uint64_t duration_ms = 10'000;      // the safety phase (faults and workload)
  std::uint64_t liveness_ms_max = 30'000;  // time allowed to converge after the heal
  // Shards per simulated node (NodeConfig::shard_count), for the scenarios that take it.
  std::uint32_t shard_count = 1;
  // Mixed shard counts: the i-th node gets 1 + i mod shard_count shards (for the scenarios that
  // take it).
  bool mixed_shards = false;
  // The KV workload bucket's replica count, set before the workload starts (0: the default,
  // 3), for the scenarios that take it: below the default, the cluster holds buckets of two
  // replica counts (the default's and this one) and each key must live on its own primaries.
  std::uint32_t bucket_n = 0;
  // The KV workload bucket's conflict policy is lww (set before the workload starts), for the
  // scenarios that take it; its reads are then checked by KvHistory's lww rules.
  bool lww = false;
};

struct ScenarioOutcome {
  std::optional<SimulationFailure> failure;  // nullopt: the run passed
  std::uint64_t trace_hash = 0;
  std::uint64_t trace_record_count = 0;
  std::uint64_t end_time_ms = 0;
  std::vector<std::string> fault_log;  // the nemesis's log, for debugging a failing seed
  // Named measurements a scenario reports (e.g. the divergent-versions histogram), for tests
  // and tools; the readable form is in fault_log.
  std::map<std::string, std::uint64_t> metrics;

  bool passed() const { return !failure.has_value(); }
};

// The outcome of a finished simulation (its failure, hash and time).
ScenarioOutcome OutcomeOf(const Simulation& simulation);

using ScenarioFunction = std::function<ScenarioOutcome(const ScenarioOptions& options)>;

struct Scenario {
  std::string name;
  std::string description;  // one line, for `meridian sim --list`
  ScenarioFunction run;
};

class ScenarioRegistry {
 public:
  // Requires a name not yet registered.
  void Add(std::string name, std::string description, ScenarioFunction run);
  // nullptr when unknown.
  const Scenario* Find(std::string_view name) const;
  // In name order.
  std::vector<const Scenario*> All() const;

 private:
  std::map<std::string, Scenario, std::less<>> scenarios_;
};

// Every scenario `meridian sim` knows. The one place to register a new family.
ScenarioRegistry BuiltinScenarios();

// The toy-flood family (toy_flood_scenarios.cc).
void RegisterToyFloodScenarios(ScenarioRegistry& registry);

// "10.0.0.1:7000" ... for node_count machines; a scenario's default addresses.
std::vector<std::string> ScenarioAddresses(std::uint32_t node_count);

}  // namespace meridian::sim
