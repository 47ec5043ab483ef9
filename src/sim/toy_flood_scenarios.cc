// The toy-flood scenarios: ToyFlood (toy_flood.h) under a Nemesis, as a demonstration and
// self-test of the simulator. "toy-flood" must pass for every seed; "toy-flood-unsynced-mint"
// carries a deliberate durability bug and fails for many seeds, which shows what a failure
// report and its replay look like.
#include <fmt/format.h>

#include <memory>
#include <string>
#include <utility>

#include "sim/nemesis.h"
#include "sim/scenario.h"
#include "sim/toy_flood.h"

namespace meridian::sim {
namespace {

// Mean gap between two mints of the workload, over the whole cluster.
constexpr std::uint64_t kMintGapMsMax = 100;

// Mints on a random live machine every 1..kMintGapMsMax ms until `end_ms`.
void ScheduleMints(Simulation& simulation, const std::shared_ptr<SeededRandom>& random,
                   std::uint64_t end_ms) {
  const std::uint64_t at_ms = simulation.now_ms() + UniformBetween(*random, 1, kMintGapMsMax);
  if (at_ms >= end_ms) return;
  simulation.Schedule(at_ms, "mint", [&simulation, random, end_ms] {
    const std::vector<std::string> live = simulation.live_addresses();
    if (!live.empty()) {
      const std::string& address = live[random->Uniform(live.size())];
      simulation.Invoke(address, "mint", [&simulation](Process& process) {
        const Status minted = static_cast<ToyFloodProcess&>(process).Mint();
        if (!minted.ok()) simulation.Fail("mint failed: " + minted.ToString());
      });
    }
    ScheduleMints(simulation, random, end_ms);
  });
}

ScenarioOutcome RunToyFlood(const ScenarioOptions& options, bool sync_mint) {
  const std::vector<std::string> addresses = ScenarioAddresses(options.node_count);
  ToyFloodConfig toy;
  toy.peer_addresses = addresses;
  toy.sync_mint = sync_mint;
  SimulationConfig config;
  config.seed = options.seed;
  config.network.loss_ppm = 10'000;
  config.network.duplicate_ppm = 10'000;
  Simulation simulation(config, ToyFloodFactory(toy));
  simulation.AddInvariant("no-counter-ahead-of-origin",
                          [&simulation] { return CheckNoCounterAheadOfOrigin(simulation); });
  for (const std::string& address : addresses) {
    const Status added = simulation.AddProcess(address);
    if (!added.ok())
      simulation.Fail(fmt::format("{} did not start: {}", address, added.ToString()));
  }

  NemesisConfig nemesis_config;
  nemesis_config.crashed_max = (options.node_count - 1) / 2;  // a minority
  Nemesis nemesis(simulation, nemesis_config);
  ScheduleMints(simulation, std::make_shared<SeededRandom>(simulation.DeriveRandom("workload")),
                simulation.now_ms() + options.duration_ms);

  // Safety phase, heal, liveness phase. A failure stops the run where it happened.
  Status status = nemesis.RunSafetyPhase(options.duration_ms);
  if (status.ok()) status = nemesis.HealEverything();
  if (status.ok()) {
    status = simulation.RunUntil([&simulation] { return AllConverged(simulation); },
                                 simulation.now_ms() + options.liveness_ms_max);
  }
  if (!status.ok() && !simulation.failure().has_value()) {
    simulation.Fail(fmt::format("liveness: not converged after the heal ({})", status.ToString()));
  }
  ScenarioOutcome outcome = OutcomeOf(simulation);
  outcome.fault_log = nemesis.log();
  return outcome;
}

}  // namespace

void RegisterToyFloodScenarios(ScenarioRegistry& registry) {
  registry.Add("toy-flood",
               "toy gossip of per-node counters under crashes, partitions, loss and skew; must "
               "converge after the heal",
               [](const ScenarioOptions& options) { return RunToyFlood(options, true); });
  registry.Add("toy-flood-unsynced-mint",
               "toy-flood with a deliberate bug (mints not synced): a crash loses values peers "
               "saw; fails for many seeds",
               [](const ScenarioOptions& options) { return RunToyFlood(options, false); });
}

}  // namespace meridian::sim
