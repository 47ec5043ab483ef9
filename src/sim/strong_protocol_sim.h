// The strong-protocol simulation: replication::StrongProposer and the acceptor transitions of
// replication/strong_register.h, alone — proposers running operations on a few hot keys
// against 3 or 5 acceptors over a network that loses, duplicates, delays and reorders
// messages, with acceptor crashes and restarts, proposer crashes (a new incarnation, its
// in-flight operation's outcome unknown), cut links and proposers whose timers run at
// different rates. Every operation goes into a history that the linearizability checker
// (sim/linearizability.h) judges at the end; after the faults stop, every operation must
// complete (liveness).
//
// Two switches break the protocol on purpose, so tests can show the checker notices:
// `unsafe_skip_prepare` (StrongProposerConfig's test-only switch) and
// `acceptor_forgets_on_restart` (an acceptor that answered before its state was synced).
//
// A pure function of its options (the seed drives every choice): a failing seed replays.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "sim/linearizability.h"
#include "sim/scenario.h"

namespace meridian::sim {

struct StrongProtocolSimOptions {
  std::uint64_t seed = 1;
  std::uint32_t acceptors = 3;
  std::uint32_t proposers = 3;
  std::uint32_t keys = 2;
  std::uint32_t ops_per_proposer = 60;
  std::uint64_t fault_ms = 3'000;      // faults happen during [0, fault_ms)
  std::uint64_t liveness_ms = 20'000;  // every operation must end by fault_ms + liveness_ms
  bool faults = true;
  bool unsafe_skip_prepare = false;
  bool acceptor_forgets_on_restart = false;
  // Thrifty phases (StrongProposerConfig::thrifty): for a random half of the operations, for
  // every one, or for none.
  enum class Thrifty : std::uint8_t { kMixed, kAlways, kNever };
  Thrifty thrifty = Thrifty::kMixed;
};

struct StrongProtocolSimResult {
  std::vector<Operation> history;
  CheckResult check;
  std::string liveness_failure;  // "" when every operation ended in time
  std::uint64_t end_ms = 0;
  // Counts: "ops_ok", "ops_unknown", "ops_failed", "writes_1rt" (fast path), "writes_2rt",
  // "writes_more", "reads_1rt", "reads_more", "messages", "acceptor_crashes",
  // "proposer_crashes", "link_cuts", "precondition_failed".
  std::map<std::string, std::uint64_t> counts;
  std::vector<std::string> fault_log;
};

StrongProtocolSimResult RunStrongProtocolSim(const StrongProtocolSimOptions& options);

// Registers "strong-protocol" (3 acceptors), "strong-protocol-5" (5 acceptors),
// "strong-protocol-hot" (6 proposers, one key) and the
// deliberately broken "strong-protocol-unsafe-skip-prepare", which is expected to fail.
void RegisterStrongProtocolScenarios(ScenarioRegistry& registry);
// "strong-cluster" (cluster_scenarios_strong.cc): the same on real nodes.
void RegisterStrongClusterScenarios(ScenarioRegistry& registry);

}  // namespace meridian::sim
