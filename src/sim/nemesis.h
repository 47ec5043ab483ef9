// Nemesis: a random fault schedule drawn from the seed, TigerBeetle VOPR style. A run is a
// safety phase — faults keep coming while the workload runs and invariants are checked —
// followed by HealEverything() and a liveness phase in which the healed cluster must converge
// (the scenario checks that with Simulation::RunUntil).
//
// Faults, each drawn with its configured weight every fault_interval_ms_min..max of virtual
// time: crash a live machine (never more than crashed_max down at once), restart a crashed
// one, partition the machines into two random halves, cut one direction between two random
// groups, isolate one machine, heal the network, start or end a loss burst, skew or unskew a
// machine's clock. Every fault is a Simulation call, so it is in the trace hash; a readable
// line per fault is kept in log() for debugging a seed. Not thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "sim/seeded_random.h"
#include "sim/simulation.h"

namespace meridian::sim {

struct NemesisConfig {
  std::uint64_t fault_interval_ms_min = 50;
  std::uint64_t fault_interval_ms_max = 1'000;
  std::uint32_t crashed_max = 1;  // at most this many machines down at once
  // Relative weights of the fault kinds; 0 disables a kind.
  std::uint32_t crash_weight = 3;
  std::uint32_t restart_weight = 3;
  std::uint32_t partition_weight = 2;
  std::uint32_t one_way_partition_weight = 1;
  std::uint32_t isolate_weight = 1;
  std::uint32_t heal_weight = 3;
  std::uint32_t loss_burst_weight = 1;
  std::uint32_t loss_end_weight = 1;
  std::uint32_t clock_skew_weight = 1;
  std::uint32_t clock_reset_weight = 1;
  std::uint32_t loss_burst_ppm_max = 500'000;
  std::int64_t clock_offset_ms_max = 10'000;  // skews draw offsets in [-max, +max]
  std::int32_t clock_drift_ppm_max = 500;     // and drifts in [-max, +max]
};

class Nemesis {
 public:
  // `simulation` must outlive the nemesis. The network's loss rate at construction is the
  // baseline a loss burst returns to.
  Nemesis(Simulation& simulation, NemesisConfig config);

  // Runs the simulation for duration_ms, injecting faults. Stops early with the simulation's
  // failure status when an invariant fails.
  Status RunSafetyPhase(std::uint64_t duration_ms);
  // Restarts every crashed machine, heals the network and restores the baseline loss rate.
  // Clock skews stay: a skewed clock is a condition the protocol must live with.
  Status HealEverything();

  const std::vector<std::string>& log() const { return log_; }

 private:
  void InjectOneFault();
  void Note(std::string line);

  Simulation& simulation_;
  NemesisConfig config_;
  SeededRandom random_;
  std::uint32_t baseline_loss_ppm_;
  std::vector<std::string> log_;
};

}  // namespace meridian::sim
