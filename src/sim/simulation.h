// Simulation: a whole cluster in one thread, deterministic from one seed (FoundationDB-style
// simulation, TigerBeetle VOPR-style replay). It owns every simulated machine — its Process
// (the protocol state machine), MemoryEngine (its disk), SimClock (its skewed clock) — plus
// virtual time, the event queue and the simulated network.
//
// Running: RunFor/RunUntil pop events in (time, insertion) order: ticks (every
// tick_interval_ms per live process, phase-shifted per process), message deliveries and
// scheduled callbacks. Each message a process emits is serialized (deterministic protobuf
// encoding) at send time and parsed at delivery, so encoding bugs surface in simulation.
//
// Determinism: the only inputs are the seed, the factory and the calls made on this object.
// No wall clock, no OS randomness; processes are kept in ordered maps; every random draw
// comes from a SeededRandom stream derived from the seed by a fixed label. Every observable
// step is added to trace_hash(), so two runs of one seed can be compared bit for bit.
//
// Durability: every machine's MemoryEngine runs with group commit, as the server's RocksDB
// engine does, and is committed after every input to the process (Start, Tick, a delivery,
// Invoke, Stop) before the messages it produced are sent — the order of the server's
// NodeService. Crash() is a power cut: MemoryEngine::DropUnsyncedWrites() loses exactly what
// PowerLossFileSystem loses under RocksDB (docs/design/power_loss.md; both engines are
// checked against one rule in tests/storage/engine_conformance_test.cc). A clean Stop and
// every start make everything written durable, as RocksDB's close and recovery do.
//
// Invariants: checks added with AddInvariant run after every event (or every
// invariant_interval_ms of virtual time); the first failing check — or a Fail() call —
// stops the run, and failure() holds the seed, the virtual time and the message.
//
// Not thread-safe. Callbacks and invariants may call any method except RunFor/RunUntil.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "sim/event_queue.h"
#include "sim/network.h"
#include "sim/process.h"
#include "sim/seeded_random.h"
#include "sim/sim_clock.h"
#include "sim/trace.h"
#include "storage/memory_engine.h"

namespace meridian::sim {

struct SimulationConfig {
  std::uint64_t seed = 0;
  std::uint64_t tick_interval_ms = 100;
  NetworkConfig network;
  // 0: check invariants after every event; otherwise at most once per this many ms.
  std::uint64_t invariant_interval_ms = 0;
};

struct SimulationFailure {
  std::uint64_t seed = 0;
  std::uint64_t time_ms = 0;
  std::string message;
  // "seed=7 at t=1234ms: <message>"
  std::string ToString() const;
};

// Returns OK, or a non-OK status whose message says what is wrong.
using Invariant = std::function<Status()>;

class Simulation {
 public:
  Simulation(SimulationConfig config, ProcessFactory factory);
  ~Simulation();
  Simulation(const Simulation&) = delete;
  Simulation& operator=(const Simulation&) = delete;

  // Creates a machine at `address` (fresh engine, unskewed clock) and starts its process.
  // InvalidArgument if the address is taken. A failing Start() leaves the machine down.
  Status AddProcess(const std::string& address);

  // Runs events up to and including virtual time now + duration_ms, then sets now there.
  // Internal (with failure()->ToString()) when an invariant failed; OK otherwise.
  Status RunFor(std::uint64_t duration_ms);
  // Runs until `predicate` holds (checked after every event), or until absolute virtual time
  // `deadline_ms` (then Timeout). Internal on an invariant failure.
  Status RunUntil(const std::function<bool()>& predicate, std::uint64_t deadline_ms);

  // Faults. Crash destroys the process without Stop() and drops its engine's unsynced writes;
  // Stop shuts it down cleanly. Both are no-ops on a machine that is down.
  void Crash(const std::string& address);
  Status Stop(const std::string& address);
  // A lost disk: the engine of a machine that is down is replaced by an empty one (its next
  // incarnation starts with no data and no identity). Requires the machine to be down.
  void WipeStorage(const std::string& address);
  // Starts a new incarnation over the same engine and clock. No-op when already up;
  // the Start() status otherwise (the machine stays down when it fails).
  Status Restart(const std::string& address);
  void Partition(const std::vector<std::string>& side_a, const std::vector<std::string>& side_b);
  void PartitionOneWay(const std::vector<std::string>& from_side,
                       const std::vector<std::string>& to_side);
  // Cuts `address` off from every other machine, both directions.
  void Isolate(const std::string& address);
  void Heal();
  void SetLossPpm(std::uint32_t ppm);
  void SetDuplicatePpm(std::uint32_t ppm);
  void SetClockSkew(const std::string& address, ClockSkew skew);
  // Crashes in the middle of an input: a machine whose input produced early messages
  // (Process::TakeEarlyOutbound) sends them and then, with probability ppm / 10^6, crashes
  // before the input's writes are committed (they are lost), until virtual time `until_ms`; it
  // starts again `restart_after_ms` later. The server sends early messages while the input's
  // group commit runs, so a power cut can fall between the two.
  void SetMidInputCrashes(std::uint32_t ppm, std::uint64_t until_ms,
                          std::uint64_t restart_after_ms);
  std::uint64_t mid_input_crashes() const { return mid_input_crashes_; }

  // Runs `callback` at absolute virtual time `time_ms` (>= now), after events already
  // scheduled for that time. `label` names it in the trace.
  void Schedule(std::uint64_t time_ms, std::string label, std::function<void()> callback);
  // Calls `action` on the live process at `address` now, then sends its outbound messages
  // (how a workload submits requests). False when the machine is down.
  bool Invoke(const std::string& address, std::string_view label,
              const std::function<void(Process&)>& action);

  void AddInvariant(std::string name, Invariant invariant);
  // Records a failure now (e.g. from a workload checker); the run stops after this event.
  void Fail(std::string message);

  // Observes every trace record (for debugging output and tests); views are valid only
  // during the call.
  void SetTraceObserver(std::function<void(const TraceRecord&)> observer);

  // Accessors. Addresses are listed in ascending order.
  std::vector<std::string> addresses() const;
  std::vector<std::string> live_addresses() const;
  bool IsUp(const std::string& address) const;
  // nullptr when the machine is down or unknown.
  Process* FindProcess(const std::string& address);
  template <typename T>
  T* FindProcessAs(const std::string& address) {
    return dynamic_cast<T*>(FindProcess(address));
  }
  // Requires a known address.
  storage::MemoryEngine& EngineOf(const std::string& address);
  SimClock& ClockOf(const std::string& address);
  std::uint64_t IncarnationOf(const std::string& address) const;

  // An independent random stream for a workload or fault schedule (see SeededRandom).
  SeededRandom DeriveRandom(std::string_view label) const { return root_random_.Derive(label); }

  std::uint64_t now_ms() const { return time_.now_ms(); }
  std::uint64_t seed() const { return config_.seed; }
  const SimulationConfig& config() const { return config_; }
  const SimNetwork& network() const { return network_; }
  std::uint64_t trace_hash() const { return trace_hash_.value(); }
  std::uint64_t trace_record_count() const { return trace_hash_.record_count(); }
  std::uint64_t CountOf(TraceKind kind) const;
  const std::optional<SimulationFailure>& failure() const { return failure_; }

 private:
  struct Machine {
    std::unique_ptr<storage::MemoryEngine> engine;
    std::unique_ptr<SimClock> clock;
    std::unique_ptr<SeededRandom> random;  // the current incarnation's stream
    std::unique_ptr<Process> process;      // nullptr while down
    std::uint64_t incarnation = 0;
    // The time of the wake scheduled for `incarnation` and not run yet; 0: none.
    std::uint64_t wake_at_ms = 0;
  };

  Machine& MachineAt(const std::string& address);
  const Machine& MachineAt(const std::string& address) const;
  Status StartIncarnation(const std::string& address, Machine& machine);
  void ScheduleTick(const std::string& address, std::uint64_t incarnation, std::uint64_t time_ms);
  void RunEvent(Event event);
  void RunTick(const Event& event);
  void RunWake(const Event& event);
  // After an input: a wake at the time the process asks for, unless one is due before it.
  void ScheduleWake(const std::string& address, Machine& machine);
  void RunDelivery(const Event& event);
  // Group commit after every input, before its messages leave (see the header comment).
  void CommitWrites(Machine& machine);
  void DrainOutbound(const std::string& address, Process& process);
  void Send(const std::string& address, const std::vector<cluster::Outbound>& outbound);
  // After an input: its early messages, a mid-input crash (SetMidInputCrashes) or the commit
  // and the other messages. False when the machine crashed.
  bool FinishInput(const std::string& address, Machine& machine);
  void CheckInvariants();
  void Record(TraceKind kind, std::string_view from, std::string_view to, std::string_view bytes);
  Status FailureStatus() const;

  SimulationConfig config_;
  ProcessFactory factory_;
  SeededRandom root_random_;
  SeededRandom scheduler_random_;  // tick phases
  SeededRandom mid_input_random_;  // SetMidInputCrashes
  std::uint32_t mid_input_crash_ppm_ = 0;
  std::uint64_t mid_input_crash_until_ms_ = 0;
  std::uint64_t mid_input_restart_after_ms_ = 0;
  std::uint64_t mid_input_crashes_ = 0;
  VirtualTime time_;
  EventQueue queue_;
  // Per directed link, the latest delivery scheduled on it (ReapMarker FIFO order).
  std::map<std::pair<std::string, std::string>, std::uint64_t> link_last_delivery_ms_;
  SimNetwork network_;
  std::map<std::string, Machine> machines_;  // ordered: iteration order is deterministic
  std::vector<std::pair<std::string, Invariant>> invariants_;
  std::uint64_t invariants_checked_at_ms_ = 0;
  bool invariants_checked_once_ = false;
  TraceHash trace_hash_;
  std::array<std::uint64_t, 32> kind_counts_{};
  std::function<void(const TraceRecord&)> trace_observer_;
  std::optional<SimulationFailure> failure_;
  bool running_ = false;
};

}  // namespace meridian::sim
