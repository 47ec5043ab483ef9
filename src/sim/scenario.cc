#include "sim/scenario.h"

#include <fmt/format.h>

#include <utility>

#include "core/assert.h"
#include "sim/cluster_scenarios.h"
#include "sim/strong_protocol_sim.h"

namespace meridian::sim {

ScenarioOutcome OutcomeOf(const Simulation& simulation) {
  ScenarioOutcome outcome;
  outcome.failure = simulation.failure();
  outcome.trace_hash = simulation.trace_hash();
  outcome.trace_record_count = simulation.trace_record_count();
  outcome.end_time_ms = simulation.now_ms();
  return outcome;
}

void ScenarioRegistry::Add(std::string name, std::string description, ScenarioFunction run) {
  MERIDIAN_CHECK(!scenarios_.contains(name));
  MERIDIAN_CHECK(run != nullptr);
  Scenario scenario{name, std::move(description), std::move(run)};
  scenarios_.emplace(std::move(name), std::move(scenario));
}

const Scenario* ScenarioRegistry::Find(std::string_view name) const {
  const auto it = scenarios_.find(name);
  return it == scenarios_.end() ? nullptr : &it->second;
}

std::vector<const Scenario*> ScenarioRegistry::All() const {
  std::vector<const Scenario*> all;
  for (const auto& [name, scenario] : scenarios_) all.push_back(&scenario);
  return all;
}

ScenarioRegistry BuiltinScenarios() {
  ScenarioRegistry registry;
  RegisterToyFloodScenarios(registry);
  RegisterClusterScenarios(registry);
  RegisterStrongProtocolScenarios(registry);
  RegisterStrongClusterScenarios(registry);
  return registry;
}

std::vector<std::string> ScenarioAddresses(std::uint32_t node_count) {
  std::vector<std::string> addresses;
  for (std::uint32_t index = 1; index <= node_count; ++index) {
    addresses.push_back(fmt::format("10.0.{}.{}:7000", index / 256, index % 256));
  }
  return addresses;
}

}  // namespace meridian::sim
